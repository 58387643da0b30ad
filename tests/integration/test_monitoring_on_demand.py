"""A drift check on demand, through the HTTP API on the local stack: POST /models/{name}/monitoring/checks starts the
real DriftCheck execution the schedule starts (once per client token, audited, one at a time per model, refused for a
model with nothing deployed), the check runs to its end, and its report is then read through the drift report route.
The SDK's ``check_monitoring(wait=True)`` and the `mlops monitoring check` verb drive the same route; ``local up
--schedule``'s timer fires the one schedule."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import pytest
from click.testing import CliRunner

from local import runtime
from local.gateway import LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.runs.monitoring import ScheduleTimer, serve
from local.runs.training import run_training
from local.stack import LocalStack
from mlops_client import Client, NotFound
from tests.factories import version_content
from tests.integration.test_drift_check import traffic

pytestmark = pytest.mark.integration
MODEL, UNDEPLOYED = "bc", "held-back"
CALLER = "arn:aws:iam::123456789012:user/analyst"


@pytest.fixture(scope="module")
def deployed():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack(parameters={"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}) as stack:
        os.environ.update(stack.environment())
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        request = {
            "model_name": MODEL,
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
        }
        assert run_training(stack, request).end_state == "Deployed"
        # a registered model that was never deployed (registered directly: no run needed for what it shows)
        stack.registry().register_version(
            UNDEPLOYED, version_content(), status="Registered", run_id="r1", actor="test", reason="test"
        )
        yield stack
    os.environ.clear()
    os.environ.update(saved)


def call(stack: LocalStack, method: str, path: str, body: object = None) -> tuple[int, dict]:
    gateway = LocalGateway(stack, port=0)
    try:
        raw = json.dumps(body).encode() if body is not None else b""
        headers = {"content-type": "application/json", "x-local-caller": "analyst"}
        status, _, payload = gateway.dispatch(method, path, headers, raw)
    finally:
        gateway.server.server_close()
    return status, json.loads(payload or b"{}")


def wait_for(stack: LocalStack, execution_id: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, body = call(stack, "GET", f"/models/{MODEL}/monitoring/checks/{execution_id}")
        assert status == 200, body
        if body["status"] != "RUNNING":
            return body
        time.sleep(0.2)
    raise AssertionError(f"check {execution_id} still running after {timeout_s} s")


def test_a_check_on_demand_runs_once_per_token_is_audited_and_its_report_is_readable(deployed):
    stack = deployed
    # Given 150 requests served since the model was deployed
    serve(stack, MODEL, traffic(150, shifted=False, seed=3))

    # When a check is asked for, and the same request is retried
    status, started = call(
        stack, "POST", f"/models/{MODEL}/monitoring/checks", {"client_token": "t-1", "reason": "why"}
    )
    assert status == 202 and started["started"] is True, started
    again_status, again = call(stack, "POST", f"/models/{MODEL}/monitoring/checks", {"client_token": "t-1"})

    # Then the retry answers the same check without starting a second one
    assert again_status == 200 and again["started"] is False and again["execution_id"] == started["execution_id"]
    sfn = stack.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.drift_check_arn)["executions"]
    assert [e["name"] for e in executions] == [started["execution_id"]]

    # And the check, the scheduled one's state machine, reads the 150 rows and writes its report
    ended = wait_for(stack, started["execution_id"])
    assert ended["status"] == "SUCCEEDED", ended
    check = ended["check"]
    assert check["rows"] == 150 and check["status"] == "ok" and check["version"] == 1
    report = LocalGateway(stack, port=0)
    try:
        code, headers, html = report.dispatch(
            "GET", f"/models/{MODEL}/monitoring/report?check_id={check['check_id']}", {}, b""
        )
    finally:
        report.server.server_close()
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    bucket, _, key = check["html_uri"].removeprefix("s3://").partition("/")
    assert html == stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()  # this check's report
    assert "Drift report" in html.decode()
    status, monitoring = call(stack, "GET", f"/models/{MODEL}/monitoring")
    assert monitoring["checks"][0]["check_id"] == check["check_id"]

    # And the audit trail names who asked, why, and the execution, once
    status, audit = call(stack, "GET", f"/models/{MODEL}/audit")
    requested = [e for e in audit if e["event_type"] == "DriftCheckRequested"]
    assert len(requested) == 1, requested
    assert requested[0]["actor"] == CALLER and requested[0]["reason"] == "why"
    assert requested[0]["after"]["execution_id"] == started["execution_id"]


def test_refusals_name_the_cause_and_start_nothing(deployed, monkeypatch):
    stack = deployed
    sfn = stack.client("stepfunctions")
    before = len(sfn.list_executions(stateMachineArn=stack.drift_check_arn)["executions"])

    # An unknown model, a model with nothing deployed, a malformed token: refused before anything starts
    status, body = call(stack, "POST", "/models/nobody/monitoring/checks", {"client_token": "t-2"})
    assert status == 404, body
    status, body = call(stack, "POST", f"/models/{UNDEPLOYED}/monitoring/checks", {"client_token": "t-3"})
    assert status == 404 and "no production version" in body["message"] and "deploy" in body["message"], body
    status, body = call(stack, "POST", f"/models/{MODEL}/monitoring/checks", {"client_token": "has space"})
    assert status == 422 and "client token" in body["message"] and "^[" not in json.dumps(body), body
    assert len(sfn.list_executions(stateMachineArn=stack.drift_check_arn)["executions"]) == before

    # While a check of the model runs (held inside the drift function), a second one is refused, naming it
    import functions.drift.app as drift_app  # noqa: PLC0415

    release, entered = threading.Event(), threading.Event()
    original = drift_app.run_check

    def held(*args, **kwargs):
        entered.set()
        release.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(drift_app, "run_check", held)
    with runtime.parallel():  # invocations overlap, as on AWS (the local runtime runs one at a time by default)
        status, first = call(stack, "POST", f"/models/{MODEL}/monitoring/checks", {"client_token": "t-4"})
        assert status == 202, first
        try:
            assert entered.wait(60)
            status, body = call(stack, "POST", f"/models/{MODEL}/monitoring/checks", {"client_token": "t-5"})
            assert status == 409 and first["execution_id"] in body["message"], body
        finally:
            release.set()
    assert wait_for(stack, first["execution_id"])["status"] == "SUCCEEDED"


def test_the_sdk_and_the_cli_wait_for_the_check(deployed):
    stack = deployed
    gateway = LocalGateway(stack, port=0).start()
    try:
        client = Client(url=gateway.url, api_key=stack.api_key)
        # The SDK: started, waited for, its report readable by its check id
        check = client.check_monitoring(MODEL, wait=True, reason="sdk")
        assert check.succeeded and check.started and check.check_id, check.document
        assert "Drift report" in client.drift_report(MODEL, check.check_id)
        with pytest.raises(NotFound, match="no production version"):
            client.check_monitoring(UNDEPLOYED)
        # The CLI verb
        from mlops_cli.app import cli  # noqa: PLC0415

        result = CliRunner().invoke(cli, ["--url", gateway.url, "--json", "monitoring", "check", MODEL, "--wait"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        assert document["status"] == "SUCCEEDED" and document["check"]["check_id"]
    finally:
        gateway.stop()


def test_the_schedule_timer_fires_the_one_schedule_at_the_stacks_rate(deployed):
    stack = deployed
    heard = []
    timer = ScheduleTimer(stack, heard.append)
    # the stack's tick rate (DriftCheckTickRate, hourly by default) is the timer's interval
    assert timer.rate == "rate(1 hour)" and timer.interval_s == 3600
    midnight = 1_796_256_000.0  # 2026-12-02T00:00:00Z, a boundary of the daily rate
    assert timer.boundary(midnight + 59.5) == midnight and timer.next_tick_in_s(midnight + 600) == 3000
    # a tick at the daily boundary checks the deployed model; the same tick again starts nothing twice
    tick = timer.tick(midnight + 10)
    assert tick.status == "SUCCEEDED" and [c.output["model_name"] for c in tick.checks] == [MODEL], tick.cause
    assert timer.tick(midnight + 20).checks == []
