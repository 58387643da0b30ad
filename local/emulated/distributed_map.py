"""What AWS's Distributed Map does that moto 5.2.5's interpreter leaves out, added on the local stack.

Read in moto (``moto/stepfunctions/parser/asl/component/state/exec/state_map/``): a ``DISTRIBUTED`` Map with an S3
``ItemReader`` runs every item (``s3:getObject``, JSON) in ``MaxConcurrency`` worker threads, and then

* ``ToleratedFailurePercentage``/``ToleratedFailureCount`` (and their ``...Path`` forms) are parsed and evaluated but
  never applied ("currently have no effect on the program evaluation"): a Map whose every item failed succeeds;
* a ``ResultWriter`` evaluates its ``Parameters`` paths against the items' results, not the state's input, and
  (``s3:putObject``) drops the results ("TODO: generate result files") and writes only a
  ``manifest.json`` whose ``ResultFiles`` lists are empty.

This adds both, the way AWS documents them: the Map Run fails with ``States.ExceedToleratedFailureThreshold`` when
the share of failed items is above the tolerated percentage or their count above the tolerated count, and the
ResultWriter writes ``SUCCEEDED_0.json`` and ``FAILED_0.json`` (each a JSON list of child executions: ``Input`` and
``Output`` as JSON strings, ``Error`` and ``Cause`` for a failure, ``Status``) beside ``manifest.json``, whose
``ResultFiles`` list them with their ``Key`` and ``Size``. A test guards that moto still lacks them
(``tests/unit/test_moto_patches.py``, with every other moto patch), so an upgrade that adds them shows.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (
    ResourceEvalS3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import ResultWriter
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"

_original_eval_input = DistributedItemProcessorWorker._eval_input
_original_eval_job = DistributedItemProcessorWorker._eval_job
_original_map_run = DistributedIterationComponent._map_run
_original_put_object = ResourceEvalS3._handle_put_object

_lock = threading.Lock()
_selected = threading.local()  # the item's input after ItemSelector, per worker thread
_runs: dict[str, list[dict[str, Any]]] = {}  # map run ARN -> one entry per child execution


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _eval_input(self: DistributedItemProcessorWorker, env_frame: Any) -> None:
    _original_eval_input(self, env_frame)
    _selected.value = env_frame.states.get_input()


def _eval_job(self: DistributedItemProcessorWorker, env: Any, job: Any) -> None:
    _selected.value = job.job_input
    started = _now()
    _original_eval_job(self, env, job)
    state = env.program_state()
    entry: dict[str, Any] = {
        "index": job.job_index,
        "ExecutionArn": f"{self._map_run_record.map_run_arn}:{job.job_index}",
        "Input": json.dumps(_selected.value),
        "InputDetails": {"Included": True},
        "StartDate": started,
        "StopDate": _now(),
        "StateMachineArn": self._map_run_record.map_run_arn,
    }
    if isinstance(state, ProgramEnded) and job.job_output is not None:
        entry |= {"Status": "SUCCEEDED", "Output": json.dumps(job.job_output), "OutputDetails": {"Included": True}}
    else:
        details = state.error if isinstance(state, ProgramError) and state.error else {}
        entry |= {
            "Status": "FAILED",
            "Error": details.get("error", "States.Runtime"),
            "Cause": details.get("cause", "the child execution did not succeed"),
        }
    with _lock:
        _runs.setdefault(self._map_run_record.map_run_arn, []).append(entry)


def threshold_exceeded(failed: int, total: int, tolerated_count: int, tolerated_percentage: float) -> bool:
    """AWS fails a Map Run once failed items pass a declared threshold, either one when both are declared (a zero
    stands for an undeclared one: AWS's default tolerates no failure)."""
    over_count = failed > tolerated_count
    over_percentage = total > 0 and 100.0 * failed / total > tolerated_percentage
    if tolerated_percentage == 0:
        return over_count
    if tolerated_count == 0:
        return over_percentage
    return over_count or over_percentage


def _map_run(self: DistributedIterationComponent, env: Any, eval_input: Any) -> None:
    _original_map_run(self, env, eval_input)
    record = eval_input.map_run_record
    with _lock:
        entries = list(_runs.get(record.map_run_arn, []))
    failed = sum(1 for entry in entries if entry["Status"] == "FAILED")
    if not threshold_exceeded(
        failed, len(entries), record.tolerated_failure_count, record.tolerated_failure_percentage
    ):
        return
    with _lock:
        _runs.pop(record.map_run_arn, None)  # a failed Map Run writes no results here
    first = next(entry for entry in sorted(entries, key=lambda e: e["index"]) if entry["Status"] == "FAILED")
    cause = (
        f"{failed} of {len(entries)} items failed ({100.0 * failed / len(entries):.1f}%), above the tolerated "
        f"{record.tolerated_failure_percentage:g}%; the first: {first['Error']}: {str(first['Cause'])[:500]}"
    )
    raise FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(
                mapRunFailedEventDetails=MapRunFailedEventDetails(error=THRESHOLD_ERROR, cause=cause)
            ),
        )
    )


def _result_writer(self: ResultWriter, env: Any) -> None:
    """AWS evaluates the ResultWriter's ``Parameters`` paths (``"Bucket.$"``) against the Map state's input; moto
    evaluated them against the items' results."""
    results = env.stack.pop()
    depth = len(env.stack)
    env.stack.append(env.states.get_input())
    self.parargs.eval(env=env)
    parameters = env.stack.pop()
    del env.stack[depth:]
    env.stack.append(results)
    env.stack.append(parameters)
    self.resource_eval.eval_resource(env=env)


def _put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    parameters = dict(env.stack[-1])  # moto's handler pops these, then the results, which it drops
    map_run_arn = env.map_run_record_pool_manager.get_all()[-1].map_run_arn
    _original_put_object(env, resource_runtime_part, state_credentials)
    details = env.stack[-1]["ResultWriterDetails"]
    with _lock:
        entries = sorted(_runs.pop(map_run_arn, []), key=lambda e: e["index"])
    s3 = boto_client_for(region=resource_runtime_part.region, service="s3", state_credentials=state_credentials)
    prefix = details["Key"].rsplit("/", 1)[0]
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status in ("SUCCEEDED", "FAILED"):
        chosen = [{k: v for k, v in e.items() if k != "index"} for e in entries if e["Status"] == status]
        if not chosen:
            continue
        body = json.dumps(chosen).encode()
        key = f"{prefix}/{status}_0.json"
        s3.put_object(Bucket=details["Bucket"], Key=key, Body=body)
        files[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": map_run_arn, "ResultFiles": files}
    s3.put_object(Bucket=details["Bucket"], Key=details["Key"], Body=json.dumps(manifest, indent=2).encode())
