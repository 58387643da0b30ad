"""Every deployed model monitored with no stack change: two models deployed on a stack provisioned with the template's
defaults, the one drift-check schedule fired as EventBridge Scheduler would, both models checked by the real
ScheduledDriftChecks and DriftCheck state machines; the monitoring routes set a model's rate and stop its checks."""

from __future__ import annotations

import csv
import io
import json
import logging
import os

import numpy as np
import pytest

from local.gateway import LOCAL_CALLER_ARN, LocalGateway
from local.runs.datasets import breast_cancer_csv, diabetes_csv
from local.runs.monitoring import TICK_SCHEDULE, day_boundary, fire_drift_schedule, serve
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.data import dataset, reader
from mlops.storage import objects
from tests.integration.test_drift_check import traffic

pytestmark = pytest.mark.integration
CLASSIFIER, REGRESSOR = "bc", "diabetes"


@pytest.fixture(scope="module")
def two_models():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack(parameters={"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}) as stack:
        os.environ.update(stack.environment())
        s3 = stack.client("s3")
        s3.put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        s3.put_object(Bucket=stack.bucket, Key="datasets/diabetes.csv", Body=diabetes_csv())
        for name, key, target, estimator in (
            (CLASSIFIER, "bc.csv", "target", {"estimator": "logistic_regression", "params": {"max_iter": 2000}}),
            (REGRESSOR, "diabetes.csv", "progression", {"estimator": "ridge"}),
        ):
            request = {
                "model_name": name,
                "dataset_uri": f"s3://{stack.bucket}/datasets/{key}",
                "target": target,
                "candidates": [estimator],
            }
            assert run_training(stack, request).end_state == "Deployed"
        yield stack
    os.environ.clear()
    os.environ.update(saved)


def call(
    stack: LocalStack, method: str, path: str, body: object = None, *, caller: str | None = None
) -> tuple[int, dict]:
    gateway = LocalGateway(stack, port=0)
    headers = {"content-type": "application/json", **({"x-local-caller": caller} if caller else {})}
    try:
        raw = json.dumps(body).encode() if body is not None else b""
        status, _, payload = gateway.dispatch(method, path, headers, raw)
    finally:
        gateway.server.server_close()
    return status, json.loads(payload or b"{}")


def test_one_schedule_checks_every_deployed_model_with_no_stack_change(two_models):
    stack = two_models
    # Given one schedule in the stack (no per-model schedule, no parameter naming a model)
    (schedule,) = stack.client("scheduler").list_schedules()["Schedules"]
    assert schedule["Name"] == stack.refs[TICK_SCHEDULE]
    serve(stack, CLASSIFIER, traffic(150, shifted=False, seed=1))

    # When the schedule fires at midnight UTC (a boundary of the stack's daily rate)
    tick = fire_drift_schedule(stack)

    # Then the tick planned both models and each got a DriftCheck execution of its own that ran to its end
    assert tick.status == "SUCCEEDED", tick.cause
    assert tick.plan["models"] == 2 and tick.plan["due_count"] == 2
    assert sorted(c.output["model_name"] for c in tick.checks) == [CLASSIFIER, REGRESSOR]
    classifier, regressor = tick.check_of(CLASSIFIER), tick.check_of(REGRESSOR)
    assert classifier is not None and regressor is not None
    assert (classifier.status, classifier.end_state) == ("SUCCEEDED", "Checked"), classifier.cause
    assert classifier.check["rows"] == 150 and classifier.check["status"] == "ok"
    assert (regressor.status, regressor.end_state) == ("SUCCEEDED", "Checked"), regressor.cause
    assert regressor.check["status"] == "insufficient_data"  # deployed, never served: checked all the same

    # When the same tick is delivered again (the Scheduler delivers at least once)
    again = fire_drift_schedule(stack)
    # Then nothing starts twice; and an hour later, between two daily boundaries, nothing is due
    assert again.status == "SUCCEEDED" and again.checks == []
    later = fire_drift_schedule(stack, scheduled_time=day_boundary() + 3600)
    assert later.status == "SUCCEEDED" and later.plan["due_count"] == 0 and later.plan["not_due"] == 2


def test_monitoring_routes_set_a_rate_refuse_bad_settings_and_stop_checks(two_models):
    stack = two_models
    # Given a model checked every 6 hours and the other left at the stack's daily rate
    status, body = call(stack, "PUT", f"/models/{REGRESSOR}/monitoring", {"schedule": {"rate": "rate(6 hours)"}})
    assert status == 200, body
    assert body["schedule"] == {**body["schedule"], "enabled": True, "rate": "rate(6 hours)", "rate_is_default": False}
    status, body = call(stack, "GET", f"/models/{CLASSIFIER}/monitoring")
    assert status == 200 and body["schedule"]["rate"] == "rate(1 day)" and body["schedule"]["rate_is_default"]

    # Then a tick at 06:00 UTC checks only the 6-hourly model
    six = fire_drift_schedule(stack, scheduled_time=day_boundary() + 6 * 3600)
    assert six.status == "SUCCEEDED", six.cause
    assert [c.output["model_name"] for c in six.checks] == [REGRESSOR]

    # Invalid settings are refused, naming the field, and leave the stored settings as they were
    for settings, field in (
        ({"schedule": {"rate": "every day"}}, "schedule.rate"),
        ({"schedule": {"rate": "rate(5 minutes)"}}, "schedule.rate"),  # finer than the stack's hourly tick
        ({"schedule": {"enabled": "no"}}, "schedule.enabled"),
        ({"schedule": {"when": "now"}}, "schedule setting"),
        ({"cooldown_hours": "soon"}, "cooldown_hours"),
        ({"drift": {"alpha": 2}}, "alpha"),
        ({"retraining_feedback": {"weight": 0}}, "retraining_feedback.weight"),
        ({"unknown_knob": 1}, "unknown_knob"),
    ):
        status, body = call(stack, "PUT", f"/models/{REGRESSOR}/monitoring", settings)
        assert status == 422, (settings, body)
        assert field in body["message"] and body["error"] == "InvalidMonitoringConfig", body
    status, body = call(stack, "GET", f"/models/{REGRESSOR}/monitoring")
    assert body["config"] == {"schedule": {"rate": "rate(6 hours)"}}
    assert call(stack, "PUT", "/models/nobody/monitoring", {})[0] == 404

    # When monitoring of the classifier is deleted
    status, body = call(stack, "DELETE", f"/models/{CLASSIFIER}/monitoring")
    assert status == 200 and body["schedule"]["enabled"] is False and body["schedule"]["next_check_after"] is None

    # Then the next daily tick checks only the regressor, and the audit trail records who changed what
    nextday = fire_drift_schedule(stack, scheduled_time=day_boundary() + 86_400)
    assert nextday.status == "SUCCEEDED", nextday.cause
    assert [c.output["model_name"] for c in nextday.checks] == [REGRESSOR]
    assert nextday.plan["disabled_count"] == 1
    status, audit = call(stack, "GET", f"/models/{CLASSIFIER}/audit")
    stopped = [e for e in audit if e["event_type"] == "MonitoringStopped"]
    assert len(stopped) == 1 and stopped[0]["after"]["schedule"] == {"enabled": False}
    status, audit = call(stack, "GET", f"/models/{REGRESSOR}/audit")
    configured = [e for e in audit if e["event_type"] == "MonitoringConfigured"]
    assert [e["after"] for e in configured] == [{"schedule": {"rate": "rate(6 hours)"}}]

    # And a PUT turns the classifier's checks back on
    status, body = call(stack, "PUT", f"/models/{CLASSIFIER}/monitoring", {})
    assert status == 200 and body["schedule"]["enabled"] is True


def test_a_retraining_trains_on_the_data_plus_captured_rows_joined_with_their_labels(two_models):
    stack = two_models
    s3 = stack.client("s3")
    table = dataset.read_table(breast_cancer_csv())
    names = [c for c in table.names if c != "target"]
    picked = np.random.default_rng(11).choice(table.rows, 120, replace=False)
    sent = [{n: float(table.column(n).values[i]) for n in names} for i in picked]
    truth = [reader.number_text(table.column("target").values[i]) for i in picked]
    # Given 120 served requests, 100 of them labelled through /feedback, one of those labelled twice (the latest wins)
    served = serve(stack, CLASSIFIER, sent)
    labels = [{"inference_id": p["inference_id"], "label": y} for p, y in zip(served[:100], truth[:100], strict=True)]
    assert call(stack, "POST", f"/models/{CLASSIFIER}/feedback", {"labels": labels})[0] == 202
    relabelled = {"inference_id": served[0]["inference_id"], "label": "1" if truth[0] == "0" else "0"}
    assert call(stack, "POST", f"/models/{CLASSIFIER}/feedback", {"labels": [relabelled]}, caller="reviewer")[0] == 202
    # and one capture object delivered twice (Firehose delivers at least once)
    captures = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=f"capture/{CLASSIFIER}/")
        for item in page.get("Contents", [])
    ]
    holding = next(k for k in captures if served[5]["inference_id"].encode() in _body(stack, k))
    s3.copy_object(
        Bucket=stack.bucket, Key=f"{holding}-redelivered", CopySource={"Bucket": stack.bucket, "Key": holding}
    )
    labelled_in_copy = sum(1 for p in served[:100] if p["inference_id"].encode() in _body(stack, holding))

    # When a retraining asks for the feedback rows (2× weight in training, the newest 40% into the holdout)
    request = {
        "model_name": CLASSIFIER,
        "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
        "target": "target",
        "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
        "feedback": {"window_hours": 2, "weight": 2, "holdout_share": 0.4},
    }
    run = run_training(stack, request)
    assert run.end_state in ("Deployed", "NotPromoted"), run.error

    # Then the lineage names the combined dataset, the captures and the rows used, each inference id once
    version = max(v.version for v in stack.registry().list_versions(CLASSIFIER))
    lineage = stack.registry().get_version(CLASSIFIER, version).lineage
    added = lineage.feedback
    assert added["labelled_rows"] == 100 and added["labels_received"] == 100
    assert added["duplicate_captures_dropped"] == labelled_in_copy > 0
    assert holding in added["captures"] and f"{holding}-redelivered" not in added["captures"]  # rows come once
    assert set(added["captures"]) <= {*captures, f"{holding}-redelivered"}
    assert (added["test_rows"], added["train_rows"]) == (40, 60)
    assert lineage.dataset_uri == added["dataset_uri"] != request["dataset_uri"]
    assert sum(lineage.split["sizes"].values()) == table.rows + 40 + 2 * 60

    # And the new dataset is the original CSV plus one row per labelled inference, with the latest label
    combined = _body(stack, lineage.dataset_uri.removeprefix(f"s3://{stack.bucket}/")).decode()
    original = breast_cancer_csv().decode()
    assert combined.startswith(original)
    assert objects.sha256_hex(combined.encode()) == lineage.data_sha256
    appended = list(csv.DictReader(io.StringIO(original.split("\n", 1)[0] + "\n" + combined[len(original) :])))
    manifest = json.loads(_body(stack, added["manifest_uri"].removeprefix(f"s3://{stack.bucket}/")))
    expected = {p["inference_id"]: (row, y) for p, row, y in zip(served, sent, truth, strict=True)}
    expected[relabelled["inference_id"]] = (sent[0], relabelled["label"])
    assert len(appended) == len(manifest["rows"]) == 100
    for row, entry in zip(appended, manifest["rows"], strict=True):
        features, label = expected[entry["inference_id"]]
        assert row["target"] == label
        assert {n: float(row[n]) for n in names} == features
    # And each row names who gave the label that won (the relabelled one, its second labeller), and the rule
    labellers = {entry["inference_id"]: entry["labelled_by"] for entry in manifest["rows"]}
    reviewer = labellers.pop(relabelled["inference_id"])
    assert reviewer.endswith("/reviewer") and set(labellers.values()) == {LOCAL_CALLER_ARN}, (reviewer, labellers)
    assert {entry["rule"] for entry in manifest["rows"]} == {"latest label of an inference id wins"}
    assert added["labelled_by"] == {LOCAL_CALLER_ARN: 99, reviewer: 1}


def _body(stack: LocalStack, key: str) -> bytes:
    return stack.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read()


def test_a_version_trained_on_feedback_rows_reproduces_from_its_lineage(two_models):
    # Given the version the feedback retraining registered (the test above)
    stack = two_models
    latest = max(stack.registry().list_versions(CLASSIFIER), key=lambda v: v.version)
    assert latest.lineage.feedback, "run after the feedback retraining"
    # When it is reproduced from its lineage (the combined dataset, the rows placed the same way)
    status, report = call(stack, "POST", f"/models/{CLASSIFIER}/versions/{latest.version}/reproduce")
    # Then the data, the split and the model are the same
    assert status == 200, report
    assert report["data_matches"] and report["split_matches"] and report["reproduced"] is True, report
