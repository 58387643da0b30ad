"""The gate's paired bootstrap: the vectorised metrics are scikit-learn's on every resample, the interval is seeded,
and a gain within the holdout's noise is held only when the gate requires it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from mlops.training import evaluation, scoring
from mlops.training.significance import Outputs, improvement_interval, metric_per_resample, resample_chunks


def resample_indices(rows: int, resamples: int, seed: int) -> np.ndarray:
    """Every resample's row indices as one matrix (the chunks the bootstrap draws, stacked)."""
    return np.vstack(list(resample_chunks(rows, resamples, seed)))


RESAMPLES_COMPARED = 25


def _classifier_outputs(rng: np.random.Generator, target: np.ndarray, classes: list[str], skill: float) -> Outputs:
    """Probabilities that favour the true class by ``skill`` (ties included: rounded to 2 decimals)."""
    logits = rng.normal(size=(len(target), len(classes)))
    logits[np.arange(len(target)), [classes.index(t) for t in target]] += skill
    probabilities = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 2)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    labels = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
    return Outputs(labels=labels, probabilities=probabilities, classes=tuple(classes))


def _sklearn(metric: str, target, outputs: Outputs, classes: list[str], positive: str | None) -> float:  # noqa: PLR0911
    labels, probabilities = outputs.labels, outputs.probabilities
    if metric == "accuracy":
        return skm.accuracy_score(target, labels)
    if metric == "balanced_accuracy":
        return skm.balanced_accuracy_score(target, labels)
    if metric == "f1":
        if positive is not None:
            return skm.f1_score(target, labels, pos_label=positive, average="binary", zero_division=0)
        return skm.f1_score(target, labels, average="macro", labels=classes, zero_division=0)
    if metric == "log_loss":
        return skm.log_loss(target, probabilities, labels=classes)
    if metric == "roc_auc":
        if positive is not None:
            return skm.roc_auc_score(target == positive, probabilities[:, classes.index(positive)])
        return skm.roc_auc_score(target, probabilities, multi_class="ovr", average="macro", labels=classes)
    if metric == "average_precision":
        if positive is not None:
            return skm.average_precision_score(target == positive, probabilities[:, classes.index(positive)])
        indicators = np.asarray(target)[:, None] == np.asarray(classes, dtype=object)[None, :]
        return skm.average_precision_score(indicators, probabilities, average="macro")
    raise AssertionError(metric)


@pytest.mark.parametrize("classes", [["no", "yes"], ["a", "b", "c"]], ids=["binary", "multiclass"])
@pytest.mark.parametrize("metric", scoring.CLASSIFICATION_METRICS)
def test_vectorised_classification_metrics_are_scikit_learns_on_every_resample(metric, classes):
    rng = np.random.default_rng(7)
    target = np.asarray(rng.choice(classes, size=160), dtype=object)
    outputs = _classifier_outputs(rng, target, classes, skill=1.2)
    positive = classes[1] if len(classes) == 2 else None
    index = np.vstack([np.arange(len(target)), resample_indices(len(target), RESAMPLES_COMPARED, seed=3)])

    vectorised = metric_per_resample(
        metric, "classification", target, outputs, index, classes=classes, positive=positive
    )
    expected = [_sklearn(metric, target[rows], _take(outputs, rows), classes, positive) for rows in index]
    np.testing.assert_allclose(vectorised, expected, rtol=1e-9, atol=1e-12)


def _take(outputs: Outputs, rows: np.ndarray) -> Outputs:
    return Outputs(outputs.labels[rows], outputs.probabilities[rows], outputs.classes)


@pytest.mark.parametrize("metric", scoring.REGRESSION_METRICS)
def test_vectorised_regression_metrics_are_scikit_learns_on_every_resample(metric):
    rng = np.random.default_rng(11)
    target = rng.normal(100, 15, size=140)
    outputs = Outputs(labels=target + rng.normal(0, 6, size=140))
    index = np.vstack([np.arange(140), resample_indices(140, RESAMPLES_COMPARED, seed=5)])

    vectorised = metric_per_resample(metric, "regression", target, outputs, index)
    score = {
        "rmse": lambda y, p: math.sqrt(skm.mean_squared_error(y, p)),
        "mae": skm.mean_absolute_error,
        "r2": skm.r2_score,
    }[metric]
    np.testing.assert_allclose(vectorised, [score(target[rows], outputs.labels[rows]) for rows in index], rtol=1e-9)


def _pair(rows: int, extra_right: int, seed: int = 1) -> tuple[np.ndarray, Outputs, Outputs]:
    """A champion right on 80% of ``rows``; a challenger right on the same rows plus ``extra_right`` more, and
    wrong on none the champion gets right (labels only: accuracy)."""
    rng = np.random.default_rng(seed)
    target = np.asarray(rng.choice(["no", "yes"], size=rows), dtype=object)
    wrong = rng.permutation(rows)[: rows // 5]
    flip = {"no": "yes", "yes": "no"}
    champion = target.copy()
    champion[wrong] = [flip[t] for t in target[wrong]]
    challenger = champion.copy()
    challenger[wrong[:extra_right]] = target[wrong[:extra_right]]
    return target, Outputs(challenger), Outputs(champion)


def _interval(target, challenger, champion, seed: int = 0, resamples: int = 2000):
    return improvement_interval(
        "accuracy", "classification", target, challenger, champion,
        higher_is_better=True, resamples=resamples, seed=seed, confidence=0.95, classes=["no", "yes"], positive="yes",
    )  # fmt: skip


def test_the_interval_is_seeded_and_pairs_the_rows():
    target, challenger, champion = _pair(rows=200, extra_right=4)
    first, again, other = _interval(target, challenger, champion), _interval(target, challenger, champion), None
    other = _interval(target, challenger, champion, seed=1)

    assert first == again  # the same seed draws the same resamples: the same interval, to the last digit
    assert (other.low, other.high) != (first.low, first.high)
    assert first.observed_improvement == pytest.approx(4 / 200)
    # Paired: the challenger is never worse on any row, so no resample can show it worse
    assert first.low >= 0 and first.low <= first.observed_improvement <= first.high
    # An unpaired view (independent resamples per model) would be far wider; the paired one is about
    # sqrt(4)/200 * 1.96 wide on each side here (the 4 changed rows carry all the noise)
    assert first.high - first.low < 0.05


def _gate(interval, *, require: bool | None, min_improvement: float = 0.005) -> evaluation.GateDecision:
    bootstrap = None if require is None else {"resamples": interval.resamples, "seed": 0, "require": require}
    config = evaluation.GateConfig(metric="accuracy", min_improvement=min_improvement, bootstrap=bootstrap)
    challenger_score = 0.8 + interval.observed_improvement
    return evaluation.gate(config, {"accuracy": challenger_score}, {"accuracy": 0.8}, 1, interval=interval)


def test_a_gain_within_the_noise_is_held_when_required_and_passes_when_not():
    # Given a challenger right on 2 more rows of 200 (+0.01, above the 0.005 margin) than the champion
    target, challenger, champion = _pair(rows=200, extra_right=2)
    interval = _interval(target, challenger, champion)
    assert interval.observed_improvement == pytest.approx(0.01) and interval.low <= 0.005

    held = _gate(interval, require=True)
    recorded = _gate(interval, require=False)
    plain = _gate(interval, require=None)

    assert (held.passed, recorded.passed, plain.passed) == (False, True, True)
    assert held.bootstrap.model_dump() == {**interval.model_dump(), "required": True, "passed": False}
    assert recorded.bootstrap.model_dump() == {**interval.model_dump(), "required": False, "passed": None}
    assert plain.bootstrap is None
    assert "within the holdout's sampling noise" in held.reasons[-1], held.reasons


def test_a_gain_well_beyond_the_noise_passes_the_required_interval():
    target, challenger, champion = _pair(rows=200, extra_right=30)
    interval = _interval(target, challenger, champion)
    decided = _gate(interval, require=True)
    assert interval.low > 0.005 and decided.passed is True and decided.bootstrap.passed is True


def test_without_per_row_outputs_a_required_interval_holds_the_challenger():
    config = evaluation.GateConfig(metric="f1", min_improvement=0.001, bootstrap={"require": True})
    decided = evaluation.gate(config, {"f1": 0.95}, {"f1": 0.90}, 1, interval_problem="champion compared by record")
    assert decided.passed is False and "could not be measured (champion compared by record)" in decided.reasons[-1]
    config.bootstrap = {"require": False}
    assert evaluation.gate(config, {"f1": 0.95}, {"f1": 0.90}, 1).passed is True


def test_lower_is_better_metrics_count_an_improvement_as_positive():
    rng = np.random.default_rng(2)
    target = rng.normal(size=300)
    better, worse = Outputs(target + rng.normal(0, 0.5, 300)), Outputs(target + rng.normal(0, 1.0, 300))
    interval = improvement_interval(
        "rmse", "regression", target, better, worse, higher_is_better=False, resamples=500, seed=0, confidence=0.9
    )
    assert interval.low > 0 and interval.observed_improvement > 0
