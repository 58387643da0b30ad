"""RecordFailure's reconciliation, handler by handler: what a failed run left in the registry is made to agree with
the named state it ends in (mlops.governance.failed_runs). Compared by content: versions, alias, audit trail."""

from __future__ import annotations

import json

import pytest

from functions.approval import app as approval_app
from functions.deploy import app as deploy_app
from functions.record_failure import app as record_failure_app
from mlops.errors import DeploymentRefused
from mlops.governance import failed_runs
from mlops.records.registry import VERSION_PENDING_APPROVAL, VERSION_REGISTERED
from mlops.registry.store import ModelRegistry
from tests.factories import version_content

ARN = "arn:aws:states:us-east-1:123456789012:execution:mlops-local-TrainingPipeline:train-failed"
RUN = "pipeline:train-failed"


def _register(registry: ModelRegistry, run_id: str, status: str = VERSION_REGISTERED) -> int:
    version, _ = registry.register_version("m", version_content(), status=status, run_id=run_id, actor="t", reason="r")
    return version


def _record_failure(lambda_context, state: str) -> dict:
    """What the state machine does after a Catch: UndoDeployment (the Deploy function), then RecordFailure."""
    state_input = {"request": {"model_name": "m"}, "failure": {state: {"Error": "E"}}}
    undone = deploy_app.lambda_handler(
        {"step": "undo_deployment", "state_input": state_input, "execution_arn": ARN}, lambda_context
    )
    event = {"state_input": {**state_input, "undo_deployment": undone}, "execution_arn": ARN}
    return record_failure_app.lambda_handler(event, lambda_context)


def _trail(registry: ModelRegistry, since: int) -> list[tuple]:
    return [
        (e.event_type, e.actor, (e.before or {}).get("version"), (e.after or {}).get("version"))
        for e in registry.list_events("m")[since:]
    ]


@pytest.mark.parametrize("state", ["RegistrationFailed", "PipelineFailed"])
def test_a_version_registered_by_a_run_that_says_nothing_was_registered_is_abandoned(stack, lambda_context, state):
    registry = stack.registry()
    _register(registry, "other-run")
    registry.set_alias("m", 1, actor="t", reason="champion")
    version = _register(registry, "train-failed")
    since = len(registry.list_events("m"))

    result = _record_failure(lambda_context, state)

    assert (result["version"], result["version_status"], result["alias_reverted"]) == (2, "Abandoned", False)
    assert [(v.version, v.status) for v in registry.list_versions("m")] == [(1, "Registered"), (2, "Abandoned")]
    assert registry.get_alias("m").version == 1
    assert _trail(registry, since) == [
        ("VersionAbandoned", RUN, None, version),
        ("TrainingRunFailed", RUN, None, version),
    ]
    with pytest.raises(DeploymentRefused):
        registry.set_alias("m", version, actor="person", reason="deploy it anyway")


def test_a_pending_approval_of_a_failed_run_loses_its_token(stack, lambda_context):
    registry = stack.registry()
    version = _register(registry, "train-failed", status=VERSION_PENDING_APPROVAL)
    approval_app.lambda_handler(
        {
            "step": "await_approval",
            "model_name": "m",
            "version": version,
            "task_token": "token-1",
            "execution_arn": ARN,
        },
        lambda_context,
    )

    _record_failure(lambda_context, "PipelineFailed")

    record = registry.get_version("m", version)
    assert (record.status, record.approval_task_token) == ("Abandoned", None)


def test_the_approval_step_retried_with_the_same_token_succeeds_once(stack, lambda_context):
    registry = stack.registry()
    version = _register(registry, "train-failed", status=VERSION_PENDING_APPROVAL)
    event = {
        "step": "await_approval",
        "model_name": "m",
        "version": version,
        "task_token": "token-1",
        "execution_arn": ARN,
    }

    first = approval_app.lambda_handler(event, lambda_context)
    again = approval_app.lambda_handler(event, lambda_context)  # the first response was lost

    assert first == again == {"model_name": "m", "version": version, "status": "PendingApproval"}
    assert [e.event_type for e in registry.list_events("m")] == ["VersionRegistered", "ApprovalRequested"]
    with pytest.raises(Exception, match="PendingApproval"):  # another token is another run's: a conflict
        approval_app.lambda_handler({**event, "task_token": "token-2"}, lambda_context)


def test_an_alias_the_failed_run_moved_goes_back(stack, lambda_context):
    registry = stack.registry()
    _register(registry, "other-run")
    registry.set_alias("m", 1, actor="t", reason="champion")
    version = _register(registry, "train-failed")
    registry.set_alias("m", version, actor=RUN, reason="promoted", expected_version=1, check_expected=True)
    since = len(registry.list_events("m"))

    result = _record_failure(lambda_context, "DeploymentFailed")

    assert (result["version_status"], result["alias_reverted"]) == ("Registered", True)
    alias = registry.get_alias("m")
    assert (alias.version, alias.previous_version) == (1, 2)
    assert _trail(registry, since) == [("AliasMoved", RUN, 2, 1), ("TrainingRunFailed", RUN, None, version)]


def test_an_alias_someone_else_moved_to_the_version_is_left_alone(stack, lambda_context):
    registry = stack.registry()
    version = _register(registry, "train-failed")
    registry.set_alias("m", version, actor="person", reason="deployed by hand")
    before = registry.get_alias("m")

    result = _record_failure(lambda_context, "DeploymentFailed")

    assert result["alias_reverted"] is False
    assert registry.get_alias("m") == before


def test_a_run_that_registered_nothing_changes_nothing(stack, lambda_context):
    registry = stack.registry()
    _register(registry, "other-run")

    result = _record_failure(lambda_context, "RegistrationFailed")

    assert (result["version"], result["version_status"]) == (None, None)
    assert [(v.version, v.status) for v in registry.list_versions("m")] == [(1, "Registered")]
    assert [e.event_type for e in registry.list_events("m")] == ["VersionRegistered", "TrainingRunFailed"]


# ---- the error a run's named Fail state reports ------------------------------------------------------------------
@pytest.mark.parametrize(
    "states_error",
    ["States.DataLimitExceeded", "States.Timeout", "States.TaskFailed", "States.Runtime", "States.Permissions"],
)
def test_a_step_functions_error_ends_the_run_as_pipeline_step_failed_with_the_original_error_in_the_cause(
    states_error: str,
):
    outcome = failed_runs.run_outcome({"Error": states_error, "Cause": "the original cause"})

    assert outcome == {"error": "PipelineStepFailed", "cause": f"{states_error}: the original cause"}
    assert failed_runs.step_error_of(outcome["error"], outcome["cause"]) == (states_error, "the original cause")


def test_a_step_s_own_error_is_reported_as_it_is():
    outcome = failed_runs.run_outcome({"Error": "InvalidDataset", "Cause": '{"errorMessage": "no rows"}'})

    assert outcome == {"error": "InvalidDataset", "cause": '{"errorMessage": "no rows"}'}
    assert failed_runs.step_error_of("InvalidDataset", "x") == ("InvalidDataset", "x")


def test_the_outcome_keeps_within_step_functions_error_and_cause_limits():
    outcome = failed_runs.run_outcome({"Error": "E" * 300, "Cause": "c" * 40_000})

    assert len(outcome["error"]) == failed_runs.MAX_ERROR_CHARS == 256
    assert len(outcome["cause"]) <= failed_runs.MAX_CAUSE_CHARS == 32_768
    assert outcome["cause"].endswith("(40,000 characters in all)")


# ---- a failed Rollout (startExecution.sync:2): States.TaskFailed whose cause is the child's description ----------
def _rollout_failed(error: str, cause: str, status: str = "FAILED") -> dict:
    described = {"ExecutionArn": "arn:aws:states:us-east-1:1:execution:Rollout:run", "Status": status}
    return {"Error": "States.TaskFailed", "Cause": json.dumps({**described, "Error": error, "Cause": cause})}


def test_a_failed_rollout_is_reported_as_the_error_of_its_step_that_failed():
    step = {"Error": "VersionConflict", "Cause": '{"errorMessage": "the alias moved"}'}

    assert failed_runs.step_failure(_rollout_failed("DeploymentFailed", json.dumps(step))) == step


def test_a_rollout_that_failed_by_itself_is_reported_as_its_own_error():
    # (a States.* error of the child: the run's outcome is then PipelineStepFailed with that name leading the cause)
    unwrapped = failed_runs.step_failure(_rollout_failed("States.Runtime", "the Fail state could not be evaluated"))

    assert unwrapped == {"Error": "States.Runtime", "Cause": "the Fail state could not be evaluated"}
    assert failed_runs.run_outcome(unwrapped)["cause"] == "States.Runtime: the Fail state could not be evaluated"


@pytest.mark.parametrize(
    "error",
    [
        {"Error": "RuntimeError", "Cause": "boom"},
        {"Error": "States.TaskFailed", "Cause": "not a description"},
        {"Error": "States.TaskFailed", "Cause": json.dumps({"Status": "SUCCEEDED"})},
        {"Error": "States.TaskFailed"},
    ],
    ids=["a step's own error", "a cause that is not JSON", "not a failed execution", "no cause"],
)
def test_any_other_failure_is_left_as_it_is(error: dict):
    assert failed_runs.step_failure(error) == error
