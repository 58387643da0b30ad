"""The event contracts of the pipeline steps (what the state machine passes each Lambda)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops.errors import InvalidStepInput


class StepEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")


class PrepareEvent(StepEvent):
    request: dict[str, Any]


class TrainEvent(StepEvent):
    candidate: dict[str, Any]
    index: int = Field(ge=0)
    dataset: dict[str, Any]
    seed: int = Field(ge=0)


class EvaluateEvent(StepEvent):
    request: dict[str, Any]
    dataset: dict[str, Any]
    candidates: list[dict[str, Any]]


class ConvertEvent(StepEvent):
    dataset: dict[str, Any]
    evaluation: dict[str, Any]


class RegisterEvent(StepEvent):
    request: dict[str, Any]
    dataset: dict[str, Any]
    evaluation: dict[str, Any]
    conversion: dict[str, Any] | None = None
    parity: dict[str, Any] | None = None


class SmokeTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str
    version: int = Field(ge=1)


class SmokeTestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    smoke_test: SmokeTestRequest


class ParityCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    onnx_uri: str
    onnx_sha256: str
    schema_document: dict[str, Any] = Field(alias="schema")
    test_uri: str
    reference_uri: str


class ParityCheckEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parity_check: ParityCheckRequest


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
