"""The training request: what a user (CLI, API, schedule) asks the TrainingPipeline to do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops.errors import InvalidTrainingRequest
from mlops.registry.records import MODEL_NAME_PATTERN

if TYPE_CHECKING:
    from mlops.data.columns import ColumnRoles


ComputeEngine = Literal["lambda", "sagemaker"]
COMPUTE_ENGINES: tuple[ComputeEngine, ...] = ("lambda", "sagemaker")


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as declared: no "1" or true for 1
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)


class GateBootstrap(BaseModel):
    """The paired bootstrap of the improvement over the champion (the holdout's sampling noise)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    resamples: int = Field(default=1000, ge=100, le=10_000, description="resamples of the holdout rows")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="the same seed draws the same resamples")
    confidence: float = Field(default=0.95, ge=0.5, le=0.999, description="the interval's confidence level")
    require: bool = Field(
        default=True,
        description="hold a challenger unless the interval's lower bound is above min_improvement (false: record it)",
    )


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as declared: no "1" or true for 1
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
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as declared: no "1" or true for 1
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    validation_fraction: float = Field(default=0.2, gt=0, lt=0.5)
    test_fraction: float = Field(default=0.2, gt=0, lt=0.5)


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as declared: no "1" or true for 1
    required: bool | None = Field(default=None, description="default: the stack's RequireApproval parameter")
    timeout_s: int | None = Field(
        default=None, ge=1, le=365 * 24 * 3600, description="default: the stack's ApprovalTimeoutSeconds parameter"
    )


class TrainingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as declared: no "1" or true for 1
    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    dataset_uri: str = Field(pattern=r"^s3://[^/]+/.+")
    target: str = Field(min_length=1)
    task: Literal["classification", "regression"] | None = None
    positive_class: str | None = None
    features: list[str] | None = Field(default=None, min_length=1, description="the only columns to learn from")
    exclude: list[str] = Field(default_factory=list, description="columns never to learn from")
    id_columns: list[str] = Field(default_factory=list, description="identifier columns (excluded)")
    datetime_columns: list[str] = Field(default_factory=list, description="ISO date columns (derived parts)")
    class_weight: Literal["balanced"] | None = Field(
        default=None, description="weigh classes inversely to their frequency, for estimators that support it"
    )
    candidates: list[Candidate] | None = Field(default=None, min_length=1, max_length=20)
    compute: ComputeEngine | None = Field(
        default=None,
        description="where candidates train: lambda (the Train function) or sagemaker (a training job); "
        "default: lambda, or sagemaker when the data is above what the Train function's memory holds",
    )
    gate: Gate = Field(default_factory=Gate)
    split: Split = Field(default_factory=Split)
    approval: Approval = Field(default_factory=Approval)
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
        if self.class_weight is not None and self.task == "regression":
            raise ValueError("class_weight applies to classification only")
        return self

    def column_roles(self) -> ColumnRoles:
        from mlops.data.columns import ColumnRoles  # noqa: PLC0415 - the API parses requests without numpy

        return ColumnRoles(
            features=tuple(self.features) if self.features is not None else None,
            exclude=tuple(self.exclude),
            id_columns=tuple(self.id_columns),
            datetime_columns=tuple(self.datetime_columns),
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


class NormalisedRequest(TrainingRequest):
    """The request as Prepare settles it, and as the state machine carries it (``$.request``) to the other
    steps: the task inferred, the candidates, gate metric and approval resolved, the code version recorded."""

    task: Literal["classification", "regression"]
    candidates: list[Candidate] = Field(min_length=1, max_length=20)
    gate: SettledGate
    approval: SettledApproval
    code_version: str = Field(min_length=1)
    compute: ComputeEngine  # Prepare settles the engine (mlops.training.compute)
    requested_compute: ComputeEngine | None = None  # what the request asked for (a retraining asks the same)
    compute_reason: str = Field(default="", max_length=500, description="why this engine (requested or by size)")


def parse_training_request(document: Any) -> TrainingRequest:
    """Validate a request; pydantic's errors become one readable InvalidTrainingRequest."""
    try:
        return TrainingRequest.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'request'}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidTrainingRequest(f"invalid training request: {problems}") from exc
