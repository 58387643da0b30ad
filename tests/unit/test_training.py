"""Candidate training: the estimator allow-list, parameter checks, the preprocessing pipeline, seeding."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from mlops.data.dataset import MISSING_CATEGORY, Feature, Schema
from mlops.errors import CandidateTrainingFailed, InvalidTrainingRequest
from mlops.training import estimators
from mlops.training.estimators import ESTIMATORS, FORBIDDEN_PARAMS

# Small settings so that every estimator fits in milliseconds; the defaults would be slower, not different.
QUICK_PARAMS = {
    "random_forest": {"n_estimators": 5},
    "extra_trees": {"n_estimators": 5},
    "hist_gradient_boosting": {"max_iter": 10},
    "k_neighbors": {"n_neighbors": 3},
}
ALLOWED = [(task, name) for task, estimators in ESTIMATORS.items() for name in estimators]
SEEDED = [(task, name) for task, name in ALLOWED if "random_state" in ESTIMATORS[task][name]().get_params()]


@dataclass
class MixedDataset:
    schema: Schema
    features: np.ndarray
    target: np.ndarray


def mixed_dataset(task: str, rows: int = 80, seed: int = 0) -> MixedDataset:
    """Two numeric features (one with gaps) and a categorical one (with missing values), as feature_matrix
    builds them; the target depends on the first numeric feature and the category."""
    rng = np.random.default_rng(seed)
    size = rng.normal(size=rows)
    weight = rng.normal(size=rows)
    weight[rng.random(rows) < 0.15] = np.nan
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), size=rows)
    colour[rng.random(rows) < 0.1] = MISSING_CATEGORY
    features = np.empty((rows, 3), dtype=object)
    features[:, 0], features[:, 1], features[:, 2] = size, weight, colour
    signal = 2 * size + 1.5 * (colour == "red")
    schema_features = [Feature("size", "numeric"), Feature("weight", "numeric"), Feature("colour", "categorical")]
    if task == "classification":
        target = np.where(signal > np.median(signal), "yes", "no").astype(object)
        schema = Schema(schema_features, "label", "classification", ["no", "yes"], "yes")
    else:
        target = signal + rng.normal(scale=0.3, size=rows)
        schema = Schema(schema_features, "label", "regression")
    return MixedDataset(schema, features, target)


def unseen_rows() -> np.ndarray:
    rows = np.empty((3, 3), dtype=object)
    rows[:, 0] = [0.5, -1.0, np.nan]
    rows[:, 1] = [np.nan, 0.2, 0.1]
    rows[:, 2] = ["purple", MISSING_CATEGORY, "red"]
    return rows


# ---- refusals before training -----------------------------------------------------------------------------
@pytest.mark.parametrize(("task", "estimator"), [("classification", "svm"), ("classification", "ridge")])
def test_an_estimator_outside_the_allow_list_is_refused_naming_the_allowed_ones(task, estimator):
    with pytest.raises(InvalidTrainingRequest, match=rf"estimator '{estimator}' is not allowed for {task}") as raised:
        estimators.check_candidate(task, estimator, {})

    for allowed in ESTIMATORS[task]:
        assert allowed in str(raised.value)


def test_an_unknown_parameter_is_refused_naming_it():
    with pytest.raises(InvalidTrainingRequest, match=re.escape("random_forest has no parameter(s) depth, trees")):
        estimators.check_candidate("classification", "random_forest", {"trees": 10, "depth": 3, "max_depth": 3})


@pytest.mark.parametrize(
    ("estimator", "param"),
    [("random_forest", "n_jobs"), ("hist_gradient_boosting", "verbose"), ("extra_trees", "warm_start")],
)
def test_parameters_that_change_where_or_how_long_code_runs_are_refused(estimator, param):
    assert param in FORBIDDEN_PARAMS

    with pytest.raises(InvalidTrainingRequest, match=rf"parameter\(s\) {param} cannot be set by a training request"):
        estimators.check_candidate("regression", estimator, {param: 1})


def test_fit_candidate_checks_the_candidate_before_fitting():
    data = mixed_dataset("classification")

    with pytest.raises(InvalidTrainingRequest, match="n_jobs"):
        estimators.fit_candidate(
            data.schema, "random_forest", {"n_jobs": -1}, seed=0, features=data.features, target=data.target
        )


@pytest.mark.parametrize(("task", "estimator"), ALLOWED)
def test_every_allowed_estimator_accepts_its_own_parameters(task, estimator):
    params = ESTIMATORS[task][estimator]().get_params()
    allowed_params = {name: value for name, value in params.items() if name not in FORBIDDEN_PARAMS}

    estimators.check_candidate(task, estimator, allowed_params)


def test_the_default_candidates_pass_the_checks():
    for task, candidates in estimators.DEFAULT_CANDIDATES.items():
        for candidate in candidates:
            estimators.check_candidate(task, candidate["estimator"], candidate["params"])


# ---- fitting ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("task", "estimator"), ALLOWED)
def test_every_allowed_estimator_trains_on_mixed_data_with_gaps_and_predicts_unseen_categories(task, estimator):
    data = mixed_dataset(task)

    model, _ = estimators.fit_candidate(
        data.schema, estimator, QUICK_PARAMS.get(estimator, {}), seed=0, features=data.features, target=data.target
    )

    predictions = model.predict(unseen_rows())
    assert len(predictions) == 3
    fitted = model.predict(data.features)
    if task == "classification":
        assert set(predictions) <= {"no", "yes"}
        majority_share = max(np.mean(data.target == label) for label in ("no", "yes"))
        assert np.mean(fitted == data.target) > majority_share
    else:
        assert np.isfinite(predictions.astype(float)).all()
        assert np.mean((fitted - data.target) ** 2) < np.var(data.target)


def test_numeric_only_and_categorical_only_schemas_train():
    data = mixed_dataset("classification")
    numeric_only = Schema(data.schema.features[:2], "label", "classification", ["no", "yes"], "yes")
    categorical_only = Schema(data.schema.features[2:], "label", "classification", ["no", "yes"], "yes")

    numeric_model, _ = estimators.fit_candidate(
        numeric_only, "decision_tree", {}, seed=0, features=data.features[:, :2], target=data.target
    )
    categorical_model, _ = estimators.fit_candidate(
        categorical_only, "decision_tree", {}, seed=0, features=data.features[:, 2:], target=data.target
    )

    assert len(numeric_model.predict(data.features[:5, :2])) == 5
    assert set(categorical_model.predict(np.array([["purple"], ["red"]], dtype=object))) <= {"no", "yes"}


def test_an_all_missing_numeric_feature_is_kept_as_a_constant_so_the_width_does_not_change():
    data = mixed_dataset("regression")
    data.features[:, 1] = np.nan

    model, _ = estimators.fit_candidate(data.schema, "ridge", {}, seed=0, features=data.features, target=data.target)

    # the preprocessing keeps every numeric column (the ONNX converter relies on the width) ...
    width = model.named_steps["preprocess"].transform(data.features).shape[1]
    encoded = (
        model.named_steps["preprocess"]
        .named_transformers_["categorical"]
        .transform(data.features[:, data.schema.categorical_indices])
        .shape[1]
    )
    assert width == len(data.schema.numeric_indices) + encoded
    # ... and the empty column carries nothing: predictions do not depend on it
    shifted = data.features.copy()
    shifted[:, 1] = 123.0
    assert np.isfinite(model.predict(data.features).astype(float)).all()
    assert np.allclose(model.predict(shifted).astype(float), model.predict(data.features).astype(float))


@pytest.mark.parametrize(("task", "estimator"), SEEDED)
def test_estimators_with_a_random_state_are_seeded_and_reproducible(task, estimator):
    data = mixed_dataset(task)
    params = QUICK_PARAMS.get(estimator, {})

    first, _ = estimators.fit_candidate(
        data.schema, estimator, params, seed=13, features=data.features, target=data.target
    )
    again, _ = estimators.fit_candidate(
        data.schema, estimator, params, seed=13, features=data.features, target=data.target
    )

    assert first.named_steps["model"].random_state == 13
    np.testing.assert_array_equal(first.predict(unseen_rows()), again.predict(unseen_rows()))
    np.testing.assert_array_equal(first.predict(data.features), again.predict(data.features))


def test_the_seed_changes_a_random_forest():
    data = mixed_dataset("regression")
    params = QUICK_PARAMS["random_forest"]

    first, _ = estimators.fit_candidate(
        data.schema, "random_forest", params, seed=1, features=data.features, target=data.target
    )
    other, _ = estimators.fit_candidate(
        data.schema, "random_forest", params, seed=2, features=data.features, target=data.target
    )

    assert not np.array_equal(first.predict(data.features), other.predict(data.features))


def test_a_requested_random_state_wins_over_the_seed():
    data = mixed_dataset("classification")

    model, _ = estimators.fit_candidate(
        data.schema, "decision_tree", {"random_state": 99}, seed=1, features=data.features, target=data.target
    )

    assert model.named_steps["model"].random_state == 99


def test_estimators_without_a_random_state_are_built_as_asked():
    data = mixed_dataset("classification")

    pipeline = estimators.build_pipeline(data.schema, "k_neighbors", {"n_neighbors": 4}, seed=5)

    assert "random_state" not in pipeline.named_steps["model"].get_params()
    assert pipeline.named_steps["model"].n_neighbors == 4


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("random_forest", {"n_estimators": 0}),
        ("decision_tree", {"max_depth": "deep"}),
        ("logistic_regression", {"C": -1.0}),
        ("k_neighbors", {"n_neighbors": 0}),
    ],
)
def test_an_invalid_parameter_value_fails_the_candidate_with_its_reason(estimator, params):
    data = mixed_dataset("classification")

    with pytest.raises(CandidateTrainingFailed, match=rf"{estimator} with .* failed to fit: "):
        estimators.fit_candidate(data.schema, estimator, params, seed=0, features=data.features, target=data.target)


def test_convergence_warnings_are_returned_for_the_record():
    data = mixed_dataset("classification")

    _, messages = estimators.fit_candidate(
        data.schema, "logistic_regression", {"max_iter": 1}, seed=0, features=data.features, target=data.target
    )

    assert any(message.startswith("ConvergenceWarning: ") for message in messages)
    assert messages == sorted(set(messages))


def test_a_clean_fit_returns_no_warnings():
    data = mixed_dataset("regression")

    _, messages = estimators.fit_candidate(data.schema, "ridge", {}, seed=0, features=data.features, target=data.target)

    assert messages == []
