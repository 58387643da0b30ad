"""What moto 5.2.5's Distributed Map leaves out: failure tolerance.

moto runs a Distributed Map's items (ItemReader from S3 included) and counts a failed item, but never fails the Map
run for it (``map_run_record.py``: "TODO: add support for failure toleration fields"): the failed items' outputs
are None and the Map succeeds. On AWS a Map run fails with ``States.ExceedToleratedFailureThreshold`` once more
items fail than ``ToleratedFailureCount`` / ``ToleratedFailurePercentage`` allow (both absent: none may fail), and
the state's Catch routes that error. This applies that rule after moto's map run, so a BatchTransform chunk that
fails ends the job in its named state locally as it would on AWS.

Where only one of the two fields is declared, only that one applies (moto gives the other its default, 0);
both 0 means none may fail.
"""

from __future__ import annotations

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
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

_original_map_run = DistributedIterationComponent._map_run
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def exceeded(failed: int, total: int, tolerated_count: int, tolerated_percentage: float) -> bool:
    """AWS's rule: the Map run fails when the failures pass a declared threshold (either, when both are)."""
    over_count = failed > tolerated_count
    over_percentage = total > 0 and failed * 100.0 / total > tolerated_percentage
    if tolerated_percentage == 0:
        return over_count
    if tolerated_count == 0:
        return over_percentage
    return over_count or over_percentage


def _map_run(self, env, eval_input) -> None:  # noqa: ANN001 - moto's own signature
    _original_map_run(self, env, eval_input)
    record = eval_input.map_run_record
    items = record.item_counter
    failed = items.failed.get() + items.timed_out.get()
    if not exceeded(failed, items.total.get(), record.tolerated_failure_count, record.tolerated_failure_percentage):
        return
    error_name = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
    cause = f"{THRESHOLD_CAUSE}: {failed} of {items.total.get()} items failed"
    raise FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(
                mapRunFailedEventDetails=MapRunFailedEventDetails(error=error_name.error_name, cause=cause)
            ),
        )
    )


def install() -> None:
    DistributedIterationComponent._map_run = _map_run


def installed() -> bool:
    return DistributedIterationComponent._map_run is _map_run
