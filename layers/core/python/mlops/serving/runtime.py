"""Serving's models: a version predicted with onnxruntime or scikit-learn from the columns ``mlops.serving.validation``
built, and the parity check of an ONNX model against scikit-learn's outputs.

Imports neither scikit-learn nor scipy (the predict function ships onnxruntime and numpy only, for a small
package and a fast cold start); the scikit-learn fallback imports joblib when it is used.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.errors import MlopsError

# Classification parity. ONNX-ML computes in float32: scaled values land a few ulps away from scikit-learn's,
# so rows sitting on a tree split or a nearest-neighbour tie can flip (measured: up to 1% of rows, single-row
# probability differences up to 0.2 for 5-NN and 100-tree forests). The check accepts that and nothing more:
PARITY_MIN_LABEL_AGREEMENT = 0.98
PARITY_MEAN_PROBABILITY_DIFF = 0.01  # mean over rows and classes; the maximum is recorded, not gated
# Regression parity: mean absolute difference relative to the spread of scikit-learn's predictions.
PARITY_MAX_RELATIVE_MEAN_DIFF = 1e-3
PARITY_MIN_CLOSE_SHARE = 0.99


class ModelNotServable(MlopsError):
    """The version has no artifact this runtime can serve (e.g. no ONNX model under the onnx runtime)."""


@dataclass
class Predictions:
    labels: list[Any]  # class labels (str) or regression values (float)
    probabilities: list[list[float]] | None  # a row of class probabilities per row
    classes: list[str] | None
    probability_matrix: np.ndarray | None = None  # the same (rows, classes), as the runtime returned it

    def by_class(self) -> dict[str, list[float]] | None:
        """The probabilities as one list per class (a column per class, transposed in numpy rather than in Python)."""
        if self.probabilities is None or self.classes is None:
            return None
        matrix = self.probability_matrix if self.probability_matrix is not None else np.asarray(self.probabilities)
        return dict(zip(self.classes, matrix.T.tolist(), strict=True))


_ONNX_NUMERIC_DTYPES = {"tensor(double)": np.float64, "tensor(float)": np.float32}


class OnnxModel:
    """An ONNX model in one onnxruntime session, single-threaded (Lambda gives a fraction of a core)."""

    runtime = "onnx"

    def __init__(self, onnx_bytes: bytes, schema: Schema) -> None:
        import onnxruntime  # noqa: PLC0415 - heavy; imported at init by the predict function, not per request

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.schema = schema
        inputs = self.session.get_inputs()
        self.input_names = [i.name for i in inputs]
        # Numeric inputs are double where the model was converted in double precision, float otherwise;
        # strings stay objects. The model's own input types say which, so older float models keep working.
        self.input_dtypes = [_ONNX_NUMERIC_DTYPES.get(i.type) for i in inputs]
        self.precision = "double" if np.float64 in self.input_dtypes else "float"
        self.classes = schema.classes

    def predict(self, columns: list[np.ndarray]) -> Predictions:
        feeds = {
            name: column if dtype is None else column.astype(dtype, copy=False)
            for name, column, dtype in zip(self.input_names, columns, self.input_dtypes, strict=True)
        }
        outputs = self.session.run(None, feeds)
        if self.schema.task == "classification":
            labels = [str(v) for v in outputs[0].ravel().tolist()]
            return Predictions(labels, outputs[1].tolist(), self.classes, outputs[1])
        return Predictions(outputs[0].ravel().astype(float).tolist(), None, None)


class SklearnModel:
    """The fallback: the registered scikit-learn pipeline itself (needs the ML layer)."""

    runtime = "sklearn"

    def __init__(self, joblib_bytes: bytes, schema: Schema) -> None:
        import joblib  # noqa: PLC0415 - only the scikit-learn fallback needs it

        self.model = joblib.load(io.BytesIO(joblib_bytes))
        self.schema = schema
        self.classes = [str(c) for c in self.model.classes_] if schema.task == "classification" else None

    def predict(self, columns: list[np.ndarray]) -> Predictions:
        matrix = np.empty((columns[0].shape[0], len(columns)), dtype=object)
        for position, column in enumerate(columns):
            matrix[:, position] = column.ravel()
        if self.schema.task == "classification":
            return Predictions(
                [str(v) for v in self.model.predict(matrix)], self.model.predict_proba(matrix).tolist(), self.classes
            )
        return Predictions(self.model.predict(matrix).astype(float).tolist(), None, None)


def holdout_columns(features: np.ndarray, schema: Schema) -> list[np.ndarray]:
    """The serving representation of a holdout matrix (as validate_instances would build it)."""
    return [
        features[:, i].astype(np.float64).reshape(-1, 1)
        if f.kind == "numeric"
        else features[:, i].astype(object).reshape(-1, 1)
        for i, f in enumerate(schema.features)
    ]


def parity_report(model: OnnxModel, columns: list[np.ndarray], reference: dict[str, Any]) -> dict[str, Any]:
    """Compare the ONNX model's outputs with scikit-learn's on the same rows, against the stated tolerances."""
    predicted = model.predict(columns)
    rows = len(predicted.labels)
    if "labels" in reference:
        agreement = float(np.mean([a == b for a, b in zip(predicted.labels, reference["labels"], strict=True)]))
        differences = np.abs(np.asarray(predicted.probabilities) - np.asarray(reference["probabilities"]))
        report = {
            "rows": rows,
            "label_agreement": agreement,
            "max_probability_diff": float(differences.max()),
            "mean_probability_diff": float(differences.mean()),
            "tolerance": {
                "min_label_agreement": PARITY_MIN_LABEL_AGREEMENT,
                "mean_probability_diff": PARITY_MEAN_PROBABILITY_DIFF,
            },
        }
        report["passed"] = (
            agreement >= PARITY_MIN_LABEL_AGREEMENT and report["mean_probability_diff"] <= PARITY_MEAN_PROBABILITY_DIFF
        )
        return report
    expected = np.asarray(reference["predictions"], dtype=float)
    differences = np.abs(np.asarray(predicted.labels, dtype=float) - expected)
    scale = float(np.std(expected)) or 1.0
    close = differences <= 1e-4 * scale + 1e-6
    report = {
        "rows": rows,
        "max_abs_diff": float(differences.max()),
        "mean_abs_diff": float(differences.mean()),
        "relative_mean_diff": float(differences.mean() / scale),
        "close_share": float(close.mean()),
        "tolerance": {
            "max_relative_mean_diff": PARITY_MAX_RELATIVE_MEAN_DIFF,
            "min_close_share": PARITY_MIN_CLOSE_SHARE,
        },
    }
    report["passed"] = (
        report["relative_mean_diff"] <= PARITY_MAX_RELATIVE_MEAN_DIFF
        and report["close_share"] >= PARITY_MIN_CLOSE_SHARE
    )
    return report
