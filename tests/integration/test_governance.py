"""Approvals through the real state machine (task token), model cards and lineage on the registered version."""

from __future__ import annotations

import json
import time

import pytest

from local.gateway import LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.stack import LocalStack
from mlops.governance import cards
from mlops.registry import documents
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.conftest import upload

pytestmark = pytest.mark.integration
DEADLINE_S = 120
CANDIDATES = [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}]


def _start(stack, approval: dict | None = None, **extra) -> str:
    uri = upload(stack, "datasets/bc.csv", breast_cancer_csv())
    request = {
        "model_name": "bc",
        "dataset_uri": uri,
        "target": "target",
        "requested_by": "tests",
        "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
        "description": "benign or malignant",
        "intended_use": "research only",
        "limitations": "one hospital's data",
        **extra,
    }
    if approval is not None:
        request["approval"] = approval
    return stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.training_pipeline_arn, input=json.dumps(request)
    )["executionArn"]


def _wait(predicate, what: str):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _finished(stack, arn: str) -> dict:
    sfn = stack.client("stepfunctions")
    return _wait(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, "the execution to end"
    )


def _pending(stack) -> dict:
    registry = stack.registry()

    def waiting():
        try:
            record = registry.get_version("bc", 1)
        except Exception:  # not registered yet
            return None
        return record if record.approval_task_token else None

    return _wait(waiting, "the version to wait for approval")


def _post(gateway, path: str, body: dict | None = None) -> tuple[int, dict]:
    status, _, payload = gateway.dispatch(
        "POST", path, {"content-type": "application/json"}, json.dumps(body).encode() if body is not None else b""
    )
    return status, json.loads(payload)


def _end_state(stack, arn: str) -> str:
    events = stack.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")][-1]


def test_an_approved_version_is_deployed_and_the_decision_recorded(stack):
    arn = _start(stack, {"required": True, "timeout_s": 300})
    record = _pending(stack)
    assert record.status == "PendingApproval"
    gateway = LocalGateway(stack, port=0)
    registry = stack.registry()

    # While pending, nobody can deploy it, and the API never shows the resume token
    status, body = _post(gateway, "/models/bc/deployments", {"version": 1})
    assert status == 409 and "waiting for approval" in body["message"]
    get_status, _, raw = gateway.dispatch("GET", "/models/bc/versions/1", {}, b"")
    assert get_status == 200 and b"approval_task_token" not in raw

    status, body = _post(gateway, "/models/bc/versions/1/approve", {"reason": "reviewed the card"})
    assert status == 200 and body["status"] == "Approved"
    finished = _finished(stack, arn)
    assert finished["status"] == "SUCCEEDED" and _end_state(stack, arn) == "Deployed"
    assert registry.get_alias("bc").version == 1
    record = registry.get_version("bc", 1)
    assert record.approval_decision["by"].endswith("user/local-admin")
    assert record.approval_decision["reason"] == "reviewed the card"
    assert "approval_task_token" not in record
    events = [e.event_type for e in registry.list_events("bc")]
    assert events == ["VersionRegistered", "ApprovalRequested", "VersionApproved", "AliasMoved"]
    # a second decision is a conflict
    assert _post(gateway, "/models/bc/versions/1/reject", {"reason": "too late"})[0] == 409


def test_a_rejected_version_ends_the_run_in_its_named_state(stack):
    arn = _start(stack, {"required": True, "timeout_s": 300})
    _pending(stack)
    gateway = LocalGateway(stack, port=0)
    assert _post(gateway, "/models/bc/versions/1/reject", {"reason": ""})[0] == 422  # a reason is required
    status, body = _post(gateway, "/models/bc/versions/1/reject", {"reason": "bias review failed"})

    assert status == 200 and body["status"] == "Rejected"
    finished = _finished(stack, arn)
    assert (finished["status"], _end_state(stack, arn)) == ("FAILED", "ApprovalRejected")
    registry = stack.registry()
    assert registry.get_alias("bc") is None
    assert registry.list_events("bc")[-1].event_type == "VersionRejectedByApprover"
    assert _post(gateway, "/models/bc/deployments", {"version": 1})[0] == 409


def test_an_undecided_approval_times_out_in_its_named_state(stack):
    # Given a run waiting for an approval nobody gives. The wait is 3 s of real time, not 1: the approval function's
    # cold start (imports) must store the task token before the timer ends, on a loaded machine too, so the trail
    # below has one order only.
    arn = _start(stack, {"required": True, "timeout_s": 3})
    finished = _finished(stack, arn)

    assert (finished["status"], _end_state(stack, arn)) == ("FAILED", "ApprovalTimedOut")
    registry = stack.registry()
    assert registry.get_version("bc", 1).status == "ApprovalExpired"
    trail = [(e.event_type, (e.after or {}).get("status")) for e in registry.list_events("bc")]
    assert trail == [
        ("VersionRegistered", "PendingApproval"),
        ("ApprovalRequested", "PendingApproval"),
        ("ApprovalTimedOut", "ApprovalExpired"),
    ]
    assert registry.get_alias("bc") is None


def test_lineage_and_the_model_card_match_the_registry(stack):
    arn = _start(stack)  # the stack's default: no approval
    assert _finished(stack, arn)["status"] == "SUCCEEDED"
    registry = stack.registry()
    record = registry.get_version("bc", 1)
    lineage = record.lineage
    assert lineage.code_version == "unversioned"  # the template's CodeVersion default
    assert lineage.requested_by == "tests" and lineage.execution_arn == arn
    assert [c["estimator"] for c in documents.leaderboard_of(record)] == ["logistic_regression"]
    assert record.leaderboard_uri.endswith(f"/leaderboard/{record.leaderboard_sha256}.json")
    assert record.serving.libraries["onnxruntime"] and record.serving.libraries["skl2onnx"]

    # The snapshot written at registration, and the live card from the API, agree with the record
    snapshot = objects.get_json(S3Uri(stack.bucket, "models/bc/v1/card.json"))
    gateway = LocalGateway(stack, port=0)
    status, _, raw = gateway.dispatch("GET", "/models/bc/versions/1/card", {}, b"")
    live = json.loads(raw)
    assert status == 200
    for card in (snapshot, live):
        assert card["model_overview"]["artifact_sha256"] == record.artifact_sha256
        assert card["evaluation_details"]["holdout_metrics"] == record.metrics
        assert card["training_details"]["data_sha256"] == lineage.data_sha256
        assert card["intended_uses"] == {
            "intended_use": "research only",
            "limitations": "one hospital's data",
            "requested_by": "tests",
        }
    # Why it decides: permutation importance of every feature on the holdout, on the version and its card
    assert (
        record.feature_importance["scoring"] == "balanced_accuracy" and len(record.feature_importance["features"]) == 30
    )
    top = snapshot["evaluation_details"]["feature_importance"]["top"]
    assert top == record.feature_importance["features"][: cards.TOP_FEATURES]
    assert [f["rank"] for f in top] == list(range(1, 11)) and top[0]["importance"] >= top[-1]["importance"]
    # The label-free estimator is stored beside the version (content-addressed JSON, sha256-verified), calibrated
    # on the holdout as recorded
    estimator = objects.get_verified_json(record.performance_estimator_uri, record.performance_estimator_sha256)
    assert "/performance_estimator/" in record.performance_estimator_uri
    assert estimator["method"] == "cbpe" and estimator["calibration"]["method"] == "sigmoid"  # a 114-row holdout
    assert record.performance_estimation["calibration"] == "sigmoid"
    status, headers, markdown = gateway.dispatch("GET", "/models/bc/versions/1/card?format=md", {}, b"")
    assert status == 200 and headers["Content-Type"].startswith("text/markdown")
    text = markdown.decode()
    assert text.startswith("# Model card: bc v1") and record.artifact_sha256 in text
    assert "## Why it decides" in text and f"| 1 | {top[0]['name']} |" in text
    assert text == cards.render_markdown(live)


def test_a_version_reproduces_from_its_lineage_and_a_changed_dataset_is_detected(stack, monkeypatch):
    from local.cli import main  # noqa: PLC0415

    arn = _start(stack)
    assert _finished(stack, arn)["status"] == "SUCCEEDED"
    gateway = LocalGateway(stack, port=0).start()
    try:
        status, report = _post(gateway, "/models/bc/versions/1/reproduce")
        assert status == 200, report
        assert report["reproduced"] is True
        assert report["data_matches"] and report["split_matches"] and report["predictions_match"]
        assert max(report["metric_differences"].values()) <= 1e-9
        assert stack.registry().list_events("bc")[-1].event_type == "VersionReproduced"
        # The CLI is a client of the running API
        assert main(["reproduce", "--model-name", "bc", "--version", "1", "--url", gateway.url]) == 0

        # Given the dataset overwritten after training, the reproduction says so instead of retraining on it
        upload(stack, "datasets/bc.csv", breast_cancer_csv().replace(b"\n1", b"\n0", 3))
        status, report = _post(gateway, "/models/bc/versions/1/reproduce")
        assert status == 200 and report["reproduced"] is False and report["data_matches"] is False
        assert main(["reproduce", "--model-name", "bc", "--version", "1", "--url", gateway.url]) == 1
        assert _post(gateway, "/models/bc/versions/9/reproduce")[0] == 404
    finally:
        gateway.stop()


def test_the_reproduce_cli_explains_when_no_local_api_runs(capsys):
    from local.cli import main  # noqa: PLC0415

    assert main(["reproduce", "--model-name", "bc", "--version", "1", "--url", "http://127.0.0.1:9"]) == 2
    assert "start it with `mlops local up --seed`" in capsys.readouterr().err


def test_a_rejection_on_a_stack_restored_from_its_state_reaches_the_run(tmp_path, monkeypatch):
    # Given a local stack that was stopped with a finished run and started again from its saved state (what
    # `local up` does by default): the restored execution has no interpreter behind it
    with LocalStack(state_dir=tmp_path) as first:
        uri = upload(first, "datasets/bc.csv", breast_cancer_csv())
        request = {"model_name": "bc", "dataset_uri": uri, "target": "target", "candidates": CANDIDATES}
        sfn = first.client("stepfunctions")
        run = sfn.start_execution(stateMachineArn=first.training_pipeline_arn, name="first", input=json.dumps(request))
        _finished(first, run["executionArn"])
    with LocalStack(state_dir=tmp_path) as stack:
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        assert stack.restored is not None and stack.restored.executions >= 1  # the run (and its rollout)
        # When a new run waits for approval and a person rejects it through the HTTP API
        waiting = {**request, "model_name": "other", "approval": {"required": True, "timeout_s": 300}}
        sfn = stack.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=stack.training_pipeline_arn, name="second", input=json.dumps(waiting)
        )["executionArn"]
        registry = stack.registry()
        _wait(lambda: registry.list_versions("other") and registry.get_version("other", 1).approval_task_token,
              "the version to wait for approval")  # fmt: skip
        status, body = _post(LocalGateway(stack, port=0), "/models/other/versions/1/reject", {"reason": "bias review"})

        # Then the answer is the decision, and the run ends in its named state (not RUNNING behind a 502)
        assert (status, body.get("status")) == (200, "Rejected"), body
        assert (_finished(stack, arn)["status"], _end_state(stack, arn)) == ("FAILED", "ApprovalRejected")
