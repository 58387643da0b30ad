"""The training request: what a user (CLI, API, schedule) asks the TrainingPipeline to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops.errors import InvalidTrainingRequest
from mlops.records.compute import ComputeEngine, SettledTrainingJobResources, TrainingJobResources
from mlops.records.registry import MODEL_NAME_PATTERN
from mlops.records.search_space import DEFAULT_STRATEGY, DEFAULT_WAVES, MAX_WAVES, Halving, SearchStrategy


@dataclass(frozen=True)
class ColumnRoles:
    """What the request says about the columns (all optional; validated against the header at Prepare)."""

    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    id_columns: tuple[str, ...] = ()
    datetime_columns: tuple[str, ...] = ()
    # an external model's run: its own pipeline encodes strings (free text passed as written, nothing pooled)
    strings_as_written: bool = False
    text_columns: tuple[str, ...] = ()


EXTERNAL_CANDIDATE = "external"  # the candidate name of a caller's model in the trial plan and the leaderboard


class Candidate(BaseModel):
    # JSON types as declared: no "1" or true for 1
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)


class IntRange(BaseModel):
    """Integers from low to high, both included; log: uniform in log space (for counts spanning decades)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    type: Literal["int"]
    low: int
    high: int
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low < 1:
            raise ValueError("a log-uniform integer range starts at 1 or more")
        return self


class FloatRange(BaseModel):
    """Floats from low to high; log: log-uniform (for rates and penalties spanning decades)."""

    model_config = ConfigDict(
        extra="forbid", strict=False, allow_inf_nan=False
    )  # 1 is a float here: JSON does not tell them apart
    type: Literal["float"]
    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)
    log: bool = Field(default=False, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log-uniform range needs low > 0")
        return self


class Choices(BaseModel):
    """One of the listed values, equally likely."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    type: Literal["categorical"]
    values: list[str | int | float | bool | None] = Field(min_length=1, max_length=100)


ParamSpace = Annotated[IntRange | FloatRange | Choices, Field(discriminator="type")]


class EstimatorSpace(BaseModel):
    """Where to search one estimator: a space per searched parameter, and parameters held fixed."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    estimator: str
    params: dict[str, ParamSpace] = Field(default_factory=dict, description="searched parameters")
    fixed: dict[str, Any] = Field(default_factory=dict, description="parameters every trial of it gets")

    @model_validator(mode="after")
    def _disjoint(self) -> EstimatorSpace:
        both = sorted(set(self.params) & set(self.fixed))
        if both:
            raise ValueError(f"parameter(s) {', '.join(both)} are both searched and fixed")
        return self


MAX_TRIALS = 1000


class Search(BaseModel):
    """A hyper-parameter search: trials sampled from per-estimator spaces (or the defaults), fanned out together."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    max_trials: int = Field(
        default=20, ge=1, le=MAX_TRIALS, description="trials sampled (the first rung's count); ceiling: SearchMaxTrials"
    )
    time_budget_s: int | None = Field(
        default=None, ge=60, le=24 * 3600, description="the trial fan-out's time limit (each Map pass)"
    )
    spaces: list[EstimatorSpace] | None = Field(
        default=None, min_length=1, max_length=20, description="default: the task's default spaces"
    )
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="default: the split's seed")
    halving: Halving | None = None
    strategy: SearchStrategy = Field(default=DEFAULT_STRATEGY, description="guided: waves proposed from the scores")
    waves: int = Field(default=DEFAULT_WAVES, ge=2, le=MAX_WAVES, description="guided: the trials' waves (Map passes)")
    max_concurrency: int | None = Field(
        default=None, ge=1, le=1000, description="trials at once; default and ceiling: the stack's TrialMaxConcurrency"
    )
    tolerated_failure_percentage: float | None = Field(
        default=None, ge=0, le=100, strict=False, description="default: the stack's TrialToleratedFailurePercentage"
    )


class GateBootstrap(BaseModel):
    """The paired bootstrap of the improvement over the champion (the holdout's sampling noise)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    resamples: int = Field(default=1000, ge=100, le=10_000, description="resamples of the holdout rows")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="the same seed draws the same resamples")
    confidence: float = Field(default=0.95, ge=0.5, le=0.999, description="the interval's confidence level")
    require: bool = Field(
        default=True,
        description="hold a challenger unless the interval's lower bound is above min_improvement (false: record it)",
    )


class Gate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False
    )  # JSON types as declared: no "1" or true for 1
    metric: str | None = None
    min_score: float | None = None
    min_improvement: float | None = Field(
        default=None, ge=0, description="default and minimum: the stack's GateMinImprovement parameter"
    )
    block_on_leakage: bool = Field(
        default=False, description="fail the gate when one feature alone predicts the target almost perfectly"
    )
    bootstrap: GateBootstrap | None = Field(
        default=None,
        description="measure the improvement's confidence interval by a paired bootstrap over the holdout rows",
    )


class Split(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False
    )  # JSON types as declared: no "1" or true for 1
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    validation_fraction: float = Field(default=0.2, gt=0, lt=0.5)
    test_fraction: float = Field(default=0.2, gt=0, lt=0.5)


class Approval(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False
    )  # JSON types as declared: no "1" or true for 1
    required: bool | None = Field(default=None, description="default: the stack's RequireApproval parameter")
    timeout_s: int | None = Field(
        default=None, ge=1, le=365 * 24 * 3600, description="default: the stack's ApprovalTimeoutSeconds parameter"
    )


DeploymentStrategy = Literal["all_at_once", "canary", "linear", "shadow"]
DEPLOYMENT_STRATEGIES: tuple[str, ...] = ("all_at_once", "canary", "linear", "shadow")
MAX_BAKE_S = 7 * 24 * 3600
# The bake's defaults, when neither the request nor the stack names one (docs/deploy.md#progressive-delivery).
DEFAULT_CANARY_WEIGHT = 0.1
DEFAULT_LINEAR_STEP = 0.25
DEFAULT_MAX_ERROR_RATE = 0.01
DEFAULT_MAX_P99_LATENCY_MS = 1000.0
DEFAULT_MAX_DISAGREEMENT = 0.2
DEFAULT_MIN_REQUESTS = 0


class BakeThresholds(BaseModel):
    """What a bake judges the new version's serving on; past any one of them it is rolled back."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    max_error_rate: float | None = Field(default=None, ge=0, le=1, description="share of 5xx answers it may give")
    max_p99_latency_ms: float | None = Field(default=None, gt=0, description="its 99th percentile handler latency")
    max_disagreement: float | None = Field(
        default=None, ge=0, le=1, description="shadow: share of replayed rows on which it may answer otherwise"
    )
    min_requests: int | None = Field(
        default=None, ge=0, description="requests it must have served in the bake to be judged (else rolled back)"
    )


class Deployment(BaseModel):
    """How the Deploy part of the pipeline moves production to a version that passed the gate."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    strategy: DeploymentStrategy | None = Field(default=None, description="default: DeploymentStrategy parameter")
    canary_weight: float | None = Field(default=None, gt=0, lt=1, description="canary: its share of requests")
    linear_step: float | None = Field(default=None, gt=0, lt=1, description="linear: the share added each step")
    bake_s: int | None = Field(
        default=None, ge=0, le=MAX_BAKE_S, description="seconds each step bakes; default DeploymentBakeSeconds"
    )
    thresholds: BakeThresholds = Field(default_factory=BakeThresholds)


class FeedbackRows(BaseModel):
    """Train on the dataset plus the model's captured predictions joined with their /feedback labels."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    window_hours: float = Field(
        default=168.0, gt=0, le=90 * 24, description="labels received (and predictions captured) this far back"
    )
    weight: int = Field(
        default=1, ge=1, le=10, description="each labelled row counts this many times in the training split"
    )
    holdout_share: float = Field(
        default=0.3, ge=0, le=0.9, description="the most recent share of the labelled rows goes to the test split"
    )
    max_rows: int = Field(
        default=100_000, ge=1, le=1_000_000, description="at most this many labelled rows, newest first"
    )


class ExternalModel(BaseModel):
    """A model the caller fitted (bring your own model): a skops file in an allowed S3 location, with its sha256.
    It is checked against the allow-list of scikit-learn types, loaded without running any of the caller's code,
    and goes every trained candidate's way (evaluated on the run's own holdout, gated, converted, registered)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    artifact_uri: str = Field(pattern=r"^s3://[^/]+/.+", description="the skops file, under the allowed locations")
    artifact_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the file's sha256; refused if it differs")
    format: Literal["skops"] = "skops"
    input_example: dict[str, Any] | None = Field(
        default=None, description="one input row as the caller sends it; its columns must be the dataset's inputs"
    )


class SettledExternalModel(ExternalModel):
    declared_libraries: dict[str, str] = Field(description="what the artifact says made it (Prepare reads it)")


class TrainingRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False
    )  # JSON types as declared: no "1" or true for 1
    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    dataset_uri: str = Field(pattern=r"^s3://[^/]+/.+")
    target: str = Field(min_length=1)
    task: Literal["classification", "regression"] | None = None
    positive_class: str | None = None
    features: list[str] | None = Field(default=None, min_length=1, description="the only columns to learn from")
    exclude: list[str] = Field(default_factory=list, description="columns never to learn from")
    id_columns: list[str] = Field(default_factory=list, description="identifier columns (excluded)")
    datetime_columns: list[str] = Field(default_factory=list, description="dates in a known form (derived parts)")
    text_columns: list[str] = Field(default_factory=list, description="free-text columns (TF-IDF features)")
    class_weight: Literal["balanced"] | None = Field(
        default=None, description="weigh classes inversely to their frequency, for estimators that support it"
    )
    candidates: list[Candidate] | None = Field(default=None, min_length=1, max_length=20)
    search: Search | None = Field(default=None, description="sample trials from search spaces (not with candidates)")
    compute: ComputeEngine | None = Field(
        default=None,
        description="where candidates train: lambda (the Train function) or sagemaker (a training job); "
        "default: lambda, or sagemaker when the data is above what the Train function's memory holds",
    )
    sagemaker: TrainingJobResources | None = Field(default=None, description="a SageMaker training job's instance")
    gate: Gate = Field(default_factory=Gate)
    split: Split = Field(default_factory=Split)
    feedback: FeedbackRows | None = Field(
        default=None, description="add captured rows joined with their /feedback labels to the training data"
    )
    approval: Approval = Field(default_factory=Approval)
    deployment: Deployment = Field(default_factory=Deployment)
    external: ExternalModel | None = Field(
        default=None, description="evaluate and register the caller's own model instead of training candidates"
    )
    requested_by: str = Field(
        default="unknown", description="who asked; the API sets it to the caller's IAM identity (never from the body)"
    )
    description: str = Field(default="", max_length=2000, description="what the model does (model card)")
    intended_use: str = Field(default="", max_length=2000, description="who should use it, for what (model card)")
    limitations: str = Field(default="", max_length=2000, description="known limits and risks (model card)")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> TrainingRequest:
        if self.split.validation_fraction + self.split.test_fraction > 0.8 + 1e-9:
            raise ValueError("validation_fraction + test_fraction must leave at least 20% of rows to train on")
        if self.features is not None and self.exclude:
            raise ValueError("features and exclude are mutually exclusive: list the columns to use, or those not to")
        if self.search is not None and self.candidates is not None:
            raise ValueError("candidates and search are mutually exclusive: list candidates, or give a search")
        if self.class_weight is not None and self.task == "regression":
            raise ValueError("class_weight applies to classification only")
        return self

    @model_validator(mode="after")
    def _external_alone(self) -> TrainingRequest:
        if self.external is not None and (self.search is not None or self.candidates is not None):
            raise ValueError("an external model is the run's only candidate: give no candidates or search with it")
        return self

    def column_roles(self) -> ColumnRoles:
        return ColumnRoles(
            features=tuple(self.features) if self.features is not None else None,
            exclude=tuple(self.exclude),
            id_columns=tuple(self.id_columns),
            datetime_columns=tuple(self.datetime_columns),
            strings_as_written=self.external is not None,
            text_columns=tuple(self.text_columns),
        )


GateMetric = Literal[
    "accuracy", "balanced_accuracy", "f1", "roc_auc", "average_precision", "log_loss", "rmse", "mae", "r2"
]


class SettledGate(Gate):
    metric: GateMetric  # Prepare settles the task's default metric
    min_improvement: float = Field(ge=0)  # and the stack's margin, unless the request asked for more


class SettledApproval(Approval):
    required: bool  # Prepare settles the stack's RequireApproval default
    timeout_s: int = Field(ge=1, le=365 * 24 * 3600)


class SettledSearch(Search):
    spaces: list[EstimatorSpace] = Field(min_length=1, max_length=20)  # the request's, or the task's defaults
    seed: int = Field(ge=0, le=2**32 - 1)
    max_concurrency: int = Field(ge=1, le=1000)
    tolerated_failure_percentage: float = Field(ge=0, le=100, strict=False)


class SettledBakeThresholds(BakeThresholds):
    max_error_rate: float = Field(ge=0, le=1)
    max_p99_latency_ms: float = Field(gt=0)
    max_disagreement: float = Field(ge=0, le=1)
    min_requests: int = Field(ge=0)


class SettledDeployment(Deployment):
    """The deployment as Prepare settles it: every field decided, so the state machine reads them by path."""

    strategy: DeploymentStrategy
    canary_weight: float = Field(gt=0, lt=1)
    linear_step: float = Field(gt=0, lt=1)
    bake_s: int = Field(ge=0, le=MAX_BAKE_S)
    thresholds: SettledBakeThresholds


class ThresholdFloor(Protocol):
    """The stack's bake thresholds (GovernanceSettings): what a threshold the request leaves out is."""

    max_error_rate: float
    max_p99_latency_ms: float
    max_disagreement: float
    min_requests: int


def settle_deployment(
    requested: Deployment, default_strategy: str, default_bake_s: int, *, floor: ThresholdFloor | None = None
) -> SettledDeployment:
    """Every field decided: the request's, else the stack's (``floor``: its thresholds, which the governance check
    keeps the request from loosening), else the defaults."""
    thresholds = requested.thresholds
    return SettledDeployment(
        strategy=requested.strategy or default_strategy,
        canary_weight=requested.canary_weight or DEFAULT_CANARY_WEIGHT,
        linear_step=requested.linear_step or DEFAULT_LINEAR_STEP,
        bake_s=default_bake_s if requested.bake_s is None else requested.bake_s,
        thresholds=SettledBakeThresholds(
            max_error_rate=_given(thresholds.max_error_rate, floor.max_error_rate if floor else DEFAULT_MAX_ERROR_RATE),
            max_p99_latency_ms=_given(
                thresholds.max_p99_latency_ms, floor.max_p99_latency_ms if floor else DEFAULT_MAX_P99_LATENCY_MS
            ),
            max_disagreement=_given(
                thresholds.max_disagreement, floor.max_disagreement if floor else DEFAULT_MAX_DISAGREEMENT
            ),
            min_requests=_given(thresholds.min_requests, floor.min_requests if floor else DEFAULT_MIN_REQUESTS),
        ),
    )


def _given[Value](value: Value | None, default: Value) -> Value:
    return default if value is None else value


class NormalisedRequest(TrainingRequest):
    """The request as Prepare settles it, and as the state machine carries it (``$.request``) to the other
    steps: the task inferred, the candidates (or the search), gate metric and approval resolved, the code
    version recorded."""

    task: Literal["classification", "regression"]
    candidates: list[Candidate] | None = Field(default=None, min_length=1, max_length=20)
    search: SettledSearch | None = None
    gate: SettledGate
    approval: SettledApproval
    deployment: SettledDeployment
    code_version: str = Field(min_length=1)
    compute: ComputeEngine  # Prepare settles the engine (mlops.training.compute)
    requested_compute: ComputeEngine | None = None  # what the request asked for (a retraining asks the same)
    sagemaker: SettledTrainingJobResources  # the instance and longest runtime a training job of this run gets
    compute_reason: str = Field(default="", max_length=500, description="why this engine (requested or by size)")
    # a binary target's rarer class share of the rows, and the validation metric the winner is picked on when it is
    # not the gate's (an imbalanced target whose request names no metric: average precision; mlops.training.imbalance)
    minority_share: float | None = Field(default=None, ge=0, le=0.5)
    selection_metric: GateMetric | None = None
    external: SettledExternalModel | None = None

    @model_validator(mode="after")
    def _external_alone(self) -> NormalisedRequest:  # settled: the caller's model is the one listed candidate
        if self.external is not None and [c.estimator for c in self.candidates or []] != [EXTERNAL_CANDIDATE]:
            raise ValueError("a settled run of an external model has it as its one candidate")
        return self

    @model_validator(mode="after")
    def _candidates_or_search(self) -> NormalisedRequest:
        if (self.candidates is None) == (self.search is None):
            raise ValueError("a settled request has either candidates or a search")
        return self


def parse_training_request(document: Any) -> TrainingRequest:
    """Validate a request; pydantic's errors become one readable InvalidTrainingRequest."""
    try:
        return TrainingRequest.model_validate(document)
    except ValidationError as exc:
        from mlops.records.problems import summary  # noqa: PLC0415 - only a refused request pays for it

        raise InvalidTrainingRequest(f"invalid training request: {summary(exc.errors())}") from exc
