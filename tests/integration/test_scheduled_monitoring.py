"""Every deployed model monitored with no stack change: two models deployed on a stack provisioned with the template's
defaults, the one drift-check schedule fired as EventBridge Scheduler would, both models checked by the real
ScheduledDriftChecks and DriftCheck state machines; the monitoring routes set a model's rate and stop its checks."""

from __future__ import annotations

import json
import logging
import os

import pytest

from local.datasets import breast_cancer_csv, diabetes_csv
from local.gateway import LocalGateway
from local.monitoring_runs import TICK_SCHEDULE, day_boundary, fire_drift_schedule, serve
from local.stack import LocalStack
from local.training_runs import run_training
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


def call(stack: LocalStack, method: str, path: str, body: object = None) -> tuple[int, dict]:
    gateway = LocalGateway(stack, port=0)
    try:
        raw = json.dumps(body).encode() if body is not None else b""
        status, _, payload = gateway.dispatch(method, path, {"content-type": "application/json"}, raw)
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
