"""Both serving runtimes, and the smoke test that keeps an unservable version out of production."""

from __future__ import annotations

import json
import sys

import pytest

from local.runs.datasets import breast_cancer_csv
from local.runs.training import error_message, run_training
from local.stack import LocalStack
from mlops.errors import LibraryVersionMismatch
from mlops.registry import documents
from mlops.training import conversion
from tests.conftest import upload

pytestmark = pytest.mark.integration
CANDIDATES = [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}]


def _unconvertible(*args, **kwargs):
    raise conversion.ConversionUnsupported("no converter for this pipeline")


def _sklearn_runtime_refuses(*args, **kwargs):
    raise LibraryVersionMismatch("bc v1 was trained with scikit-learn 0.0; this runtime has another")


def _neither_runtime_can_serve(monkeypatch) -> None:
    """No ONNX model, and the scikit-learn function refuses the version (as after an ML layer upgrade)."""
    import functions.predict_sklearn.app as sklearn_app  # noqa: PLC0415

    monkeypatch.setattr(conversion, "convert_with_precision", _unconvertible)
    monkeypatch.setattr(sklearn_app, "serve_version", _sklearn_runtime_refuses)


def _train(stack, name: str = "bc"):
    uri = upload(stack, "datasets/bc.csv", breast_cancer_csv())
    return run_training(stack, {"model_name": name, "dataset_uri": uri, "target": "target", "candidates": CANDIDATES})


def _predict(stack, row: dict) -> dict:
    event = {
        "pathParameters": {"name": "bc"},
        "body": json.dumps({"instances": [row]}),
        "requestContext": {"requestId": "t"},
    }
    response = stack.client("lambda").invoke(
        FunctionName=stack.function_names["PredictFunction"], Payload=json.dumps(event).encode()
    )
    return json.loads(json.loads(response["Payload"].read())["body"])


def test_an_unconvertible_model_is_served_by_scikit_learn_under_onnx(stack, monkeypatch):
    monkeypatch.setattr(conversion, "convert_with_precision", _unconvertible)
    result = _train(stack)

    assert result.end_state == "Deployed", result.cause
    record = stack.registry().get_version("bc", 1)
    assert (record.serving.runtime, record.serving.onnx_uri) == ("sklearn", None)
    assert "no converter" in record.serving.reason
    body = _predict(stack, documents.input_example_of(record))
    assert (body["runtime"], body["version"]) == ("sklearn", 1)
    assert set(body["predictions"][0]["probabilities"]) == {"0", "1"}


def test_a_version_neither_runtime_can_serve_is_registered_but_not_deployed(stack, monkeypatch):
    _neither_runtime_can_serve(monkeypatch)
    result = _train(stack)

    assert (result.status, result.end_state, result.error) == ("FAILED", "SmokeTestFailed", "SmokeTestFailed")
    assert "the scikit-learn runtime cannot serve it" in error_message(result.cause)
    assert "trained with scikit-learn 0.0" in error_message(result.cause)
    registry = stack.registry()
    record = registry.get_version("bc", 1)
    assert record.status == "Registered"
    assert record.serving.runtime == "sklearn"
    assert registry.get_alias("bc") is None  # production never pointed at it


def test_the_admin_api_refuses_to_deploy_an_unservable_version(stack, monkeypatch):
    from local.gateway import LocalGateway  # noqa: PLC0415

    _neither_runtime_can_serve(monkeypatch)
    _train(stack)
    gateway = LocalGateway(stack, port=0)
    status, _, body = gateway.dispatch(
        "POST", "/models/bc/deployments", {"content-type": "application/json"}, json.dumps({"version": 1}).encode()
    )
    document = json.loads(body)
    assert status == 409 and document["error"] == "SmokeTestFailed"
    assert stack.registry().get_alias("bc") is None


def test_the_sklearn_runtime_serves_what_onnx_cannot(monkeypatch):
    monkeypatch.setattr(conversion, "convert_with_precision", _unconvertible)
    with LocalStack(parameters={"ServingRuntime": "sklearn"}) as stack:
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        result = _train(stack)
        assert result.end_state == "Deployed", result.cause
        row = documents.input_example_of(stack.registry().get_version("bc", 1))
        body = _predict(stack, row)
    assert body["runtime"] == "sklearn"
    assert body["version"] == 1
    assert set(body["predictions"][0]["probabilities"]) == {"0", "1"}


def test_the_serving_cache_refuses_bytes_that_do_not_match_the_registry(stack):
    from mlops.errors import ArtifactIntegrityError  # noqa: PLC0415
    from mlops.serving.cache import ModelCache  # noqa: PLC0415

    assert _train(stack).end_state == "Deployed"
    registry = stack.registry()
    record = registry.get_version("bc", 1)
    onnx_key = record.serving.onnx_uri.split("/", 3)[3]
    stack.client("s3").put_object(Bucket=stack.bucket, Key=onnx_key, Body=b"not the registered model")

    cold = ModelCache(registry, "onnx", 30.0, stack.bucket)
    with pytest.raises(ArtifactIntegrityError, match="the registry recorded"):
        cold.choose("bc")
    # A warm instance keeps serving the bytes it verified at load; a new execution environment refuses
    assert _predict(stack, documents.input_example_of(record))["version"] == 1
    sys.modules.pop("functions.predict.app")  # the next invocation starts cold
    body = _predict(stack, documents.input_example_of(record))
    assert "the registry recorded" in body["message"]
