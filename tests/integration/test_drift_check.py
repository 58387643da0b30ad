"""The real DriftCheck state machine on the embedded AWS: traffic served by the predict function, capture delivered
to S3, the schedule fired, reports written, SNS notified and TrainingPipeline started (and gated) on confirmed drift."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from local.gateway import LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.runs.monitoring import fire_drift_schedule, follow, run_drift_check, serve
from local.runs.training import run_training
from local.stack import LocalStack
from local.template import ROOT
from mlops.data import dataset
from mlops.data.typed_table import NumericColumn
from mlops.monitoring.store import MonitoringStore
from mlops.storage import objects
from mlops.storage.objects import S3Uri

pytestmark = pytest.mark.integration
MODEL = "bc"
SHIFTED = 12


@pytest.fixture(scope="module")
def monitored():
    """A deployed breast-cancer model (which the template's one schedule checks, as every deployed model); an SQS
    inbox on the alert topic."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    parameters = {"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}
    with LocalStack(parameters=parameters) as stack:
        os.environ.update(stack.environment())
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        request = {
            "model_name": MODEL,
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
        }
        assert run_training(stack, request).end_state == "Deployed"
        queue = stack.client("sqs").create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = stack.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        stack.client("sns").subscribe(
            TopicArn=stack.refs["DriftAlertsTopic"], Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        yield stack, queue
    os.environ.clear()
    os.environ.update(saved)


def traffic(count: int, *, shifted: bool, seed: int) -> list[dict]:
    table = dataset.read_table(breast_cancer_csv())
    names = [c for c in table.names if c != "target"]
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, table.rows, count)
    rows = [{n: float(table.column(n).values[i]) for n in names} for i in picked]
    if shifted:
        rows = [{**row, **{n: row[n] * 1.6 for n in names[:SHIFTED]}} for row in rows]
    return rows


def alerts(stack: LocalStack, queue: str) -> list[dict]:
    messages = stack.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_normal_traffic_then_confirmed_drift_starts_a_gated_retraining_once(monitored):
    stack, queue = monitored
    # Given traffic like the training data, and the schedule firing
    serve(stack, MODEL, traffic(300, shifted=False, seed=1))
    tick = fire_drift_schedule(stack)
    assert tick.status == "SUCCEEDED", tick.cause
    (first,) = tick.checks

    # Then the check finds no drift, writes its reports and notifies nobody
    assert (first.status, first.end_state) == ("SUCCEEDED", "Checked"), first.cause
    assert first.check["status"] == "ok" and first.check["rows"] == 300
    report = objects.get_json(S3Uri.parse(first.check["report_uri"]))
    assert report["window"]["rows"] == 300 and report["monitoring"]["drift_confirmed"] is False
    assert objects.exists(S3Uri.parse(first.check["html_uri"]))
    assert alerts(stack, queue) == []

    # When shifted traffic arrives in two consecutive windows
    serve(stack, MODEL, traffic(300, shifted=True, seed=2))
    second = run_drift_check(stack, MODEL)
    serve(stack, MODEL, traffic(300, shifted=True, seed=3))
    third = run_drift_check(stack, MODEL)

    # Then the first drifted window is not enough, the second confirms drift and starts TrainingPipeline
    assert second.end_state == "Checked" and second.check["status"] == "drift"
    assert second.check["drift_confirmed"] is False
    assert set(third.check["drifted_features"]) >= {"mean radius", "mean texture"}
    assert (third.status, third.end_state) == ("SUCCEEDED", "RetrainingStarted"), third.cause
    assert third.states[-5:] == [
        "StartRetraining",
        "RecordRetraining",
        "Notify",
        "RetrainingUnderWay?",
        "RetrainingStarted",
    ]
    retraining = third.retraining_execution_arn
    assert retraining.rsplit(":", 1)[-1] == third.check["retrain"]["execution_name"]
    described, _ = follow(stack, retraining, timeout_s=300)
    output = json.loads(described["output"])
    assert described["status"] == "SUCCEEDED"
    assert output["request"]["requested_by"] == f"drift-check:{third.check['check_id']}"
    assert "passed" in output["evaluation"]["gate"]  # the same gate decided about the champion
    (alert,) = alerts(stack, queue)
    assert "retraining started" in alert["Subject"] and third.check["html_uri"] in alert["Message"]
    state = MonitoringStore(stack.monitor_table).get(MODEL).state
    assert state.last_retraining.execution_arn == retraining
    events = [e.event_type for e in stack.registry().list_events(MODEL)]
    assert "DriftConfirmed" in events and "RetrainingStarted" in events

    # When drift persists (or the new champion drifts) within the cooldown
    runs_before = stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)
    for seed in (4, 5):
        serve(stack, MODEL, traffic(300, shifted=True, seed=seed))
        later = run_drift_check(stack, MODEL)
        assert later.status == "SUCCEEDED" and later.end_state != "RetrainingStarted"

    # Then no second retraining starts
    runs_after = stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)
    assert len(runs_after["executions"]) == len(runs_before["executions"])


def test_a_model_without_production_version_ends_in_nothing_to_monitor(monitored):
    stack, _ = monitored
    result = run_drift_check(stack, "ghost")

    assert (result.status, result.end_state, result.error) == ("FAILED", "NothingToMonitor", "NothingToMonitor")


def test_invalid_settings_end_in_invalid_input(monitored):
    stack, _ = monitored
    result = run_drift_check(stack, MODEL, config={"drift": {"alpha": 3}})

    assert (result.status, result.end_state, result.error) == ("FAILED", "InvalidInput", "InvalidMonitoringConfig")


def test_feedback_and_monitoring_routes(monitored):
    stack, _ = monitored
    served = serve(stack, MODEL, traffic(5, shifted=False, seed=9))
    gateway = LocalGateway(stack, port=0)
    try:
        labels = [{"inference_id": p["inference_id"], "label": 1} for p in served]
        status, _, body = gateway.dispatch(
            "POST", f"/models/{MODEL}/feedback", {}, json.dumps({"labels": labels}).encode()
        )
        assert status == 202 and json.loads(body)["accepted"] == 5
        bad = {"labels": [{"inference_id": "x", "label": "7"}]}
        status, _, body = gateway.dispatch("POST", f"/models/{MODEL}/feedback", {}, json.dumps(bad).encode())
        assert status == 422 and "not a class" in json.loads(body)["message"]
        status, _, _ = gateway.dispatch("POST", "/models/ghost/feedback", {}, json.dumps({"labels": labels}).encode())
        assert status == 404
        status, _, _ = gateway.dispatch("POST", f"/models/{MODEL}/feedback", {}, b'{"labels": []}')
        assert status == 422
        status, _, body = gateway.dispatch("GET", f"/models/{MODEL}/monitoring", {}, b"")
        overview = json.loads(body)
        assert status == 200 and overview["checks"] and overview["state"]["version"] >= 1
        assert gateway.dispatch("GET", "/models/ghost/monitoring", {}, b"")[0] == 404
    finally:
        gateway.server.server_close()


def test_local_drift_command_compares_two_csv_files(tmp_path):
    table = dataset.read_table(breast_cancer_csv())
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    reference.write_bytes(breast_cancer_csv())
    shifted = [NumericColumn(c.name, c.values * 1.6) if i < 3 else c for i, c in enumerate(table.columns)]
    current.write_bytes(dataset.to_csv(dataset.Table(shifted, table.rows)))
    command = [sys.executable, "-m", "local", "drift", "--reference", str(reference), "--current", str(current)]

    completed = subprocess.run(
        [*command, "--json", "--html", str(tmp_path / "r.html")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["status"] in ("ok", "drift") and isinstance(result["dataset_drift"], bool)
    assert set(result["features"]) == set(table.names)
    for feature in result["features"].values():
        assert isinstance(feature["drifted"], bool) and feature["method"] == "psi"
        assert isinstance(feature["score"], float) and isinstance(feature["threshold"], float)
    assert set(result["drifted_features"]) == set(table.names[:3])
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    failing = subprocess.run(
        [*command, "--fail-on-drift", "--config", '{"drift_share": 0.05}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert failing.returncode == 1 and "DRIFT" in failing.stdout
    missing = subprocess.run(
        [*command[:-1], str(tmp_path / "nope.csv")], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert missing.returncode == 2 and "not a file" in missing.stderr
