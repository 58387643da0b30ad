"""Every route of the committed OpenAPI document, with a value of the wrong type in each of its fields (path, query,
body) and bodies of the wrong shape, through the local gateway on a stack with a deployed model: every answer is a
4xx with a message, and no Python exception text (a type error, an attribute error, a traceback, None) nor a regular
expression reaches the caller. Then the refusals a person meets first, each in words with what to do: a version that
may not serve (before any smoke test), invalid monitoring settings, a model name with a space."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from local.gateway import LocalGateway
from mlops.records.registry import VERSION_PENDING_APPROVAL, VERSION_REJECTED
from tests.factories import version_content

pytestmark = pytest.mark.fuzz
ROOT = Path(__file__).resolve().parent.parent.parent
DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
MODEL = "bc"  # the deployed model of tests/fuzz/conftest.py
# What must never reach a caller: Python's words for its own failures, and regular expressions.
PYTHON_TEXT = re.compile(
    r"not supported between|object has no attribute|Traceback|NoneType|is not subscriptable|is not iterable|"
    r"unexpected keyword|positional argument|object is not callable|invalid literal for|KeyError|TypeError|"
    r"ValueError|AttributeError|String should match pattern|\^\[|\[A-Za-z|\{0,\d+\}\$"
)
# A value of each JSON type; a field is sent every one its schema does not allow.
SAMPLES: dict[str, Any] = {
    "string": "text with spaces",
    "integer": 7,
    "number": 7.5,
    "boolean": True,
    "object": {"k": 1},
    "array": [1],
}
WRONG_PER_FIELD = 3  # the first three wrong types of a field (text, a whole number, a fraction... as they come)
# Path values that are not what the parameter holds (a URL carries only text).
WRONG_PATH = {"string": ["a b", "^[a-z]"], "integer": ["abc", "1.5"]}
WRONG_QUERY = {"integer": ["abc", "1.5"], "boolean": ["maybe"], "string": ["a b"]}
VALID_PATH = {
    "name": MODEL,
    "alias": "staging",
    "key": "owner",
    "version": "1",
    "execution_id": "x1",
    "job_id": "20261201T101500Z-1a2b3c4d",
}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def json_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema admits (every type when it says nothing)."""
    schema = resolve(schema)
    if "anyOf" in schema or "oneOf" in schema:
        return set().union(*(json_types(s) for s in schema.get("anyOf", schema.get("oneOf", []))))
    if "allOf" in schema:
        return json_types(schema["allOf"][0])
    if "const" in schema or "enum" in schema:
        values = schema.get("enum", [schema.get("const")])
        return {_type_of(v) for v in values}
    kind = schema.get("type")
    if kind is None:
        return {*SAMPLES, "null"} if "properties" not in schema else {"object"}
    kinds = {kind} if isinstance(kind, str) else set(kind)
    return kinds | ({"integer"} if "number" in kinds else set())


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array"}[type(value)]


def filled(template: str, **override: str) -> str:
    path = template
    for name, value in {**VALID_PATH, **override}.items():
        path = path.replace("{" + name + "}", value)
    return path


def parameter_cases(method: str, template: str, parameters: list[dict[str, Any]]) -> list[tuple]:
    found = []
    for parameter in parameters:
        kind, name = parameter["schema"].get("type") or "string", parameter["name"]
        if parameter["in"] == "path":
            for wrong in WRONG_PATH.get(kind, []):
                found.append((method, filled(template, **{name: quote(wrong)}), "", None, f"path {name}={wrong!r}"))
        elif parameter["in"] == "query":
            for wrong in WRONG_QUERY.get(kind, []):
                found.append((method, filled(template), f"{name}={quote(wrong)}", None, f"query {name}={wrong!r}"))
    return found


def body_cases(method: str, path: str, schema: dict[str, Any]) -> list[tuple]:
    body_schema = resolve(schema)
    if "anyOf" in body_schema:  # an optional body: its object form
        body_schema = resolve(next(s for s in body_schema["anyOf"] if s.get("type") != "null"))
    found = [(method, path, "", shape, f"body {shape!r}") for shape in ([], "text", 5)]
    for field, field_schema in (body_schema.get("properties") or {}).items():
        allowed = json_types(field_schema)
        wrong = [k for k in SAMPLES if k not in allowed and not (k == "integer" and "number" in allowed)]
        for kind in wrong[:WRONG_PER_FIELD]:
            found.append((method, path, "", {field: SAMPLES[kind]}, f"body {field}={SAMPLES[kind]!r}"))
    return found


def cases() -> list[tuple]:
    """(method, path, query, body, what) for every wrong value of every field of every route."""
    found = []
    for template, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            found += parameter_cases(method, template, operation.get("parameters", []))
            content = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
            if content:
                found += body_cases(method, filled(template), content["schema"])
    return found


CASES = cases()


@pytest.fixture(scope="module")
def gateway(deployed):
    server = LocalGateway(deployed, port=0)
    yield server
    server.server.server_close()


def ask(gateway: LocalGateway, method: str, path: str, body: Any = None, *, api_key: str | None = None):
    headers = {"content-type": "application/json", **({"x-api-key": api_key} if api_key else {})}
    raw = b"" if body is None else json.dumps(body).encode()
    status, _, payload = gateway.dispatch(method.upper(), path, headers, raw)
    return status, payload.decode("utf-8", errors="replace")


def test_the_sweep_covers_every_route_and_field():
    routes = {(m.upper(), p) for p, ops in DOCUMENT["paths"].items() for m in ops}
    swept = {(m.upper(), p) for p, ops in DOCUMENT["paths"].items() for m, op in ops.items() if op.get("parameters")}
    assert len(routes) >= 30 and len(CASES) > 150
    assert all(any(c[1].startswith(p.split("{")[0]) for c in CASES) for _, p in swept)


def test_every_route_answers_wrong_types_in_words(deployed, gateway):
    failures = []
    for method, path, query, body, what in CASES:
        target = f"{path}?{query}" if query else path
        key = deployed.api_key if path.endswith("/predict") else None
        status, text = ask(gateway, method, target, body, api_key=key)
        try:
            message = json.loads(text).get("message")
        except (json.JSONDecodeError, AttributeError):
            message = None
        if not 400 <= status < 500 or not isinstance(message, str) or not message.strip():
            failures.append(f"{method.upper()} {target} ({what}): {status} {text[:300]}")
        elif PYTHON_TEXT.search(text):
            failures.append(f"{method.upper()} {target} ({what}): Python text or a pattern: {text[:300]}")
    assert not failures, f"{len(failures)} of {len(CASES)}:\n" + "\n".join(failures[:40])


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"drift": {"psi_threshold": "high"}}, "psi_threshold must be a number, not 'high'"),
        ({"drift": {"alpha": [0.05]}}, "alpha must be a number"),
        ({"drift": {"min_rows": "100"}}, "min_rows must be a whole number"),
        ({"drift": {"correction": 3}}, "correction must be text"),
        ({"drift": {"critical_features": 5}}, "critical_features must be a list of feature names"),
        ({"drift": {"prediction_is_critical": "yes"}}, "prediction_is_critical must be true or false"),
        ({"drift": {"drift_share": None}}, "drift_share must be a number"),
        ({"consecutive_windows": 1.5}, "consecutive_windows must be an integer"),
        ({"retraining_feedback": "weekly"}, "retraining_feedback: must be a JSON object"),
        ({"retraining_feedback": {"weight": "x"}}, "retraining_feedback.weight: must be a whole number"),
        ({"schedule": {"rate": 6}}, "schedule.rate must be an EventBridge rate expression"),
        ({"drift": "strict"}, "drift settings must be an object"),
    ],
)
def test_invalid_monitoring_settings_are_refused_in_words(gateway, settings, words):
    status, text = ask(gateway, "PUT", f"/models/{MODEL}/monitoring", settings)
    assert status == 422 and words in json.loads(text)["message"], text
    assert not PYTHON_TEXT.search(text), text


def test_a_model_name_with_a_space_is_refused_at_the_door_in_words(deployed, gateway):
    sfn = deployed.client("stepfunctions")
    pipeline = deployed.state_machine_arns["TrainingPipeline"]
    before = len(sfn.list_executions(stateMachineArn=pipeline)["executions"])
    request = {
        "model_name": "churn model",
        "dataset_uri": f"s3://{deployed.bucket}/datasets/bc.csv",
        "target": "target",
        "client_token": "space-1",
    }
    status, text = ask(gateway, "POST", "/pipelines/training", request)
    message = json.loads(text)["message"]
    assert status == 422 and "model_name: a model name is 1 to 64 characters" in message and "no spaces" in message
    assert not PYTHON_TEXT.search(text), text
    assert len(sfn.list_executions(stateMachineArn=pipeline)["executions"]) == before  # nothing started
    status, text = ask(gateway, "GET", "/models/churn%20model")
    assert status == 422 and "a model name is" in json.loads(text)["message"], text


@pytest.mark.parametrize(
    ("status_of_version", "words"),
    [
        (VERSION_REJECTED, "is Rejected, not deployable: the gate rejected it (no better than the champion)"),
        (VERSION_PENDING_APPROVAL, "is PendingApproval, not deployable yet: it is waiting for approval"),
    ],
)
def test_deploying_a_version_that_may_not_serve_says_why_before_any_smoke_test(
    deployed, gateway, status_of_version, words
):
    # Given a version the registry holds as not deployable (its artifact is not even real: a smoke test would fail)
    name = f"held-{status_of_version.lower()}"
    content = version_content(gate={"passed": False, "reasons": ["no better than the champion"]})
    version, _ = deployed.registry().register_version(
        name, content, status=status_of_version, run_id="r", actor="t", reason="t"
    )
    # When it is deployed, or given an alias
    for method, path, body in (
        ("POST", f"/models/{name}/deployments", {"version": version}),
        ("PUT", f"/models/{name}/aliases/staging", {"version": version}),
    ):
        status, text = ask(gateway, method, path, body)
        answer = json.loads(text)
        # Then the refusal is the registry's reason, in words, not a smoke test's failure
        assert status == 409 and answer["error"] == "DeploymentRefused", answer
        assert words in answer["message"] and "smoke" not in answer["message"].lower(), answer
    assert deployed.registry().get_alias(name) is None
