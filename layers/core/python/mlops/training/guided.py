"""The guided search's proposer: each wave after the first chosen from the scores of the waves before it.

A Gaussian process (scikit-learn's ``GaussianProcessRegressor``, Matern kernel plus noise) is fitted to the trials
that trained, each encoded in the unit cube (a space's one-hot, then each parameter on its own scale: log where the
range is log, one-hot for choices); the next wave is the candidates of highest expected improvement among random
draws and perturbations of the best trials so far, picked one at a time with the "constant liar" (a picked point is
added as if it scored the best score, so a wave spreads out instead of stacking on one optimum). Optuna's TPE was the
first choice, but Optuna with its required dependencies (SQLAlchemy, Alembic, PyYAML, ...) is 42 MiB unzipped beside
the ML layer's NumPy, and PlanTrials (core + ML layers, ~170 MiB) has 30 MiB left of its 200 MiB budget.

Seeded by the search's seed and the wave, so a rerun plans the same trials.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from mlops.records.request import Choices, EstimatorSpace, FloatRange, IntRange, SettledSearch

RANDOM_CANDIDATES = 512  # random draws scored by expected improvement for each wave
LOCAL_CANDIDATES = 512  # perturbations of the best trials so far
LOCAL_SCALE = 0.1  # a perturbation's standard deviation in the unit cube
SPACE_WEIGHT = 1.0  # how far apart two estimators' trials are in the encoding

Observed = tuple[str, dict[str, Any], float]  # estimator, params, validation score (higher is better)


def wave_sizes(max_trials: int, waves: int) -> list[int]:
    """``max_trials`` split into at most ``waves`` waves, the earlier ones the larger (20 in 4: 5, 5, 5, 5)."""
    waves = max(1, min(waves, max_trials))
    base, extra = divmod(max_trials, waves)
    return [base + (1 if i < extra else 0) for i in range(waves)]


def _unit(space: IntRange | FloatRange | Choices, value: Any) -> float | None:
    """A parameter's value on its unit scale (None: not in the space, e.g. a hand-edited choice)."""
    if isinstance(space, Choices):
        return None
    if space.log:
        low, high = math.log(space.low), math.log(space.high + (1 if isinstance(space, IntRange) else 0))
        return float(np.clip((math.log(max(value, space.low)) - low) / (high - low), 0.0, 1.0))
    high = space.high + (1 if isinstance(space, IntRange) else 0)
    return float(np.clip((value - space.low) / (high - space.low) if high > space.low else 0.5, 0.0, 1.0))


def _value(space: IntRange | FloatRange, u: float) -> Any:
    """The value at ``u`` on a range's unit scale (the inverse of :func:`_unit`)."""
    integer = isinstance(space, IntRange)
    high = space.high + (1 if integer else 0)
    if space.log:
        value = math.exp(math.log(space.low) + u * (math.log(high) - math.log(space.low)))
    else:
        value = space.low + u * (high - space.low)
    return min(int(value), space.high) if integer else float(min(max(value, space.low), space.high))


class _Encoding:
    """Every space's trials as vectors of one length: [space one-hot | space 0's parameters | space 1's | ...]."""

    def __init__(self, spaces: list[EstimatorSpace]) -> None:
        self.spaces = spaces
        self.offsets, width = [], len(spaces)
        for space in spaces:
            self.offsets.append(width)
            width += sum(len(p.values) if isinstance(p, Choices) else 1 for p in space.params.values())
        self.width = width

    def encode(self, space_index: int, params: dict[str, Any]) -> np.ndarray:
        vector = np.zeros(self.width)
        vector[space_index] = SPACE_WEIGHT
        column = self.offsets[space_index]
        for name, p in self.spaces[space_index].params.items():
            if isinstance(p, Choices):
                if params.get(name) in p.values:
                    vector[column + list(p.values).index(params[name])] = 1.0
                column += len(p.values)
            else:
                u = _unit(p, params[name]) if name in params else None
                vector[column] = 0.5 if u is None else u
                column += 1
        return vector

    def space_of(self, estimator: str, params: dict[str, Any]) -> int | None:
        """The space a trial came from: the first of its estimator's spaces whose parameters it has."""
        for i, space in enumerate(self.spaces):
            if space.estimator == estimator and set(space.params) <= set(params):
                return i
        return None


def _draw(space: EstimatorSpace, rng: np.random.Generator) -> dict[str, Any]:
    return {
        name: p.values[int(rng.integers(len(p.values)))] if isinstance(p, Choices) else _value(p, float(rng.random()))
        for name, p in space.params.items()
    }


def _perturb(space: EstimatorSpace, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    moved = {}
    for name, p in space.params.items():
        if isinstance(p, Choices):
            keep = name in params and rng.random() > LOCAL_SCALE * 2
            moved[name] = params[name] if keep else p.values[int(rng.integers(len(p.values)))]
        else:
            u = _unit(p, params[name]) if name in params else float(rng.random())
            moved[name] = _value(p, float(np.clip((0.5 if u is None else u) + rng.normal(0, LOCAL_SCALE), 0, 1)))
    return moved


def _expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    std = np.maximum(std, 1e-9)
    z = (mean - best) / std
    return (mean - best) * stats.norm.cdf(z) + std * stats.norm.pdf(z)


def propose(search: SettledSearch, observed: list[Observed], count: int, wave: int) -> list[tuple[str, dict[str, Any]]]:
    """The next wave's ``count`` (estimator, params) pairs from the trials so far (their validation scores, higher
    is better); fewer than two scores to learn from: random draws. The same search, scores and wave: the same wave."""
    rng = np.random.default_rng([search.seed, wave])
    encoding = _Encoding(search.spaces)
    points, scores = [], []
    for estimator, params, score in observed:
        index = encoding.space_of(estimator, params)
        if index is not None and math.isfinite(score):
            points.append((index, params))
            scores.append(score)
    seen = {_key(i, {name: p.get(name) for name in search.spaces[i].params}) for i, p in points}
    candidates = []
    for candidate in _candidates(search.spaces, points, scores, rng):  # never a trial already run, nor one twice
        if (key := _key(*candidate)) not in seen:
            seen.add(key)
            candidates.append(candidate)
    if len(scores) < 2:
        picks = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
        return [_trial(search.spaces, candidates[int(i)]) for i in picks]
    x = np.array([encoding.encode(i, p) for i, p in points])
    y = np.array(scores, dtype=float)
    grid = np.array([encoding.encode(i, p) for i, p in candidates])
    chosen: list[int] = []
    model = _fit(x, y, int(rng.integers(2**31)))
    for _ in range(min(count, len(candidates))):
        mean, std = model.predict(grid, return_std=True)
        improvement = _expected_improvement(mean, std, float(y.max()))
        improvement[chosen] = -np.inf
        pick = int(np.argmax(improvement))
        chosen.append(pick)
        x, y = np.vstack([x, grid[pick]]), np.append(y, y.max())  # the constant liar, on the kernel fitted once
        model = GaussianProcessRegressor(kernel=model.kernel_, normalize_y=True, optimizer=None).fit(x, y)
    return [_trial(search.spaces, candidates[i]) for i in chosen]


def _candidates(
    spaces: list[EstimatorSpace],
    points: list[tuple[int, dict[str, Any]]],
    scores: list[float],
    rng: np.random.Generator,
) -> list[tuple[int, dict[str, Any]]]:
    """Random draws over every space, and perturbations of the best few trials so far."""
    drawn = [(int(i), _draw(spaces[int(i)], rng)) for i in rng.integers(len(spaces), size=RANDOM_CANDIDATES)]
    best = [points[i] for i in np.argsort(scores)[::-1][:3]]
    local = [(i, _perturb(spaces[i], p, rng)) for i, p in best for _ in range(LOCAL_CANDIDATES // max(1, len(best)))]
    return drawn + (local if best else [])


def _key(index: int, params: dict[str, Any]) -> str:
    return json.dumps([index, params], sort_keys=True, default=str)


def _fit(x: np.ndarray, y: np.ndarray, seed: int) -> GaussianProcessRegressor:
    kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
        length_scale=np.full(x.shape[1], 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
    ) + WhiteKernel(1e-3, (1e-6, 1e-1))
    model = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, y)


def _trial(spaces: list[EstimatorSpace], candidate: tuple[int, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    index, params = candidate
    return spaces[index].estimator, {**spaces[index].fixed, **params}
