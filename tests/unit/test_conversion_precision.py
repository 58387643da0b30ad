"""Double-precision ONNX where onnxruntime runs it, float32 otherwise, and exact tree regressors (TreeEnsemble)."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.data.dataset import Feature, Schema
from mlops.serving.runtime import OnnxModel, holdout_columns, parity_report
from mlops.training import conversion, estimators

FEATURES = [Feature("carat", "numeric"), Feature("depth", "numeric"), Feature("cut", "categorical")]
REGRESSION = Schema(FEATURES, "price", "regression")
CLASSIFICATION = Schema(FEATURES, "band", "classification", classes=["high", "low"])


def _table(rows: int = 600, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.2, 3.0, rows).round(2)  # repeated values: many rows sit next to a split
    depth = rng.normal(61.7, 1.4, rows)
    depth[::9] = np.nan
    cut = rng.choice(["Fair", "Good", "Ideal"], rows)
    price = 3000 + 11000 * carat + 2000 * (cut == "Ideal") + rng.normal(0, 400, rows)
    features = np.empty((rows, 3), dtype=object)
    features[:, 0], features[:, 1], features[:, 2] = carat, depth, cut
    return features, price


def _served(schema: Schema, estimator: str, params: dict, target: np.ndarray, features: np.ndarray):
    model, _ = estimators.fit_candidate(schema, estimator, params, seed=0, features=features, target=target)
    onnx_bytes, precision, why_float = conversion.convert_with_precision(model, schema)
    onnx_model = OnnxModel(onnx_bytes, schema)
    holdout = features.copy()
    holdout[:5, 2] = "Astor"  # a category never seen in training
    report = parity_report(
        onnx_model, holdout_columns(holdout, schema), conversion.reference_outputs(model, holdout, schema)
    )
    return onnx_model, precision, why_float, report


@pytest.mark.parametrize(
    ("estimator", "params", "max_abs_diff"),
    [
        ("random_forest", {"n_estimators": 20, "min_samples_leaf": 2}, 0.0),
        ("extra_trees", {"n_estimators": 10}, 0.0),
        ("decision_tree", {}, 0.0),
        ("ridge", {"alpha": 1.0}, 1e-9),
    ],
)
def test_regressors_convert_in_double_precision_and_match_scikit_learn(estimator, params, max_abs_diff):
    features, price = _table()

    onnx_model, precision, why_float, report = _served(REGRESSION, estimator, params, price, features)

    assert (precision, why_float, onnx_model.precision) == ("double", "", "double")
    assert report["max_abs_diff"] <= max_abs_diff, report


def test_k_neighbors_converts_in_double_and_differs_only_where_neighbours_tie():
    features, price = _table()  # carat rounded to 0.01: equidistant neighbours, which ONNX's TopK may order otherwise

    onnx_model, precision, _, report = _served(REGRESSION, "k_neighbors", {}, price, features)

    assert (precision, onnx_model.precision) == ("double", "double")
    assert report["passed"] is True and report["close_share"] >= 0.99


def test_a_tree_that_never_split_is_still_one_leaf():
    features, _ = _table(rows=50)
    constant = np.full(50, 12345.678)

    _, precision, _, report = _served(REGRESSION, "random_forest", {"n_estimators": 3}, constant, features)

    assert precision == "double" and report["max_abs_diff"] == 0.0


def test_a_forest_classifier_stays_float32_and_says_why():
    features, price = _table()
    band = np.where(price > np.median(price), "high", "low")

    onnx_model, precision, why_float, report = _served(
        CLASSIFICATION, "random_forest", {"n_estimators": 10}, band, features
    )

    assert (precision, onnx_model.precision) == ("float", "float")
    assert why_float == "TreeEnsembleClassifier not seen running in double in onnxruntime"
    assert report["passed"] is True


def test_hist_gradient_boosting_does_not_convert():
    features, price = _table()
    model, _ = estimators.fit_candidate(
        REGRESSION, "hist_gradient_boosting", {"max_iter": 10}, seed=0, features=features, target=price
    )

    with pytest.raises(conversion.ConversionUnsupported):
        conversion.convert_with_precision(model, REGRESSION)
