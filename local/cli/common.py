"""What the local command line's commands share: usage errors, the stack on the command's state directory, and the
printing of a pipeline's progress and result."""

from __future__ import annotations

import argparse
import hashlib
import logging
import signal
import warnings
from pathlib import Path
from typing import Any

from local import state
from local.runs.training import PipelineResult, ProgressEvent
from local.stack import LocalStack

EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2, no traceback."""


def quiet_libraries() -> None:
    # moto logs every failed state at ERROR with its internals; the CLI reports failures itself.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # A handler that answers without adding a metric still flushes its cold-start metric: not news for a user.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def printer(stream: Any) -> Any:
    def show(event: ProgressEvent) -> None:
        if event.kind == "entered":
            print(f"  {event.elapsed_s:7.2f}s  → {event.state}", file=stream, flush=True)
        elif event.kind == "exited":
            detail = f"  {event.detail}" if event.detail else ""
            print(f"  {event.elapsed_s:7.2f}s  ✓ {event.state}{detail}", file=stream, flush=True)
        else:
            print(f"  {event.elapsed_s:7.2f}s  ✗ {event.state}: {event.detail}", file=stream, flush=True)

    return show


def format_metrics(metrics: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in (metrics or {}).items()) or "-"


def print_columns(summary: dict[str, Any], stream: Any) -> None:
    """How the file was read, each column read in a named form (dates, written numbers, yes/no), every excluded
    column with its reason, and a warning for each excluded column that looks numeric."""
    read_as = summary.get("read_as") or {}
    if read_as:
        said = [read_as.get("format", "csv")]
        if "delimiter" in read_as:
            said.append(f"delimiter {read_as['delimiter']!r}")
        said += [f"{key} {read_as[key]}" for key in ("encoding", "compression") if key in read_as]
        print(f"  read as     {', '.join(said)}", file=stream)
    columns = summary.get("columns") or {}
    for name, column in columns.items():
        if column.get("format") not in (None, "iso") or column.get("format_note"):
            note = f"; {column['format_note']}" if column.get("format_note") else ""
            print(f"  read        {name}: {column['reason']}{note}", file=stream)
    for name, column in columns.items():
        if column.get("role") in ("id", "excluded"):
            print(f"  excluded    {name}: {column['reason']}", file=stream)
    for name, column in columns.items():
        if column.get("warning"):
            print(f"  warning     {name}: {column['warning']}", file=stream)


def print_result(result: PipelineResult, stream: Any) -> None:
    summary = result.summary()
    print(f"\n  execution   {result.status} at state {result.end_state} in {result.duration_s:.1f} s", file=stream)
    print_columns(summary, stream)
    if result.status != "SUCCEEDED":
        step = f" ({summary['step_error']})" if summary["step_error"] != summary["error"] else ""
        print(f"  error       {summary['error']}{step}: {summary['error_message']}", file=stream)
        return
    for row in summary["leaderboard"] or []:
        if row["status"] == "trained":
            scores = format_metrics(row["validation_metrics"])
        else:
            scores = f"failed: {row.get('error')}"
        print(f"  candidate   {row['estimator']:<24} validation: {scores}", file=stream)
    print(f"  winner      {summary['winner']} (trained on {summary['compute']})", file=stream)
    print(f"  holdout     {format_metrics(summary['metrics'])}", file=stream)
    gate = summary["gate"] or {}
    print(f"  gate        {gate.get('decision', '-').upper()}", file=stream)
    for reason in gate.get("reasons", []):
        print(f"                - {reason}", file=stream)
    print(f"  registered  {result.model_name} v{summary['version']} ({summary['version_status']})", file=stream)
    print(
        f"  deployed    {'yes: production -> v' + str(summary['version']) if summary['deployed'] else 'no'}",
        file=stream,
    )
    print(f"  artifact    {summary['artifact_uri']}", file=stream)
    print(f"  baseline    {summary['baseline_uri']}", file=stream)


def upload(stack: LocalStack, key: str, payload: bytes) -> str:
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
    return f"s3://{stack.bucket}/{key}"


def upload_by_content(stack: LocalStack, file_name: str, payload: bytes) -> str:
    """A user's file stored by its sha256 (``datasets/<sha256>/<file name>``), as the SDK's upload stores it: a file
    changed under the same name gets a new URI, so the versions trained on the old bytes stay reproducible."""
    from mlops.storage import layout  # noqa: PLC0415 - the core layer is on sys.path once local is imported

    location = layout.dataset_by_content(
        stack.bucket, hashlib.sha256(payload).hexdigest(), layout.safe_file_name(file_name)
    )
    return upload(stack, location.key, payload)


def state_dir(args: argparse.Namespace) -> Path | None:
    if getattr(args, "ephemeral", False):
        return None
    return Path(args.state_dir) if getattr(args, "state_dir", None) else state.default_state_dir()


def started_stack(args: argparse.Namespace, parameters: dict[str, str] | None = None) -> LocalStack:
    """A stack on the command's state directory, started; a state another process owns is a usage error."""
    stack = LocalStack(parameters=parameters or {}, state_dir=state_dir(args))
    try:
        stack.start()
    except state.StateInUse as exc:
        raise UsageError(str(exc)) from None
    except (ValueError, KeyError, OSError) as exc:
        if stack.state_dir is None:
            raise
        raise UsageError(
            f"cannot restore the local state in {stack.state_dir}: {exc}; `mlops local reset` clears it"
        ) from None
    return stack


def print_restored(stack: LocalStack, out: Any) -> None:
    if stack.state_dir is None:
        print("state       ephemeral (nothing is kept)", file=out)
    elif stack.restored is None:
        print(f"state       {stack.state_dir} (new)", file=out)
    else:
        restored = stack.restored
        print(
            f"state       {stack.state_dir}: restored {restored.objects} objects, {restored.items} items, "
            f"{restored.executions} executions saved at {restored.saved_at}",
            file=out,
        )


def stop_on_signals() -> None:
    """`kill PID` (SIGTERM) and `kill -INT PID` stop a server as Ctrl-C does, so the state is saved. SIGINT is set
    too: a job a shell started in the background inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt for it."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def state_arguments(parser: argparse.ArgumentParser, *, ephemeral: bool = True) -> None:
    parser.add_argument("--state-dir", metavar="DIR", help="where the local AWS keeps its data (default .local-aws)")
    if ephemeral:
        parser.add_argument("--ephemeral", action="store_true", help="start empty and keep nothing")
