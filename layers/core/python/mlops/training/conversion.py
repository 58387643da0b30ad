"""scikit-learn → ONNX, so the endpoint can serve with onnxruntime and without scikit-learn.

Each feature is its own ONNX input named ``f<i>`` (position in the schema): ONNX tensors have one type, the
features mix numbers and strings, and positional names survive any column name (spaces, unicode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.errors import MlopsError

TARGET_OPSET = 18


class ConversionUnsupported(MlopsError):
    """skl2onnx cannot convert this pipeline (e.g. a multiclass HistGradientBoosting); serve with scikit-learn."""


def onnx_input_name(position: int) -> str:
    return f"f{position}"


def convert(model: Any, schema: Schema) -> bytes:
    from skl2onnx import convert_sklearn  # noqa: PLC0415 - only the conversion step ships skl2onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: PLC0415

    inputs = [
        (onnx_input_name(i), FloatTensorType([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1]))
        for i, f in enumerate(schema.features)
    ]
    options = {id(model): {"zipmap": False}} if schema.task == "classification" else None
    try:
        onnx_model = convert_sklearn(model, initial_types=inputs, options=options, target_opset=TARGET_OPSET)
    except Exception as exc:  # skl2onnx raises many types (RuntimeError, ValueError, NotImplementedError, ...)
        raise ConversionUnsupported(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    return onnx_model.SerializeToString()


def reference_outputs(model: Any, features: np.ndarray, schema: Schema) -> dict[str, Any]:
    """scikit-learn's own outputs on the holdout: what the ONNX model must reproduce."""
    if schema.task == "classification":
        return {
            "labels": [str(v) for v in model.predict(features)],
            "probabilities": model.predict_proba(features).tolist(),
            "classes": [str(c) for c in model.classes_],
        }
    return {"predictions": model.predict(features).astype(float).tolist()}
