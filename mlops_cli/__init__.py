"""The `mlops` command line: a client of a deployed stack's API or of `python -m local up`."""
