"""Approval step: record that a version waits for a person (storing the paused execution's task token), or
that the wait timed out. The decision itself arrives through the admin API, which resumes the execution."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.errors import VersionConflict
from mlops.records.events import ApprovalTimedOutEvent, AwaitApprovalEvent, parse_event
from mlops.records.lineage import run_id_of
from mlops.records.registry import VERSION_APPROVED, VERSION_PENDING_APPROVAL, VERSION_REJECTED, VersionRecord
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def _already_done(record: VersionRecord, task_token: str) -> bool:
    if record.status == VERSION_PENDING_APPROVAL:
        return record.approval_task_token == task_token
    decision = record.approval_decision or {}
    return record.status in (VERSION_APPROVED, VERSION_REJECTED) and bool(decision)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    registry = ModelRegistry.from_settings(Settings.from_environment())
    if isinstance(event, dict) and "approval_timed_out" in event:
        step = parse_event(ApprovalTimedOutEvent, event)
        record = registry.expire_approval(
            step.model_name, step.version, actor=f"pipeline:{run_id_of(step.execution_arn)}"
        )
        metrics.add_metric(name="ApprovalsTimedOut", unit=MetricUnit.Count, value=1)
        return {"model_name": step.model_name, "version": step.version, "status": record.status}
    step = parse_event(AwaitApprovalEvent, event)
    try:
        record = registry.await_approval(
            step.model_name, step.version, step.task_token, actor=f"pipeline:{run_id_of(step.execution_arn)}"
        )
    except VersionConflict:
        # A retried invocation (the first one's response was lost after it stored the token): the token is already
        # there, or a person already decided with it. Either way this step's work is done; anything else conflicts.
        record = registry.get_version(step.model_name, step.version)
        if not _already_done(record, step.task_token):
            raise
        logger.info("approval already requested by an earlier attempt", extra={"status": record.status})
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    logger.info("waiting for approval", extra={"model_name": step.model_name, "version": step.version})
    return {"model_name": step.model_name, "version": step.version, "status": record.status}
