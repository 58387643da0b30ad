"""scikit-learn → ONNX, so the endpoint can serve with onnxruntime and without scikit-learn.

Double precision (float64 inputs and arithmetic) where onnxruntime runs every operator of the graph in double,
so regressors with targets in the tens of thousands match scikit-learn exactly; float32 otherwise.

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


# ai.onnx.ml operators seen running on double tensors here (onnx 1.23, onnxruntime 1.31; see README "Which runtime
# serves a version"). Tried and refused in double: Imputer (no double kernel) and TreeEnsembleRegressor (float
# output only). Any other ai.onnx.ml operator (TreeEnsembleClassifier, Scaler, ...) is not trusted in double and
# the model is converted in float32 instead. TreeEnsemble (ai.onnx.ml opset 5) runs in double; skl2onnx 1.20 does
# not emit it, so tree_ensembles.py converts tree regressors to it.
DOUBLE_ML_OPERATORS = frozenset({"OneHotEncoder", "ArrayFeatureExtractor", "LabelEncoder", "ZipMap", "TreeEnsemble"})


def _double_imputer_shape(operator: Any) -> None:
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes  # noqa: PLC0415

    calculate_sklearn_imputer_output_shapes(operator)


def _double_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer on numbers as IsNaN + Where (standard ONNX, any float type): onnxruntime's ai.onnx.ml
    Imputer has no double kernel. Strings and non-NaN markers keep skl2onnx's own converter."""
    from skl2onnx.common.data_types import DoubleTensorType  # noqa: PLC0415
    from skl2onnx.operator_converters.common import concatenate_variables  # noqa: PLC0415
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer  # noqa: PLC0415
    from skl2onnx.proto import onnx_proto  # noqa: PLC0415

    imputer = operator.raw_operator
    missing = imputer.missing_values
    if not isinstance(operator.inputs[0].type, DoubleTensorType) or not (
        isinstance(missing, float) and np.isnan(missing)
    ):
        convert_sklearn_imputer(scope, operator, container)
        return
    features = concatenate_variables(scope, operator.inputs, container)
    statistics = scope.get_unique_variable_name("imputer_statistics")
    container.add_initializer(
        statistics,
        onnx_proto.TensorProto.DOUBLE,
        [1, len(imputer.statistics_)],
        np.asarray(imputer.statistics_, dtype=np.float64).ravel().tolist(),
    )
    is_missing = scope.get_unique_variable_name("is_missing")
    container.add_node("IsNaN", [features], [is_missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where",
        [is_missing, statistics, features],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Where"),
    )


def _convert(model: Any, schema: Schema, numeric_type: Any, target_opset: Any, extra: dict[str, Any]) -> Any:
    from skl2onnx import convert_sklearn  # noqa: PLC0415 - only the conversion step ships skl2onnx
    from skl2onnx.common.data_types import StringTensorType  # noqa: PLC0415

    inputs = [
        (onnx_input_name(i), numeric_type([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1]))
        for i, f in enumerate(schema.features)
    ]
    options = {id(model): {"zipmap": False}} if schema.task == "classification" else None
    # a fixed graph name (skl2onnx's default is a random uuid): the same model converts to the same bytes, so a
    # retried or replayed step finds the digest the registry and events/ recorded
    name = f"mlops-{type(model).__name__}"
    return convert_sklearn(model, name=name, initial_types=inputs, options=options, target_opset=target_opset, **extra)


def _float_only_operators(onnx_model: Any) -> set[str]:
    return {
        node.op_type
        for node in onnx_model.graph.node
        if node.domain == "ai.onnx.ml" and node.op_type not in DOUBLE_ML_OPERATORS
    }


def convert_with_precision(model: Any, schema: Schema) -> tuple[bytes, str, str]:
    """The ONNX model in double precision where every operator of its graph runs in double in onnxruntime,
    else in float32. Returns (model bytes, "double" | "float", why float when it is)."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType  # noqa: PLC0415
    from sklearn.impute import SimpleImputer  # noqa: PLC0415

    from mlops.training import tree_ensembles  # noqa: PLC0415

    why_float = ""
    try:
        double_model = _convert(
            model,
            schema,
            DoubleTensorType,
            {"": TARGET_OPSET, "ai.onnx.ml": tree_ensembles.SKL2ONNX_MAX_ML_OPSET},
            {
                "custom_conversion_functions": {
                    SimpleImputer: _double_imputer,
                    **tree_ensembles.tree_regressor_converters(),
                },
                "custom_shape_calculators": {SimpleImputer: _double_imputer_shape},
            },
        )
        tree_ensembles.raise_ml_opset(double_model)
        float_only = _float_only_operators(double_model)
        if not float_only:
            return double_model.SerializeToString(), "double", ""
        why_float = f"{', '.join(sorted(float_only))} not seen running in double in onnxruntime"
    except Exception as exc:  # skl2onnx raises many types; the float conversion below decides convertibility
        why_float = f"double conversion failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    try:
        float_model = _convert(model, schema, FloatTensorType, TARGET_OPSET, {})
    except Exception as exc:  # skl2onnx raises many types (RuntimeError, ValueError, NotImplementedError, ...)
        raise ConversionUnsupported(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    return float_model.SerializeToString(), "float", why_float


def convert(model: Any, schema: Schema) -> bytes:
    return convert_with_precision(model, schema)[0]


def reference_outputs(model: Any, features: np.ndarray, schema: Schema) -> dict[str, Any]:
    """scikit-learn's own outputs on the holdout: what the ONNX model must reproduce."""
    if schema.task == "classification":
        return {
            "labels": [str(v) for v in model.predict(features)],
            "probabilities": model.predict_proba(features).tolist(),
            "classes": [str(c) for c in model.classes_],
        }
    return {"predictions": model.predict(features).astype(float).tolist()}
