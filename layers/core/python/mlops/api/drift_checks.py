"""Drift checks on demand behind ``POST /models/{name}/monitoring/checks``: the DriftCheck execution the schedule
starts, started now, once per client token, one at a time per model, audited; and ``GET .../checks/{execution_id}``.

The check is the scheduled check in every respect: the same state machine with the same input (``{model_name}``),
so it reads the capture since the last check, counts as a window towards ``consecutive_windows``, and starts a
retraining only outside the cooldown after the last one (``mlops.monitoring.check``). What is added here is what a
person asking needs: a model that is not deployed is refused before anything starts (404, saying how to deploy), a
check while another of the same model is running is refused (409, naming it: two checks at once would split one
window in two), and a retried POST with the same token answers the check it started (the execution's name is derived
from the model and the token: Step Functions keeps names unique for 90 days, the idempotency record).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from botocore.exceptions import ClientError

from mlops.api.executions import describe_execution, execution_arn
from mlops.errors import ModelNotFound, VersionConflict
from mlops.records.registry import PRODUCTION
from mlops.registry.store import ModelRegistry
from mlops.storage import clients, codec

EVENT_TYPE = "DriftCheckRequested"
# Errors a drift check ends with whose message is the monitor's own words about the model (no captured value):
# answered with it. Any other error is answered by its name; the execution's history keeps the rest.
WORDED_ERRORS = frozenset({"NothingToMonitor", "BaselineUnavailable", "InvalidMonitoringConfig", "InvalidStepInput"})
MAX_RUNNING_LISTED = 100


class DriftCheckNotFound(ModelNotFound):
    """No on-demand drift check with that id for that model."""


class DriftCheckRunning(VersionConflict):
    """A drift check of the model is running already."""


def execution_name(model_name: str, client_token: str) -> str:
    """Deterministic per model and token (≤ 80 characters): a retried POST finds the check it started."""
    digest = hashlib.sha256(f"{model_name}\n{client_token}".encode()).hexdigest()[:24]
    return f"ondemand-{re.sub(r'[^A-Za-z0-9_-]', '-', model_name)[:40]}-{digest}"


def _running_check_of(sfn: Any, state_machine_arn: str, model_name: str, other_than: str) -> str | None:
    """The name of a running DriftCheck execution of the model (scheduled or on demand), if any."""
    listed = sfn.list_executions(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=MAX_RUNNING_LISTED
    )["executions"]
    for execution in listed:
        if execution["executionArn"] == other_than:
            continue
        described = describe_execution(sfn, execution["executionArn"]) or {}
        try:
            if json.loads(described.get("input") or "{}").get("model_name") == model_name:
                return execution["name"]
        except (json.JSONDecodeError, AttributeError):
            continue
    return None


def start_check(
    registry: ModelRegistry,
    state_machine_arn: str,
    model_name: str,
    client_token: str,
    *,
    actor: str,
    reason: str,
) -> tuple[dict[str, Any], bool]:
    """Start a drift check of the deployed model now; return (check, started_now)."""
    registry.get_model(model_name)  # 404: no such model
    production = registry.get_alias(model_name, PRODUCTION)
    if production is None:
        raise ModelNotFound(
            f"{model_name} has no production version, so there is nothing to check: deploy a version first "
            f"(POST /models/{model_name}/deployments, or mlops deploy {model_name} VERSION)"
        )
    name = execution_name(model_name, client_token)
    arn = execution_arn(state_machine_arn, name)
    sfn = clients.client("stepfunctions")
    existing = describe_execution(sfn, arn)
    started_now = False
    if existing is None:
        running = _running_check_of(sfn, state_machine_arn, model_name, other_than=arn)
        if running is not None:
            raise DriftCheckRunning(
                f"a drift check of {model_name} is running ({running}): its report will be the latest; wait for it "
                "to end and ask again if you need another"
            )
        try:
            sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps({"model_name": model_name})
            )
            started_now = True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
        existing = describe_execution(sfn, arn) or {"status": "RUNNING"}
    if json.loads(existing.get("input") or json.dumps({"model_name": model_name})).get("model_name") != model_name:
        raise VersionConflict("this client token already started a drift check of another model")
    if started_now:
        registry.transact(
            [
                registry.event_put(
                    model_name,
                    EVENT_TYPE,
                    actor=actor,
                    reason=reason or "drift check requested",
                    before=None,
                    after={"execution_id": name, "execution_arn": arn, "version": production.version},
                    at=codec.now_iso(),
                )
            ]
        )
    return describe_check(state_machine_arn, model_name, name, described=existing), started_now


def describe_check(
    state_machine_arn: str, model_name: str, execution_id: str, *, described: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A drift check's status and, once it ended, its summary (the check id the report route takes) or its error."""
    if described is None:
        described = describe_execution(clients.client("stepfunctions"), execution_arn(state_machine_arn, execution_id))
    if described is None or json.loads(described.get("input") or "{}").get("model_name") != model_name:
        raise DriftCheckNotFound(f"no drift check {execution_id!r} of {model_name}")
    answer: dict[str, Any] = {
        "model_name": model_name,
        "execution_id": execution_id,
        "execution_arn": execution_arn(state_machine_arn, execution_id),
        "status": described["status"],
    }
    if described.get("startDate"):
        answer["started_at"] = described["startDate"].isoformat()
    if described.get("stopDate"):
        answer["stopped_at"] = described["stopDate"].isoformat()
    if described.get("output"):
        output = json.loads(described["output"])
        check = output.get("check") or {}
        answer["check"] = {
            key: check.get(key)
            for key in (
                "check_id",
                "version",
                "status",
                "rows",
                "dataset_drift",
                "drift_confirmed",
                "drifted_features",
                "performance",
                "decision",
                "report_uri",
                "html_uri",
            )
        }
        answer["retraining_execution_arn"] = (output.get("retraining") or {}).get("execution_arn")
    if described["status"] == "FAILED":
        error = described.get("error")
        answer["error"] = error
        answer["cause"] = _worded_cause(error, described.get("cause"))
    return answer


def _worded_cause(error: str | None, cause: str | None) -> str:
    if error in WORDED_ERRORS and cause:
        try:
            return str(json.loads(cause).get("errorMessage") or cause)[:1000]
        except (json.JSONDecodeError, AttributeError):
            return cause[:1000]
    return (
        f"the check failed with {error or 'an error'}; the details are in the execution's history "
        "(states:GetExecutionHistory), not in API answers, because they can quote captured data"
    )
