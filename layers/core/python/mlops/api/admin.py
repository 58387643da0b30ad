"""The admin operations behind the HTTP API: start and inspect training runs, browse the registry, deploy.

Each function takes typed values and returns plain JSON-able documents; the API handler maps errors to HTTP.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import (
    DeploymentRefused,
    InvalidMonitoringConfig,
    ModelNotFound,
    SmokeTestFailed,
    VersionConflict,
)
from mlops.governance import cards
from mlops.governance.failed_runs import step_error_of
from mlops.monitoring.config import MonitoringConfig, rate_seconds
from mlops.monitoring.schedule import schedule_overview
from mlops.monitoring.store import MonitoringStore, monitoring_overview
from mlops.records.batch import BatchJobRequest, BatchJobStart
from mlops.records.registry import PRODUCTION, AliasRecord
from mlops.records.request import TrainingRequest
from mlops.registry import documents
from mlops.registry.aliases import checked_alias
from mlops.registry.store import ModelRegistry
from mlops.registry.tags import checked_tag
from mlops.serving import batch_jobs as batch
from mlops.settings import ScheduleSettings
from mlops.storage import clients, codec

VERSION_SUMMARY_KEYS = ("version", "status", "estimator", "metrics", "created_at", "created_by", "run_id", "tags")


class ExecutionNotFound(ModelNotFound):
    """No training execution with that id."""


class ClientTokenReused(VersionConflict):
    """A client token was sent again with a different training request."""


def public_alias(alias: AliasRecord) -> dict[str, Any]:
    return alias.to_document()


def execution_name(client_token: str) -> str:
    """Step Functions keeps execution names unique per state machine for 90 days: naming the execution after
    the client token makes StartExecution itself the idempotency record (no extra table)."""
    return "api-" + hashlib.sha256(client_token.encode()).hexdigest()[:40]


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def start_training(state_machine_arn: str, request: TrainingRequest, client_token: str) -> tuple[dict[str, Any], bool]:
    """Start a TrainingPipeline run once per client token; return (execution, started_now).

    A token seen before returns its execution (or a conflict if the request differs). Two requests racing with
    the same new token both call StartExecution with the same name and input, which Step Functions answers
    with the same execution: still one run.
    """
    name = execution_name(client_token)
    arn = execution_arn(state_machine_arn, name)
    payload = json.dumps(request.model_dump(exclude_none=True), sort_keys=True)
    sfn = clients.client("stepfunctions")
    existing = _describe(sfn, arn)
    if existing is None:
        try:
            started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
            return {"execution_id": name, "execution_arn": started["executionArn"], "status": "RUNNING"}, True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            existing = _describe(sfn, arn)
    if existing is None or json.loads(existing["input"]) != json.loads(payload):
        raise ClientTokenReused("this client token already started a run with a different request")
    return {"execution_id": name, "execution_arn": arn, "status": existing["status"]}, False


def _describe(sfn: Any, arn: str) -> dict[str, Any] | None:
    try:
        return sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise


def _steps(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The states a run entered and left so far, in order (Map iterations included), from its history."""
    steps = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        for event in page["events"]:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                steps.append({"state": event["stateEnteredEventDetails"]["name"], "event": "entered"})
            elif kind.endswith("StateExited"):
                steps.append({"state": event["stateExitedEventDetails"]["name"], "event": "exited"})
            else:
                continue
            steps[-1]["at"] = event["timestamp"].isoformat()
        if not page.get("nextToken"):
            return steps
        kwargs["nextToken"] = page["nextToken"]


def describe_training(state_machine_arn: str, execution_id: str, *, with_steps: bool = False) -> dict[str, Any]:
    sfn = clients.client("stepfunctions")
    try:
        described = sfn.describe_execution(executionArn=execution_arn(state_machine_arn, execution_id))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise ExecutionNotFound(f"no training execution {execution_id!r}") from exc
        raise
    result: dict[str, Any] = {
        "execution_id": execution_id,
        "execution_arn": described["executionArn"],
        "status": described["status"],
        "started_at": described["startDate"].isoformat(),
    }
    if described.get("stopDate"):
        result["stopped_at"] = described["stopDate"].isoformat()
    if described.get("output"):
        output = json.loads(described["output"])
        evaluation = output.get("evaluation", {})
        result.update(
            model_name=output.get("request", {}).get("model_name"),
            registration=output.get("registration"),
            metrics=evaluation.get("metrics"),
            gate=evaluation.get("gate"),
            compute=(evaluation.get("winner") or {}).get("compute"),  # the engine that trained the winner
            deployment=output.get("deployment"),
        )
    if described["status"] == "FAILED":
        error, cause = described.get("error"), described.get("cause")
        step_error, step_cause = step_error_of(error, cause)
        result.update(
            error=error,
            cause=public_cause(error),
            step_error=step_error,
            # a States.* cause is the service's words about a limit or the runtime, never data: shown
            step_cause=step_cause if (step_error or "").startswith("States.") else public_cause(step_error),
        )
    if with_steps:
        result["steps"] = _steps(sfn, described["executionArn"])
    return result


def public_cause(error: str | None) -> str:
    """What an API answer says about a failure: its name, never its message. A step's message can quote the data
    (a cell that did not parse, a label, an input example); the execution's history keeps it for those allowed to
    read it (states:GetExecutionHistory)."""
    return (
        f"the run failed with {error or 'an error'}; the details are in the execution's history "
        "(states:GetExecutionHistory), not in API answers, because they can quote the data"
    )


def list_training(state_machine_arn: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` training runs, newest first, each with its status and the model it trains."""
    sfn = clients.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)["executions"]
    runs = []
    for execution in sorted(listed, key=lambda e: e["startDate"], reverse=True)[:limit]:
        described = _describe(sfn, execution["executionArn"]) or execution
        try:
            model_name = json.loads(described.get("input") or "{}").get("model_name")
        except (json.JSONDecodeError, AttributeError):
            model_name = None
        run = {
            "execution_id": execution["name"],
            "status": execution["status"],
            "model_name": model_name,
            "started_at": execution["startDate"].isoformat(),
            "stopped_at": execution["stopDate"].isoformat() if execution.get("stopDate") else None,
        }
        runs.append(run)
    return runs


def list_models(registry: ModelRegistry) -> list[dict[str, Any]]:
    models = []
    for model in registry.list_models():
        alias = registry.get_alias(model.model_name, PRODUCTION)
        models.append({**model.to_document(), "production_version": alias.version if alias else None})
    return models


def get_model(registry: ModelRegistry, model_name: str) -> dict[str, Any]:
    model = registry.get_model(model_name).to_document()
    model["aliases"] = {alias.alias: alias.to_document() for alias in registry.list_aliases(model_name)}
    return model


def parse_tag_filters(filters: list[str]) -> dict[str, str | None]:
    """``key=value`` (that value) or ``key`` (any value), as the ``tag`` query parameter spells them."""
    parsed: dict[str, str | None] = {}
    for item in filters:
        key, separator, value = item.partition("=")
        checked_tag(key, value if separator else None)
        parsed[key] = value if separator else None
    return parsed


def list_versions(
    registry: ModelRegistry,
    model_name: str,
    *,
    tags: dict[str, str | None] | None = None,
    status: str | None = None,
    alias: str | None = None,
) -> list[dict[str, Any]]:
    """Version summaries (with their tags and the aliases pointing at them), filtered by tags, status and alias."""
    registry.get_model(model_name)  # 404 for an unknown model rather than an empty list
    if alias is not None:
        checked_alias(alias)
    pointing: dict[int, list[str]] = {}
    for record in registry.list_aliases(model_name):
        pointing.setdefault(record.version, []).append(record.alias)
    return [
        {**{k: getattr(v, k) for k in VERSION_SUMMARY_KEYS}, "aliases": sorted(pointing.get(v.version, []))}
        for v in registry.find_versions(model_name, tags=tags, status=status, alias=alias)
    ]


def get_version(registry: ModelRegistry, model_name: str, version: int) -> dict[str, Any]:
    # the schema, leaderboard and input example live in S3 (the item holds their URIs): put back for the reader
    return documents.expanded(registry.get_version(model_name, version))


def audit(registry: ModelRegistry, model_name: str) -> list[dict[str, Any]]:
    registry.get_model(model_name)
    return [event.to_document() for event in registry.list_events(model_name)]


def smoke_test_via(predict_function: str, model_name: str, version: int) -> dict[str, Any]:
    """Ask the predict function itself (the real serving runtime) to serve the version's input example."""
    response = clients.client("lambda").invoke(
        FunctionName=predict_function,
        Payload=json.dumps({"smoke_test": {"model_name": model_name, "version": version}}).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise SmokeTestFailed(
            f"{model_name} v{version} failed its smoke test ({payload.get('errorType', 'error')}); the predict "
            "function's log has the details (they can quote the input example)"
        )
    return payload


def deploy(
    registry: ModelRegistry,
    predict_function: str,
    model_name: str,
    *,
    version: int,
    canary_weight: float | None,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Smoke-test the version, then make it production (or a canary with ``0 < canary_weight < 1``)."""
    registry.get_version(model_name, version)
    smoke = smoke_test_via(predict_function, model_name, version)
    if canary_weight is None or canary_weight >= 1:
        alias = registry.set_alias(model_name, version, actor=actor, reason=reason)
    elif canary_weight <= 0:
        raise DeploymentRefused("canary_weight must be above 0 (or omit it to deploy to production)")
    else:
        alias = registry.set_canary(model_name, version, canary_weight, actor=actor, reason=reason)
    return {"alias": alias.to_document(), "smoke_test": smoke}


def set_alias(
    registry: ModelRegistry,
    predict_function: str,
    model_name: str,
    alias: str,
    *,
    version: int,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Smoke-test the version, then point the named alias at it (audited, as a deployment is): every alias serves
    ``POST /models/{name}/predict?alias=<alias>``. ``production`` this way is a deployment without a canary."""
    checked_alias(alias)
    registry.get_version(model_name, version)
    smoke = smoke_test_via(predict_function, model_name, version)
    record = registry.set_alias(model_name, version, actor=actor, reason=reason, alias=alias)
    return {"alias": record.to_document(), "smoke_test": smoke}


def delete_alias(registry: ModelRegistry, model_name: str, alias: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Remove a named alias (audited); the version stays. ``production`` is moved by deployments and rollbacks,
    never deleted here: the endpoint would stop serving."""
    checked_alias(alias)
    if alias == PRODUCTION:
        raise DeploymentRefused("production is not deleted: deploy another version or roll back")
    registry.get_model(model_name)
    removed = registry.remove_alias(model_name, actor=actor, reason=reason, alias=alias)
    return {"model_name": model_name, "alias": alias, "removed_version": removed.version}


def set_tag(
    registry: ModelRegistry, model_name: str, version: int, key: str, value: str, *, actor: str, reason: str
) -> dict[str, Any]:
    record = registry.set_tag(model_name, version, key, value, actor=actor, reason=reason)
    return {"model_name": model_name, "version": version, "tags": record.tags}


def delete_tag(
    registry: ModelRegistry, model_name: str, version: int, key: str, *, actor: str, reason: str
) -> dict[str, Any]:
    record = registry.delete_tag(model_name, version, key, actor=actor, reason=reason)
    return {"model_name": model_name, "version": version, "tags": record.tags}


def card(registry: ModelRegistry, model_name: str, version: int) -> dict[str, Any]:
    """The model card of a version, rendered from the registry as it is now."""
    return cards.build_card(registry.get_version(model_name, version), registry.list_events(model_name))


# The paused run is gone: its wait timed out, the run ended, or the token is not one Step Functions knows.
RUN_NO_LONGER_WAITS = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


def decide(
    registry: ModelRegistry,
    bucket: str,
    model_name: str,
    version: int,
    *,
    approved: bool,
    actor: str,
    reason: str,
    approvers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Record a person's decision on a PendingApproval version, then resume (or stop) its training run.

    The decision is committed first (so two deciders cannot both win), then sent to the run. If the run cannot be
    told, the record follows the run: back to PendingApproval with its token when the run still waits (the call
    failed; decide again), ApprovalExpired when it no longer does (VersionConflict)."""
    record, token = registry.decide_approval(
        model_name, version, approved=approved, actor=actor, reason=reason, approvers=approvers
    )
    decision = {"approved": approved, "by": record.approval_decision["by"], "reason": reason}
    sfn = clients.client("stepfunctions")
    try:
        if approved:
            sfn.send_task_success(taskToken=token, output=json.dumps(decision))
        else:
            sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause=reason or "rejected by " + actor)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in RUN_NO_LONGER_WAITS:
            registry.expire_unreachable(record, actor=actor, cause=code)
            raise VersionConflict(
                f"{model_name} v{version}: its run no longer waits for a decision ({code}); the version is expired"
            ) from exc
        registry.undo_decision(record, token, actor=actor, cause=code)
        raise
    cards.write_card(bucket, record, registry.list_events(model_name))  # the decided record, with its decision
    return {"model_name": model_name, "version": version, "status": record.status, "decision": decision}


def reproduce_via(
    reproduce_function: str, registry: ModelRegistry, model_name: str, version: int, actor: str
) -> dict[str, Any]:
    """Ask the reproduce function (ML layer) to retrain the version from its lineage; return its report."""
    registry.get_version(model_name, version)  # 404 before any work
    response = clients.client("lambda").invoke(
        FunctionName=reproduce_function,
        Payload=json.dumps({"model_name": model_name, "version": version, "requested_by": actor}).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise ReproductionFailed(
            f"{model_name} v{version} could not be reproduced ({payload.get('errorType', 'error')}); the reproduce "
            "function's log has the details (they can quote the data)"
        )
    return payload


class ReproductionFailed(VersionConflict):
    """The version could not be retrained (e.g. its dataset is gone)."""


# ---- monitoring settings: GET/PUT/DELETE /models/{name}/monitoring --------------------------------------------
def monitoring(
    registry: ModelRegistry, monitors: MonitoringStore, model_name: str, *, schedule: ScheduleSettings, now: float
) -> dict[str, Any]:
    """The model's settings, its schedule (effective rate, next check), the monitor's state and latest checks."""
    registry.get_model(model_name)
    overview = monitoring_overview(model_name, store=monitors)
    overview["schedule"] = schedule_overview(
        overview["config"], default_rate=schedule.default_rate, tick_rate=schedule.tick_rate, now=now
    )
    return overview


def _checked_settings(overrides: dict[str, Any], schedule: ScheduleSettings) -> None:
    """Refuse settings a check would refuse (InvalidMonitoringConfig, naming the field), and a rate the stack's
    schedule cannot keep (finer than its tick)."""
    config = MonitoringConfig.merged(MonitoringConfig(), overrides)
    if config.schedule.rate and rate_seconds(config.schedule.rate) < rate_seconds(schedule.tick_rate):
        raise InvalidMonitoringConfig(
            f"schedule.rate {config.schedule.rate!r} is finer than the stack's schedule, which ticks every "
            f"{schedule.tick_rate} (DriftCheckTickRate): choose a rate of at least that"
        )


def set_monitoring(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    model_name: str,
    overrides: dict[str, Any],
    *,
    schedule: ScheduleSettings,
    actor: str,
    now: float,
) -> dict[str, Any]:
    """Replace a model's monitoring overrides ({} returns to the stack's settings, monitoring on), audited."""
    registry.get_model(model_name)
    _checked_settings(overrides, schedule)
    _replace_config(registry, monitors, model_name, lambda _: overrides, "MonitoringConfigured", actor=actor)
    return monitoring(registry, monitors, model_name, schedule=schedule, now=now)


def stop_monitoring(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    model_name: str,
    *,
    schedule: ScheduleSettings,
    actor: str,
    now: float,
) -> dict[str, Any]:
    """No more scheduled checks of the model (its other settings are kept; a PUT turns monitoring back on)."""
    registry.get_model(model_name)
    _replace_config(
        registry,
        monitors,
        model_name,
        lambda before: {**before, "schedule": {**(before.get("schedule") or {}), "enabled": False}},
        "MonitoringStopped",
        actor=actor,
    )
    return monitoring(registry, monitors, model_name, schedule=schedule, now=now)


_CONFIG_REASONS = {
    "MonitoringConfigured": "monitoring settings replaced",
    "MonitoringStopped": "scheduled drift checks stopped",
}


def _replace_config(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    model_name: str,
    new_config: Callable[[dict[str, Any]], dict[str, Any]],
    event_type: str,
    *,
    actor: str,
) -> None:
    """The model's monitoring overrides replaced and the change's audit event put, in one transaction."""
    before = monitors.get(model_name).config
    after = new_config(before)
    registry.transact(
        [
            monitors.config_update(model_name, after),
            registry.event_put(
                model_name,
                event_type,
                actor=actor,
                reason=_CONFIG_REASONS[event_type],
                before=before,
                after=after,
                at=codec.now_iso(),
            ),
        ]
    )


# ---- batch jobs (BatchTransform) ---------------------------------------------------------------------------------
class BatchJobNotFound(ModelNotFound):
    """No batch job with that id for that model."""


def start_batch_job(state_machine_arn: str, model_name: str, request: BatchJobRequest) -> dict[str, Any]:
    """Start a BatchTransform execution named by a new job id (the model must exist: 404 otherwise, checked by the
    caller); the job's files go under ``predictions/<model>/<job>/``."""
    job_id = batch.new_job_id()
    start = BatchJobStart(job_id=job_id, model_name=model_name, request=request)
    started = clients.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=job_id, input=start.model_dump_json()
    )
    return {
        "job_id": job_id,
        "model_name": model_name,
        "status": "RUNNING",
        "execution_arn": started["executionArn"],
        "input_uri": request.input_uri,
        "alias": request.alias,
    }


def describe_batch_job(state_machine_arn: str, artifacts_bucket: str, model_name: str, job_id: str) -> dict[str, Any]:
    """Status from the execution; counts and URIs from the job's summary once it has one (a FAILED job's summary
    names no output: what its committed chunks wrote is not a result)."""
    sfn = clients.client("stepfunctions")
    described = _describe(sfn, execution_arn(state_machine_arn, job_id))
    if described is None or json.loads(described.get("input") or "{}").get("model_name") != model_name:
        raise BatchJobNotFound(f"no batch job {job_id!r} for model {model_name!r}")
    result: dict[str, Any] = {
        "job_id": job_id,
        "model_name": model_name,
        "status": described["status"],
        "execution_arn": described["executionArn"],
        "started_at": described["startDate"].isoformat(),
    }
    if described.get("stopDate"):
        result["stopped_at"] = described["stopDate"].isoformat()
    if described["status"] == "FAILED":
        result.update(error=described.get("error"), cause=(described.get("cause") or "")[:4096])
    if described["status"] != "RUNNING":
        summary = batch.read_summary(artifacts_bucket, model_name, job_id)
        if summary is not None:
            result["summary"] = summary
            for key in ("rows", "scored", "invalid", "output_uri", "errors_uri", "version", "complete"):
                if key in summary:
                    result[key] = summary[key]
    return result
