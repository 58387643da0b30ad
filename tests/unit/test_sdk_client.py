"""The SDK without a stack: what `import mlops_client` loads, how the API's error answers become typed exceptions
carrying its message, the client's configuration errors, and predict's three data shapes (request and answer)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops_client import (
    BadRequest,
    Client,
    ConfigurationError,
    Conflict,
    Forbidden,
    Invalid,
    InvalidInput,
    MlopsApiError,
    NotFound,
    Unreachable,
    shapes,
)
from mlops_client.errors import api_error
from tests.conftest import ROOT


def test_importing_the_sdk_loads_neither_pandas_nor_botocore_nor_the_cli():
    probe = (
        "import sys; import mlops_client; "
        "print(sorted(m for m in ('pandas', 'numpy', 'botocore', 'click', 'rich', 'mlops') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequest), (403, Forbidden), (404, NotFound), (409, Conflict), (415, Invalid), (422, Invalid)],
)
def test_each_status_has_its_exception(status, kind):
    error = api_error(status, "the API's words", "SomeError")
    assert type(error) is kind and isinstance(error, MlopsApiError)
    assert (error.status, error.message, error.error) == (status, "the API's words", "SomeError")
    assert str(error) == f"{status} SomeError: the API's words"
    assert type(api_error(500, "boom")) is MlopsApiError


@pytest.fixture
def answering():
    """A server that answers every request with the (status, body) the test sets, recording the requests."""
    answer: dict = {"status": 200, "body": b"{}"}
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            received.append({"method": self.command, "path": self.path, "body": self.rfile.read(length)})
            # answers by path first ({"GET /models/m": [(status, document), ...]}, taken in order, the last kept)
            queued = answer.get("by_path", {}).get(f"{self.command} {self.path.split('?')[0]}")
            status, body = answer["status"], answer["body"]
            if queued:
                status, document = queued.pop(0) if len(queued) > 1 else queued[0]
                body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - the stdlib's handler names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answer, received
    server.shutdown()
    server.server_close()


def test_an_error_answer_raises_with_the_apis_message(answering):
    url, answer, _ = answering
    client = Client(url, api_key="k")
    answer.update(status=404, body=json.dumps({"message": "no model 'x'", "error": "ModelNotFound"}).encode())
    with pytest.raises(NotFound) as raised:
        client.model("x")
    assert (raised.value.status, raised.value.message, raised.value.error) == (404, "no model 'x'", "ModelNotFound")
    detail = {"message": None, "detail": [{"msg": "field required"}, {"msg": "too long"}]}
    answer.update(status=422, body=json.dumps(detail).encode())
    with pytest.raises(Invalid, match="field required; too long"):
        client.deploy("x", 1)
    answer.update(
        status=409, body=json.dumps({"message": "nothing to roll back", "error": "DeploymentRefused"}).encode()
    )
    with pytest.raises(Conflict, match="nothing to roll back"):
        client.rollback("x")


MODEL_M = {"model_name": "m", "aliases": {"production": {"version": 3}, "staging": {"version": 3}}}
SCHEMA_M = {  # a number and a datetime column (the model reads its year); "customer" is the table's identifier
    "schema": {
        "features": [
            {"name": "x", "kind": "numeric"},
            {"name": "when__year", "kind": "numeric", "source": "when", "part": "year"},
        ],
        "columns": {"customer": {"role": "id"}, "x": {"role": "feature"}, "when": {"role": "datetime"}},
    }
}


def test_predict_sends_columns_for_frames_and_dicts_and_instances_for_rows(answering):
    pandas = pytest.importorskip("pandas")
    url, answer, received = answering
    client = Client(url, api_key="k")
    probabilities = {"b": [0.2, 0.9], "a": [0.8, 0.1]}
    outputs = {"inference_id": ["r:0", "r:1"], "prediction": ["a", "b"], "probabilities": probabilities}
    columnar = {"version": 3, "outputs": outputs}
    answer.update(status=200, body=json.dumps(columnar).encode())
    answer["by_path"] = {"GET /models/m": [(200, MODEL_M)], "GET /models/m/versions/3": [(200, SCHEMA_M)]}
    frame = pandas.DataFrame(
        {"customer": ["c1", "c2"], "x": [1.5, float("nan")], "when": pandas.to_datetime(["2026-01-02", None])},
        index=["first", "second"],
    )
    scored = client.predict("m", frame, alias="staging", id_column="customer")
    # the schema read first (the alias, then its version), then the raw columns the model reads, the id left out
    assert [(r["method"], r["path"]) for r in received] == [
        ("GET", "/models/m"),
        ("GET", "/models/m/versions/3"),
        ("POST", "/models/m/predict?alias=staging"),
    ]
    assert json.loads(received[-1]["body"]) == {"inputs": {"x": [1.5, None], "when": ["2026-01-02T00:00:00", None]}}
    assert list(scored.index) == ["first", "second"]
    assert list(scored.columns) == [
        "customer",
        "prediction",
        "probability_a",
        "probability_b",
        "version",
        "inference_id",
    ]
    assert scored["customer"].tolist() == ["c1", "c2"]
    assert scored["probability_b"].tolist() == [0.2, 0.9] and scored["version"].tolist() == [3, 3]
    # another alias: its alias read once, the version's schema not again; text cells parsed by kind
    received.clear()
    columns = client.predict("m", {"x": ("1", 2), "when": ["2026-01-01", ""]})
    assert [(r["method"], r["path"]) for r in received] == [("GET", "/models/m"), ("POST", "/models/m/predict")]
    assert json.loads(received[-1]["body"]) == {"inputs": {"x": [1.0, 2], "when": ["2026-01-01", None]}}
    assert columns == {**columnar["outputs"], "version": [3, 3], "probabilities": {"b": [0.2, 0.9], "a": [0.8, 0.1]}}
    rows_answer = {"predictions": [{"prediction": "a", "version": 3, "inference_id": "r:0"}]}
    answer.update(body=json.dumps(rows_answer).encode())
    received.clear()
    answered = client.predict("m", [{"x": 1.0, "when": "2026-01-01", "customer": "c9"}], id_column="customer")
    assert answered == [{"customer": "c9", **rows_answer["predictions"][0]}]
    assert [r["method"] for r in received] == ["POST"]  # the schema cached for this alias
    assert json.loads(received[-1]["body"]) == {"instances": [{"x": 1.0, "when": "2026-01-01"}]}
    assert client.predict("m", [{"x": 1.0}], as_is=True) == rows_answer["predictions"]
    assert json.loads(received[-1]["body"]) == {"instances": [{"x": 1.0}]}
    with pytest.raises(InvalidInput, match=r"lacks the model's input column\(s\): when \(a date\)"):
        client.predict("m", {"x": [1]})


def test_predict_reads_the_schema_again_when_a_deployment_changed_it(answering):
    url, answer, received = answering
    client = Client(url, api_key="k")
    columnar = {"version": 4, "outputs": {"inference_id": ["r:0"], "prediction": ["a"]}}
    answer.update(status=200, body=json.dumps(columnar).encode())
    version_4 = {"schema": {"features": [{"name": "x", "kind": "numeric"}, {"name": "y", "kind": "numeric"}]}}
    answer["by_path"] = {
        "GET /models/m": [(200, MODEL_M), (200, {"aliases": {"production": {"version": 4}}})],
        "GET /models/m/versions/3": [(200, SCHEMA_M)],
        "GET /models/m/versions/4": [(200, version_4)],
        "POST /models/m/predict": [
            (200, columnar),
            (422, {"message": "'inputs' lacks feature(s) 'y'"}),
            (200, columnar),
        ],
    }
    data = {"x": [1], "when": ["2026-01-01"], "y": [2]}
    client.predict("m", data)  # version 3's schema read and cached: y left out
    assert json.loads(received[-1]["body"]) == {"inputs": {"x": [1], "when": ["2026-01-01"]}}
    received.clear()
    # Given version 4 deployed since, which also reads y: the cached schema's request is refused (422)
    assert client.predict("m", data)["prediction"] == ["a"]
    # Then the schema is read again and the request sent once more, with y
    assert [(r["method"], r["path"]) for r in received] == [
        ("POST", "/models/m/predict"),
        ("GET", "/models/m"),
        ("GET", "/models/m/versions/4"),
        ("POST", "/models/m/predict"),
    ]
    assert json.loads(received[-1]["body"]) == {"inputs": {"x": [1], "y": [2]}}


def test_a_train_without_the_required_fields_is_refused_before_any_request(answering):
    url, _, received = answering
    with pytest.raises(ConfigurationError, match="dataset_uri, target"):
        Client(url).train(model_name="m")
    assert received == []


def test_the_client_needs_one_api(monkeypatch):
    monkeypatch.delenv("MLOPS_URL", raising=False)
    monkeypatch.delenv("MLOPS_STACK", raising=False)
    with pytest.raises(ConfigurationError, match="no API"):
        Client()
    with pytest.raises(ConfigurationError, match="not both"):
        Client("http://127.0.0.1:1", stack="s")
    with pytest.raises(ConfigurationError, match="http"):
        Client("ftp://x")
    with pytest.raises(Unreachable, match="cannot reach"):
        Client("http://127.0.0.1:9").models()
    with pytest.raises(ConfigurationError, match="API key"):
        Client("http://127.0.0.1:9").predict("m", [{"x": 1}])


def test_shapes_of_data():
    assert shapes.shape_of([{"a": 1}]) == shapes.ROWS
    assert shapes.shape_of({"a": [1]}) == shapes.COLUMNS
    for wrong in ("abc", [1, 2], 3):
        with pytest.raises(TypeError):
            shapes.shape_of(wrong)
    assert shapes.column_values([1, float("nan"), None, "x"]) == [1, None, None, "x"]


def test_every_public_name_of_the_sdk_loads_on_first_use():
    import mlops_client  # noqa: PLC0415

    assert set(mlops_client._EXPORTS) == set(mlops_client.__all__)
    for name in mlops_client.__all__:
        assert getattr(mlops_client, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = mlops_client.Nothing
