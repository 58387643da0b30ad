"""Every step event: what a state machine (or another function) passes each Lambda, in one place.

An event is parsed once, in the handler, into these models; their fields are the typed records the domain
takes (``mlops.records.steps``, ``mlops.records.request``, ``mlops.records.batch``), so the step functions receive
models, not dicts. Pydantic and the standard library only: the API and predict functions import this module.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, model_validator

from mlops.errors import InvalidStepInput
from mlops.records.batch import BatchJobStart, ChunkItem, PlannedJob
from mlops.records.compute import SettledTrainingJobResources
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

# A function with several jobs is told which by the event's ``step`` (one typed union per function, parsed once).
STEP = Field(discriminator="step")


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
    sagemaker: SettledTrainingJobResources | None = None  # a training job's instance and runtime (the Map reads it)
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


class StartRolloutEvent(StepEvent):
    """The Deploy function's first step of a canary, linear or shadow rollout (the ASL's StartRollout)."""

    step: Literal["start_rollout"]
    model_name: str
    version: int = Field(ge=1)
    deployment: SettledDeployment


class CheckBakeEvent(StepEvent):
    """The Deploy function's judgement of a bake (the ASL's CheckBake): advance, promote or roll back."""

    step: Literal["check_bake"]
    rollout: RolloutState
    thresholds: SettledBakeThresholds


class DeployEvent(StepEvent):
    """The Deploy function moves production to the version at once (the ASL's Deploy)."""

    step: Literal["deploy"]
    model_name: str
    version: int = Field(ge=1)
    reason: str = ""


class UndoDeploymentEvent(StepEvent):
    """The Deploy function undoes a failed run's production move (the ASL's UndoDeployment): the run's state input."""

    step: Literal["undo_deployment"]
    state_input: dict[str, Any]


class DeployStep(RootModel[Annotated[StartRolloutEvent | CheckBakeEvent | DeployEvent | UndoDeploymentEvent, STEP]]):
    """What the Deploy function is asked to do, by its ``step``."""


class FunctionStep(BaseModel):
    """An event a function or state machine sends another function, outside any execution's state."""

    model_config = ConfigDict(extra="forbid")


class ShadowReplayEvent(FunctionStep):
    """The predict function replays production's captured requests against a shadow (the ASL's ReplayShadow)."""

    step: Literal["shadow_replay"]
    model_name: str
    version: int = Field(ge=1)
    champion_version: int = Field(ge=1)
    since: float = Field(ge=0, description="epoch seconds: production's requests from then on are replayed")


class SmokeTestEvent(FunctionStep):
    """The predict function serves a version's recorded input example (the ASL's SmokeTest)."""

    step: Literal["smoke_test"]
    model_name: str
    version: int = Field(ge=1)


class ParityCheckEvent(FunctionStep):
    """The predict function runs the ONNX copy on the holdout against scikit-learn's outputs (the ASL's ParityCheck)."""

    step: Literal["parity_check"]
    onnx_uri: str = Field(pattern=S3_URI)
    onnx_sha256: str = Field(pattern=SHA256)
    schema_ref: DocumentRef = Field(alias="schema")
    test_uri: str = Field(pattern=S3_URI)
    reference_uri: str = Field(pattern=S3_URI)


class ScoreHoldoutEvent(FunctionStep):
    """Evaluate asks the predict function for a version's outputs on a holdout (a champion its own scikit-learn
    can no longer load: the serving runtime runs its ONNX copy)."""

    step: Literal["score_holdout"]
    model_name: str
    version: int = Field(ge=1)
    test_uri: str = Field(pattern=S3_URI)


class PredictStep(
    RootModel[Annotated[SmokeTestEvent | ParityCheckEvent | ScoreHoldoutEvent | ShadowReplayEvent, STEP]]
):
    """What the predict function is asked to do besides answering HTTP requests, by its ``step``."""


class ServeVersionEvent(FunctionStep):
    """The onnx predict function hands a version's validated feature columns to the scikit-learn function."""

    step: Literal["serve_version"]
    model_name: str
    version: int = Field(ge=1)
    columns: list[list[str | float | int | None]] = Field(min_length=1)


def parse_event[Model: BaseModel](model: type[Model], event: Any) -> Model:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'event'}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidStepInput(f"{model.__name__} is invalid: {problems}") from exc


class AwaitApprovalEvent(StepEvent):
    """The approval function stores the run's task token and marks the version PendingApproval."""

    step: Literal["await_approval"]
    model_name: str
    version: int = Field(ge=1)
    task_token: str = Field(min_length=1)


class ApprovalTimedOutEvent(StepEvent):
    """The approval function marks a version whose approval window closed ApprovalExpired."""

    step: Literal["record_approval_timeout"]
    model_name: str
    version: int = Field(ge=1)


class ApprovalStep(RootModel[Annotated[AwaitApprovalEvent | ApprovalTimedOutEvent, STEP]]):
    """What the approval function is asked to do, by its ``step``."""


class ReproduceEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str
    version: int = Field(ge=1)
    requested_by: str = "unknown"


class RecordFailureEvent(StepEvent):
    state: str = Field(min_length=1)
    state_input: dict[str, Any]


# ---- the drift function (DriftCheck, ScheduledDriftChecks) ----
class DriftCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    config: dict[str, Any] | None = None


class DriftCheckEvent(StepEvent):
    """One model's drift check (DriftCheck's CheckDrift): its execution input under ``check``."""

    step: Literal["check"]
    check: DriftCheckRequest


class RecordRetrainingEvent(StepEvent):
    """The retraining run a drift check started, recorded on the check (DriftCheck's RecordRetraining)."""

    step: Literal["record_retraining"]
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
    """Which models are due at a tick of the schedule (ScheduledDriftChecks' PlanChecks)."""

    step: Literal["plan_tick"]
    tick: TickRequest
    execution_start_time: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


class DriftStep(RootModel[Annotated[DriftCheckEvent | RecordRetrainingEvent | PlanTickEvent, STEP]]):
    """What the drift function is asked to do, by its ``step``."""


# ---- the batch function (BatchTransform) ----
class PlanJobEvent(FunctionStep):
    """Plan a batch job's chunks (BatchTransform's Plan): the execution's input under ``start``."""

    step: Literal["plan"]
    start: BatchJobStart


class ScoreChunkEvent(FunctionStep):
    """Score one chunk of the plan (a child of BatchTransform's ScoreChunks map)."""

    step: Literal["score"]
    job: PlannedJob
    item: ChunkItem


class FinishJobEvent(FunctionStep):
    """Merge the chunks' outputs into the job's summary (BatchTransform's Finish)."""

    step: Literal["finish"]
    job: PlannedJob


class RecordBatchFailureEvent(FunctionStep):
    """Record a failed job's summary on its way to the named end state (BatchTransform's Record* states)."""

    step: Literal["record_failure"]
    state: dict[str, Any]
    end_state: str = Field(min_length=1)
    error: dict[str, Any] | None = None


class BatchStep(RootModel[Annotated[PlanJobEvent | ScoreChunkEvent | FinishJobEvent | RecordBatchFailureEvent, STEP]]):
    """What the batch function is asked to do, by its ``step``."""
