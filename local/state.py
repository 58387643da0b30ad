"""A local AWS that keeps its state: the stack's data saved to one file on stop and put back on start.

What is kept is what the application itself keeps, read and written back through the AWS APIs after the
template's resources are provisioned: every object of the stack's buckets (latest version), every item of its
DynamoDB tables, the executions of every state machine (TrainingPipeline, Rollout, DriftCheck, ...: name, status,
input, output, error, dates) and the predict route's API key. Resources themselves are not saved: the template
makes them on every start, so a changed template or handler is picked up. Pickling moto's backends was the
alternative; their objects hold locks, worker threads and temporary files, and their shape changes with moto's
version.

The snapshot is one zip file (`<state dir>/snapshot.zip`), written beside and renamed over the old one, so a
crash while saving leaves the previous snapshot whole. One process at a time owns a state directory (an
advisory lock): a second `python -m local` command on the same state is refused with a one-line error instead
of overwriting the first one's changes on exit.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from local.template import ROOT

DEFAULT_STATE_DIR = ROOT / ".local-aws"
STATE_DIR_VARIABLE = "MLOPS_LOCAL_STATE_DIR"
SNAPSHOT_NAME = "snapshot.zip"
FORMAT_VERSION = 1
LOCK_NAME = "lock"


class StateInUse(Exception):
    """Another process owns the state directory."""


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_VARIABLE) or DEFAULT_STATE_DIR)


def reset(state_dir: Path) -> bool:
    """Delete the saved state; True if there was any. Refused while a running stack owns it."""
    if not state_dir.exists():
        return False
    with StateLock(state_dir):
        (state_dir / SNAPSHOT_NAME).unlink(missing_ok=True)
    shutil.rmtree(state_dir)
    return True


@dataclass
class StateLock:
    """An advisory lock on the state directory, held from start to stop of one stack."""

    state_dir: Path
    _file: IO[str] | None = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def acquire(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        file = (self.state_dir / LOCK_NAME).open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            owner = file.read().strip() or "another process"
            file.close()
            raise StateInUse(
                f"the local state in {self.state_dir} is in use by {owner}; stop it first, talk to it "
                "(mlops --url ...), or run this command with --ephemeral"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()}")
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


# ---- JSON for AWS values (DynamoDB binary attributes, dates) ------------------------------------------------------
def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# ---- save ---------------------------------------------------------------------------------------------------------
def save(stack: Any, state_dir: Path) -> Path:
    """Write the stack's buckets, tables, executions and API key to `<state_dir>/snapshot.zip`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / SNAPSHOT_NAME
    partial = state_dir / f"{SNAPSHOT_NAME}.{os.getpid()}.partial"
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "saved_at": dt.datetime.now(dt.UTC).isoformat(),
        "api_key": stack.api_key,
        "client_api_keys": stack.client_api_keys,
        "objects": [],
        "tables": {},
        "executions": [],
    }
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        s3 = stack.client("s3")
        for bucket in _stack_buckets(stack):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for entry in page.get("Contents", []):
                    got = s3.get_object(Bucket=bucket, Key=entry["Key"])
                    member = f"objects/{len(manifest['objects']):08d}"
                    archive.writestr(member, got["Body"].read())
                    manifest["objects"].append(
                        {
                            "bucket": bucket,
                            "key": entry["Key"],
                            "member": member,
                            "content_type": got.get("ContentType"),
                            "metadata": got.get("Metadata") or {},
                        }
                    )
        dynamodb = stack.client("dynamodb")
        for table in _stack_tables(stack):
            items: list[dict[str, Any]] = []
            for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                items.extend(page.get("Items", []))
            manifest["tables"][table] = _encode(items)
        manifest["executions"] = _executions(stack)
        archive.writestr("manifest.json", json.dumps(manifest))
    os.replace(partial, target)
    return target


def _stack_buckets(stack: Any) -> list[str]:
    names = set(stack.bucket_names())
    return sorted(b["Name"] for b in stack.client("s3").list_buckets()["Buckets"] if b["Name"] in names)


def _stack_tables(stack: Any) -> list[str]:
    return sorted(stack.table_names())


def _executions(stack: Any) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    records = []
    for logical_id, arn in sorted(stack.state_machine_arns.items()):
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            for listed in page["executions"]:
                described = sfn.describe_execution(executionArn=listed["executionArn"])
                records.append(
                    {
                        "state_machine": logical_id,
                        "name": described["name"],
                        "status": described["status"],
                        "input": described.get("input") or "{}",
                        "output": described.get("output"),
                        "error": described.get("error"),
                        "cause": described.get("cause"),
                        "start_date": described["startDate"].isoformat(),
                        "stop_date": described["stopDate"].isoformat() if described.get("stopDate") else None,
                    }
                )
    return records


# ---- restore ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Restored:
    objects: int
    items: int
    executions: int
    saved_at: str


def restore(stack: Any, state_dir: Path) -> Restored | None:
    """Put a saved snapshot back into a freshly provisioned stack; None when there is none."""
    snapshot = state_dir / SNAPSHOT_NAME
    if not snapshot.exists():
        return None
    with zipfile.ZipFile(snapshot) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"{snapshot} has format {manifest.get('format')}, expected {FORMAT_VERSION}")
        s3 = stack.client("s3")
        known_buckets = set(stack.bucket_names())
        objects = 0
        for entry in manifest["objects"]:
            if entry["bucket"] not in known_buckets:
                continue  # a bucket the template no longer declares
            extra = {"ContentType": entry["content_type"]} if entry.get("content_type") else {}
            s3.put_object(
                Bucket=entry["bucket"],
                Key=entry["key"],
                Body=archive.read(entry["member"]),
                Metadata=entry.get("metadata") or {},
                **extra,
            )
            objects += 1
    dynamodb = stack.client("dynamodb")
    known_tables = set(stack.table_names())
    items = 0
    for table, table_items in manifest["tables"].items():
        if table not in known_tables:
            continue
        for item in _decode(table_items):
            dynamodb.put_item(TableName=table, Item=item)
            items += 1
    executions = _restore_executions(stack, manifest["executions"])
    stack.api_key = manifest["api_key"]
    saved_keys = manifest.get("client_api_keys") or {}  # snapshots before per-client keys hold only api_key
    clients = list(stack.client_api_keys)
    stack.client_api_keys = {
        client: saved_keys.get(client) or (stack.api_key if index == 0 else stack.client_api_keys[client])
        for index, client in enumerate(clients)
    }
    return Restored(objects, items, executions, manifest["saved_at"])


# A restored execution has no interpreter behind it, and no task tokens. moto 5.2.5's SendTaskFailure asks every
# execution's callbacks (finished ones included; SendTaskSuccess asks the running ones only): without a worker it
# failed on a restored one, so a rejection answered 502 and its run kept waiting. This one holds no callbacks, and no
# Distributed Map runs: DescribeMapRun asks every execution's pool too (without it, the Register step's cost reading
# failed with an AttributeError on a stack restored from its state, and the run ended RegistrationFailed).
_NO_WORKER = SimpleNamespace(
    env=SimpleNamespace(
        callback_pool_manager=SimpleNamespace(notify=lambda **_: False, heartbeat=lambda **_: False),
        map_run_record_pool_manager=SimpleNamespace(get=lambda _arn: None, get_all=lambda: []),
    )
)


def _restore_executions(stack: Any, records: list[dict[str, Any]]) -> int:
    """Finished executions, as moto's ASL backend keeps them, so describe/list answer as before the restart.

    moto has no API to create a finished execution: the record is built the way its StartExecution builds one,
    without starting it. An execution that was still running when the stack stopped is restored as ABORTED.
    """
    from moto.stepfunctions.parser.api import ExecutionStatus  # noqa: PLC0415 - moto internals, only here
    from moto.stepfunctions.parser.backend.execution import Execution  # noqa: PLC0415
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # noqa: PLC0415

    backend = stepfunctions_parser_backends[stack.account_id][stack.region]
    restored = 0
    for record in records:
        arn = stack.state_machine_arns.get(record["state_machine"])
        if arn is None:
            continue
        state_machine = backend.describe_state_machine(arn)
        execution = Execution(
            name=record["name"],
            sm_type=state_machine.sm_type,
            role_arn=state_machine.roleArn,
            exec_arn=arn.replace(":stateMachine:", ":execution:") + f":{record['name']}",
            account_id=stack.account_id,
            region_name=stack.region,
            state_machine=state_machine,
            start_date=dt.datetime.fromisoformat(record["start_date"]),
            cloud_watch_logging_session=None,
            activity_store={},
            input_data=record["input"],
        )
        status = record["status"]
        if status == "RUNNING":
            status = "ABORTED"
            execution.error = "States.Aborted"
            execution.cause = "the local stack stopped while this execution ran"
            execution.stop_date = dt.datetime.now(dt.UTC)
        else:
            execution.error = record.get("error")
            execution.cause = record.get("cause")
            execution.stop_date = dt.datetime.fromisoformat(record["stop_date"]) if record.get("stop_date") else None
        execution.exec_status = ExecutionStatus(status)
        execution.output = json.loads(record["output"]) if record.get("output") else None
        execution.exec_worker = _NO_WORKER
        state_machine.executions.append(execution)
        restored += 1
    return restored
