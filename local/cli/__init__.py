"""Command line of the embedded local AWS: `mlops local demo|up|run|reset|aws-server` (mlops_cli/commands/local.py)
runs these same commands; `python -m local ...` stays as their alias.

python -m local demo
python -m local run-pipeline --data PATH.csv --target COLUMN --model-name NAME [--task ...] [--exclude A,B] [--json]
python -m local up [--seed] [--port 3000]
python -m local reset
python -m local aws-server [--port 5000] [--example] [--env-vars FILE]   (the embedded AWS for `sam local invoke`)

run-pipeline and up keep the local AWS's data in a state directory (.local-aws/ at the repository's root, or
$MLOPS_LOCAL_STATE_DIR, or --state-dir) between commands; --ephemeral starts an empty one that is not saved.
demo, write-events and the tests always use an ephemeral stack.
"""

from __future__ import annotations

import argparse
import sys

from local.cli import drift, housekeeping, servers, training
from local.cli.common import EXIT_USAGE, UsageError, quiet_libraries

# In the order `python -m local --help` lists them.
COMMAND_GROUPS = (
    training.add_demo,
    housekeeping.add_write_events,
    training.add_reproduce,
    servers.add_aws_server,
    housekeeping.add_reset,
    servers.add_up,
    training.add_run_pipeline,
    drift.add_drift,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMAND_GROUPS:
        add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
