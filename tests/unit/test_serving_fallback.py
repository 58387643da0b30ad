"""The per-version runtime choice and the hand-over to the scikit-learn predict function, without AWS."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from mlops.data.dataset import Feature, Schema
from mlops.records.registry import Serving, VersionRecord
from mlops.records.steps import Conversion, NoConversion, ParityReport
from mlops.serving.cache import ModelCache
from mlops.serving.fallback import FallbackFailed, SklearnFunctionModel, columns_from_json, columns_to_json
from mlops.serving.runtime import ModelNotServable
from mlops.serving.validation import validate_instances
from mlops.training.conversion import serving_record
from tests.factories import version_content

SCHEMA = Schema([Feature("carat", "numeric"), Feature("cut", "categorical")], "price", "regression")


class FakeLambda:
    def __init__(self, document: dict, function_error: str | None = None) -> None:
        self.document = document
        self.function_error = function_error
        self.calls: list[dict] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict:  # noqa: N803 - boto3's argument names
        self.calls.append({"function": FunctionName, "event": json.loads(Payload)})
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.document).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


class FakeRegistry:
    def __init__(self, record: dict) -> None:
        self.record = record

    def get_version(self, model_name: str, version: int) -> VersionRecord:
        identity = {"run_id": "r", "created_at": "2026-01-01T00:00:00Z", "created_by": "tests"}
        content = version_content(**{k: v for k, v in self.record.items() if k != "status"}).model_dump(by_alias=True)
        return VersionRecord(
            **content, **identity, model_name=model_name, version=version, status=self.record["status"]
        )


def _record(serving: dict) -> dict:
    return {
        "status": "Registered",
        "schema": SCHEMA.to_dict(),
        "artifact_uri": "s3://bucket/models/m/abc.joblib",
        "artifact_sha256": "a" * 64,
        "input_example": {"carat": 1.0, "cut": "Ideal"},
        "serving": serving,
    }


def test_columns_cross_the_hand_over_unchanged_with_missing_values():
    columns = validate_instances([{"carat": None, "cut": None}, {"carat": 1.25, "cut": "Ideal"}], SCHEMA)

    encoded = json.loads(json.dumps(columns_to_json(columns), allow_nan=False))  # strict JSON: no NaN
    decoded = columns_from_json(encoded, SCHEMA)

    assert encoded[0] == [None, 1.25]
    assert math.isnan(decoded[0][0, 0]) and decoded[0][1, 0] == 1.25
    assert decoded[1].ravel().tolist() == columns[1].ravel().tolist()
    assert [c.dtype for c in decoded] == [np.float64, object]


def test_the_function_model_sends_the_version_and_reads_its_predictions():
    client = FakeLambda({"runtime": "sklearn", "labels": [12345.5], "probabilities": None, "classes": None})
    model = SklearnFunctionModel("predict-sklearn", "m", 3, SCHEMA, client=client)

    predicted = model.predict(validate_instances([{"carat": 1.0, "cut": "Good"}], SCHEMA))

    assert predicted.labels == [12345.5]
    assert client.calls == [
        {
            "function": "predict-sklearn",
            "event": {"step": "serve_version", "model_name": "m", "version": 3, "columns": [[1.0], ["Good"]]},
        }
    ]


@pytest.mark.parametrize(
    ("error_type", "raised"),
    [
        ("LibraryVersionMismatch", ModelNotServable),
        ("ArtifactIntegrityError", ModelNotServable),
        ("Sandbox.Timedout", FallbackFailed),
    ],
)
def test_the_function_models_errors_say_whether_the_version_is_servable(error_type, raised):
    client = FakeLambda({"errorType": error_type, "errorMessage": "boom"}, function_error="Unhandled")
    model = SklearnFunctionModel("predict-sklearn", "m", 1, SCHEMA, client=client)

    with pytest.raises(raised, match="boom"):
        model.predict(validate_instances([{"carat": 1.0, "cut": "Good"}], SCHEMA))


def test_an_onnx_endpoint_hands_a_sklearn_version_to_the_function_and_loads_nothing():
    registry = FakeRegistry(_record({"runtime": "sklearn", "onnx_uri": None, "reason": "no converter"}))
    cache = ModelCache(registry, "onnx", 30.0, "bucket", sklearn_function="predict-sklearn")

    loaded = cache.load_version("m", 2)

    assert isinstance(loaded.model, SklearnFunctionModel)
    assert (loaded.model.function_name, loaded.model.version, loaded.model.runtime) == ("predict-sklearn", 2, "sklearn")
    assert cache.loads == 0


def test_without_a_function_a_sklearn_version_is_not_servable_and_the_reason_is_given():
    registry = FakeRegistry(_record({"runtime": "sklearn", "onnx_uri": None, "reason": "no converter"}))
    cache = ModelCache(registry, "onnx", 30.0, "bucket")

    with pytest.raises(ModelNotServable, match="no converter; this endpoint has no scikit-learn function"):
        cache.load_version("m", 1)


def test_records_without_a_runtime_are_read_by_their_onnx_model():
    assert Serving(onnx_uri="s3://b/k.onnx").served_by == "onnx"
    assert Serving(onnx_uri=None, reason="x").served_by == "sklearn"
    assert Serving(runtime="sklearn", onnx_uri="s3://b/k.onnx").served_by == "sklearn"


def test_the_serving_record_says_which_runtime_and_why():
    not_converted = serving_record("m", NoConversion(reason="skl2onnx could not convert x"), ParityReport(), None)
    assert (not_converted.runtime, not_converted.reason) == ("sklearn", "skl2onnx could not convert x")

    parity = ParityReport(
        passed=False,
        relative_mean_diff=0.05,
        close_share=0.1,
        max_abs_diff=2500.0,
        tolerance={"max_relative_mean_diff": 1e-3, "min_close_share": 0.99},
    )
    converted = Conversion(
        converted=True,
        onnx_uri="s3://bucket/runs/r/model.onnx",
        onnx_sha256="0" * 64,
        onnx_size_bytes=1,
        precision="float",
        reference_uri="s3://bucket/runs/r/onnx_reference.json",
        test_uri="s3://bucket/runs/r/data/test.csv",
    )
    failed = serving_record("m", converted, parity, None)
    assert failed.runtime == "sklearn"
    assert failed.reason == (
        "the ONNX model (float precision) failed the parity check: mean difference 0.05 of the predictions' spread "
        "(at most 0.001), 10.00% of rows close (at least 99%), largest difference 2500.0"
    )


def test_the_sklearn_side_names_columns_that_do_not_fit_the_schema():
    from mlops.errors import InvalidStepInput  # noqa: PLC0415
    from mlops.serving.fallback import serve_version  # noqa: PLC0415

    class Cache:
        def load_version(self, model_name, version):
            return type("Loaded", (), {"schema": SCHEMA})()

    with pytest.raises(InvalidStepInput, match="do not fit m v1's schema"):
        serve_version(Cache(), "m", 1, [["not a number"], ["Good"]])
    with pytest.raises(InvalidStepInput, match="expected 2 columns"):
        serve_version(Cache(), "m", 1, [[1.0]])
