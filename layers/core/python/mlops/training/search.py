"""Hyper-parameter search: default spaces, the trials sampled from a request's spaces, and successive halving.

Sampling is scikit-learn's ``ParameterSampler`` over scipy.stats distributions (``randint``, ``uniform``,
``loguniform``), seeded by the request, so the same request plans the same trials. Several estimators are one list
of spaces: ParameterSampler picks a space per trial, then a value per parameter.

Successive halving is planned up front: rung ``r`` fits ``ceil(n / factor**r)`` trials on
``min(1, min_fraction * factor**r)`` of the training rows, until a rung fits on all of them. Each rung is one
Distributed Map pass; between passes :func:`promote` keeps the best ``1/factor`` of the trials that trained.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats
from sklearn.model_selection import ParameterSampler

from mlops.errors import InvalidTrainingRequest
from mlops.records.request import Choices, EstimatorSpace, FloatRange, Halving, IntRange, SettledSearch
from mlops.records.steps import CandidateResult, RungPlan, TrainedCandidate, Trial
from mlops.training import estimators
from mlops.training.scoring import LOWER_IS_BETTER

_LOG_C = {"type": "float", "low": 1e-3, "high": 1e2, "log": True}
_FOREST = {
    "n_estimators": {"type": "int", "low": 50, "high": 300},
    "max_depth": {"type": "int", "low": 3, "high": 30, "log": True},
    "min_samples_leaf": {"type": "int", "low": 1, "high": 10},
    "max_features": {"type": "categorical", "values": ["sqrt", "log2", 1.0]},
}
_BOOSTING = {
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "max_iter": {"type": "int", "low": 50, "high": 300},
    "max_leaf_nodes": {"type": "int", "low": 8, "high": 64, "log": True},
    "l2_regularization": {"type": "float", "low": 1e-6, "high": 1.0, "log": True},
}
_LIGHTGBM = {  # inside estimators.PARAM_CEILINGS
    "n_estimators": {"type": "int", "low": 50, "high": 400},
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "num_leaves": {"type": "int", "low": 8, "high": 128, "log": True},
    "min_child_samples": {"type": "int", "low": 5, "high": 50, "log": True},
    "reg_lambda": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
    "colsample_bytree": {"type": "float", "low": 0.5, "high": 1.0},
}
_TREE = {
    "max_depth": {"type": "int", "low": 2, "high": 30, "log": True},
    "min_samples_leaf": {"type": "int", "low": 1, "high": 20},
}
_NEIGHBOURS = {
    "n_neighbors": {"type": "int", "low": 1, "high": 50, "log": True},
    "weights": {"type": "categorical", "values": ["uniform", "distance"]},
}
# Every allowed estimator's default space (and what its trials hold fixed): ranges that are sensible for tabular data
# of a few hundred to a few million rows. A request that gives only max_trials searches the task's DEFAULT_ESTIMATORS.
DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "logistic_regression": {"params": {"C": _LOG_C}, "fixed": {"max_iter": 2000}},
    "random_forest": {"params": _FOREST},
    "extra_trees": {"params": _FOREST},
    "hist_gradient_boosting": {"params": _BOOSTING},
    "lightgbm": {"params": _LIGHTGBM},
    "decision_tree": {"params": _TREE},
    "k_neighbors": {"params": _NEIGHBOURS},
    "ridge": {"params": {"alpha": {"type": "float", "low": 1e-3, "high": 1e3, "log": True}}},
    "linear_regression": {"params": {"fit_intercept": {"type": "categorical", "values": [True]}}},
    "elastic_net": {
        "params": {
            "alpha": {"type": "float", "low": 1e-4, "high": 10.0, "log": True},
            "l1_ratio": {"type": "float", "low": 0.0, "high": 1.0},
        },
        "fixed": {"max_iter": 5000},
    },
}
DEFAULT_ESTIMATORS = {
    "classification": ["logistic_regression", "random_forest", "hist_gradient_boosting"],
    "regression": ["ridge", "random_forest", "hist_gradient_boosting"],
}


def default_spaces(task: str) -> list[EstimatorSpace]:
    return [EstimatorSpace.model_validate({"estimator": e, **DEFAULT_SPACES[e]}) for e in DEFAULT_ESTIMATORS[task]]


def check_spaces(task: str, spaces: list[EstimatorSpace]) -> None:
    """Refuse an estimator or parameter the allow-list does not know, naming the request field."""
    for i, space in enumerate(spaces):
        field = f"search.spaces.{i}"
        try:
            estimators.check_candidate(task, space.estimator, {**space.params, **space.fixed})
        except InvalidTrainingRequest as exc:
            raise InvalidTrainingRequest(f"invalid training request: {field}: {exc}") from exc


class _LogUniformInt:
    """scipy's loguniform, rounded to integers (scipy.stats has no discrete log-uniform); ParameterSampler only
    calls ``rvs``."""

    def __init__(self, low: int, high: int) -> None:
        self._continuous = stats.loguniform(low, high + 1)
        self._high = high

    def rvs(self, random_state: Any = None) -> int:
        return min(int(self._continuous.rvs(random_state=random_state)), self._high)


def _distribution(space: IntRange | FloatRange | Choices) -> Any:
    if isinstance(space, Choices):
        return list(space.values)
    if isinstance(space, IntRange):
        return _LogUniformInt(space.low, space.high) if space.log else stats.randint(space.low, space.high + 1)
    if space.log:
        return stats.loguniform(space.low, space.high)
    return stats.uniform(space.low, space.high - space.low)


def _plain(value: Any) -> Any:
    """numpy scalars as JSON numbers (the trial list is JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def sample(search: SettledSearch) -> list[tuple[str, dict[str, Any]]]:
    """``max_trials`` (estimator, params) pairs, the same for the same spaces and seed. A space of categorical
    choices only is sampled without replacement, so it can yield fewer trials than asked (its grid's size)."""
    distributions = [
        {"__space": [i], **{name: _distribution(p) for name, p in space.params.items()}}
        for i, space in enumerate(search.spaces)
    ]
    sampler = ParameterSampler(distributions, n_iter=search.max_trials, random_state=search.seed)
    trials = []
    for drawn in sampler:
        space = search.spaces[drawn.pop("__space")]
        params = {**space.fixed, **{name: _plain(value) for name, value in drawn.items()}}
        trials.append((space.estimator, params))
    return trials


def rungs(trials: int, halving: Halving | None) -> list[RungPlan]:
    """The rung structure: how many trials fit on what share of the training rows, rung by rung."""
    if halving is None:
        return [RungPlan(rung=0, trials=trials, fraction=1.0)]
    plan = []
    count, fraction = trials, halving.min_fraction
    while True:
        last = fraction >= 1.0 - 1e-9 or count == 1
        plan.append(RungPlan(rung=len(plan), trials=count, fraction=1.0 if last else round(fraction, 6)))
        if last:
            return plan
        count = max(1, math.ceil(count / halving.factor))
        fraction *= halving.factor


def first_rung(candidates: list[tuple[str, dict[str, Any]]], plan: list[RungPlan]) -> list[Trial]:
    return [
        Trial(trial_id=f"t{i:04d}", index=i, rung=0, fraction=plan[0].fraction, estimator=e, params=p)
        for i, (e, p) in enumerate(candidates)
    ]


def promote(results: list[CandidateResult], metric: str, plan: RungPlan) -> list[Trial]:
    """The best ``plan.trials`` trials of a rung (by validation ``metric``; failed ones never go on), for the next."""
    trained = [r for r in results if isinstance(r, TrainedCandidate) and metric in r.validation_metrics]
    ranked = _ranked(trained, metric)[: plan.trials]
    return [
        Trial(
            trial_id=r.trial_id or f"t{r.index:04d}",
            index=r.index,
            rung=plan.rung,
            fraction=plan.fraction,
            estimator=r.estimator,
            params=r.params,
        )
        for r in ranked
    ]


def _ranked(trained: list[TrainedCandidate], metric: str) -> list[TrainedCandidate]:
    sign = 1 if metric in LOWER_IS_BETTER else -1
    return sorted(trained, key=lambda r: (sign * r.validation_metrics[metric], r.index))
