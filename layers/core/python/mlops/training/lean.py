"""Lean model matrices: a candidate fits, and Evaluate scores, on a numeric matrix built column by column from the
typed splits, never on the object matrix (a Python float per numeric cell) the served pipeline takes.

The pipeline keeps its raw-value contract (``estimators.build_pipeline``: an object matrix of numbers and category
strings in, as the endpoint and the ONNX graph build it). Its preprocessing is fitted here without that matrix: the
imputer and scaler column by column on the float64 values, the encoder on one row per category seen in training
(so its ``categories_`` are what a fit on the whole object matrix finds), and the estimator on what that
preprocessing would output, computed from the codes:

- trees (random forest, extra trees, decision tree): dense float32 (what scikit-learn's trees split on: they cast to
  it); a sparse CSC one-hot held less (4.5× the float64 matrix against ~3.7×) but fitted a forest 3–5× slower;
- logistic regression: sparse CSR float64 (lbfgs computes in float64: a float32 matrix would be copied);
- histogram gradient boosting: dense float64, categories as their ordinal codes (it copies any other dtype to
  float64 before binning);
- any other estimator: dense float64, one-hot dense, as the pipeline would give it.

A pipeline this module does not know (text features, a caller's model) is fitted and scored as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from mlops.data import dataset
from mlops.data.dataset import Schema, Table
from mlops.records.gate import DecisionThreshold
from mlops.records.steps import PreparedDataset
from mlops.training.estimators import ESTIMATORS, build_pipeline, check_candidate, fitted
from mlops.training.leakage import LEAKAGE_MAX_ROWS
from mlops.training.run_files import load_matrices, load_table

TREES = frozenset({"random_forest", "extra_trees", "decision_tree"})
SPARSE64 = frozenset({"logistic_regression"})


def applies(schema: Schema, estimator: str) -> bool:
    """Whether ``estimator`` on ``schema`` fits from a lean matrix (not with text features: TF-IDF reads strings)."""
    return not schema.text_indices and estimator in ESTIMATORS.get(schema.task, {})


def layout_of(estimator: str) -> str:
    """How the estimator takes its matrix: ``dense32``, ``csr64`` or ``dense64``."""
    if estimator in TREES:
        return "dense32"
    if estimator in SPARSE64:
        return "csr64"
    return "dense64"


def _prototype(values: list, schema: Schema, positions: dict[int, np.ndarray]) -> np.ndarray:
    """An object matrix of one row per category seen (the most any categorical has), numbers 0.0: what the
    preprocessing is first fitted on before the numeric statistics are set from the whole columns."""
    rows = max([len(c) for c in positions.values()] + [2])
    prototype = np.empty((rows, len(schema.features)), dtype=object)
    prototype[:, :] = 0.0
    for i, seen in positions.items():
        prototype[:, i] = np.resize(seen, rows)
    return prototype


def fit_preprocess(pipeline: Pipeline, schema: Schema, values: list) -> None:
    """Fit the pipeline's preprocessing as a fit on the object matrix of ``values`` (dataset.feature_values) would."""
    seen = {}
    for i in schema.categorical_indices:
        codes, lookup = values[i]
        present = np.zeros(len(lookup), dtype=bool)
        present[codes] = True  # code -1 (missing) marks the lookup's last entry, the missing category
        seen[i] = np.unique(lookup[present]).astype(object)
    preprocess: ColumnTransformer = pipeline.named_steps["preprocess"]
    preprocess.fit(_prototype(values, schema, seen))
    if not schema.numeric_indices:
        return
    numeric: Pipeline = preprocess.named_transformers_["numeric"]
    imputer, scaler = numeric.named_steps["impute"], numeric.named_steps["scale"]
    statistics, means, variances, scales = [], [], [], []
    for i in schema.numeric_indices:
        column = values[i].reshape(-1, 1)
        one = imputer.__class__(**imputer.get_params()).fit(column)
        imputed = one.transform(column)
        scaled = scaler.__class__(**scaler.get_params()).fit(imputed)
        statistics.append(one.statistics_[0])
        means.append(scaled.mean_[0])
        variances.append(scaled.var_[0])
        scales.append(scaled.scale_[0])
        rows = scaled.n_samples_seen_
    imputer.statistics_ = np.array(statistics, dtype=np.float64)
    scaler.mean_, scaler.var_ = np.array(means), np.array(variances)
    scaler.scale_, scaler.n_samples_seen_ = np.array(scales), rows


def _blocks(pipeline: Pipeline, schema: Schema, values: list) -> tuple[list[np.ndarray], list[tuple[np.ndarray, int]]]:
    """(numeric columns as the preprocessing outputs them, float64; per categorical (position per row in its
    encoder's categories, -1 unknown; how many categories))."""
    preprocess: ColumnTransformer = pipeline.named_steps["preprocess"]
    numeric_out = []
    if schema.numeric_indices:
        numeric = preprocess.named_transformers_["numeric"]
        imputer, scaler = numeric.named_steps["impute"], numeric.named_steps["scale"]
        for j, i in enumerate(schema.numeric_indices):
            column = np.where(np.isnan(values[i]), imputer.statistics_[j], values[i])
            column -= scaler.mean_[j]
            column /= scaler.scale_[j]
            numeric_out.append(column)
    categorical_out = []
    if schema.categorical_indices:
        encoder = preprocess.named_transformers_["categorical"]
        for j, i in enumerate(schema.categorical_indices):
            codes, lookup = values[i]
            categories = encoder.categories_[j]
            index = {value: k for k, value in enumerate(categories.tolist())}
            per_code = np.array([index.get(value, -1) for value in lookup.tolist()], dtype=np.int32)
            categorical_out.append((per_code[codes], len(categories)))
    return numeric_out, categorical_out


def matrix(pipeline: Pipeline, schema: Schema, table: Table, layout: str) -> Any:
    """The matrix the pipeline's estimator sees for ``table``, in ``layout``."""
    values = dataset.feature_values(table, schema)
    numeric, categorical = _blocks(pipeline, schema, values)
    del values
    encoder = pipeline.named_steps["preprocess"].named_transformers_.get("categorical")
    rows = table.rows
    dtype = np.float32 if layout == "dense32" else np.float64
    if isinstance(encoder, OrdinalEncoder) or layout != "csr64" or not categorical:
        width = len(numeric) + sum(1 if isinstance(encoder, OrdinalEncoder) else k for _, k in categorical)
        dense = np.zeros((rows, width), dtype=dtype)
        for j, column in enumerate(numeric):
            dense[:, j] = column
        offset = len(numeric)
        for positions, k in categorical:
            if isinstance(encoder, OrdinalEncoder):
                dense[:, offset] = positions
                offset += 1
                continue
            known = positions >= 0
            dense[np.flatnonzero(known), offset + positions[known]] = 1.0
            offset += k
        return dense
    width = len(numeric) + sum(k for _, k in categorical)
    return _csr(numeric, categorical, rows, width, dtype)


def _csr(numeric: list, categorical: list, rows: int, width: int, dtype: type) -> sparse.csr_matrix:
    """One entry per numeric column and one per categorical (an explicit zero where the category is unknown) in
    every row: a rectangular CSR filled column by column."""
    per_row = len(numeric) + len(categorical)
    data = np.zeros((rows, per_row), dtype=dtype)
    indices = np.zeros((rows, per_row), dtype=np.int32)
    for j, column in enumerate(numeric):
        data[:, j], indices[:, j] = column, j
    offset = len(numeric)
    for j, (positions, k) in enumerate(categorical, start=len(numeric)):
        known = positions >= 0
        data[:, j] = known
        indices[:, j] = offset + np.where(known, positions, 0)
        offset += k
    indptr = np.arange(0, rows * per_row + 1, per_row, dtype=np.int64)
    return sparse.csr_matrix((data.ravel(), indices.ravel(), indptr), shape=(rows, width))


def fit(
    schema: Schema, estimator: str, params: dict[str, Any], *, seed: int, table: Table, target: np.ndarray
) -> tuple[Pipeline, list[str]]:
    """Fit one candidate from ``table``'s lean matrix: the pipeline it returns takes the raw values, as
    estimators.fit_candidate's does, and predicts as it would have (tests/unit/test_lean_training.py)."""
    check_candidate(schema.task, estimator, params)
    pipeline = build_pipeline(schema, estimator, params, seed)
    fit_preprocess(pipeline, schema, dataset.feature_values(table, schema))
    features = matrix(pipeline, schema, table, layout_of(estimator))
    return pipeline, fitted(pipeline.named_steps["model"], estimator, params, features, target)


def scoring_matrix(model: Any, schema: Schema, table: Table) -> tuple[Any, Any] | None:
    """(a model scored on lean matrices, ``table``'s lean matrix) for a pipeline of build_pipeline's form, else
    None (the caller builds the object matrix)."""
    if not is_lean(model, schema):
        return None
    return LeanModel(model), matrix(model, schema, table, estimator_layout(model))


class LeanModel:
    """A fitted pipeline scored on its lean matrix: the estimator's predictions, as the pipeline gives them on the
    raw values (scoring, the floor and the bootstrap read predict, predict_proba and classes_); with the decision
    threshold Evaluate tuned, if one was applied (as imbalance.thresholded's FixedThresholdClassifier predicts)."""

    def __init__(self, pipeline: Pipeline, threshold: DecisionThreshold | None = None) -> None:
        self.estimator = pipeline.named_steps["model"]
        self.threshold = threshold if threshold is not None and threshold.applied else None

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict(self, features: Any) -> np.ndarray:
        if self.threshold is None:
            return self.estimator.predict(features)
        classes = np.asarray(self.classes_)
        positive = int(np.flatnonzero(classes.astype(str) == self.threshold.positive_class)[0])
        probability = self.predict_proba(features)[:, positive]
        return classes[np.where(probability >= self.threshold.threshold, positive, 1 - positive)]

    def predict_proba(self, features: Any) -> np.ndarray:
        return self.estimator.predict_proba(features)


class Columns:
    """Feature columns (dataset.feature_columns) read as an object matrix is where only ``[rows, position]`` is."""

    def __init__(self, columns: list[np.ndarray]) -> None:
        self.columns = columns

    def __getitem__(self, key: tuple[Any, int]) -> np.ndarray:
        rows, position = key
        return self.columns[position][rows]


@dataclass
class EvaluationSplits:
    """What Evaluate reads of the run's splits: the winner's matrices (lean ones for a pipeline of
    build_pipeline's form), the targets, the raw columns the leakage scan reads and, on the old path, the object
    matrix of the test rows (None: a champion's matrix is built from the stored split)."""

    train_y: np.ndarray
    validation_x: Any
    validation_y: np.ndarray
    test_x: Any
    test_y: np.ndarray
    leakage_train_x: Any
    leakage_validation_x: Any
    baseline_train_x: Any
    raw_test_x: np.ndarray | None
    pipeline: Pipeline | None  # the lean winner's pipeline

    def scored(self, model: Any, threshold: DecisionThreshold | None = None) -> Any:
        """The winner as it reads ``validation_x`` and ``test_x``."""
        return model if self.pipeline is None else LeanModel(self.pipeline, threshold)


def evaluation_splits(prepared: PreparedDataset, schema: Schema, model: Any) -> EvaluationSplits:
    if not is_lean(model, schema):
        (train_x, train_y), (validation_x, validation_y), (test_x, test_y) = (
            load_matrices(prepared, name) for name in ("train", "validation", "test")
        )
        return EvaluationSplits(
            train_y, validation_x, validation_y, test_x, test_y, train_x, validation_x, train_x, test_x, None
        )
    layout = estimator_layout(model)
    train = load_table(prepared.splits.uri("train"))
    train_y = dataset.target_vector(train, schema)
    leakage_train = Columns(dataset.feature_columns(train.take(np.arange(min(train.rows, LEAKAGE_MAX_ROWS))), schema))
    del train
    validation, test = (load_table(prepared.splits.uri(name)) for name in ("validation", "test"))
    return EvaluationSplits(
        train_y=train_y,
        validation_x=matrix(model, schema, validation, layout),
        validation_y=dataset.target_vector(validation, schema),
        test_x=matrix(model, schema, test, layout),
        test_y=dataset.target_vector(test, schema),
        leakage_train_x=leakage_train,
        leakage_validation_x=Columns(dataset.feature_columns(validation, schema)),
        baseline_train_x=np.zeros((len(train_y), 1), dtype=np.float32),  # the baseline reads only the target
        raw_test_x=None,
        pipeline=model,
    )


def is_lean(model: Any, schema: Schema) -> bool:
    """Whether ``model`` is a pipeline of build_pipeline's form for ``schema`` (numbers imputed and scaled,
    categories one-hot or ordinal, nothing else), whose estimator can read a lean matrix."""
    steps = getattr(model, "named_steps", {}) if isinstance(model, Pipeline) else {}
    preprocess = steps.get("preprocess")
    if schema.text_indices or "model" not in steps or not hasattr(preprocess, "transformers_"):
        return False
    expected = {"numeric": list(schema.numeric_indices), "categorical": list(schema.categorical_indices)}
    fitted = {name: list(columns) for name, _, columns in preprocess.transformers_ if name != "remainder"}
    if fitted != {name: columns for name, columns in expected.items() if columns}:
        return False
    numeric = preprocess.named_transformers_.get("numeric")
    if numeric is not None and [type(step).__name__ for _, step in getattr(numeric, "steps", [])] != [
        "SimpleImputer",
        "StandardScaler",
    ]:
        return False
    encoder = preprocess.named_transformers_.get("categorical")
    if isinstance(encoder, OneHotEncoder):
        return (
            encoder.drop is None
            and encoder.handle_unknown == "ignore"
            and encoder.max_categories is None
            and encoder.min_frequency is None
        )
    return encoder is None or isinstance(encoder, OrdinalEncoder)


def estimator_layout(model: Pipeline) -> str:
    kind = type(model.named_steps["model"])
    names = [name for task in ESTIMATORS.values() for name, cls in task.items() if cls is kind]
    return layout_of(names[0]) if names else "dense64"
