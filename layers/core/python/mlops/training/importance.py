"""Why the model decides: permutation importance of the winner on the holdout (scikit-learn's
``permutation_importance``), measured by Evaluate for every version, kept on the version and its card, and used by
the drift report to rank drifted features (``mlops.monitoring.importance``).

Bounded so Evaluate stays within its budget: at most ``MAX_ROWS`` holdout rows (a seeded sample) and ``REPEATS``
shuffles per feature, and fewer rows when the table is wide, so that features × repeats × rows predictions stay
under ``PREDICTED_ROWS_BUDGET``; a table of more than ``MAX_FEATURES_MEASURED`` features is not measured (None). The
``MAX_FEATURES_KEPT`` most important are kept (the version item and the state stay small on wide tables). The score
is balanced accuracy for a classifier (an imbalanced target does not hide a feature behind the majority class) and the
mean absolute error for a regressor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.records.steps import FeatureEffect, FeatureImportance

MAX_ROWS = 2000
MIN_ROWS = 200
REPEATS = 5
PREDICTED_ROWS_BUDGET = 400_000
MAX_FEATURES_KEPT = 30  # the version item and the state keep the most important; the rest rank below them
MAX_FEATURES_MEASURED = 1000  # wider tables are not measured: a shuffle per feature and repeat outgrows Evaluate
SCORING = {"classification": "balanced_accuracy", "regression": "neg_mean_absolute_error"}


def bounded_rows(rows: int, features: int, repeats: int = REPEATS) -> int:
    """How many holdout rows the importance is measured on."""
    by_budget = PREDICTED_ROWS_BUDGET // max(features * repeats, 1)
    return min(rows, MAX_ROWS, max(MIN_ROWS, by_budget))


def measure(
    model: Any, features: np.ndarray, target: np.ndarray, schema: Schema, *, seed: int, repeats: int = REPEATS
) -> FeatureImportance | None:
    """Each feature's mean score drop when shuffled (and its spread over the repeats), most important first."""
    if features.shape[1] > MAX_FEATURES_MEASURED:
        return None
    from sklearn.inspection import permutation_importance  # noqa: PLC0415 - training-only dependency

    rows = bounded_rows(len(target), features.shape[1], repeats)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(target), size=rows, replace=False)) if rows < len(target) else slice(None)
    scoring = SCORING[schema.task]
    result = permutation_importance(
        model, features[sample], target[sample], scoring=scoring, n_repeats=repeats, random_state=seed, n_jobs=1
    )
    order = np.argsort(-result.importances_mean, kind="stable")
    effects = [
        FeatureEffect(
            name=schema.features[i].name,
            importance=float(result.importances_mean[i]),
            std=float(result.importances_std[i]),
            rank=rank,
        )
        for rank, i in enumerate(order[:MAX_FEATURES_KEPT], start=1)
    ]
    return FeatureImportance(
        scoring=scoring, rows=rows, repeats=repeats, seed=seed, features=effects, measured=features.shape[1]
    )
