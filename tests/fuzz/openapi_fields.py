"""The hostile battery: non-finite numbers in every numeric field of every route and deep nesting on every body,
derived from openapi.json (tests/fuzz/test_http_handlers.py sends it).

The fields are read from the committed OpenAPI document, not listed here: every path and query parameter of type
integer or number, and every numeric field of every JSON request body (``$ref``, ``anyOf``/``oneOf``/``allOf``,
nested objects, arrays and maps followed to the leaves). A free-form object in the schema (a candidate's ``params``, the
monitoring settings) gets a key of its own, and for a free-form body the numeric leaves of the same path's documented
GET answer are tried too (the monitoring settings a PUT replaces). Predict's features are the deployed version's
input example's numeric columns.

Each such field is sent ``NaN``, ``Infinity``, ``-Infinity``, ``1e309`` and ``-1e309`` as raw JSON tokens (Python's
``json`` reads the last two as infinities) and an integer of 401 digits (beyond a double); each body is also sent
nested 100,000 deep (as an array, as an object, and inside its first field). Every answer must be a 4xx with a JSON
``message``, and a refused request changes nothing in the stack, by content (tests/stack_state.py): compared around
each request under ``make fuzz``, around the whole battery in the test suite (every answer must be a refusal, so
one comparison shows that none wrote).

``make fuzz`` (``FUZZ_EXAMPLES`` of 1,000 or more) sends every value to every field; the test suite sends each field
one value, in turn, so every value and every field is still covered. The totals are printed (pytest -s).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from local.template import ROOT
from mlops.registry import documents

EVERY_VALUE = int(os.environ.get("FUZZ_EXAMPLES", "50")) >= 1000
DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
SCHEMAS = DOCUMENT["components"]["schemas"]
PREDICT = ("POST", "/models/{name}/predict")
SENTINEL = "\u0000non-finite\u0000"
NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1" + "0" * 400)
DEPTH = 100_000
# The path parameters' values a request names when the field under test is elsewhere: the deployed model and version.
PARAMETERS = {"name": "bc", "version": "1", "alias": "production", "key": "team", "job_id": "j", "execution_id": "e"}


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def numeric_paths(schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a number in a body of this schema (an array's first item, a map's key ``x``)."""
    schema = _resolved(schema)
    if len(path) > 12:
        return
    for combinator in ("anyOf", "oneOf", "allOf"):
        for alternative in schema.get(combinator, []):
            yield from numeric_paths(alternative, path)
    kind = schema.get("type")
    if kind in ("number", "integer"):
        yield path
    for name, field in schema.get("properties", {}).items():
        yield from numeric_paths(field, (*path, name))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        yield from numeric_paths(extra, (*path, "x"))
    elif extra is True or (kind == "object" and "properties" not in schema and extra is None):
        yield (*path, "x")  # a free-form object: whatever it holds, a number in it
    if kind == "array" and "items" in schema:
        yield from numeric_paths(schema["items"], (*path, 0))


def skeleton(schema: dict[str, Any]) -> Any:
    """A body with the schema's required fields (near valid, so a refusal comes from the number, not a missing key)."""
    schema = _resolved(schema)
    for combinator in ("anyOf", "oneOf", "allOf"):
        alternatives = [s for s in schema.get(combinator, []) if _resolved(s).get("type") != "null"]
        if alternatives:
            return skeleton(alternatives[0])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: skeleton(schema["properties"][name]) for name in schema.get("required", [])}
    return {"array": [], "string": "s3://b/datasets/x.csv", "integer": 1, "number": 0.5, "boolean": False}.get(kind)


def placed(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``body`` with ``value`` at ``path``, creating the objects and arrays on the way."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(body) if isinstance(body, list) and body else [{}]
        items[0] = placed(items[0], rest, value)
        return items
    container = dict(body) if isinstance(body, dict) else {}
    container[head] = placed(container.get(head, {} if rest and not isinstance(rest[0], int) else []), rest, value)
    return container


def with_token(body: Any, path: tuple[Any, ...], token: str) -> str:
    return json.dumps(placed(body, path, SENTINEL)).replace(json.dumps(SENTINEL), token)


def numeric_leaves(document: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(document, dict):
        for name, value in document.items():
            yield from numeric_leaves(value, (*path, name))
    elif isinstance(document, (int, float)) and not isinstance(document, bool):
        yield path


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for resource, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            yield method.upper(), resource, operation


def _numeric(schema: dict[str, Any]) -> bool:
    schema = _resolved(schema)
    alternatives = [schema, *(_resolved(s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))]
    return any(s.get("type") in ("number", "integer") for s in alternatives)


Case = tuple[str, str, dict[str, str], dict[str, str], str | None]  # method, resource, path values, query, body


def cases(stack, call) -> Iterator[Case]:
    """Every numeric field and every body of every route, each case a request."""
    example = documents.input_example_of(stack.registry().get_version("bc", 1))
    turn = iter(range(10**9))

    def values() -> tuple[str, ...]:
        return NON_FINITE if EVERY_VALUE else (NON_FINITE[next(turn) % len(NON_FINITE)],)

    for method, resource, operation in operations():
        names = {p["name"]: p for p in operation.get("parameters", [])}
        path_values = {name: PARAMETERS[name] for name, p in names.items() if p["in"] == "path"}
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        base = ({"instances": [example]} if (method, resource) == PREDICT else skeleton(schema)) if schema else None
        for name, parameter in names.items():
            if _numeric(parameter.get("schema", {})):
                for token in values():
                    in_path = parameter["in"] == "path"
                    yield (method, resource, {**path_values, **({name: token} if in_path else {})},
                           {} if in_path else {name: token}, None if base is None else json.dumps(base))  # fmt: skip
        if schema is not None:
            for field in sorted(_body_fields(method, resource, schema, example, path_values, call), key=str):
                body = {"inputs": {n: [v] for n, v in example.items()}} if field[0] == "inputs" else base
                for token in values():
                    yield method, resource, path_values, {}, with_token(body, field, token)
            yield from _deep_bodies(method, resource, path_values, base)


def _body_fields(method, resource, schema, example, path_values, call) -> set[tuple[Any, ...]]:
    if (method, resource) == PREDICT:  # the model's numeric features, as rows and as columns
        features = [name for name, value in example.items() if isinstance(value, (int, float)) and value is not True]
        return {("instances", 0, f) for f in features} | {("inputs", f, 0) for f in features}
    paths = set(numeric_paths(schema))
    if _resolved(schema).get("additionalProperties") is True and "get" in DOCUMENT["paths"][resource]:
        answer = json.loads(call("GET", resource, path_values, {}, None)["body"])
        paths |= set(numeric_leaves(answer)) | {leaf[1:] for leaf in numeric_leaves(answer)}
        paths.discard(())
    return paths


def _deep_bodies(method, resource, path_values, base) -> Iterator[Case]:
    first = next(iter(base), None) if isinstance(base, dict) else None
    for deep in ("[" * DEPTH + "]" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH):
        yield method, resource, path_values, {}, deep
        if first is not None:
            inside = json.dumps({**base, first: SENTINEL}).replace(json.dumps(SENTINEL), deep)
            yield method, resource, path_values, {}, inside


def admin_event(method, resource, path_values, query, body) -> dict[str, Any]:
    path = resource
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", value)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_values or None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": "fuzz",
            "resourcePath": resource,
            "httpMethod": method,
            "path": path,
            "stage": "v1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
    }
