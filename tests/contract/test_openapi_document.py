"""openapi.json is generated from the handler's annotations (`python -m tools.write_openapi`): the committed file must
be what the code generates now, or the document, the fuzzers and the route coverage test describe another API."""

from __future__ import annotations

import json

from tools import write_openapi


def test_the_committed_openapi_document_is_what_the_code_generates() -> None:
    committed = json.loads(write_openapi.OPENAPI_PATH.read_text())
    generated = json.loads(write_openapi.render())
    stale = sorted(set(committed["paths"]) ^ set(generated["paths"]))
    assert not stale, f"routes differ (run `python -m tools.write_openapi`): {stale}"
    assert committed == generated, "openapi.json is stale: run `python -m tools.write_openapi`"


def test_the_alias_and_tag_routes_are_documented_with_their_patterns() -> None:
    document = json.loads(write_openapi.OPENAPI_PATH.read_text())
    alias_route = document["paths"]["/models/{name}/aliases/{alias}"]
    assert sorted(alias_route) == ["delete", "put"]
    (alias_parameter,) = [p for p in alias_route["put"]["parameters"] if p["name"] == "alias"]
    assert alias_parameter["schema"]["pattern"] == "^[a-z][a-z0-9-]{0,31}$"
    predict_query = [p["name"] for p in document["paths"]["/models/{name}/predict"]["post"]["parameters"]]
    assert predict_query == ["name", "alias"]
