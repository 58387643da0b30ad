"""Faults after the side effect: a step that did its write and then failed (a card write that fails after the
version was committed, a function that times out after it moved the alias). The run's named end state and the
registry must agree, compared by content: the versions (number, status), the production alias and the audit trail.

Retries of the idempotent steps are the first line (one lost response is retried and the run succeeds, with one
write); when every attempt fails, RecordFailure reconciles (mlops.governance.failed_runs).
"""

from __future__ import annotations

import json
import time

import pytest

from local import runtime
from local.runs.datasets import breast_cancer_csv
from local.runs.training import follow, run_training
from mlops.api import approvals
from mlops.errors import DeploymentRefused, VersionConflict
from mlops.governance import cards
from mlops.registry.store import ModelRegistry
from tests.conftest import upload
from tests.integration.test_faults import assert_registry_consistent

pytestmark = pytest.mark.integration
CANDIDATES = [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}]
WEAK = [{"estimator": "decision_tree", "params": {"max_depth": 1}}]  # the champion: a challenger beats it


def _train(stack, **request) -> object:
    return run_training(
        stack,
        {
            "model_name": "bc",
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": CANDIDATES,
            **request,
        },
    )


def trail(registry: ModelRegistry, since: int = 0) -> list[tuple]:
    """The audit trail by content: (event type, actor's run or person, what changed)."""
    rows = []
    for event in registry.list_events("bc")[since:]:
        after = event.after or {}
        before = event.before or {}
        if event.event_type in ("AliasMoved", "AliasRemoved", "RolledBack"):
            rows.append((event.event_type, before.get("version"), after.get("version")))
        elif event.event_type == "TrainingRunFailed":
            rows.append((event.event_type, after["state"], after.get("version"), after.get("version_status")))
        else:
            rows.append((event.event_type, after.get("version"), after.get("status")))
    return rows


def versions(registry: ModelRegistry) -> list[tuple[int, str, str]]:
    return [(v.version, v.status, v.run_id) for v in registry.list_versions("bc")]


def run_id(result) -> str:
    return result.execution_arn.rsplit(":", 1)[-1]


@pytest.fixture
def champion(stack):
    """A first, healthy run: v1 serves production before the faulty run starts."""
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    first = _train(stack, candidates=WEAK)
    assert first.end_state == "Deployed", first.cause
    registry = stack.registry()
    return first, registry.get_alias("bc"), len(registry.list_events("bc"))


def test_register_that_times_out_after_committing_is_retried_and_registers_once(stack, champion):
    first, alias_before, events_before = champion
    # Given Register's first response is lost after its transaction committed
    runtime.inject_fault(stack.function_names["RegisterFunction"], "timeout", times=1, after=True)

    # When a run trains a challenger that passes the gate
    result = _train(
        stack,
    )

    # Then the retry found the run's version instead of registering a second one, and the run deployed it
    assert result.end_state == "Deployed", result.cause
    assert result.states.count("Register") == 1  # one state, two attempts (the retry is inside the state)
    registry = stack.registry()
    assert versions(registry) == [(1, "Registered", run_id(first)), (2, "Registered", run_id(result))]
    assert trail(registry, events_before) == [("VersionRegistered", 2, "Registered"), ("AliasMoved", 1, 2)]
    assert registry.get_alias("bc").version == 2
    assert_registry_consistent(stack)


@pytest.mark.parametrize("failure", ["card_write", "timeout_every_attempt"])
def test_register_that_committed_and_then_failed_leaves_no_deployable_version(stack, champion, monkeypatch, failure):
    first, alias_before, events_before = champion
    # Given Register commits the version and then fails, on every attempt
    if failure == "card_write":

        def no_card(*args, **kwargs):
            raise OSError("card store unavailable")

        monkeypatch.setattr(cards, "write_card", no_card)  # what Register calls after its transaction
    else:
        runtime.inject_fault(stack.function_names["RegisterFunction"], "timeout", after=True)

    # When a run trains a challenger that would pass the gate
    result = _train(
        stack,
    )

    # Then the run says RegistrationFailed, and the registry agrees: the version it committed is Abandoned (kept for
    # the audit, refused for deployment), production still serves the champion, and the trail tells it in order
    assert (result.status, result.end_state) == ("FAILED", "RegistrationFailed")
    registry = stack.registry()
    assert versions(registry) == [(1, "Registered", run_id(first)), (2, "Abandoned", run_id(result))]
    assert registry.get_alias("bc") == alias_before
    assert trail(registry, events_before) == [
        ("VersionRegistered", 2, "Registered"),
        ("VersionAbandoned", 2, "Abandoned"),
        ("TrainingRunFailed", "RegistrationFailed", 2, "Abandoned"),
    ]
    with pytest.raises(DeploymentRefused):
        registry.set_alias("bc", 2, actor="person", reason="try to deploy the abandoned version")
    assert_registry_consistent(stack)


def test_deploy_that_times_out_after_moving_the_alias_is_retried_and_moves_it_once(stack, champion):
    first, alias_before, events_before = champion
    runtime.inject_fault(stack.function_names["DeployFunction"], "timeout", times=1, after=True)

    result = _train(
        stack,
    )

    assert result.end_state == "Deployed", result.cause
    # the retry (in the run's Rollout execution) found the alias already moved
    assert result.output["rollout"]["result"]["deployment"]["changed"] is False
    registry = stack.registry()
    assert trail(registry, events_before) == [("VersionRegistered", 2, "Registered"), ("AliasMoved", 1, 2)]
    alias = registry.get_alias("bc")
    assert (alias.version, alias.previous_version, alias.revision) == (2, 1, alias_before.revision + 1)


def test_deploy_that_moved_the_alias_and_then_kept_timing_out_moves_it_back(stack, champion):
    first, alias_before, events_before = champion
    # Given Deploy moves the alias and then times out, on every attempt
    runtime.inject_fault(stack.function_names["DeployFunction"], "timeout", after=True)

    result = _train(
        stack,
    )

    # Then the run says DeploymentFailed and production serves what it served before the run
    assert (result.status, result.end_state) == ("FAILED", "DeploymentFailed")
    registry = stack.registry()
    alias = registry.get_alias("bc")
    assert (alias.version, alias.canary_version) == (alias_before.version, None)
    assert versions(registry) == [(1, "Registered", run_id(first)), (2, "Registered", run_id(result))]
    assert trail(registry, events_before) == [
        ("VersionRegistered", 2, "Registered"),
        ("AliasMoved", 1, 2),
        ("AliasMoved", 2, 1),
        ("TrainingRunFailed", "DeploymentFailed", 2, "Registered"),
    ]
    assert_registry_consistent(stack)


def test_a_first_deployment_that_kept_timing_out_leaves_no_alias(stack):
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    runtime.inject_fault(stack.function_names["DeployFunction"], "timeout", after=True)

    result = _train(stack)

    assert (result.status, result.end_state) == ("FAILED", "DeploymentFailed")
    registry = stack.registry()
    assert registry.get_alias("bc") is None
    assert versions(registry) == [(1, "Registered", run_id(result))]
    assert trail(registry) == [
        ("VersionRegistered", 1, "Registered"),
        ("AliasMoved", None, 1),
        ("AliasRemoved", 1, None),
        ("TrainingRunFailed", "DeploymentFailed", 1, "Registered"),
    ]


def test_an_approval_step_that_stored_its_token_and_then_failed_abandons_the_pending_version(stack, champion):
    first, alias_before, events_before = champion
    # Given the approval function stores the task token and then times out, on every attempt
    runtime.inject_fault(stack.function_names["ApprovalFunction"], "timeout", after=True)

    result = _train(stack, approval={"required": True, "timeout_s": 3600})

    # Then the run ends, and nobody can approve (or deploy) a version whose run is over
    assert (result.status, result.end_state) == ("FAILED", "PipelineFailed")
    registry = stack.registry()
    record = registry.get_version("bc", 2)
    assert record.status == "Abandoned"
    assert "approval_task_token" not in record
    with pytest.raises(VersionConflict):
        registry.decide_approval("bc", 2, approved=True, actor="person", reason="too late")
    assert registry.get_alias("bc") == alias_before
    assert trail(registry, events_before) == [
        ("VersionRegistered", 2, "PendingApproval"),
        ("ApprovalRequested", 2, "PendingApproval"),
        ("VersionAbandoned", 2, "Abandoned"),
        ("TrainingRunFailed", "PipelineFailed", 2, "Abandoned"),
    ]


@pytest.mark.parametrize("after", [False, True])
def test_a_failing_record_failure_step_still_ends_in_the_named_state(stack, after):
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    runtime.inject_fault(stack.function_names["PrepareFunction"], "exception")
    runtime.inject_fault(stack.function_names["RecordFailureFunction"], "exception", after=after)

    result = _train(stack)

    assert (result.status, result.end_state) == ("FAILED", "PipelineFailed")
    registry = stack.registry()
    # The audit event is written before the step fails (after=True) or never (after=False): best effort, no more
    assert trail(registry) == ([("TrainingRunFailed", "PipelineFailed", None, None)] if after else [])


def test_an_approval_step_whose_response_was_lost_is_retried_and_the_run_waits(stack, champion):
    first, alias_before, events_before = champion
    # Given the approval function stores the task token and its response is lost (Lambda.ServiceException, retried)
    runtime.inject_fault(stack.function_names["ApprovalFunction"], "service_error", times=1, after=True)

    # When a run that requires approval reaches WaitForApproval
    arn = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.training_pipeline_arn,
        input=json.dumps(
            {
                "model_name": "bc",
                "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
                "target": "target",
                "candidates": CANDIDATES,
                "approval": {"required": True, "timeout_s": 3600},
            }
        ),
    )["executionArn"]
    registry = stack.registry()
    deadline = time.monotonic() + 300
    while not (registry.list_versions("bc")[1:] and registry.get_version("bc", 2).approval_task_token):
        description = stack.client("stepfunctions").describe_execution(executionArn=arn)
        assert description["status"] == "RUNNING", description.get("error")
        assert time.monotonic() < deadline, "the run never waited for approval"
        time.sleep(0.2)

    # Then the retry did not fail the run: it waits, with one token stored, and an approval resumes it to Deployed
    approvals.decide(registry, stack.bucket, "bc", 2, approved=True, actor="person", reason="looks good")
    description, _ = follow(stack, arn, timeout_s=300)
    assert description["status"] == "SUCCEEDED", description.get("cause")
    assert registry.get_alias("bc").version == 2
