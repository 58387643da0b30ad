"""The admin operations behind the HTTP API: start and inspect training runs, browse the registry, deploy.

Each function takes typed values and returns plain JSON-able documents; the API handler maps errors to HTTP.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import DeploymentRefused, ModelNotFound, SmokeTestFailed, VersionConflict
from mlops.governance import cards
from mlops.governance.failed_runs import step_error_of
from mlops.registry import documents
from mlops.registry.records import PRODUCTION, AliasRecord
from mlops.registry.store import ModelRegistry
from mlops.storage import clients
from mlops.training.request import TrainingRequest

VERSION_SUMMARY_KEYS = ("version", "status", "estimator", "metrics", "created_at", "created_by", "run_id")


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
            deployment=output.get("deployment"),
        )
    if described["status"] == "FAILED":
        error, cause = described.get("error"), described.get("cause")
        step_error, step_cause = step_error_of(error, cause)
        result.update(error=error, cause=cause, step_error=step_error, step_cause=step_cause)
    if with_steps:
        result["steps"] = _steps(sfn, described["executionArn"])
    return result


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


def list_versions(registry: ModelRegistry, model_name: str) -> list[dict[str, Any]]:
    registry.get_model(model_name)  # 404 for an unknown model rather than an empty list
    return [{k: getattr(v, k) for k in VERSION_SUMMARY_KEYS} for v in registry.list_versions(model_name)]


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
        raise SmokeTestFailed(payload.get("errorMessage", "the smoke test failed"))
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


def card(registry: ModelRegistry, model_name: str, version: int) -> dict[str, Any]:
    """The model card of a version, rendered from the registry as it is now."""
    return cards.build_card(registry.get_version(model_name, version), registry.list_events(model_name))


def decide(
    registry: ModelRegistry, bucket: str, model_name: str, version: int, *, approved: bool, actor: str, reason: str
) -> dict[str, Any]:
    """Record a person's decision on a PendingApproval version, then resume (or stop) its training run."""
    record, token = registry.decide_approval(model_name, version, approved=approved, actor=actor, reason=reason)
    sfn = clients.client("stepfunctions")
    decision = {"approved": approved, "by": actor, "reason": reason}
    if approved:
        sfn.send_task_success(taskToken=token, output=json.dumps(decision))
    else:
        sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause=reason or "rejected by " + actor)
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
        raise ReproductionFailed(payload.get("errorMessage", "the reproduction failed"))
    return payload


class ReproductionFailed(VersionConflict):
    """The version could not be retrained (e.g. its dataset is gone)."""
