"""Export: turn a workload's model into each engine's artifact, cached by content, with parity references."""
