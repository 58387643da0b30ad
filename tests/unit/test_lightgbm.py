"""LightGBM: a caller's fitted LGBM estimator through the skops allow-list, and the built-in `lightgbm` candidate
(bounded, its threads set by the platform, converted to ONNX with the parity check)."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
import skops.io
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops.errors import InvalidTrainingRequest, UntrustedModelType
from mlops.records.schema import Feature, Schema
from mlops.serving.runtime import OnnxModel, holdout_columns, parity_report
from mlops.storage.objects import sha256_hex
from mlops.training import conversion, estimators, external, model_types, search


def numbers(rows: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 4))
    labels = np.where(features[:, 0] - features[:, 1] + rng.normal(0, 0.3, rows) > 0, "late", "on time")
    amounts = 1_000 * features[:, 0] + 50 * features[:, 2] ** 2 + rng.normal(0, 10, rows)
    return features, labels, amounts


def small(estimator: type) -> lightgbm.LGBMModel:
    return estimator(n_estimators=30, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)


@pytest.mark.parametrize("as_pipeline", [False, True])
def test_a_fitted_lightgbm_classifier_or_regressor_loads_and_predicts_as_fitted(as_pipeline: bool):
    features, labels, amounts = numbers()
    for model, target in ((small(lightgbm.LGBMClassifier), labels), (small(lightgbm.LGBMRegressor), amounts)):
        fitted = (Pipeline([("scale", StandardScaler()), ("model", model)]) if as_pipeline else model).fit(
            features, target
        )
        payload = skops.io.dumps(fitted)

        loaded = external.load(payload, sha256_hex(payload))

        assert loaded.predict(features).tolist() == fitted.predict(features).tolist()


def test_the_lightgbm_types_allowed_are_exactly_what_its_two_estimators_hold():
    features, labels, amounts = numbers()
    named = set()
    for model, target in ((small(lightgbm.LGBMClassifier), labels), (small(lightgbm.LGBMRegressor), amounts)):
        named |= model_types.artifact_types(skops.io.dumps(model.fit(features, target)))
    # nothing broader than what the two estimators need: every LightGBM-added type is one they hold
    assert named - model_types.ALLOWED_TYPES == set()
    assert named >= model_types.LIGHTGBM_TYPES


def test_other_lightgbm_types_are_refused_with_the_type_named():
    features, _, amounts = numbers()
    relevance = (amounts > 0).astype(int)
    ranker = lightgbm.LGBMRanker(n_estimators=5, n_jobs=1, verbose=-1).fit(features, relevance, group=[400])
    payload = skops.io.dumps(ranker)

    with pytest.raises(UntrustedModelType, match=r"lightgbm\.sklearn\.LGBMRanker"):
        external.load(payload, sha256_hex(payload))


def schema_for(task: str, classes: list[str] | None = None) -> Schema:
    features = [Feature("distance", "numeric"), Feature("load", "numeric"), Feature("carrier", "categorical")]
    return Schema(features, "y", task, classes)


def mixed_rows(rows: int = 600) -> np.ndarray:
    rng = np.random.default_rng(11)
    table = np.empty((rows, 3), dtype=object)
    table[:, 0] = rng.normal(size=rows)
    table[:, 1] = rng.normal(5e4, 1e3, rows)
    table[:, 2] = rng.choice(["north", "south", "west"], rows)
    return table


def test_a_request_cannot_set_lightgbms_threads_or_pass_its_ceilings():
    with pytest.raises(InvalidTrainingRequest, match="n_jobs"):
        estimators.check_candidate("classification", "lightgbm", {"n_jobs": 64})
    with pytest.raises(InvalidTrainingRequest, match="n_estimators is 100000; at most 2000"):
        estimators.check_candidate("regression", "lightgbm", {"n_estimators": 100_000})
    for name, ceiling in estimators.PARAM_CEILINGS["lightgbm"].items():  # the default search stays inside them
        assert search.DEFAULT_SPACES["lightgbm"]["params"][name]["high"] <= ceiling


@pytest.mark.parametrize(
    ("task", "classes"), [("classification", ["no", "yes"]), ("classification", ["a", "b", "c"]), ("regression", None)]
)
def test_the_lightgbm_candidate_fits_on_the_platforms_threads_and_converts_with_parity(task, classes):
    table = mixed_rows()
    score = table[:, 0].astype(float) + (table[:, 2] == "north")
    if task == "regression":
        target = 3 * table[:, 1].astype(float) + 100 * score
    elif len(classes) == 2:
        target = np.where(score > 0.3, "yes", "no")
    else:
        target = np.array(classes, dtype=object)[np.digitize(score, [-0.3, 0.7])]
    schema = schema_for(task, classes)

    params = {"n_estimators": 80}
    pipeline, _ = estimators.fit_candidate(schema, "lightgbm", params, seed=5, features=table, target=target)

    assert pipeline.named_steps["model"].get_params()["n_jobs"] == estimators.FIT_THREADS
    onnx_bytes, precision, why_float = conversion.convert_with_precision(pipeline, schema)
    assert precision == "float" and "TreeEnsemble" in why_float  # ai.onnx.ml trees run in float32 in onnxruntime
    reference = conversion.reference_outputs(pipeline, table, schema)
    report = parity_report(OnnxModel(onnx_bytes, schema), holdout_columns(table, schema), reference)
    assert report["passed"], report


def test_a_lightgbm_classifier_fitted_on_numeric_labels_answers_the_datasets_text_labels():
    features, labels, _ = numbers()
    numeric = np.where(labels == "late", 1, 0)
    fitted = Pipeline([("scale", StandardScaler()), ("model", small(lightgbm.LGBMClassifier))]).fit(features, numeric)
    schema = Schema([Feature(f"x{i}", "numeric") for i in range(4)], "late", "classification", ["0", "1"])

    aligned = external.align_labels(fitted, schema)

    assert aligned.classes_.tolist() == ["0", "1"]
    assert aligned.predict(features).tolist() == [str(v) for v in numeric_predictions(features, numeric)]


def numeric_predictions(features: np.ndarray, numeric: np.ndarray) -> list[int]:
    model = Pipeline([("scale", StandardScaler()), ("model", small(lightgbm.LGBMClassifier))]).fit(features, numeric)
    return model.predict(features).tolist()
