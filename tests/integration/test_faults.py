"""Fault injection: every Lambda step of the TrainingPipeline failing every way, and what is left behind.

After each failure the execution must end in its named state with the registry consistent: no version without
its artifacts, no artifact referenced but missing, the production alias unchanged, and an audit event for the
failed run.
"""

from __future__ import annotations

import json

import pytest

from local import runtime
from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from mlops.governance import failed_runs
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.conftest import upload

pytestmark = pytest.mark.integration
CANDIDATES = [
    {"estimator": "logistic_regression", "params": {"max_iter": 2000}},
    {"estimator": "decision_tree", "params": {"max_depth": 3}},
]

# step (function) -> the named state a failure of that step ends in
EXPECTED_END = {
    "PrepareFunction": "PipelineFailed",
    "TrainFunction": "NoCandidateTrained",  # every candidate fails; the Map records them, Evaluate stops
    "EvaluateFunction": "PipelineFailed",
    "ConvertFunction": "PipelineFailed",
    "PredictFunction": "SmokeTestFailed",  # parity check and smoke test are the predict function's
    "RegisterFunction": "RegistrationFailed",
    "DeployFunction": "DeploymentFailed",
}


def _train(stack) -> object:
    return run_training(
        stack,
        {
            "model_name": "bc",
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": CANDIDATES,
        },
    )


def run_id(result) -> str:
    return result.execution_arn.rsplit(":", 1)[-1]


def assert_registry_consistent(stack) -> None:
    registry = stack.registry()
    for model in registry.list_models():
        for record in registry.list_versions(model.model_name):
            referenced = [
                (record.artifact_uri, record.artifact_sha256),
                (record.baseline_uri, record.baseline_sha256),
            ]
            if record.serving.onnx_uri:
                referenced.append((record.serving.onnx_uri, record.serving.onnx_sha256))
            for uri, digest in referenced:
                assert objects.sha256_hex(objects.get_bytes(S3Uri.parse(uri))) == digest, uri


@pytest.fixture
def champion(stack):
    """A first, healthy run: v1 serves production before the faulty run starts."""
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    assert _train(stack).end_state == "Deployed"
    return stack.registry().get_alias("bc")


BEFORE_THE_GATE = ["PrepareFunction", "TrainFunction", "EvaluateFunction", "ConvertFunction", "RegisterFunction"]


@pytest.mark.parametrize("kind", ["exception", "timeout", "throttle"])
@pytest.mark.parametrize("step", BEFORE_THE_GATE)
def test_a_failing_step_ends_in_its_named_state_and_loses_nothing(stack, champion, step, kind):
    # Given a champion in production, and a step that fails on every invocation
    events_before = len(stack.registry().list_events("bc"))
    runtime.inject_fault(stack.function_names[step], kind)

    # When another training run starts
    result = _train(stack)

    # Then the run ends in the step's named state, production did not move, nothing dangles, the trail says so
    assert (result.status, result.end_state) == ("FAILED", EXPECTED_END[step])
    registry = stack.registry()
    assert registry.get_alias("bc") == champion
    assert [(v.version, v.status) for v in registry.list_versions("bc")] == [(1, "Registered")]
    assert_registry_consistent(stack)
    # The trail gained exactly one event, the failed run's, saying where it ended and that it registered nothing
    (failure,) = registry.list_events("bc")[events_before:]
    assert (failure.event_type, failure.actor) == ("TrainingRunFailed", f"pipeline:{run_id(result)}")
    assert {k: failure.after[k] for k in ("execution_arn", "state", "version", "version_status")} == {
        "execution_arn": result.execution_arn,
        "state": EXPECTED_END[step],
        "version": None,
        "version_status": None,
    }


@pytest.mark.parametrize("kind", ["exception", "timeout", "throttle"])
@pytest.mark.parametrize("step", ["PredictFunction", "DeployFunction"])
def test_a_failing_first_deployment_leaves_no_alias(stack, step, kind):
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    runtime.inject_fault(stack.function_names[step], kind)

    result = _train(stack)

    assert (result.status, result.end_state) == ("FAILED", EXPECTED_END[step])
    registry = stack.registry()
    assert registry.get_alias("bc") is None
    assert [(v.version, v.status) for v in registry.list_versions("bc")] == [(1, "Registered")]  # never served
    assert_registry_consistent(stack)
    trail = [(e.event_type, (e.after or {}).get("state")) for e in registry.list_events("bc")]
    assert trail == [("VersionRegistered", None), ("TrainingRunFailed", EXPECTED_END[step])]


def test_a_lambda_service_error_is_retried_and_the_run_succeeds(stack):
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    runtime.inject_fault(stack.function_names["RegisterFunction"], "service_error", times=1)

    result = _train(stack)

    assert result.end_state == "Deployed", result.cause
    registry = stack.registry()
    assert [(v.version, v.run_id) for v in registry.list_versions("bc")] == [(1, run_id(result))]
    trail = [(e.event_type, (e.after or {}).get("version")) for e in registry.list_events("bc")]
    assert trail == [("VersionRegistered", 1), ("AliasMoved", 1)]  # registered once, deployed once
    assert_registry_consistent(stack)


@pytest.mark.parametrize("step", ["RegisterFunction", "DeployFunction"])
def test_a_failing_record_failure_step_still_ends_in_the_step_s_named_state_with_the_step_s_error(stack, step):
    # Given a step that fails, and the RecordFailure step that would record it failing too
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    runtime.inject_fault(stack.function_names[step], "exception")
    runtime.inject_fault(stack.function_names["RecordFailureFunction"], "exception")

    # When a training run starts
    result = _train(stack)

    # Then the funnel's Choice still routes by what the step's Catch wrote: the step's named state (not the Choice's
    # Default); with no outcome from RecordFailure it reports PipelineStepFailed with the step's own failure (error
    # and cause, as its Catch wrote them) as the cause, not RecordFailure's
    assert (result.status, result.end_state) == ("FAILED", EXPECTED_END[step])
    assert result.states[-4:] == ["RecordFailure", "RecordFailureErrored", "EndInNamedState", EXPECTED_END[step]]
    assert result.error == "PipelineStepFailed"
    # (Deploy fails in the run's Rollout execution: its failure holds the step's, which RecordFailure would report)
    failure = failed_runs.step_failure(json.loads(result.cause)[EXPECTED_END[step]])
    assert failure["Error"] == "RuntimeError"
    assert f"injected fault in {stack.function_names[step]}" in failure["Cause"]
    assert stack.function_names["RecordFailureFunction"] not in result.cause
