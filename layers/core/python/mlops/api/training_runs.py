"""Training runs behind the API: start a TrainingPipeline run once per client token, describe one, list the newest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import ClientError

from mlops.api.executions import describe_execution, execution_arn
from mlops.errors import ModelNotFound, VersionConflict
from mlops.governance.failed_runs import step_error_of
from mlops.records.request import TrainingRequest
from mlops.storage import clients


class ExecutionNotFound(ModelNotFound):
    """No training execution with that id."""


class ClientTokenReused(VersionConflict):
    """A client token was sent again with a different training request."""


def execution_name(client_token: str) -> str:
    """Step Functions keeps execution names unique per state machine for 90 days: naming the execution after
    the client token makes StartExecution itself the idempotency record (no extra table)."""
    return "api-" + hashlib.sha256(client_token.encode()).hexdigest()[:40]


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
    existing = describe_execution(sfn, arn)
    if existing is None:
        try:
            started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
            return {"execution_id": name, "execution_arn": started["executionArn"], "status": "RUNNING"}, True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            existing = describe_execution(sfn, arn)
    if existing is None or json.loads(existing["input"]) != json.loads(payload):
        raise ClientTokenReused("this client token already started a run with a different request")
    return {"execution_id": name, "execution_arn": arn, "status": existing["status"]}, False


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
            # the all-at-once alias move, as the run's Rollout execution reported it (None for a progressive rollout)
            deployment=((output.get("rollout") or {}).get("result") or {}).get("deployment"),
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
        described = describe_execution(sfn, execution["executionArn"]) or execution
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
