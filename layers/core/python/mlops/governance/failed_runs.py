"""What a failed training run leaves behind, made to agree with the named state the run ends in.

A step can fail after its write: Register committed the version and then the card write failed, or Deploy moved
the production alias and then timed out. Step Functions retries the idempotent steps first (the ASL's Retry on
``Sandbox.Timedout``); when the retries are spent the run ends in a named failure state, and the RecordFailure
step reconciles before it does, so the state and the registry say the same thing:

* states whose contract is "nothing was registered" (InvalidInput, NoCandidateTrained, RegistrationFailed,
  PipelineFailed): a version this run registered (its ``RUN#`` marker) that could still be deployed is marked
  ``Abandoned``, with an audit event. The version number stays taken and the record and artifacts stay for the
  audit; only deployment is refused (``Abandoned`` is not a deployable status). An alias that still points at it
  (UndoDeployment puts back only this run's own moves) is named in the outcome and its audit event, and serves no
  more: the predict path refuses a version that is not deployable (``VersionNotDeployable``). Deleting it instead
  would break the append-only trail and reuse a version number; calling the run a success would hide a step that
  failed.
* DeploymentFailed and SmokeTestFailed ("registered, production did not move"): if production serves this run's
  version because this run moved it, the move is undone (``mlops.serving.deploy.revert_deployment``).

Only the Deploy function and the admin API may write aliases (template.yaml's IAM), so the undo is the Deploy
function's (``mlops.serving.deploy.undo_deployment``, the ASL's UndoDeployment state, before RecordFailure);
RecordFailure abandons the version and records the failure, and reports what UndoDeployment did. The named end
states are ``mlops.records.funnel``.
"""

from __future__ import annotations

import json
from typing import Any

from mlops.errors import VersionConflict
from mlops.records.funnel import NOTHING_REGISTERED_STATES
from mlops.records.lineage import run_id_of
from mlops.records.registry import (
    VERSION_ABANDONED,
    VERSION_APPROVED,
    VERSION_PENDING_APPROVAL,
    VERSION_REGISTERED,
    VersionRecord,
)
from mlops.registry.store import ModelRegistry
from mlops.storage.codec import now_iso

_ABANDONABLE = (VERSION_REGISTERED, VERSION_PENDING_APPROVAL, VERSION_APPROVED)


# Step Functions' own errors (States.DataLimitExceeded, States.Timeout, States.TaskFailed, States.Runtime,
# States.Permissions, ...) may not be reported by a Fail state (custom error names must not begin with "States."):
# the run ends in its named state with this error instead, the original name leading the cause. A Fail state's
# error is at most 256 characters and its cause 32,768 (Step Functions' limits); the outcome keeps within both.
STATES_ERROR_PREFIX = "States."
STEP_FAILED = "PipelineStepFailed"
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768


def run_outcome(error: dict[str, Any]) -> dict[str, str]:
    """The error and cause the run's named Fail state reports for the error a step's Catch recorded."""
    name = str(error.get("Error") or "UnknownError")
    cause = str(error.get("Cause") or "")
    if name.startswith(STATES_ERROR_PREFIX):
        name, cause = STEP_FAILED, f"{name}: {cause}" if cause else name
    if len(cause) > MAX_CAUSE_CHARS:
        cause = cause[: MAX_CAUSE_CHARS - 40] + f" ... ({len(cause):,} characters in all)"
    return {"error": name[:MAX_ERROR_CHARS], "cause": cause}


def step_failure(error: dict[str, Any]) -> dict[str, Any]:
    """The failing step's own error behind a nested execution's failure, else ``error`` as it is.

    A task that runs another state machine (``states:startExecution.sync:2``: the Rollout) fails with
    ``States.TaskFailed`` whose cause is the child's DescribeExecution document (its status, error and cause). The
    Rollout's DeploymentFailed state reports the failing step's error as its cause, as JSON ({Error, Cause}); a child
    that failed otherwise (a States.* error of its own, a stop) gives its own error and cause."""
    if error.get("Error") != "States.TaskFailed":
        return error
    described = _json_object(error.get("Cause"))
    fields = {key.lower(): value for key, value in (described or {}).items()}
    if fields.get("status") != "FAILED" or not isinstance(fields.get("error"), str):
        return error
    step = _json_object(fields.get("cause"))
    if step is not None and isinstance(step.get("Error"), str):
        return {"Error": step["Error"], "Cause": str(step.get("Cause") or "")}
    return {"Error": fields["error"], "Cause": str(fields.get("cause") or "")}


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def step_error_of(error: str | None, cause: str | None) -> tuple[str | None, str | None]:
    """The step's own error and cause behind a run's end (a PipelineStepFailed cause begins with the States.* name)."""
    if error == STEP_FAILED and cause and cause.startswith(STATES_ERROR_PREFIX):
        name, _, rest = cause.partition(": ")
        return name, rest
    return error, cause


def abandon_version(
    registry: ModelRegistry, model_name: str, version: int, *, execution_arn: str, state: str
) -> VersionRecord:
    """Mark a version a failed run registered as Abandoned (not deployable), with its audit event; a pending
    approval's task token is dropped with it (the execution it would resume has ended)."""
    for _ in range(3):
        record = registry.get_version(model_name, version)
        if record.status not in _ABANDONABLE:
            return record  # Rejected, ApprovalExpired or already Abandoned: not deployable as it is
        try:
            return registry.change_status(
                model_name,
                version,
                expected=record.status,
                status=VERSION_ABANDONED,
                fields={"abandoned": {"execution_arn": execution_arn, "state": state, "at": now_iso()}},
                event_type="VersionAbandoned",
                actor=f"pipeline:{run_id_of(execution_arn)}",
                reason=f"the run that registered v{version} ended {state}",
                require_token=True if record.approval_task_token else None,
            )
        except VersionConflict:
            continue  # its status changed under us (an approval decision): read it again
    raise VersionConflict(f"{model_name} v{version} kept changing while it was being abandoned")


def reconcile_failed_run(
    registry: ModelRegistry, model_name: str, *, execution_arn: str, state: str, alias_reverted: bool | None = False
) -> dict[str, Any]:
    """Make the versions agree with the failure state the run ends in; return what was found and done
    (``alias_reverted``: what UndoDeployment reported; None when it failed)."""
    version = registry.version_for_run(model_name, run_id_of(execution_arn))
    outcome: dict[str, Any] = {"version": version, "version_status": None, "alias_reverted": alias_reverted}
    if version is None:
        return outcome
    if state in NOTHING_REGISTERED_STATES:
        abandon_version(registry, model_name, version, execution_arn=execution_arn, state=state)
        # An alias someone else pointed at it stays (this role may not write aliases), but it serves no more: the
        # predict path refuses a version that is not deployable (VersionNotDeployable, 503) until it is moved.
        outcome["aliases_on_abandoned_version"] = sorted(
            alias.alias
            for alias in registry.list_aliases(model_name)
            if version in (alias.version, alias.canary_version, alias.shadow_version)
        )
    outcome["version_status"] = registry.get_version(model_name, version).status
    return outcome
