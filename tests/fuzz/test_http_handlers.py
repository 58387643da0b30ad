"""Hostile API Gateway events for the HTTP handlers, over every route of openapi.json: every answer is a response,
never an exception; bad input is a 4xx with a JSON `message`, never a 5xx; a refused request writes nothing, by
content (every DynamoDB item, every S3 object version and ETag, every Step Functions execution, and for predict
the capture lines it prints for Firehose); a GET never writes; and valid requests get the right answers."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.monitoring.capture_records import records_of
from mlops.registry import documents
from mlops.storage.layout import CAPTURE_MARKER
from tests.api_story import documented_routes
from tests.conftest import FakeLambdaContext
from tests.fuzz import openapi_fields as fields
from tests.stack_state import stack_state, wait_until_quiet

pytestmark = pytest.mark.fuzz
# `make fuzz` raises the number of examples; the test suite keeps it small enough for CI.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
DOCUMENTED_ROUTES = documented_routes()
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


def _capture_lines(printed: str) -> list[dict]:
    """The lines the subscription filter would send to Firehose: JSON objects with the capture marker."""
    lines = []
    for line in printed.splitlines():
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            if isinstance(document, dict) and document.get("capture") == CAPTURE_MARKER:
                lines.append(document)
    return lines


def test_predict_handler_answers_every_hostile_event(deployed):
    from functions.predict import app  # noqa: PLC0415 - after the stack's settings are in the environment

    example = documents.input_example_of(deployed.registry().get_version("bc", 1))
    feature = next(iter(example))
    instance_bodies = st.lists(
        st.fixed_dictionaries({}, optional={feature: json_values, "extra": json_values})
        | st.builds(lambda v: {**example, feature: v}, json_values),
        max_size=3,
    ).map(lambda rows: json.dumps({"instances": rows}, allow_nan=True))
    column_bodies = st.builds(
        lambda rows, value, dropped: json.dumps(
            {
                "inputs": {
                    name: [value if name == feature and row == 0 else example[name] for row in range(rows)]
                    for name in example
                    if name != dropped
                }
            },
            allow_nan=True,
        ),
        st.integers(1, 3),
        json_values | st.just(example[feature]),
        st.sampled_from([None, None, feature]),
    )

    @FUZZ
    @given(
        body=bodies | instance_bodies | column_bodies,
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
        before = stack_state(deployed)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            response = app.lambda_handler(event, FakeLambdaContext())
        document = _assert_http_answer(response)
        assert stack_state(deployed).changes_since(before) == {}  # predict never writes the registry or S3
        captured = _capture_lines(printed.getvalue())
        if response["statusCode"] != 200:
            assert captured == [], captured  # a refused request is not captured
            return
        # A served request: v1's answer for each row (as rows or as columns), and exactly those rows captured with
        # their features.
        request = json.loads(base64.b64decode(body) if base64_flag is True else body)
        if "inputs" in request:
            inputs, outputs = request["inputs"], document["outputs"]
            instances = [dict(zip(inputs, values, strict=True)) for values in zip(*inputs.values(), strict=True)]
            rows = [
                {
                    "inference_id": inference_id,
                    "prediction": prediction,
                    "probabilities": {label: values[row] for label, values in outputs["probabilities"].items()},
                }
                for row, (inference_id, prediction) in enumerate(
                    zip(outputs["inference_id"], outputs["prediction"], strict=True)
                )
            ]
        else:
            instances, rows = request["instances"], document["predictions"]
        assert (document["model_name"], document["version"]) == (name, 1), document
        assert [r["inference_id"] for r in rows] == [f"fuzz:{i}" for i in range(len(instances))], rows
        for row in rows:
            assert row["prediction"] == max(row["probabilities"], key=row["probabilities"].get), row
        records = [record for line in captured for record in records_of(line)]
        assert [(r["inference_id"], r["prediction"], r["features"]) for r in records] == [
            (r["inference_id"], r["prediction"], features) for r, features in zip(rows, instances, strict=True)
        ]

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
    ("POST", "/models/{name}/feedback", "/models/{p}/feedback"),
    ("GET", "/models/{name}/monitoring", "/models/{p}/monitoring"),
    ("PUT", "/models/{name}/monitoring", "/models/{p}/monitoring"),
    ("DELETE", "/models/{name}/monitoring", "/models/{p}/monitoring"),
    ("GET", "/models/{name}/monitoring/report", "/models/{p}/monitoring/report"),
    ("POST", "/models/{name}/monitoring/checks", "/models/{p}/monitoring/checks"),
    ("GET", "/models/{name}/monitoring/checks/{execution_id}", "/models/bc/monitoring/checks/{p}"),
    ("GET", "/pipelines/training", "/pipelines/training"),
    ("POST", "/models/{name}/versions/{version}/reproduce", "/models/bc/versions/{p}/reproduce"),
    ("POST", "/dashboard", "/dashboard"),
    ("PUT", "/models/{name}/aliases/{alias}", "/models/bc/aliases/{p}"),
    ("DELETE", "/models/{name}/aliases/{alias}", "/models/bc/aliases/{p}"),
    ("PUT", "/models/{name}/versions/{version}/tags/{key}", "/models/bc/versions/1/tags/{p}"),
    ("DELETE", "/models/{name}/versions/{version}/tags/{key}", "/models/bc/versions/1/tags/{p}"),
    ("POST", "/models/{name}/batch-jobs", "/models/{p}/batch-jobs"),
    ("GET", "/models/{name}/batch-jobs/{job_id}", "/models/bc/batch-jobs/{p}"),
    ("POST", "/models/{name}/external-versions", "/models/{p}/external-versions"),
    ("POST", "/uploads", "/uploads"),
    ("POST", "/downloads", "/downloads"),
]


def test_the_fuzzed_and_the_valid_routes_are_every_documented_route():
    fuzzed = {(method, resource) for method, resource, _ in ADMIN_ROUTES} | {("POST", "/models/{name}/predict")}
    assert fuzzed == DOCUMENTED_ROUTES


# Bodies close to valid, so refusals also come from deep in a route (an unknown class, a rejected version, ...).
near_valid_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "labels": st.lists(
                st.fixed_dictionaries({"inference_id": st.text(max_size=10), "label": json_values}), max_size=3
            )
        }
    ),
    st.fixed_dictionaries({"value": st.text(max_size=600) | json_values}, optional={"reason": st.text(max_size=10)}),
    st.fixed_dictionaries(
        {"version": st.integers(-1, 4) | json_values},
        optional={"canary_weight": st.floats(-1, 2) | json_values, "reason": st.text(max_size=10)},
    ),
    st.fixed_dictionaries({}, optional={"reason": st.text(max_size=10) | json_values}),
).map(json.dumps)


def test_admin_handler_answers_every_hostile_event(deployed):
    from functions.api import app  # noqa: PLC0415

    @FUZZ
    @given(
        route=st.sampled_from(ADMIN_ROUTES),
        parameter=st.sampled_from(["bc", "nope", "0", "-1", "1", "999999999999999999999", "x y"])
        | st.text(max_size=15),
        body=bodies | near_valid_bodies,
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
        wait_until_quiet(deployed)  # a run an earlier example started must not write during this one
        before = stack_state(deployed)
        response = app.lambda_handler(event, FakeLambdaContext())
        _assert_http_answer(response)
        if method == "GET" or response["statusCode"] >= 400:
            changes = stack_state(deployed).changes_since(before)
            assert changes == {}, (method, resource, response["statusCode"], changes)  # nothing written

    STATUSES.clear()
    check()
    print(f"\nadmin handler: {sum(STATUSES.values())} hostile events, answers {dict(STATUSES)}")


def test_non_finite_numbers_and_deep_bodies_are_refused_on_every_route_and_change_nothing(deployed):
    """Every numeric field of every route (from openapi.json) sent NaN, infinities and numbers beyond a double, and
    every body nested 100,000 deep (tests/fuzz/openapi_fields.py): a 4xx with a message, nothing written."""
    from functions.api import app as admin  # noqa: PLC0415 - after the stack's settings are in the environment
    from functions.predict import app as predict  # noqa: PLC0415

    def call(method, resource, path_values, query, body):
        handler = predict if (method, resource) == fields.PREDICT else admin
        with contextlib.redirect_stdout(io.StringIO()):  # predict prints its capture lines for Firehose
            response = handler.lambda_handler(
                fields.admin_event(method, resource, path_values, query, body), FakeLambdaContext()
            )
        assert isinstance(response, dict) and "statusCode" in response, response
        return response

    counts: Counter[str] = Counter()
    failures = []
    sent: set[tuple[str, str]] = set()
    wait_until_quiet(deployed)
    at_start = stack_state(deployed)
    for method, resource, path_values, query, body in fields.cases(deployed, call):
        if fields.EVERY_VALUE:
            wait_until_quiet(deployed)
        before = stack_state(deployed) if fields.EVERY_VALUE else None
        response = call(method, resource, path_values, query, body)
        status = response["statusCode"]
        counts["requests"] += 1
        sent.add((method, resource))
        counts[f"{status // 100}xx"] += 1
        changes = stack_state(deployed).changes_since(before) if before else {}
        counts["changes on refused requests"] += bool(changes and status >= 400)
        document = json.loads(response["body"]) if response["body"] else {}
        if not (400 <= status < 500 and isinstance(document.get("message"), str) and not changes):
            failures.append((method, resource, path_values, query, (body or "")[:120], status, document, changes))

    print(f"\nnon-finite numbers and deep bodies: {dict(counts)}")
    assert stack_state(deployed).changes_since(at_start) == {}  # and none over the whole battery
    assert sent >= {(m, r) for m, r, op in fields.operations() if "requestBody" in op}, counts  # every body, at least
    assert failures == [], failures[:10]
