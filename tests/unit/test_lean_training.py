"""Lean model matrices: candidates fit from float32/float64 matrices built from the typed splits (sparse one-hot
where the estimator takes it) and predict, through the served pipeline on raw values, as a fit on the object matrix
does."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import sparse

from mlops.data import dataset
from mlops.data.dataset import Table
from mlops.records.gate import DecisionThreshold
from mlops.training import estimators, imbalance, lean
from tests.factories import table_from_rows

QUICK = {
    "random_forest": {"n_estimators": 8, "min_samples_leaf": 2},
    "extra_trees": {"n_estimators": 8},
    "hist_gradient_boosting": {"max_iter": 20},
    "logistic_regression": {"max_iter": 2000},
    "ridge": {"alpha": 1.0},
    "k_neighbors": {"n_neighbors": 5},
}


def _table(rows: int, seed: int, task: str) -> Table:
    """Numbers with gaps, a wide categorical (pooled), a small one with missing values, a timestamp; the label
    depends on a number and a category."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=rows), rng.normal(scale=50, size=rows)
    colour = rng.choice(["red", "green", "blue", ""], size=rows, p=[0.3, 0.3, 0.3, 0.1])
    city = [f"city-{int(v)}" for v in rng.zipf(1.3, size=rows) % 400]
    signal = x + (colour == "red") + 0.01 * y
    if task == "classification":
        label = np.where(signal > 0.5, "yes", "no").tolist()
    else:
        label = [f"{v:.4f}" for v in signal + rng.normal(scale=0.2, size=rows)]
    body = []
    for i in range(rows):
        moment = np.datetime64("2021-01-01T00:00") + np.timedelta64(int(rng.integers(0, 2 * 365 * 24 * 60)), "m")
        gap = "" if i % 7 == 0 else f"{y[i]:.3f}"
        body.append([f"{x[i]:.4f}", gap, colour[i], city[i], str(moment).replace("T", " "), label[i]])
    return table_from_rows(["x", "y", "colour", "city", "at", "label"], body)


@functools.cache
def _prepared(task: str):
    table = _table(1500, 0, task)
    schema, kept = dataset.infer_schema(table, "label")
    parts = dataset.split(kept, schema, seed=3, validation_fraction=0.2, test_fraction=0.2)
    assert schema.categorical_indices and schema.numeric_indices and not schema.text_indices
    return schema, parts


def _both(schema, parts, estimator):
    params = QUICK.get(estimator, {})
    train, test = parts["train"], parts["test"]
    target = dataset.target_vector(train, schema)
    old, _ = estimators.fit_candidate(
        schema, estimator, params, seed=5, features=dataset.feature_matrix(train, schema), target=target
    )
    new, _ = lean.fit(schema, estimator, params, seed=5, table=train, target=target)
    return old, new, dataset.feature_matrix(test, schema)


@pytest.mark.parametrize(
    ("task", "estimator"),
    [
        ("classification", "logistic_regression"),
        ("classification", "random_forest"),
        ("classification", "hist_gradient_boosting"),
        ("classification", "k_neighbors"),
        ("regression", "ridge"),
        ("regression", "random_forest"),
        ("regression", "hist_gradient_boosting"),
    ],
)
def test_the_lean_fit_predicts_as_the_object_matrix_fit(task, estimator):
    schema, parts = _prepared(task)
    old, new, test_x = _both(schema, parts, estimator)

    if schema.task == "classification":
        np.testing.assert_allclose(new.predict_proba(test_x), old.predict_proba(test_x), atol=1e-5)
        assert (new.predict(test_x) == old.predict(test_x)).mean() >= 0.995
    else:
        np.testing.assert_allclose(new.predict(test_x), old.predict(test_x), rtol=1e-6, atol=1e-6)
    # the preprocessing the served pipeline runs on raw values is the one a whole fit learns
    old_pre, new_pre = old.named_steps["preprocess"], new.named_steps["preprocess"]
    np.testing.assert_allclose(new_pre.transform(test_x), old_pre.transform(test_x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("estimator", "fit_type", "predict_type", "dtype"),
    [
        ("random_forest", np.ndarray, np.ndarray, np.float32),
        ("logistic_regression", sparse.csr_matrix, sparse.csr_matrix, np.float64),
        ("hist_gradient_boosting", np.ndarray, np.ndarray, np.float64),
    ],
)
def test_the_matrices_are_float32_or_sparse_as_each_estimator_takes_them(estimator, fit_type, predict_type, dtype):
    schema, parts = _prepared("classification")
    model, _ = lean.fit(schema, estimator, QUICK[estimator], seed=5, table=parts["train"],
                        target=dataset.target_vector(parts["train"], schema))  # fmt: skip
    layout = lean.layout_of(estimator)
    fit_matrix = lean.matrix(model, schema, parts["train"], layout)
    scored, test_matrix = lean.scoring_matrix(model, schema, parts["test"])

    assert type(fit_matrix) is fit_type and fit_matrix.dtype == dtype
    assert type(test_matrix) is predict_type and test_matrix.dtype == dtype
    # the lean matrix holds what the pipeline's preprocessing outputs on the object matrix
    expected = model.named_steps["preprocess"].transform(dataset.feature_matrix(parts["test"], schema))
    dense = test_matrix.toarray() if sparse.issparse(test_matrix) else test_matrix
    np.testing.assert_allclose(dense, expected.astype(dtype), rtol=1e-6, atol=1e-6)
    full = dataset.feature_matrix(parts["test"], schema)
    np.testing.assert_allclose(scored.predict_proba(test_matrix), model.predict_proba(full), atol=1e-6)


def test_text_features_and_a_callers_model_keep_the_object_matrix():
    schema, _ = _prepared("classification")
    assert lean.applies(schema, "random_forest")
    text_schema = dataset.Schema([dataset.Feature("note", "text")], "label", schema.task, schema.classes)
    assert not lean.applies(text_schema, "random_forest")
    assert not lean.applies(schema, "external")


def test_evaluate_scores_a_thresholded_winner_on_its_lean_matrix_as_the_stored_model_predicts():
    schema, parts = _prepared("classification")
    model, _ = lean.fit(schema, "logistic_regression", QUICK["logistic_regression"], seed=5, table=parts["train"],
                        target=dataset.target_vector(parts["train"], schema))  # fmt: skip
    decision = DecisionThreshold(
        threshold=0.3, positive_class="yes", tuned_on="validation", metric="f1", validation_score=0.9,
        validation_score_at_default=0.8, applied=True, reason="test",
    )  # fmt: skip
    stored = imbalance.thresholded(model, decision)
    scored, test_matrix = lean.scoring_matrix(model, schema, parts["test"])
    raw = dataset.feature_matrix(parts["test"], schema)

    thresholded = lean.LeanModel(model, decision).predict(test_matrix)
    assert (thresholded == stored.predict(raw)).all()
    assert (thresholded != model.predict(raw)).any()  # the threshold changed some labels
    assert (scored.predict(test_matrix) == model.predict(raw)).all()


def test_a_pipeline_of_another_form_is_not_scored_on_a_lean_matrix():
    schema, parts = _prepared("classification")
    model, _ = lean.fit(schema, "logistic_regression", {}, seed=5, table=parts["train"],
                        target=dataset.target_vector(parts["train"], schema))  # fmt: skip
    assert lean.is_lean(model, schema)
    model.named_steps["preprocess"].named_transformers_["categorical"].set_params(max_categories=3)
    assert not lean.is_lean(model, schema)
    assert lean.scoring_matrix(model, schema, parts["test"]) is None
