"""Every step event: what a state machine (or another function) passes each Lambda, in one place.

An event is parsed once, in the handler, into these models; their fields are the typed records the domain
takes (``mlops.records.steps``, ``mlops.records.request``, ``mlops.records.batch``), so the step functions receive
models, not dicts. Pydantic and the standard library only: the API and predict functions import this module.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops.errors import InvalidStepInput
from mlops.records.batch import ChunkItem, PlannedJob
from mlops.records.registry import MODEL_NAME_PATTERN
from mlops.records.request import (
    Candidate,
    ComputeEngine,
    NormalisedRequest,
    SettledBakeThresholds,
    SettledDeployment,
)
from mlops.records.rollout import RolloutState
from mlops.records.steps import (
    S3_URI,
    SHA256,
    CandidateResult,
    ConversionResult,
    DocumentRef,
    EvaluationResult,
    ParityReport,
    PreparedDataset,
    TrainingJobRef,
    TrialRun,
)


class StepEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")


class PrepareEvent(StepEvent):
    # the user's request: parse_training_request makes it a TrainingRequest in the handler, so a bad request is
    # InvalidTrainingRequest naming the field (the ASL routes it apart from a malformed event)
    request: dict[str, Any]


class PlanTrialsEvent(StepEvent):
    request: NormalisedRequest
    trials: TrialRun | None = Field(default=None, description="the rung that just ran; absent: plan the first")


class TrainEvent(StepEvent):
    candidate: Candidate
    index: int = Field(ge=0)
    dataset: PreparedDataset
    seed: int = Field(ge=0)
    trial_id: str | None = None
    rung: int = Field(default=0, ge=0)
    fraction: float = Field(default=1.0, gt=0, le=1)
    deadline_epoch_s: float | None = None
    compute: ComputeEngine = "lambda"  # the Map's Choice routes on it; the Train function only trains on lambda
    # set by the Map after a SageMaker training job finished: the Train function then collects what it trained
    training_job: TrainingJobRef | None = None


class EvaluateEvent(StepEvent):
    request: NormalisedRequest
    dataset: PreparedDataset
    candidates: list[CandidateResult] | None = Field(default=None, min_length=1, description="inline results")
    trials: TrialRun | None = Field(default=None, description="the search's results, in the ResultWriter's files")

    @model_validator(mode="after")
    def _one_source(self) -> EvaluateEvent:
        if (self.candidates is None) == (self.trials is None):
            raise ValueError("give either candidates or trials")
        return self


class ConvertEvent(StepEvent):
    dataset: PreparedDataset
    evaluation: EvaluationResult


class RegisterEvent(StepEvent):
    request: NormalisedRequest
    dataset: PreparedDataset
    evaluation: EvaluationResult
    conversion: ConversionResult | None = None
    parity: ParityReport | None = None


class StartRolloutRequest(StepEvent):
    model_name: str
    version: int = Field(ge=1)
    deployment: SettledDeployment


class StartRolloutEvent(BaseModel):
    """The Deploy function's first step of a canary, linear or shadow rollout (the ASL's StartRollout)."""

    model_config = ConfigDict(extra="forbid")
    start_rollout: StartRolloutRequest


class CheckBakeRequest(StepEvent):
    rollout: RolloutState
    thresholds: SettledBakeThresholds


class CheckBakeEvent(BaseModel):
    """The Deploy function's judgement of a bake (the ASL's CheckBake): advance, promote or roll back."""

    model_config = ConfigDict(extra="forbid")
    check_bake: CheckBakeRequest


class ShadowReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str
    version: int = Field(ge=1)
    champion_version: int = Field(ge=1)
    since: float = Field(ge=0, description="epoch seconds: production's requests from then on are replayed")


class ShadowReplayEvent(BaseModel):
    """The predict function replays production's captured requests against a shadow (the ASL's ReplayShadow)."""

    model_config = ConfigDict(extra="forbid")
    shadow_replay: ShadowReplayRequest


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
    onnx_sha256: str = Field(pattern=SHA256)
    schema_ref: DocumentRef = Field(alias="schema")
    test_uri: str = Field(pattern=S3_URI)
    reference_uri: str = Field(pattern=S3_URI)


class ParityCheckEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parity_check: ParityCheckRequest


class ScoreHoldoutRequest(BaseModel):
    """Evaluate asks the predict function for a version's outputs on a holdout (a champion its own scikit-learn
    can no longer load: the serving runtime runs its ONNX copy)."""

    model_config = ConfigDict(extra="forbid")
    model_name: str
    version: int = Field(ge=1)
    test_uri: str = Field(pattern=S3_URI)


class ScoreHoldoutEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score_holdout: ScoreHoldoutRequest


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


class UndoDeploymentEvent(StepEvent):
    """What the Deploy function gets, under ``undo``, when a run ends in a failure state: the run's state input."""

    state_input: dict[str, Any]


class RecordFailureEvent(StepEvent):
    state: str = Field(min_length=1)
    state_input: dict[str, Any]


# ---- the drift function (DriftCheck, ScheduledDriftChecks) ----
class DriftCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    config: dict[str, Any] | None = None


class DriftCheckEvent(StepEvent):
    check: DriftCheckRequest


class RecordRetrainingEvent(StepEvent):
    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    check_id: str = Field(min_length=1)
    retraining_execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")


class TickRequest(BaseModel):
    """The schedule's input: ``{"scheduled_time": "<aws.scheduler.scheduled-time>"}`` (the Scheduler fills in the
    time the tick was due, so a late start still counts the right interval); started by hand, the execution's
    start time stands in."""

    model_config = ConfigDict(extra="forbid")
    scheduled_time: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


class PlanTickEvent(StepEvent):
    tick: TickRequest
    execution_start_time: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


# ---- the batch function (BatchTransform) ----
class ScoreChunkEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job: PlannedJob
    item: ChunkItem
