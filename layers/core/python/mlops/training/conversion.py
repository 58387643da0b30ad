"""scikit-learn → ONNX, so the endpoint can serve with onnxruntime and without scikit-learn; the Convert step that
stores the converted winner, and the runtime a version is served by once the parity check has run.

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
from mlops.records.lineage import CONVERSION_LIBRARIES, library_versions, run_id_of
from mlops.records.registry import Serving
from mlops.records.steps import (
    Conversion,
    ConversionResult,
    EvaluationResult,
    NoConversion,
    ParityReport,
    PreparedDataset,
)
from mlops.settings import Settings
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri
from mlops.training.run_files import load_matrices, load_schema

TARGET_OPSET = 18
TEXT_LOCALE = "C.UTF-8"


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


def register_lightgbm_converters() -> None:
    """LightGBM's scikit-learn estimators in skl2onnx's registry, with onnxmltools' converter (the registration
    skl2onnx documents for LightGBM in a Pipeline): the whole pipeline converts as one graph. Idempotent."""
    from lightgbm import LGBMClassifier, LGBMRegressor  # noqa: PLC0415
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm  # noqa: PLC0415
    from skl2onnx import update_registered_converter  # noqa: PLC0415
    from skl2onnx.common.shape_calculator import (  # noqa: PLC0415
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        LGBMRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
        options={"split": None},
    )


def _convert(model: Any, schema: Schema, numeric_type: Any, target_opset: Any, extra: dict[str, Any]) -> Any:
    from skl2onnx import convert_sklearn  # noqa: PLC0415 - only the conversion step ships skl2onnx
    from skl2onnx.common.data_types import StringTensorType  # noqa: PLC0415

    register_lightgbm_converters()

    inputs = [
        (onnx_input_name(i), numeric_type([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1]))
        for i, f in enumerate(schema.features)
    ]
    options: dict[Any, dict[str, Any]] = {id(model): {"zipmap": False}} if schema.task == "classification" else {}
    options.update(text_options(model))
    # a fixed graph name (skl2onnx's default is a random uuid): the same model converts to the same bytes, so a
    # retried or replayed step finds the digest the registry and events/ recorded
    name = f"mlops-{type(model).__name__}"
    return convert_sklearn(
        model, name=name, initial_types=inputs, options=options or None, target_opset=target_opset, **extra
    )


def text_options(model: Any) -> dict[int, dict[str, Any]]:
    """Per text vectoriser of the pipeline: tokenise with its own token pattern (``tokenexp=""``: written to be read
    alike by Python's re and onnxruntime's re2) rather than skl2onnx's separators, and lower-case in the C.UTF-8
    locale, the one a minimal system has (skl2onnx's default, en_US.UTF-8, is missing on many: onnxruntime then
    refuses the model)."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415

    preprocess = getattr(model, "named_steps", {}).get("preprocess")
    transformers = getattr(preprocess, "transformers_", [])
    return {
        id(step): {"tokenexp": "", "locale": TEXT_LOCALE}
        for _, step, _ in transformers
        if isinstance(step, TfidfVectorizer)
    }


def _float_opset(model: Any) -> Any:
    """onnxmltools' LightGBM converter writes ai.onnx.ml opset 3 nodes and refuses a main opset that implies a newer
    ai.onnx.ml ("version 5 of domain 'ai.onnx.ml' not supported yet"): a LightGBM model names both opsets."""
    from mlops.training.tree_ensembles import SKL2ONNX_MAX_ML_OPSET  # noqa: PLC0415

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if type(final).__module__.startswith("lightgbm."):
        return {"": TARGET_OPSET, "ai.onnx.ml": SKL2ONNX_MAX_ML_OPSET}
    return TARGET_OPSET


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
        float_model = _convert(model, schema, FloatTensorType, _float_opset(model), {})
    except Exception as exc:  # skl2onnx raises many types (RuntimeError, ValueError, NotImplementedError, ...)
        raise ConversionUnsupported(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    return float_model.SerializeToString(), "float", why_float


def reference_outputs(model: Any, features: np.ndarray, schema: Schema) -> dict[str, Any]:
    """scikit-learn's own outputs on the holdout: what the ONNX model must reproduce."""
    if schema.task == "classification":
        return {
            "labels": [str(v) for v in model.predict(features)],
            "probabilities": model.predict_proba(features).tolist(),
            "classes": [str(c) for c in model.classes_],
        }
    return {"predictions": model.predict(features).astype(float).tolist()}


# ---- the Convert step ---------------------------------------------------------------------------------------------
def convert(
    prepared: PreparedDataset, evaluation_result: EvaluationResult, *, execution_arn: str, settings: Settings
) -> ConversionResult:
    """Convert the winner to ONNX and store scikit-learn's holdout outputs for the parity check.

    A pipeline skl2onnx cannot convert is not an error: it is recorded, and the version can still be served
    by the scikit-learn runtime.
    """
    schema = load_schema(prepared.schema_ref)
    winner = evaluation_result.winner
    model = objects.load_model(
        S3Uri.parse(winner.artifact_uri), winner.artifact_sha256, library_versions()["scikit-learn"]
    )
    try:
        onnx_bytes, precision, why_float = convert_with_precision(model, schema)
    except ConversionUnsupported as exc:
        return NoConversion(reason=f"skl2onnx could not convert {winner.estimator}: {exc}")
    bucket, run_id = settings.artifacts_bucket, run_id_of(execution_arn)
    onnx_uri = layout.run_onnx_model(bucket, run_id)
    onnx_sha256 = objects.put_bytes(onnx_uri, onnx_bytes)
    test_x, _ = load_matrices(prepared, "test")
    reference_uri = layout.run_onnx_reference(bucket, run_id)
    objects.put_json(reference_uri, reference_outputs(model, test_x, schema))
    return Conversion(
        converted=True,
        onnx_uri=str(onnx_uri),
        onnx_sha256=onnx_sha256,
        onnx_size_bytes=len(onnx_bytes),
        precision=precision,
        float_reason=why_float,
        reference_uri=str(reference_uri),
        test_uri=prepared.splits.test,
        reason="",
        libraries=library_versions(CONVERSION_LIBRARIES),
    )


# ---- after the parity check: the runtime that serves the version --------------------------------------------------
def serving_record(
    model_name: str, conversion_result: ConversionResult, parity: ParityReport, settings: Settings
) -> Serving:
    """Which runtime serves the version, and why: onnx only if the ONNX model converted and passed the parity
    check (then copied to its content-addressed key); otherwise sklearn (the onnx endpoint hands such a version to
    the scikit-learn predict function)."""
    if not isinstance(conversion_result, Conversion):
        return Serving(runtime="sklearn", reason=conversion_result.reason or "not converted")
    precision = conversion_result.precision
    if not parity.passed:
        reason = parity.error or _parity_shortfall(parity)
        return Serving(
            runtime="sklearn",
            precision=precision,
            reason=f"the ONNX model ({precision} precision) failed the parity check: {reason}",
            parity=parity.as_stored(),
        )
    digest = conversion_result.onnx_sha256
    onnx_uri = layout.model_artifact(settings.artifacts_bucket, model_name, digest, "onnx")
    objects.put_write_once(onnx_uri, objects.get_bytes(S3Uri.parse(conversion_result.onnx_uri)), digest)
    why_float = conversion_result.float_reason
    return Serving(
        runtime="onnx",
        onnx_uri=str(onnx_uri),
        onnx_sha256=digest,
        precision=precision,
        reason=f"the ONNX model ({precision} precision) passed the parity check"
        + (f"; float32 because {why_float}" if why_float else ""),
        parity=parity.as_stored(),
        libraries={**conversion_result.libraries, **parity.libraries},
    )


def _parity_shortfall(parity: ParityReport) -> str:
    """The measured differences against the tolerances, in words."""
    tolerance = parity.tolerance
    if parity.relative_mean_diff is not None:
        return (
            f"mean difference {parity.relative_mean_diff:.3g} of the predictions' spread (at most "
            f"{tolerance.get('max_relative_mean_diff')}), {parity.close_share or 0:.2%} of rows close (at "
            f"least {tolerance.get('min_close_share') or 0:.0%}), largest difference {parity.max_abs_diff}"
        )
    if parity.label_agreement is not None:
        return (
            f"labels agree on {parity.label_agreement:.2%} of rows (at least "
            f"{tolerance.get('min_label_agreement') or 0:.0%}), mean probability difference "
            f"{parity.mean_probability_diff or 0:.3g} (at most {tolerance.get('mean_probability_diff')})"
        )
    return "its outputs differ from scikit-learn's beyond the tolerance"
