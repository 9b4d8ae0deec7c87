"""Is a measurement right? Queueing theory (exact answers the harness must reproduce), the self-test that
checks the harness against them, and the sanity verdict attached to every measured cell."""
