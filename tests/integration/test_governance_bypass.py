"""No governance bypass: every attempt to loosen the stack's rules is refused (403/422) with nothing written.

Through the local gateway (the API function as API Gateway invokes it) and through the real state machine for runs
started with StartExecution directly. "Nothing written" is compared by content (tests/stack_state.py: every item of
every table, every S3 object version, every execution). Self-approval is refused in the API story
(tests/api_story.py), on a version that really waits for approval.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from tests.api_story import Api
from tests.conftest import upload
from tests.stack_state import stack_state, wait_until_quiet

pytestmark = pytest.mark.integration
SECRET_LABEL = "patient-4711-secret"


@pytest.fixture(scope="module")
def strict_stack() -> Iterator[LocalStack]:
    """A stack that requires approval and a gate margin of 0.01, with a dataset where datasets belong."""
    with (
        pytest.MonkeyPatch.context() as patch,
        LocalStack(parameters={"RequireApproval": "true", "GateMinImprovement": "0.01"}) as stack,
    ):
        for name, value in stack.environment().items():
            patch.setenv(name, value)
        upload(stack, "datasets/bc.csv", breast_cancer_csv())
        upload(stack, "capture/bc/dt=2026-01-01/lines.jsonl", b'{"inputs": {}}\n')
        upload(stack, "models/bc/feedback.csv", breast_cancer_csv())
        yield stack


@pytest.fixture
def api(strict_stack: LocalStack) -> Iterator[Api]:
    api = Api(strict_stack)
    yield api
    api.close()


def _request(stack: LocalStack, **changes) -> dict:
    return {
        "model_name": "bc",
        "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
        "target": "target",
        "client_token": "bypass-attempt",
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "status", "named"),
    [
        ({"approval": {"required": False}}, 403, "approval.required false"),
        ({"gate": {"min_improvement": 0}}, 403, "gate.min_improvement 0.0 is below the stack's minimum 0.01"),
        ({"gate": {"min_improvement": 0.005}}, 403, "gate.min_improvement 0.005"),
        ({"requested_by": "someone-else"}, 422, "requested_by"),
        ({"dataset_uri": "s3://{bucket}/capture/bc/dt=2026-01-01/lines.jsonl"}, 403, "dataset_uri is outside"),
        ({"dataset_uri": "s3://{bucket}/models/bc/feedback.csv"}, 403, "dataset_uri is outside"),
        ({"dataset_uri": "s3://{bucket}-evil/datasets/bc.csv"}, 403, "dataset_uri is outside"),
        ({"dataset_uri": "s3://{bucket}/datasets-other/bc.csv"}, 403, "dataset_uri is outside"),
    ],
    ids=[
        "approval-off",
        "no-gate-margin",
        "smaller-gate-margin",
        "requested-by-in-body",
        "capture-as-dataset",
        "models-as-dataset",
        "another-bucket",
        "prefix-lookalike",
    ],
)
def test_a_request_that_loosens_the_rules_is_refused_and_writes_nothing(strict_stack, api, changes, status, named):
    # Given the strict stack as it is
    if "dataset_uri" in changes:
        changes = {"dataset_uri": changes["dataset_uri"].format(bucket=strict_stack.bucket)}
    before = stack_state(strict_stack)

    # When a training start tries to loosen a rule
    answered, body = api.call("POST", "/pipelines/training", _request(strict_stack, **changes))

    # Then it is refused, naming the rule, and nothing at all was written or started
    assert answered == status, body
    assert named in body["message"], body
    assert stack_state(strict_stack).changes_since(before) == {}


def test_a_request_may_tighten_the_rules(strict_stack, api):
    # A larger margin than the stack's, with approval as the stack requires it: accepted (the run starts; its
    # dataset is missing, so it ends in Prepare and leaves the next tests a quiet stack)
    answered, body = api.call(
        "POST",
        "/pipelines/training",
        _request(
            strict_stack,
            client_token="stricter",
            dataset_uri=f"s3://{strict_stack.bucket}/datasets/missing.csv",
            gate={"min_improvement": 0.05},
            approval={"required": True},
        ),
    )
    assert answered == 202, body
    sfn = strict_stack.client("stepfunctions")
    request = json.loads(sfn.describe_execution(executionArn=body["execution_arn"])["input"])
    # and the requester is the caller's IAM identity, from the request context
    assert request["requested_by"] == "arn:aws:iam::123456789012:user/local-admin"
    assert request["gate"]["min_improvement"] == 0.05
    wait_until_quiet(strict_stack)


def test_a_run_started_directly_cannot_loosen_the_rules_either(strict_stack):
    # Given a StartExecution that bypasses the API; When its request turns approval off and lowers the margin
    before = stack_state(strict_stack)
    result = run_training(
        strict_stack,
        {
            **{k: v for k, v in _request(strict_stack).items() if k != "client_token"},
            "approval": {"required": False},
            "gate": {"min_improvement": 0},
            "dataset_uri": f"s3://{strict_stack.bucket}/capture/bc/dt=2026-01-01/lines.jsonl",
        },
        timeout_s=120,
    )
    # Then Prepare refuses it before reading anything: the run ends InvalidInput, and the only writes are the run
    # itself and its TrainingRunFailed event (no split, no version, no alias)
    assert (result.end_state, result.error) == ("InvalidInput", "InvalidTrainingRequest"), result.cause
    assert "approval.required false" in result.cause and "dataset_uri is outside" in result.cause
    changes = stack_state(strict_stack).changes_since(before)
    assert changes.pop("executions") == [result.execution_arn]
    assert [key[2].split("#")[0] for key in changes.pop("items")] == ["EVENT"]
    assert changes == {}


def test_a_failure_cause_in_api_answers_does_not_echo_the_data(strict_stack, api):
    # Given a dataset whose label names a patient, in a class too small to train on (Prepare's error names the class)
    rows = breast_cancer_csv().decode().splitlines()
    header, body = rows[0], rows[1:]
    labelled = [*body[:3]]
    relabelled = [",".join([*row.split(",")[:-1], SECRET_LABEL]) for row in labelled] + body[3:]
    upload(strict_stack, "datasets/secret.csv", ("\n".join([header, *relabelled]) + "\n").encode())
    answered, started = api.call(
        "POST",
        "/pipelines/training",
        _request(
            strict_stack,
            client_token="secret",
            dataset_uri=f"s3://{strict_stack.bucket}/datasets/secret.csv",
        ),
    )
    assert answered == 202, started
    arn = started["execution_arn"]
    wait_until_quiet(strict_stack)
    sfn = strict_stack.client("stepfunctions")

    # Then the execution's own cause quotes the label (so this test can fail) ...
    assert SECRET_LABEL in sfn.describe_execution(executionArn=arn)["cause"]
    # ... but neither the run's API answer nor the audit trail (which GET /models/{name}/audit returns) does
    status, run = api.call("GET", f"/pipelines/training/{started['execution_id']}")
    assert status == 200 and run["status"] == "FAILED" and run["error"] == "InvalidDataset", run
    assert SECRET_LABEL not in json.dumps(run)
    events = [event.to_document() for event in strict_stack.registry().list_events("bc")]
    assert [event["event_type"] for event in events][-1] == "TrainingRunFailed", events
    assert SECRET_LABEL not in json.dumps(events)
