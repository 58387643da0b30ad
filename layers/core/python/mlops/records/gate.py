"""The gate's evidence, as the step records carry it: the paired bootstrap interval of an improvement, the winner
against the trivial baseline, and an imbalanced binary winner's decision threshold; and the base of every step record
(``StepRecord``), which ``mlops.records.steps`` builds on. Pydantic and the standard library only."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StepRecord(BaseModel):
    """A record a step writes in full: a key it does not declare is an error, not silently carried."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_document(self) -> dict[str, Any]:
        """The JSON form the state machine carries (field aliases applied, so ``schema`` is spelled as stored)."""
        return self.model_dump(mode="json", by_alias=True)


class BootstrapInterval(StepRecord):
    """The paired bootstrap of the challenger's improvement over the champion on the same holdout rows
    (``mlops.training.significance``): positive means better, whichever way the metric points."""

    metric: str
    resamples: int = Field(ge=1)
    usable_resamples: int = Field(ge=1)  # resamples with a finite metric (an AUC needs both classes)
    seed: int = Field(ge=0)
    confidence: float = Field(gt=0, lt=1)
    rows: int = Field(ge=1)
    observed_improvement: float
    mean_improvement: float
    low: float
    high: float
    required: bool = False  # the gate required ``low`` above the minimum improvement
    passed: bool | None = None  # whether it was; None when not required


class BaselineCheck(StepRecord):
    """The winner against the trivial baseline on one metric, on the same holdout rows
    (``mlops.training.baseline_floor``)."""

    metric: str
    winner_score: float
    baseline_score: float
    difference: float  # positive: the winner is better, whichever way the metric points
    ratio: float | None = None  # how many times better, where a ratio means something (see baseline_floor.ratio)
    interval: BootstrapInterval | None = None  # the paired bootstrap of ``difference``; None: not measurable
    passed: bool
    reason: str  # the check in words, as the gate's reasons carry it
    decides: bool = True  # False: recorded for the lift only (F1: a constant predictor's says which class is positive)


class BaselineFloor(StepRecord):
    """The floor under every deployment: the trivial baseline's holdout metrics and the winner's checks against it."""

    strategy: Literal["prior", "mean"]
    predicts: str = Field(description="the baseline in words: always predicting 'No', predicting the mean, 1234.5")
    metrics: dict[str, float]
    margin: float = Field(ge=0, description="the interval's lower bound must be above this")
    checks: list[BaselineCheck] = Field(min_length=1, max_length=4)
    passed: bool

    def lift(self) -> dict[str, dict[str, float | None]]:
        """``lift_over_baseline``: per checked metric, the winner's difference from the baseline and the ratio."""
        return {check.metric: {"difference": check.difference, "ratio": check.ratio} for check in self.checks}


class DecisionThreshold(StepRecord):
    """The positive-class probability from which a binary winner predicts the positive class, tuned on validation
    for an imbalanced target (``mlops.training.imbalance``); ``applied`` False: 0.5 kept."""

    threshold: float = Field(gt=0, le=1)
    positive_class: str
    tuned_on: Literal["validation"] = "validation"
    metric: Literal["f1", "balanced_accuracy", "accuracy"] = "f1"  # the validation metric it maximises
    validation_score: float
    validation_score_at_default: float
    applied: bool
    reason: str
