"""API Gateway's and CloudWatch Logs' quotas on the local stack, each at and just over its limit.

The gateway's integration timeout is exercised with a shortened limit (``INTEGRATION_TIMEOUT_S`` patched to 1 s) so the
test does not wait 29 s; the real values are checked as constants.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from local import gateway as local_gateway
from local import runtime
from local.emulated import quotas

pytestmark = pytest.mark.integration

PREDICT_PATH = "/models/bc/predict"


def test_the_limits_are_the_services_values():
    assert local_gateway.INTEGRATION_TIMEOUT_S == 29.0
    assert local_gateway.MAX_REQUEST_BODY_BYTES == 10_485_760
    assert quotas.LAMBDA_LOG_EVENT_BYTES == 262_144


@pytest.fixture
def served(stack):
    name = stack.function_names["PredictFunction"]
    stack.client("lambda").update_function_configuration(FunctionName=name, Timeout=5)
    runtime.register_handler(name, "tests/unit/", "runtime_handlers.proxy_handler")
    gateway = local_gateway.LocalGateway(stack, port=0).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def _post(gateway, body: bytes) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        gateway.url + PREDICT_PATH, data=body, method="POST", headers={"x-api-key": gateway.stack.api_key}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


# ---- 29 s integration timeout ------------------------------------------------------------------------------------
def test_an_integration_answering_within_the_timeout_is_returned(served, monkeypatch):
    # (a timeout well above the handler's 0.2 s: on a loaded machine the invocation around it can take a second)
    monkeypatch.setattr(local_gateway, "INTEGRATION_TIMEOUT_S", 5.0)
    status, _, body = _post(served, json.dumps({"sleep_s": 0.2}).encode())
    assert status == 200 and json.loads(body) == {"ok": True}


def test_an_integration_past_the_timeout_is_504_with_api_gateways_message(served, monkeypatch):
    monkeypatch.setattr(local_gateway, "INTEGRATION_TIMEOUT_S", 1.0)
    status, content_type, body = _post(served, json.dumps({"sleep_s": 2.0}).encode())
    assert status == 504
    assert content_type == "application/json"
    assert json.loads(body) == {"message": "Endpoint request timed out"}


# ---- 10 MB payload, and Lambda's 6 MB behind it --------------------------------------------------------------------
def _body_of(size_bytes: int) -> bytes:
    prefix = b'{"sleep_s": 0, "padding": "'
    return prefix + b"x" * (size_bytes - len(prefix) - 2) + b'"}'


def test_a_body_under_lambdas_quota_reaches_the_function(served):
    status, _, body = _post(served, _body_of(5 * 1024 * 1024))
    assert status == 200 and json.loads(body) == {"ok": True}


def test_a_body_at_api_gateways_limit_passes_the_gateway_and_meets_lambdas_request_quota(served):
    # 10 MB is within API Gateway's quota; its event is over Lambda's 6 MB, which API Gateway reports as 413
    status, content_type, body = _post(served, _body_of(local_gateway.MAX_REQUEST_BODY_BYTES))
    assert status == 413
    assert content_type == "application/json"
    assert json.loads(body) == {"message": "Request Too Long"}


def test_a_body_just_over_api_gateways_limit_is_refused_before_any_function_runs(served):
    status, content_type, body = _post(served, _body_of(local_gateway.MAX_REQUEST_BODY_BYTES + 1))
    assert status == 413
    assert content_type.startswith("text/plain")
    assert body == b"HTTP content length exceeded 10485760 bytes."


# ---- CloudWatch Logs: 256 KiB per event -----------------------------------------------------------------------------
LINE_LIMIT = quotas.LAMBDA_LOG_EVENT_BYTES - quotas.LOG_EVENT_OVERHEAD_BYTES


def test_a_log_line_at_the_event_limit_stays_one_event():
    assert quotas.split_log_lines("x" * LINE_LIMIT) == "x" * LINE_LIMIT


def test_a_log_line_just_over_the_event_limit_becomes_two_events():
    assert quotas.split_log_lines("x" * (LINE_LIMIT + 1)).split("\n") == ["x" * LINE_LIMIT, "x"]


def test_a_line_is_never_cut_inside_a_character():
    pieces = quotas.split_log_lines("é" * LINE_LIMIT).split("\n")
    assert "".join(pieces) == "é" * LINE_LIMIT
    assert all(len(p.encode()) <= LINE_LIMIT for p in pieces)


def _messages(stack, name: str) -> list[str]:
    logs = stack.client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    return [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
    ]


@pytest.mark.parametrize(("line_bytes", "events"), [(LINE_LIMIT, 1), (LINE_LIMIT + 1, 2)])
def test_a_functions_output_line_reaches_cloudwatch_logs_in_events_within_the_limit(stack, line_bytes, events):
    name = stack.function_names["DeployFunction"]
    runtime.register_handler(name, "tests/unit/", "runtime_handlers.printing_handler")

    stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"line_bytes": line_bytes}).encode())

    printed = [m for m in _messages(stack, name) if m and set(m) == {"x"}]
    assert len(printed) == events
    assert sum(len(m) for m in printed) == line_bytes
    assert all(len(m.encode()) + quotas.LOG_EVENT_OVERHEAD_BYTES <= quotas.LAMBDA_LOG_EVENT_BYTES for m in printed)
