"""The local gateway's part of the predict route's protection: every PredictClients client's key is accepted, any
other is refused (403, before the function runs), and each key has its own daily quota (429 past it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from local.gateway import LocalGateway
from local.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(monkeypatch):
    with LocalStack(parameters={"PredictClients": "web,batch", "PredictQuotaPerDay": "2"}) as stack:
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        served = LocalGateway(stack, port=0).start()
        yield stack, served
        served.stop()


def _predict(served, key: str | None) -> int:
    headers = {"content-type": "application/json", **({"x-api-key": key} if key else {})}
    request = urllib.request.Request(
        served.url + "/models/nobody/predict", data=json.dumps({"instances": [{}]}).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_each_client_has_its_own_key_and_quota(gateway):
    stack, served = gateway
    keys = stack.client_api_keys
    assert list(keys) == ["web", "batch"] and len(set(keys.values())) == 2 and keys["web"] == stack.api_key
    # a key the stack never issued, or none: API Gateway's 403, the function never runs
    assert _predict(served, None) == 403
    assert _predict(served, "local-someone-else") == 403
    # each client's key reaches the function (404: no such model), twice a day, then 429
    assert [_predict(served, keys["web"]) for _ in range(3)] == [404, 404, 429]
    assert [_predict(served, keys["batch"]) for _ in range(3)] == [404, 404, 429]
