"""Candidate selection, the promotion gate, and the Evaluate step that applies them (the metrics: ``scoring``).

Evaluate picks the best trained candidate on validation (``mlops.training.imbalance`` for an imbalanced binary
target: the selection metric and the decision threshold), scores it, the trivial baseline
(``mlops.training.baseline_floor``) and the production champion on the same holdout
(``mlops.training.champion``), scans for leakage (``mlops.training.leakage``), draws the paired bootstrap when the
gate asks for one (``mlops.training.significance``) and gates; the leaderboard and the prediction baseline go to S3,
with what monitoring needs of the version: its label-free performance estimator (``mlops.training.estimator``) and
its permutation importance on the holdout (``mlops.training.importance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.data import baseline
from mlops.data.dataset import Schema
from mlops.errors import InvalidStepInput, NoCandidateTrained
from mlops.records.gate import BaselineFloor, BootstrapInterval
from mlops.records.lineage import library_versions, run_id_of
from mlops.records.request import NormalisedRequest
from mlops.records.steps import (
    ChampionSummary,
    EvaluationResult,
    FailedCandidate,
    GateDecision,
    LeaderboardEntry,
    LeaderboardSummary,
    PreparedDataset,
    TrainedCandidate,
)
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri
from mlops.training import baseline_floor, estimator, imbalance, importance, lean, significance
from mlops.training.champion import Champion, production_champion
from mlops.training.leakage import leakage_warnings
from mlops.training.run_files import load_matrices, load_schema, put_document
from mlops.training.scoring import DEFAULT_METRIC, FLOAT_TOLERANCE, higher_is_better, metrics_for, score


@dataclass
class GateConfig:
    metric: str
    min_score: float | None = None
    min_improvement: float = 0.001
    block_on_leakage: bool = False
    bootstrap: dict[str, Any] | None = None  # request.GateBootstrap's fields: resamples, seed, confidence, require

    @classmethod
    def from_request(cls, task: str, gate: dict[str, Any] | None) -> GateConfig:
        gate = dict(gate or {})
        metric = gate.pop("metric", DEFAULT_METRIC[task])
        config = cls(metric=metric, **gate)
        if config.metric not in metrics_for(task):
            raise ValueError(f"gate metric {metric!r} is not a {task} metric; choose one of {metrics_for(task)}")
        if config.min_improvement < 0:
            raise ValueError("gate min_improvement cannot be negative")
        return config


def gate(
    config: GateConfig,
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    champion_version: int | None,
    champion_problem: str | None = None,
    *,
    warnings: list[str] | None = None,
    champion_note: str | None = None,
    interval: BootstrapInterval | None = None,
    interval_problem: str | None = None,
    floor: BaselineFloor | None = None,
) -> GateDecision:
    """Promote only if the challenger clears the absolute threshold and beats the champion by the margin,
    both measured on the same holdout. Warnings (e.g. leakage) are recorded, and block only when configured.

    With ``floor`` (``mlops.training.baseline_floor``), the challenger must also beat the trivial baseline on every
    checked metric, with or without a champion.

    With ``config.bootstrap``, ``interval`` is the paired bootstrap of the improvement (``interval_problem`` says
    why there is none); it is recorded, and with ``require`` its lower bound must be above the margin too."""
    metric = config.metric
    value = challenger[metric]
    better = higher_is_better(metric)
    passed = True
    reasons = []
    if config.min_score is not None:
        clears = value >= config.min_score - FLOAT_TOLERANCE if better else value <= config.min_score + FLOAT_TOLERANCE
        relation = "≥" if better else "≤"
        reasons.append(
            f"{metric} {value:.4f} {'meets' if clears else 'fails'} the threshold {relation} {config.min_score}"
        )
        passed &= clears
    if floor is not None:
        reasons.extend(check.reason for check in floor.checks)
        passed &= floor.passed
    champion_score = None
    if champion_problem:
        reasons.append(f"champion v{champion_version} cannot be compared: {champion_problem}")
        passed = False
    elif champion is None:
        reasons.append("no champion in production: nothing to beat")
    else:
        champion_score = champion[metric]
        improvement = value - champion_score if better else champion_score - value
        beats = improvement >= config.min_improvement - FLOAT_TOLERANCE
        reasons.append(
            f"{metric} {value:.4f} vs champion v{champion_version} {champion_score:.4f}: improvement "
            f"{improvement:+.4f} {'meets' if beats else 'is below'} the minimum {config.min_improvement}"
        )
        passed &= beats
        if champion_note:
            reasons.append(champion_note)
        if config.bootstrap is not None:
            interval, noise_passes, reason = _noise_check(config, interval, interval_problem)
            reasons.append(reason)
            passed &= noise_passes
    warnings = list(warnings or [])
    if warnings and config.block_on_leakage:
        reasons.append(f"possible target leakage blocks promotion (gate.block_on_leakage): {'; '.join(warnings)}")
        passed = False
    return GateDecision(
        passed=passed,
        metric=metric,
        challenger_score=value,
        champion_score=champion_score,
        champion_version=champion_version,
        min_score=config.min_score,
        min_improvement=config.min_improvement,
        reasons=reasons,
        warnings=warnings,
        decision="promote" if passed else "reject",
        bootstrap=interval if config.bootstrap is not None and champion_score is not None else None,
        baseline=floor,
    )


def _noise_check(
    config: GateConfig, interval: BootstrapInterval | None, problem: str | None
) -> tuple[BootstrapInterval | None, bool, str]:
    """(the interval with its verdict, whether the gate may pass on it, the reason) for a gate with a bootstrap."""
    required = bool((config.bootstrap or {}).get("require", True))
    if interval is None:
        why = problem or "the champion's per-row outputs on this holdout are not available"
        if required:
            return None, False, f"the improvement's confidence interval could not be measured ({why}): held"
        return None, True, f"the improvement's confidence interval could not be measured ({why})"
    level = f"{interval.confidence:.0%}"
    bounds = f"[{interval.low:+.4f}, {interval.high:+.4f}]"
    described = (
        f"paired bootstrap ({interval.usable_resamples} resamples of {interval.rows} rows, seed {interval.seed}): "
        f"{level} interval of the {interval.metric} improvement {bounds}"
    )
    if not required:
        return interval.model_copy(update={"required": False, "passed": None}), True, described + " (recorded only)"
    above = interval.low > config.min_improvement
    verdict = (
        f"its lower bound is above the minimum {config.min_improvement}"
        if above
        else f"its lower bound is not above the minimum {config.min_improvement}: the gain is within the "
        "holdout's sampling noise"
    )
    return interval.model_copy(update={"required": True, "passed": above}), above, f"{described}; {verdict}"


def select_best(candidates: Sequence[TrainedCandidate | FailedCandidate], metric: str) -> TrainedCandidate:
    """The trained candidate with the best validation score; ties go to the earliest (a stable choice)."""
    trained = [c for c in candidates if isinstance(c, TrainedCandidate)]
    sign = 1 if higher_is_better(metric) else -1
    return max(trained, key=lambda c: (sign * c.validation_metrics[metric], -c.index))


# ---- the Evaluate step ------------------------------------------------------------------------------------------
def evaluate(
    request: NormalisedRequest,
    prepared: PreparedDataset,
    candidates: list[TrainedCandidate | FailedCandidate],
    *,
    execution_arn: str,
    settings: Settings,
    registry: ModelRegistry,
    predict_function: str | None = None,
    final_rung: int = 0,
    measure_importance: bool = True,
) -> EvaluationResult:
    """Pick the best candidate on validation, score it and the champion on the same holdout, and gate; fit the
    version's performance estimator and measure its permutation importance on that holdout (``measure_importance``
    off only to measure what it costs).

    A champion this scikit-learn cannot load is measured through its ONNX copy by ``predict_function``, or compared
    by its registered metrics (``mlops.training.champion``)."""
    trained = _final_trained(candidates, final_rung)
    schema = load_schema(prepared.schema_ref)
    config = GateConfig.from_request(schema.task, request.gate.model_dump())
    winner = _winner(trained, request.selection_metric or config.metric)
    model = objects.load_model(
        S3Uri.parse(winner.artifact_uri), winner.artifact_sha256, library_versions()["scikit-learn"]
    )
    bucket, run_id = settings.artifacts_bucket, run_id_of(execution_arn)
    splits = lean.evaluation_splits(prepared, schema, model)
    validation_y, test_x, test_y = splits.validation_y, splits.test_x, splits.test_y
    winner, model = imbalance.with_threshold(
        winner, model, (splits.validation_x, validation_y), schema, minority=request.minority_share,
        gate_metric=config.metric, tuning=splits.scored(model),
        artifact_uri=layout.thresholded_artifact(bucket, run_id, winner.index, winner.estimator, winner.rung),
    )  # fmt: skip
    scored = splits.scored(model, winner.decision_threshold)  # the winner as it reads test_x
    holdout_metrics = score(scored, test_x, test_y, schema)
    leakage = leakage_warnings(
        splits.leakage_train_x, splits.train_y, splits.leakage_validation_x, validation_y, schema
    )
    champion = production_champion(
        registry, request.model_name, prepared, schema, splits.raw_test_x, predict_function=predict_function
    )
    champion_metrics = score(champion.model, champion.features, test_y, schema) if _measured(champion) else None
    interval, interval_problem = _gate_interval(config, schema, test_y, challenger=(scored, test_x), champion=champion)
    decision = gate(
        config,
        holdout_metrics,
        _gate_champion_metrics(champion, champion_metrics),
        champion.version if champion else None,
        champion.problem if champion else None,
        warnings=leakage,
        champion_note=champion.note if champion else None,
        interval=interval,
        interval_problem=interval_problem,
        floor=baseline_floor.measure(
            schema,
            config.metric,
            scored,
            holdout_metrics,
            train=(splits.baseline_train_x, splits.train_y),
            test=(test_x, test_y),
            bootstrap=config.bootstrap,
        ),  # fmt: skip
    )
    # the estimator of a regressor and the importance read the raw columns, as the served model does (test_x may be
    # the lean matrix); the test split's object matrix only
    raw_test_x = splits.raw_test_x if splits.raw_test_x is not None else load_matrices(prepared, "test")[0]
    performance_estimator, _ = estimator.fit_estimator(
        model, raw_test_x, test_y, schema, holdout_metrics, seed=request.split.seed
    )
    prediction_baseline_uri = layout.run_prediction_baseline(bucket, run_id)
    predictions = scored.predict(test_x)
    objects.put_json(
        prediction_baseline_uri, baseline.prediction_baseline(predictions, schema.task, request.split.seed)
    )
    return EvaluationResult(
        winner=winner.as_winner(),
        metrics=holdout_metrics,
        champion=_champion_summary(champion, champion_metrics),
        gate=decision,
        leaderboard=put_document(layout.run_document(bucket, run_id, layout.RUN_LEADERBOARD), _leaderboard(candidates)),
        leaderboard_summary=_leaderboard_summary(candidates, final_rung),
        prediction_baseline_uri=str(prediction_baseline_uri),
        performance_estimator=put_document(
            layout.run_document(bucket, run_id, layout.RUN_PERFORMANCE_ESTIMATOR), performance_estimator
        )
        if performance_estimator is not None
        else None,
        feature_importance=importance.measure(model, raw_test_x, test_y, schema, seed=request.split.seed)
        if measure_importance
        else None,
    )


def _final_trained(candidates: list[TrainedCandidate | FailedCandidate], final_rung: int) -> list[TrainedCandidate]:
    """The trials of the last rung that trained (with successive halving only they fitted on every training row: the
    winner is one of them), and those of a guided search's earlier waves, which fitted on every row too;
    NoCandidateTrained, before anything is read, when there is none."""
    trained = [
        c
        for c in candidates
        if isinstance(c, TrainedCandidate) and (c.rung == final_rung or (c.rung < final_rung and c.fraction >= 1.0))
    ]
    if not trained:
        errors = "; ".join(
            f"{c.estimator}: {c.error}" for c in candidates[:20] if isinstance(c, FailedCandidate) and c.error
        )
        raise NoCandidateTrained(f"none of the {len(candidates)} candidates trained: {errors}"[:4000])
    return trained


def _winner(trained: list[TrainedCandidate], metric: str) -> TrainedCandidate:
    """The best trained candidate on validation (a named error if one was not scored by Train)."""
    unscored = [c.index for c in trained if metric not in c.validation_metrics]
    if unscored:
        raise InvalidStepInput(f"candidates {unscored} have no validation {metric}: not from Train")
    return select_best(trained, metric)


def _measured(champion: Champion | None) -> bool:
    """Whether the champion is scored on this holdout (by scikit-learn or through its ONNX copy)."""
    return champion is not None and champion.model is not None


def _gate_champion_metrics(champion: Champion | None, measured: dict[str, float] | None) -> dict[str, float] | None:
    """What the gate compares the challenger with: the champion's metrics on this holdout, or its recorded ones."""
    if champion is None:
        return None
    return champion.recorded_metrics if champion.compared_by == "recorded" else measured


def _champion_summary(champion: Champion | None, measured: dict[str, float] | None) -> ChampionSummary | None:
    if champion is None:
        return None
    return ChampionSummary(
        version=champion.version,
        holdout_metrics=measured if champion.compared_by != "recorded" else None,
        recorded_metrics=champion.recorded_metrics,
        problem=champion.problem,
        compared_by=champion.compared_by,
        note=champion.note,
    )


def _gate_interval(
    config: GateConfig,
    schema: Schema,
    test_y: np.ndarray,
    *,
    challenger: tuple[Any, Any],
    champion: Champion | None,
) -> tuple[BootstrapInterval | None, str | None]:
    """(the paired bootstrap of the improvement, or why there is none) when the gate asks for one and the champion
    was measured on this holdout; ``challenger`` is (the winner's model, the holdout features)."""
    if config.bootstrap is None or not _measured(champion):
        return None, None
    assert champion is not None
    options = config.bootstrap
    try:
        interval = significance.improvement_interval(
            config.metric,
            schema.task,
            test_y,
            significance.model_outputs(*challenger, schema.task),
            significance.model_outputs(champion.model, champion.features, schema.task),
            higher_is_better=higher_is_better(config.metric),
            resamples=int(options.get("resamples", 1000)),
            seed=int(options.get("seed", 0)),
            confidence=float(options.get("confidence", 0.95)),
            classes=list(schema.classes or []),
            positive=schema.positive_class,
        )
    except ValueError as exc:
        return None, str(exc)
    return interval, None


def _leaderboard(candidates: list[TrainedCandidate | FailedCandidate]) -> list[dict[str, Any]]:
    return [LeaderboardEntry.of(c).to_document() for c in sorted(candidates, key=lambda c: (c.rung, c.index))]


def _leaderboard_summary(candidates: list[TrainedCandidate | FailedCandidate], final_rung: int) -> LeaderboardSummary:
    counts = {status: sum(1 for c in candidates if c.status == status) for status in ("trained", "failed", "skipped")}
    return LeaderboardSummary(**counts, rungs=final_rung + 1)
