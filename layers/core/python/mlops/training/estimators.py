"""Candidate models: an allow-list of estimators and the preprocessing Pipeline built for a schema."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import ensemble, linear_model, neighbors, tree
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from mlops.data.dataset import Schema
from mlops.errors import CandidateTrainingFailed, InvalidTrainingRequest


class _ImportedWhenUsed:
    """An estimator class imported when first instantiated. lightgbm loads an OpenMP runtime of its own (the system's
    libgomp, beside the one scikit-learn vendors): importing it with this module put two in every training process,
    whether it fitted LightGBM or not."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, **params: Any) -> Any:
        return getattr(importlib.import_module(self.module), self.name)(**params)


# Only these names can be trained: a request can never make a Lambda import or run arbitrary code.
ESTIMATORS: dict[str, dict[str, Callable[..., Any]]] = {
    "classification": {
        "logistic_regression": linear_model.LogisticRegression,
        "random_forest": ensemble.RandomForestClassifier,
        "extra_trees": ensemble.ExtraTreesClassifier,
        "hist_gradient_boosting": ensemble.HistGradientBoostingClassifier,
        "decision_tree": tree.DecisionTreeClassifier,
        "k_neighbors": neighbors.KNeighborsClassifier,
        "lightgbm": _ImportedWhenUsed("lightgbm", "LGBMClassifier"),
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
        "lightgbm": _ImportedWhenUsed("lightgbm", "LGBMRegressor"),
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


# Text columns: TF-IDF over at most this many terms (unigrams and bigrams seen in two rows or more). A ceiling of the
# stack: a request cannot raise it. Estimators that need a dense matrix (histogram gradient boosting) get a smaller
# vocabulary, so the dense matrix stays near the size of the table (rows x 300 doubles).
TEXT_MAX_FEATURES = 5000
TEXT_MAX_FEATURES_DENSE = 300
# Lower-case ASCII letters, digits and underscores, two or more: Python's re and onnxruntime's Tokenizer (re2) read
# this pattern alike, so the ONNX model tokenises as scikit-learn does (the default (?u)\b\w\w+\b is not re2's).
TEXT_TOKEN_PATTERN = r"[a-z0-9_][a-z0-9_]+"
# Estimators fed categories as ordinal codes with their native categorical support, not one-hot columns.
NATIVE_CATEGORICAL = frozenset({"hist_gradient_boosting"})


def text_vectorizer(max_features: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True, token_pattern=TEXT_TOKEN_PATTERN, ngram_range=(1, 2), min_df=2, max_features=max_features
    )


def _categorical_transformer(native: bool) -> OneHotEncoder | OrdinalEncoder:
    """One-hot columns, or ordinal codes for an estimator that splits on categories itself (an unknown category
    becomes -1, which HistGradientBoosting treats as missing)."""
    if native:
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float64)
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def build_pipeline(schema: Schema, estimator: str, params: dict[str, Any], seed: int) -> Pipeline:
    estimator_class = ESTIMATORS[schema.task][estimator]
    model = estimator_class(**params, **PLATFORM_PARAMS.get(estimator, {}))
    if "random_state" in model.get_params() and "random_state" not in params:
        model.set_params(random_state=seed)  # a retrain from the same lineage gives the same model
    native = estimator in NATIVE_CATEGORICAL
    transformers = []
    # An all-missing column is kept (as zeros): dropping it would change the width the ONNX converter expects.
    if schema.numeric_indices:
        numeric = Pipeline(
            [("impute", SimpleImputer(strategy="median", keep_empty_features=True)), ("scale", StandardScaler())]
        )
        transformers.append(("numeric", numeric, schema.numeric_indices))
    if schema.categorical_indices:
        transformers.append(("categorical", _categorical_transformer(native), schema.categorical_indices))
        if native and "categorical_features" not in params:
            start = len(schema.numeric_indices)  # the ordinal codes follow the numeric columns
            model.set_params(categorical_features=list(range(start, start + len(schema.categorical_indices))))
    vocabulary = TEXT_MAX_FEATURES_DENSE if native else TEXT_MAX_FEATURES
    # a scalar column index: the vectoriser takes the column as one string per row
    transformers.extend((f"text_{i}", text_vectorizer(vocabulary), i) for i in schema.text_indices)
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0 if native else 0.3)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def fit_candidate(
    schema: Schema, estimator: str, params: dict[str, Any], *, seed: int, features: np.ndarray, target: np.ndarray
) -> tuple[Pipeline, list[str]]:
    """Fit one candidate; return it with the warnings it raised (e.g. non-convergence) for the record."""
    check_candidate(schema.task, estimator, params)
    pipeline = build_pipeline(schema, estimator, params, seed)
    return pipeline, fitted(pipeline, estimator, params, features, target)


def fitted(model: Any, estimator: str, params: dict[str, Any], features: Any, target: np.ndarray) -> list[str]:
    """Fit ``model`` (a pipeline, or its estimator on a lean matrix) in place; return the warnings it raised."""
    # One native thread: a Lambda has a fraction of a core to a few, and OpenMP spinning on more threads than
    # there are free cores made hist_gradient_boosting take 20-28 s instead of 0.55 s on 1,300 rows (measured).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=FIT_THREADS):
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model.fit(features, target)
        except (ValueError, TypeError, MemoryError) as exc:
            raise CandidateTrainingFailed(f"{estimator} with {params} failed to fit: {exc}") from exc
    return sorted({f"{w.category.__name__}: {w.message}" for w in caught})
