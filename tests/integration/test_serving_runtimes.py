"""Both serving runtimes, and the smoke test that keeps an unservable version out of production."""

from __future__ import annotations

import json
import sys

import pytest

from local.datasets import breast_cancer_csv
from local.stack import LocalStack
from local.training_runs import error_message, run_training
from mlops.registry.store import ModelRegistry
from mlops.training import conversion
from tests.conftest import upload

pytestmark = pytest.mark.integration
CANDIDATES = [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}]


def _unconvertible(*args, **kwargs):
    raise conversion.ConversionUnsupported("no converter for this pipeline")


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


def test_an_unconvertible_model_is_registered_but_not_deployed_under_onnx(stack, monkeypatch):
    monkeypatch.setattr(conversion, "convert", _unconvertible)
    result = _train(stack)

    assert (result.status, result.end_state, result.error) == ("FAILED", "SmokeTestFailed", "SmokeTestFailed")
    assert "cannot be served by onnxruntime" in error_message(result.cause)
    registry = ModelRegistry(stack.table)
    record = registry.get_version("bc", 1)
    assert record.status == "Registered"
    assert record.serving.onnx_uri is None
    assert "no converter" in record.serving.reason
    assert registry.get_alias("bc") is None  # production never pointed at it


def test_the_admin_api_refuses_to_deploy_an_unservable_version(stack, monkeypatch):
    from local.gateway import LocalGateway  # noqa: PLC0415

    monkeypatch.setattr(conversion, "convert", _unconvertible)
    _train(stack)
    gateway = LocalGateway(stack, port=0)
    status, _, body = gateway.dispatch(
        "POST", "/models/bc/deployments", {"content-type": "application/json"}, json.dumps({"version": 1}).encode()
    )
    document = json.loads(body)
    assert status == 409 and document["error"] == "SmokeTestFailed"
    assert ModelRegistry(stack.table).get_alias("bc") is None


def test_the_sklearn_runtime_serves_what_onnx_cannot(monkeypatch):
    monkeypatch.setattr(conversion, "convert", _unconvertible)
    with LocalStack(parameters={"ServingRuntime": "sklearn"}) as stack:
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        result = _train(stack)
        assert result.end_state == "Deployed", result.cause
        row = ModelRegistry(stack.table).get_version("bc", 1).input_example
        body = _predict(stack, row)
    assert body["runtime"] == "sklearn"
    assert body["version"] == 1
    assert set(body["predictions"][0]["probabilities"]) == {"0", "1"}


def test_the_serving_cache_refuses_bytes_that_do_not_match_the_registry(stack):
    from mlops.errors import ArtifactIntegrityError  # noqa: PLC0415
    from mlops.serving.cache import ModelCache  # noqa: PLC0415

    assert _train(stack).end_state == "Deployed"
    registry = ModelRegistry(stack.table)
    record = registry.get_version("bc", 1)
    onnx_key = record.serving.onnx_uri.split("/", 3)[3]
    stack.client("s3").put_object(Bucket=stack.bucket, Key=onnx_key, Body=b"not the registered model")

    cold = ModelCache(registry, "onnx", 30.0, stack.bucket)
    with pytest.raises(ArtifactIntegrityError, match="the registry recorded"):
        cold.choose("bc")
    # A warm instance keeps serving the bytes it verified at load; a new execution environment refuses
    assert _predict(stack, record.input_example)["version"] == 1
    sys.modules.pop("functions.predict.app")  # the next invocation starts cold
    body = _predict(stack, record.input_example)
    assert "the registry recorded" in body["message"]
