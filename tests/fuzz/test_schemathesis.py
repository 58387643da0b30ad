"""schemathesis against the committed OpenAPI document, through the local HTTP gateway: generated requests for
every route, checked for server errors and conformance to the documented responses; a refused write leaves the
stack's content as it was (items, object versions, executions, the predict capture in S3). GETs are checked for
writes by the HTTP fuzz and the API story, where a snapshot costs less: here each one scans a growing stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method

from local.gateway import LocalGateway
from tests.stack_state import stack_state, wait_until_quiet

pytestmark = pytest.mark.fuzz
ROOT = Path(__file__).resolve().parent.parent.parent
schema = schemathesis.openapi.from_path(ROOT / "openapi.json")
# `make fuzz` raises this; the test suite keeps it small enough for CI.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))


@pytest.fixture(scope="module")
def gateway(deployed):
    server = LocalGateway(deployed, port=0).start()
    yield server
    server.stop()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much, HealthCheck.too_slow],
)
def test_api_conforms_to_its_openapi_document(case, gateway, deployed):
    headers = {"x-api-key": deployed.api_key} if case.path.endswith("/predict") else {}
    # Excluded: positive_data_acceptance. A schema-valid request may still be refused for what no schema can say:
    # an unknown model (404), a state conflict (409), features that differ from the served version's (422).
    excluded = [positive_data_acceptance]
    if case.path == "/dashboard":  # `local up` itself serves GET /dashboard (the page); the API only has the POST
        excluded.append(unsupported_method)
    if case.method.upper() == "GET":
        case.call_and_validate(base_url=gateway.url, headers=headers, excluded_checks=excluded)
        return
    wait_until_quiet(deployed)  # a run an earlier case started must not write during this one
    before = stack_state(deployed)
    response = case.call_and_validate(base_url=gateway.url, headers=headers, excluded_checks=excluded)
    if response.status_code >= 400:
        changes = stack_state(deployed).changes_since(before)
        assert changes == {}, (case.method, case.path, response.status_code, changes)
