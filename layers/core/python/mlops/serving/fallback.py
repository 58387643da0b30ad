"""The scikit-learn fallback of the onnx endpoint: a version onnxruntime cannot serve within the parity tolerance
is served by the scikit-learn predict function, invoked synchronously with the rows already validated here.

The predict function (onnxruntime, no scikit-learn) stays the one entry point: one route, one API key, one place
that resolves the alias and its canary, one place that writes the capture. Only the model call crosses over:
the request's feature columns go out, the predictions come back, as from any other model of this package.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.errors import InvalidStepInput, MlopsError
from mlops.serving.runtime import ModelNotServable, Predictions
from mlops.storage import clients

FALLBACK_STEP = "serve_version"  # the scikit-learn function's ServeVersionEvent (mlops.records.events)
# Errors the scikit-learn function reports that mean "this version cannot be served", not "try again".
NOT_SERVABLE_ERRORS = ("ModelNotServable", "ArtifactIntegrityError", "LibraryVersionMismatch", "ModelNotFound")


class FallbackFailed(MlopsError):
    """The scikit-learn predict function failed for a reason other than the version itself (a 5xx)."""


def columns_to_json(columns: list[np.ndarray]) -> list[list[Any]]:
    """Validated (n, 1) columns as JSON lists: NaN (a missing number) becomes null, strings stay strings."""
    encoded = []
    for column in columns:
        values = column.ravel().tolist()
        if column.dtype.kind == "f":
            values = [None if math.isnan(v) else v for v in values]
        encoded.append(values)
    return encoded


def columns_from_json(encoded: list[list[Any]], schema: Schema) -> list[np.ndarray]:
    """The inverse of columns_to_json, typed by the schema (numbers float64 with NaN, categories objects)."""
    if len(encoded) != len(schema.features) or len({len(c) for c in encoded}) > 1:
        raise ValueError(f"expected {len(schema.features)} columns of equal length")
    return [
        np.array([math.nan if v is None else v for v in values], dtype=np.float64).reshape(-1, 1)
        if feature.kind == "numeric"
        else np.array(values, dtype=object).reshape(-1, 1)
        for feature, values in zip(schema.features, encoded, strict=True)
    ]


class SklearnFunctionModel:
    """A version served by the scikit-learn predict function, behind the same ``predict`` as a local model."""

    runtime = "sklearn"

    def __init__(self, function_name: str, model_name: str, version: int, schema: Schema, client: Any = None) -> None:
        self.function_name = function_name
        self.model_name = model_name
        self.version = version
        self.schema = schema
        self.classes = schema.classes
        self._client = client

    def predict(self, columns: list[np.ndarray]) -> Predictions:
        event = {
            "step": FALLBACK_STEP,
            "model_name": self.model_name,
            "version": self.version,
            "columns": columns_to_json(columns),
        }
        lambda_client = self._client or clients.client("lambda")
        response = lambda_client.invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
        document = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            error_type = document.get("errorType", "") if isinstance(document, dict) else ""
            message = document.get("errorMessage", "") if isinstance(document, dict) else str(document)
            if error_type in NOT_SERVABLE_ERRORS:
                raise ModelNotServable(f"the scikit-learn runtime cannot serve it: {message}")
            raise FallbackFailed(f"the scikit-learn predict function failed ({error_type or 'error'}): {message}")
        return Predictions(document["labels"], document.get("probabilities"), document.get("classes"))


def serve_version(cache: Any, model_name: str, version: int, encoded_columns: list[list[Any]]) -> dict[str, Any]:
    """The scikit-learn function's side: load the version (verified, version-checked) and predict the columns."""
    loaded = cache.load_version(model_name, version)
    try:
        columns = columns_from_json(encoded_columns, loaded.schema)
    except (ValueError, TypeError) as exc:  # not what the predict function sends: a caller's bug, named
        raise InvalidStepInput(f"the columns do not fit {model_name} v{version}'s schema: {exc}") from exc
    predicted = loaded.model.predict(columns)
    return {
        "runtime": loaded.model.runtime,
        "labels": predicted.labels,
        "probabilities": predicted.probabilities,
        "classes": predicted.classes,
    }
