"""The event contracts of the pipeline steps (what the state machine passes each Lambda)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops.errors import InvalidStepInput

S3_URI = r"^s3://[^/]+/.+"


class _Contract(BaseModel):
    """Checks the shape a step relies on; unknown keys are allowed (the state carries more than one step reads)."""

    model_config = ConfigDict(extra="allow", strict=True)


class FeatureShape(_Contract):
    name: str
    kind: Literal["numeric", "categorical"]


class SchemaShape(_Contract):
    features: list[FeatureShape] = Field(min_length=1)
    target: str
    task: Literal["classification", "regression"]
    classes: list[str] | None = None
    positive_class: str | None = None

    @model_validator(mode="after")
    def _positive_class_is_a_class(self) -> SchemaShape:
        # As Prepare infers it: a binary problem names its positive class, and it is one of the classes.
        binary = self.task == "classification" and self.classes is not None and len(self.classes) == 2
        if (binary or self.positive_class is not None) and self.positive_class not in (self.classes or []):
            raise ValueError(f"positive_class {self.positive_class!r} is not one of the classes {self.classes}")
        return self


class SplitsShape(_Contract):
    train: str = Field(pattern=S3_URI)
    validation: str = Field(pattern=S3_URI)
    test: str = Field(pattern=S3_URI)


class DatasetShape(_Contract):
    uri: str = Field(pattern=S3_URI)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: int = Field(ge=1)
    schema_document: SchemaShape = Field(alias="schema")
    splits: SplitsShape
    split_sizes: dict[str, int]
    baseline_uri: str = Field(pattern=S3_URI)


class CandidateShape(_Contract):
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)


class GateShape(_Contract):
    metric: Literal[
        "accuracy", "balanced_accuracy", "f1", "roc_auc", "average_precision", "log_loss", "rmse", "mae", "r2"
    ]
    min_score: float | None = None
    min_improvement: float = Field(ge=0)


class SplitShape(_Contract):
    seed: int = Field(ge=0)
    validation_fraction: float = Field(gt=0, lt=1)
    test_fraction: float = Field(gt=0, lt=1)


class RequestShape(_Contract):
    model_name: str
    target: str
    task: Literal["classification", "regression"]
    candidates: list[CandidateShape] = Field(min_length=1)
    gate: GateShape
    split: SplitShape


class TrainedCandidateShape(_Contract):
    status: Literal["trained"]
    index: int = Field(ge=0)
    estimator: str
    params: dict[str, Any]
    artifact_uri: str = Field(pattern=S3_URI)
    artifact_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    validation_metrics: dict[str, float]


class FailedCandidateShape(_Contract):
    status: Literal["failed"]
    index: int = Field(ge=0)
    estimator: str


class CandidateResultShape(BaseModel):
    result: Annotated[TrainedCandidateShape | FailedCandidateShape, Field(discriminator="status")]


class WinnerShape(_Contract):
    estimator: str
    params: dict[str, Any]
    artifact_uri: str = Field(pattern=S3_URI)
    artifact_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class GateResultShape(_Contract):
    passed: bool
    reasons: list[str]  # Register joins them into the version's reason


class EvaluationShape(_Contract):
    winner: WinnerShape
    metrics: dict[str, float]
    gate: GateResultShape
    champion: dict[str, Any] | None  # Register copies it into the version record; null when there is none
    leaderboard: list[dict[str, Any]]
    prediction_baseline_uri: str = Field(pattern=S3_URI)
    input_example: dict[str, Any]


class ConversionShape(_Contract):
    converted: bool
    onnx_uri: str | None = Field(default=None, pattern=S3_URI)
    onnx_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    libraries: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _converted_names_its_model(self) -> ConversionShape:
        if self.converted and (self.onnx_uri is None or self.onnx_sha256 is None):
            raise ValueError("a converted model needs onnx_uri and onnx_sha256")
        return self


class ParityShape(_Contract):
    libraries: dict[str, Any] = Field(default_factory=dict)


def _checked(shape: type[BaseModel]) -> Any:
    """A plain dict for the domain code, validated against ``shape`` first."""

    def check(value: dict[str, Any]) -> dict[str, Any]:
        shape.model_validate(value)
        return value

    return AfterValidator(check)


Dataset = Annotated[dict[str, Any], _checked(DatasetShape)]
NormalisedRequest = Annotated[dict[str, Any], _checked(RequestShape)]
CandidateSpec = Annotated[dict[str, Any], _checked(CandidateShape)]
CandidateResult = Annotated[dict[str, Any], AfterValidator(lambda v: CandidateResultShape(result=v) and v)]
Evaluation = Annotated[dict[str, Any], _checked(EvaluationShape)]
Conversion = Annotated[dict[str, Any], _checked(ConversionShape)]
Parity = Annotated[dict[str, Any], _checked(ParityShape)]


class StepEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")


class PrepareEvent(StepEvent):
    request: dict[str, Any]  # validated by Prepare itself (InvalidTrainingRequest names the field)


class TrainEvent(StepEvent):
    candidate: CandidateSpec
    index: int = Field(ge=0)
    dataset: Dataset
    seed: int = Field(ge=0)


class EvaluateEvent(StepEvent):
    request: NormalisedRequest
    dataset: Dataset
    candidates: list[CandidateResult] = Field(min_length=1)


class ConvertEvent(StepEvent):
    dataset: Dataset
    evaluation: Evaluation


class RegisterEvent(StepEvent):
    request: NormalisedRequest
    dataset: Dataset
    evaluation: Evaluation
    conversion: Conversion | None = None
    parity: Parity | None = None


class SmokeTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str
    version: int = Field(ge=1)


class SmokeTestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    smoke_test: SmokeTestRequest


class ParityCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    onnx_uri: str = Field(pattern=S3_URI)
    onnx_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    schema_document: Annotated[dict[str, Any], _checked(SchemaShape)] = Field(alias="schema")
    test_uri: str = Field(pattern=S3_URI)
    reference_uri: str = Field(pattern=S3_URI)


class ParityCheckEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parity_check: ParityCheckRequest


class ServeVersionRequest(BaseModel):
    """The onnx predict function hands a version's validated feature columns to the scikit-learn function."""

    model_config = ConfigDict(extra="forbid")
    model_name: str
    version: int = Field(ge=1)
    columns: list[list[str | float | int | None]] = Field(min_length=1)


class ServeVersionEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serve_version: ServeVersionRequest


class DeployEvent(StepEvent):
    model_name: str
    version: int = Field(ge=1)
    reason: str = ""


def parse_event[Model: BaseModel](model: type[Model], event: Any) -> Model:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'event'}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidStepInput(f"{model.__name__} is invalid: {problems}") from exc


class AwaitApprovalEvent(StepEvent):
    model_name: str
    version: int = Field(ge=1)
    task_token: str = Field(min_length=1)


class ApprovalTimedOutEvent(StepEvent):
    approval_timed_out: bool
    model_name: str
    version: int = Field(ge=1)


class ReproduceEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str
    version: int = Field(ge=1)
    requested_by: str = "unknown"


class RecordFailureEvent(StepEvent):
    state: str = Field(min_length=1)
    state_input: dict[str, Any]
