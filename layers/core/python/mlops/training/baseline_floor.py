"""The floors under every deployment: the winner against a trivial baseline on the same holdout rows, and the stack's
minimum score per metric (GateMinimumScores), which a request may make stricter but never looser.

Every run fits scikit-learn's ``DummyClassifier(strategy="prior")`` (the training split's class shares as
probabilities, its majority class as the label) or ``DummyRegressor(strategy="mean")`` on the training split and
scores it on the holdout beside the winner. The gate refuses a winner that does not beat it, with or without a
champion, on every checked metric:

- the gate's own metric — except F1, for which balanced accuracy stands in: a constant predictor's F1 is 0 when the
  positive class is the minority (a model that finds one positive by luck beats it) and 2p/(1+p) when it is the
  majority (a useful model can fail to beat it on a small holdout), so it says which class was named positive, not
  how good the labels are; balanced accuracy is 0.5 (1/k for k classes) for every constant predictor. F1's lift is
  still recorded, as a check that does not decide;
- and the task's reference metric, on which a trivial baseline means something whatever the gate metric: ROC AUC
  for classification (the baseline gives every row the same score: 0.5) and R² for regression (the training mean:
  about 0).

"Beats" is the paired bootstrap of ``mlops.training.significance`` (the winner and the baseline on the same resamples
of the holdout rows): the lower bound of the interval of the improvement must be above ``BASELINE_MARGIN``. Each
check carries its reason in words ("no better than always predicting 'No'", "no better than predicting the mean,
1234.5"), which the gate reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.records.gate import BaselineCheck, BaselineFloor, BootstrapInterval
from mlops.training import significance
from mlops.training.scoring import FLOAT_TOLERANCE, higher_is_better, score

BASELINE_MARGIN = 0.0
REFERENCE_METRIC = {"classification": "roc_auc", "regression": "r2"}
STAND_IN = {"f1": "balanced_accuracy"}  # a gate metric the baseline says nothing on, and the one checked instead
# The floor's bootstrap, unless the request's gate.bootstrap sets its resamples, seed and confidence. By default a large
# holdout gets fewer resamples (at least MIN_RESAMPLES): about this many row indices in all, so the floor costs a few
# seconds whatever the holdout (ROC AUC by ranks: ~9 s for 1,000 resamples of 10,000 rows, docs/architecture.md).
DEFAULT_RESAMPLES = 1000
MIN_RESAMPLES = 200
DEFAULT_MAX_INDICES = 4_000_000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95


def fit_baseline(schema: Schema, train_x: np.ndarray, train_y: np.ndarray) -> Any:
    """The trivial baseline, fitted on the training split (it reads only the target)."""
    from sklearn.dummy import DummyClassifier, DummyRegressor  # noqa: PLC0415 - scikit-learn's, as the estimators

    if schema.task == "regression":
        return DummyRegressor(strategy="mean").fit(train_x, np.asarray(train_y, dtype=np.float64))
    return DummyClassifier(strategy="prior").fit(train_x, train_y)


def described(baseline: Any, task: str) -> str:
    """What the baseline does, in words."""
    if task == "regression":
        return f"predicting the mean, {float(np.ravel(baseline.constant_)[0]):.6g}"
    majority = baseline.classes_[int(np.argmax(baseline.class_prior_))]
    return f"always predicting '{majority}'"


def default_resamples(rows: int) -> int:
    """The floor's resamples when the request sets none: 1,000, fewer for a large holdout (never under 200)."""
    return max(MIN_RESAMPLES, min(DEFAULT_RESAMPLES, DEFAULT_MAX_INDICES // max(rows, 1)))


def checked_metrics(task: str, gate_metric: str) -> list[tuple[str, bool]]:
    """(metric, whether its check decides): the gate's metric (recorded only if it has a stand-in), its stand-in,
    then the task's reference metric if it is another."""
    checks = [(gate_metric, gate_metric not in STAND_IN)]
    for metric in (STAND_IN.get(gate_metric), REFERENCE_METRIC[task]):
        if metric is not None and metric not in (name for name, _ in checks):
            checks.append((metric, True))
    return checks


def ratio(metric: str, winner: float, baseline: float) -> float | None:
    """How many times better the winner is, where a ratio means something: winner / baseline for a score whose
    baseline is above 0, baseline / winner for a loss (log loss, RMSE, MAE) whose winner's is above 0. None for R²
    (the baseline's is about 0, of either sign) and for a score whose baseline is 0 (F1 of always predicting 'No')."""
    if metric == "r2":
        return None
    if higher_is_better(metric):
        return winner / baseline if baseline > FLOAT_TOLERANCE else None
    return baseline / winner if winner > FLOAT_TOLERANCE else None


def measure(
    schema: Schema,
    gate_metric: str,
    model: Any,
    holdout_metrics: dict[str, float],
    *,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    bootstrap: dict[str, Any] | None = None,
    margin: float = BASELINE_MARGIN,
) -> BaselineFloor:
    """Fit the baseline on ``train`` (features, target), score it on ``test`` beside the winner ``model`` (whose
    holdout metrics are ``holdout_metrics``), and check the winner against it on every checked metric."""
    test_x, test_y = test
    baseline = fit_baseline(schema, *train)
    baseline_metrics = score(baseline, test_x, test_y, schema)
    options = bootstrap or {}
    resamples = int(options.get("resamples", default_resamples(len(test_y))))
    seed = int(options.get("seed", DEFAULT_SEED))
    confidence = float(options.get("confidence", DEFAULT_CONFIDENCE))
    winner_outputs = significance.model_outputs(model, test_x, schema.task)
    baseline_outputs = significance.model_outputs(baseline, test_x, schema.task)
    words = described(baseline, schema.task)
    checks = []
    for metric, decides in checked_metrics(schema.task, gate_metric):
        if not decides:
            checks.append(_recorded(metric, holdout_metrics[metric], baseline_metrics[metric], words=words))
            continue
        try:
            interval: BootstrapInterval | None = significance.improvement_interval(
                metric,
                schema.task,
                test_y,
                winner_outputs,
                baseline_outputs,
                higher_is_better=higher_is_better(metric),
                resamples=resamples,
                seed=seed,
                confidence=confidence,
                classes=list(schema.classes or []),
                positive=schema.positive_class,
            )
        except ValueError:  # no resample gives a finite metric: the point difference decides
            interval = None
        checks.append(
            _check(metric, holdout_metrics[metric], baseline_metrics[metric], interval, margin=margin, words=words)
        )
    return BaselineFloor(
        strategy="mean" if schema.task == "regression" else "prior",
        predicts=words,
        metrics=baseline_metrics,
        margin=margin,
        checks=checks,
        passed=all(check.passed for check in checks if check.decides),
    )


def _recorded(metric: str, winner: float, baseline: float, *, words: str) -> BaselineCheck:
    """A gate metric the baseline says nothing on: its lift recorded, no interval drawn, no say in the gate."""
    difference = winner - baseline if higher_is_better(metric) else baseline - winner
    return BaselineCheck(
        metric=metric,
        winner_score=winner,
        baseline_score=baseline,
        difference=difference,
        ratio=ratio(metric, winner, baseline),
        passed=difference > 0,
        decides=False,
        reason=f"{metric} {winner:.4f} vs {baseline:.4f} for {words} (recorded, not decisive: a constant predictor's "
        f"{metric} says which class is positive; {STAND_IN[metric]} decides)",
    )


def _check(
    metric: str, winner: float, baseline: float, interval: BootstrapInterval | None, *, margin: float, words: str
) -> BaselineCheck:
    difference = winner - baseline if higher_is_better(metric) else baseline - winner
    if interval is not None:
        passed = interval.low > margin
        interval = interval.model_copy(update={"required": True, "passed": passed})
    else:
        passed = difference > margin
    return BaselineCheck(
        metric=metric,
        winner_score=winner,
        baseline_score=baseline,
        difference=difference,
        ratio=ratio(metric, winner, baseline),
        interval=interval,
        passed=passed,
        reason=reason(metric, winner, baseline, interval, margin=margin, words=words, passed=passed),
    )


def reason(
    metric: str,
    winner: float,
    baseline: float,
    interval: BootstrapInterval | None,
    *,
    margin: float,
    words: str,
    passed: bool,
) -> str:
    """One check in words, as the gate reports it."""
    scores = f"{metric} {winner:.4f} vs {baseline:.4f}"
    if interval is None:
        evidence = f"(the improvement's interval could not be measured; the difference {winner - baseline:+.4f})"
    else:
        evidence = (
            f"({interval.confidence:.0%} interval of the improvement [{interval.low:+.4f}, {interval.high:+.4f}], "
            f"{interval.usable_resamples} resamples of {interval.rows} rows, seed {interval.seed}"
            + (f", above {margin})" if passed else f", not above {margin})")
        )
    if passed:
        return f"better than {words}: {scores} {evidence}"
    return f"no better than {words}: {scores} {evidence}"


def settled_min_score(metric: str, requested: float | None, floors: dict[str, float]) -> float | None:
    """The gate's minimum score: the stack's floor for ``metric`` (GateMinimumScores) unless the request asks for
    a stricter one; a request asking for a looser one is refused (ValueError), not quietly raised."""
    floor = floors.get(metric)
    if floor is None:
        return requested
    if requested is None:
        return floor
    looser = requested < floor if higher_is_better(metric) else requested > floor
    if looser:
        relation = "below" if higher_is_better(metric) else "above"
        raise ValueError(
            f"gate.min_score {requested} for {metric} is {relation} the stack's floor {metric}={floor} "
            "(GateMinimumScores): a request may make it stricter, not looser"
        )
    return requested
