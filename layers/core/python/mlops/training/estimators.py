"""Candidate models: an allow-list of estimators and the preprocessing Pipeline built for a schema."""

from __future__ import annotations

import warnings
from typing import Any

import lightgbm
import numpy as np
from sklearn import ensemble, linear_model, neighbors, tree
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from mlops.data.dataset import Schema
from mlops.errors import CandidateTrainingFailed, InvalidTrainingRequest

# Only these names can be trained: a request can never make a Lambda import or run arbitrary code.
ESTIMATORS: dict[str, dict[str, type]] = {
    "classification": {
        "logistic_regression": linear_model.LogisticRegression,
        "random_forest": ensemble.RandomForestClassifier,
        "extra_trees": ensemble.ExtraTreesClassifier,
        "hist_gradient_boosting": ensemble.HistGradientBoostingClassifier,
        "decision_tree": tree.DecisionTreeClassifier,
        "k_neighbors": neighbors.KNeighborsClassifier,
        "lightgbm": lightgbm.LGBMClassifier,
    },
    "regression": {
        "ridge": linear_model.Ridge,
        "linear_regression": linear_model.LinearRegression,
        "elastic_net": linear_model.ElasticNet,
        "random_forest": ensemble.RandomForestRegressor,
        "extra_trees": ensemble.ExtraTreesRegressor,
        "hist_gradient_boosting": ensemble.HistGradientBoostingRegressor,
        "decision_tree": tree.DecisionTreeRegressor,
        "k_neighbors": neighbors.KNeighborsRegressor,
        "lightgbm": lightgbm.LGBMRegressor,
    },
}

DEFAULT_CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "classification": [
        {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
        {"estimator": "random_forest", "params": {"n_estimators": 100, "min_samples_leaf": 2}},
        {"estimator": "hist_gradient_boosting", "params": {"max_iter": 200, "learning_rate": 0.1}},
    ],
    "regression": [
        {"estimator": "ridge", "params": {"alpha": 1.0}},
        {"estimator": "random_forest", "params": {"n_estimators": 100, "min_samples_leaf": 2}},
        {"estimator": "hist_gradient_boosting", "params": {"max_iter": 200, "learning_rate": 0.1}},
    ],
}

FIT_THREADS = 1
# Params a request may not set: they would change where code runs or how long, not what is learned.
FORBIDDEN_PARAMS = frozenset({"n_jobs", "verbose", "warm_start", "memory"})
# Ceilings a request may stay under (a fit's time grows with them): LightGBM's trees and leaves per tree.
PARAM_CEILINGS: dict[str, dict[str, int]] = {"lightgbm": {"n_estimators": 2000, "num_leaves": 1024}}
# Set by the platform on every fit of these estimators, never by a request: LightGBM's threads (its default is every
# core OpenMP sees, not the function's share) and its console output.
PLATFORM_PARAMS: dict[str, dict[str, Any]] = {"lightgbm": {"n_jobs": FIT_THREADS, "verbose": -1}}


def check_candidate(task: str, estimator: str, params: dict[str, Any]) -> None:
    """Reject an unknown estimator or parameter before any training starts."""
    allowed = ESTIMATORS.get(task, {})
    if estimator not in allowed:
        raise InvalidTrainingRequest(
            f"estimator {estimator!r} is not allowed for {task}; choose one of: {', '.join(sorted(allowed))}"
        )
    known = set(allowed[estimator]().get_params())
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidTrainingRequest(f"{estimator} has no parameter(s) {', '.join(unknown)}")
    forbidden = sorted(set(params) & FORBIDDEN_PARAMS)
    if forbidden:
        raise InvalidTrainingRequest(f"parameter(s) {', '.join(forbidden)} cannot be set by a training request")
    for name, ceiling in PARAM_CEILINGS.get(estimator, {}).items():
        value = params.get(name)
        if isinstance(value, int | float) and value > ceiling:
            raise InvalidTrainingRequest(f"{estimator}'s {name} is {value}; at most {ceiling}")


def build_pipeline(schema: Schema, estimator: str, params: dict[str, Any], seed: int) -> Pipeline:
    estimator_class = ESTIMATORS[schema.task][estimator]
    model = estimator_class(**params, **PLATFORM_PARAMS.get(estimator, {}))
    if "random_state" in model.get_params() and "random_state" not in params:
        model.set_params(random_state=seed)  # a retrain from the same lineage gives the same model
    transformers = []
    # An all-missing column is kept (as zeros): dropping it would change the width the ONNX converter expects.
    if schema.numeric_indices:
        numeric = Pipeline(
            [("impute", SimpleImputer(strategy="median", keep_empty_features=True)), ("scale", StandardScaler())]
        )
        transformers.append(("numeric", numeric, schema.numeric_indices))
    if schema.categorical_indices:
        categorical = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("categorical", categorical, schema.categorical_indices))
    preprocess = ColumnTransformer(transformers, remainder="drop")
    return Pipeline([("preprocess", preprocess), ("model", model)])


def fit_candidate(
    schema: Schema, estimator: str, params: dict[str, Any], *, seed: int, features: np.ndarray, target: np.ndarray
) -> tuple[Pipeline, list[str]]:
    """Fit one candidate; return it with the warnings it raised (e.g. non-convergence) for the record."""
    check_candidate(schema.task, estimator, params)
    pipeline = build_pipeline(schema, estimator, params, seed)
    # One native thread: a Lambda has a fraction of a core to a few, and OpenMP spinning on more threads than
    # there are free cores made hist_gradient_boosting take 20-28 s instead of 0.55 s on 1,300 rows (measured).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=FIT_THREADS):
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            pipeline.fit(features, target)
        except (ValueError, TypeError, MemoryError) as exc:
            raise CandidateTrainingFailed(f"{estimator} with {params} failed to fit: {exc}") from exc
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return pipeline, messages
