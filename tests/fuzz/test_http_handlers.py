"""Hostile API Gateway events for the HTTP handlers: every answer is a response, never an exception; bad input
is a 4xx with a JSON `message`, never a 5xx; a refused request writes nothing."""

from __future__ import annotations

import base64
import json
import os
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.registry.store import ModelRegistry
from tests.conftest import FakeLambdaContext

pytestmark = pytest.mark.fuzz
# `make fuzz` raises the number of examples; the test suite keeps it small enough for CI.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
STATUSES: Counter[str] = Counter()  # what the handlers answered, printed per test (pytest -s, make fuzz)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
bodies = (
    st.none()
    | st.text(max_size=200)
    | json_values.map(lambda v: json.dumps(v, allow_nan=True))
    | st.binary(max_size=100).map(lambda b: base64.b64encode(b).decode())
)
headers = st.none() | st.dictionaries(
    st.text(string.ascii_letters + "-", min_size=1, max_size=12), st.text(max_size=30), max_size=4
)


def _assert_http_answer(response) -> dict:
    assert isinstance(response, dict)
    status = response["statusCode"]
    STATUSES[f"{status // 100}xx"] += 1
    assert status < 500, response
    document = json.loads(response["body"])
    if status >= 400:
        assert isinstance(document.get("message"), str) and document["message"], response
    return document


def _storage_counts(stack) -> tuple[int, int]:
    items = stack.client("dynamodb").scan(TableName=stack.table, Select="COUNT")["Count"]
    objects = stack.client("s3").list_objects_v2(Bucket=stack.bucket).get("KeyCount", 0)
    return items, objects


def test_predict_handler_answers_every_hostile_event(deployed):
    from functions.predict import app  # noqa: PLC0415 - after the stack's settings are in the environment

    example = ModelRegistry(deployed.table).get_version("bc", 1)["input_example"]
    feature = next(iter(example))
    instance_bodies = st.lists(
        st.fixed_dictionaries({}, optional={feature: json_values, "extra": json_values})
        | st.builds(lambda v: {**example, feature: v}, json_values),
        max_size=3,
    ).map(lambda rows: json.dumps({"instances": rows}, allow_nan=True))

    @FUZZ
    @given(
        body=bodies | instance_bodies,
        name=st.sampled_from(["bc", "nope", "", "../etc", "a" * 100]) | st.text(max_size=20),
        base64_flag=st.sampled_from([False, True, None, "yes", 1]),
        header_map=headers,
        path_parameters=st.sampled_from(["valid", None, "list", "wrong-key"]),
    )
    def check(body, name, base64_flag, header_map, path_parameters):
        parameters = {"valid": {"name": name}, None: None, "list": [name], "wrong-key": {"model": name}}
        event = {
            "resource": "/models/{name}/predict",
            "path": f"/models/{name}/predict",
            "httpMethod": "POST",
            "headers": header_map,
            "pathParameters": parameters[path_parameters],
            "body": body,
            "isBase64Encoded": base64_flag,
            "requestContext": {"requestId": "fuzz"},
        }
        _assert_http_answer(app.lambda_handler(event, FakeLambdaContext()))

    STATUSES.clear()
    check()
    print(f"\npredict handler: {sum(STATUSES.values())} hostile events, answers {dict(STATUSES)}")


def test_predict_handler_answers_non_dict_events(deployed):
    from functions.predict import app  # noqa: PLC0415

    for event in ([], "text", 42, None, {"body": 7}, {"pathParameters": "bc", "body": "{}"}):
        _assert_http_answer(app.lambda_handler(event, FakeLambdaContext()))


ADMIN_ROUTES = [
    ("POST", "/pipelines/training", "/pipelines/training"),
    ("GET", "/pipelines/training/{execution_id}", "/pipelines/training/{p}"),
    ("GET", "/models", "/models"),
    ("GET", "/models/{name}", "/models/{p}"),
    ("GET", "/models/{name}/versions", "/models/{p}/versions"),
    ("GET", "/models/{name}/versions/{version}", "/models/bc/versions/{p}"),
    ("POST", "/models/{name}/deployments", "/models/{p}/deployments"),
    ("POST", "/models/{name}/promote", "/models/{p}/promote"),
    ("POST", "/models/{name}/rollback", "/models/{p}/rollback"),
    ("POST", "/models/{name}/versions/{version}/approve", "/models/bc/versions/{p}/approve"),
    ("POST", "/models/{name}/versions/{version}/reject", "/models/bc/versions/{p}/reject"),
    ("GET", "/models/{name}/versions/{version}/card", "/models/bc/versions/{p}/card"),
    ("GET", "/models/{name}/audit", "/models/{p}/audit"),
]


def test_admin_handler_answers_every_hostile_event(deployed):
    from functions.api import app  # noqa: PLC0415

    @FUZZ
    @given(
        route=st.sampled_from(ADMIN_ROUTES),
        parameter=st.sampled_from(["bc", "nope", "0", "-1", "1", "999999999999999999999", "x y"])
        | st.text(max_size=15),
        body=bodies,
        base64_flag=st.booleans(),
        header_map=headers,
        query=st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    )
    def check(route, parameter, body, base64_flag, header_map, query):
        method, resource, template = route
        names = [part[1:-1] for part in resource.split("/") if part.startswith("{")]
        values = {"name": "bc", "version": "1", "execution_id": parameter}
        if names:
            values[names[-1]] = parameter
        path = template.replace("{p}", parameter)
        event = {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": header_map,
            "multiValueHeaders": None,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": None,
            "pathParameters": {n: values[n] for n in names} or None,
            "body": body,
            "isBase64Encoded": base64_flag,
            "requestContext": {
                "requestId": "fuzz",
                "resourcePath": resource,
                "httpMethod": method,
                "path": path,
                "stage": "v1",
                "identity": {"sourceIp": "127.0.0.1"},
            },
        }
        before = _storage_counts(deployed)
        response = app.lambda_handler(event, FakeLambdaContext())
        _assert_http_answer(response)
        if method == "POST" and response["statusCode"] >= 400:
            assert _storage_counts(deployed) == before  # a refused request wrote nothing

    STATUSES.clear()
    check()
    print(f"\nadmin handler: {sum(STATUSES.values())} hostile events, answers {dict(STATUSES)}")
