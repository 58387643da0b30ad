"""Approval step: record that a version waits for a person (storing the paused execution's task token), or
that the wait timed out. The decision itself arrives through the admin API, which resumes the execution."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.errors import VersionConflict
from mlops.observability import instrumented, logger, metrics
from mlops.records.events import ApprovalStep, ApprovalTimedOutEvent, AwaitApprovalEvent, parse_event
from mlops.records.lineage import run_id_of
from mlops.records.registry import VERSION_APPROVED, VERSION_PENDING_APPROVAL, VERSION_REJECTED, VersionRecord
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings


def _already_done(record: VersionRecord, task_token: str) -> bool:
    if record.status == VERSION_PENDING_APPROVAL:
        return record.approval_task_token == task_token
    decision = record.approval_decision or {}
    return record.status in (VERSION_APPROVED, VERSION_REJECTED) and bool(decision)


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    registry = ModelRegistry.from_settings(Settings.from_environment())
    match parse_event(ApprovalStep, event).root:
        case ApprovalTimedOutEvent() as step:
            record = registry.expire_approval(
                step.model_name, step.version, actor=f"pipeline:{run_id_of(step.execution_arn)}"
            )
            metrics.add_metric(name="ApprovalsTimedOut", unit=MetricUnit.Count, value=1)
            return {"model_name": step.model_name, "version": step.version, "status": record.status}
        case AwaitApprovalEvent() as step:
            return _await_approval(step, registry)


def _await_approval(step: AwaitApprovalEvent, registry: ModelRegistry) -> dict:
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
