"""The command line: thin commands that parse, validate and hand over to the runner."""
