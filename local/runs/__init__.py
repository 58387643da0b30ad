"""What is run on the local stack, and with what: the drivers the command line, the tests, the tools and the
benchmarks share. None of it is part of the embedded AWS (``local/stack.py`` and what it starts).

training       start a TrainingPipeline execution, follow it state by state, summarise it
monitoring     serve traffic through the predict function, fire the drift-check schedule, follow DriftCheck
event_files    write events/<function>/*.json from real executions, and events/env.json
datasets       the bundled example data sets (scikit-learn's breast cancer and diabetes) as CSV
drift_files    the drift check's statistics on two CSV files, with no stack (``python -m local drift``)
"""
