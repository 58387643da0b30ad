"""`reset` and `write-events`: clear the state `run-pipeline` and `up` keep, regenerate events/ from real
executions."""

from __future__ import annotations

import argparse

from local import state
from local.cli.common import UsageError, state_arguments, state_dir
from local.runs.event_files import write_events
from local.template import ROOT


def reset_command(args: argparse.Namespace) -> int:
    directory = state_dir(args) or state.default_state_dir()
    try:
        removed = state.reset(directory)
    except state.StateInUse as exc:
        raise UsageError(str(exc)) from None
    print(f"{'cleared' if removed else 'nothing to clear in'} {directory}")
    return 0


def write_events_command(args: argparse.Namespace) -> int:
    for path in write_events():
        print(path.relative_to(ROOT))
    return 0


def add_write_events(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("write-events", help="regenerate events/<function>/*.json from a real execution")
    parser.set_defaults(run=write_events_command)


def add_reset(commands: argparse._SubParsersAction) -> None:
    reset = commands.add_parser("reset", help="clear the local state (.local-aws/) that run-pipeline and up keep")
    state_arguments(reset, ephemeral=False)
    reset.set_defaults(run=reset_command)
