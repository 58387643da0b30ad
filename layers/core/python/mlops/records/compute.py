"""Where a run's candidates train, and what a SageMaker training job of the run may use: the request picks an
instance type from the stack's allow-list (``TrainingInstanceTypes``) and may shorten the stack's longest runtime
(``TrainingJobMaxRuntimeSeconds``), never lengthen it (mlops.governance.policy)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ComputeEngine = Literal["lambda", "sagemaker"]
COMPUTE_ENGINES: tuple[ComputeEngine, ...] = ("lambda", "sagemaker")
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
MIN_TRAINING_RUNTIME_S = 600
MAX_TRAINING_RUNTIME_S = 5 * 24 * 3600  # the template's ceiling on TrainingJobMaxRuntimeSeconds
# The template's defaults (TrainingInstanceType, TrainingJobMaxRuntimeSeconds), for a run settled without a stack
DEFAULT_INSTANCE_TYPE = "ml.m5.2xlarge"
DEFAULT_TRAINING_RUNTIME_S = 24 * 3600


def instance_type_allow_list(default: str, listed: str) -> tuple[str, ...]:
    """The stack's allow-list (``TrainingInstanceTypes``, comma-separated), its default first; ValueError if a name is
    no SageMaker instance type or the default is not listed."""
    allowed = tuple(name.strip() for name in listed.split(","))
    for name in (default, *allowed):
        if not re.fullmatch(INSTANCE_TYPE_PATTERN.removesuffix("$"), name):
            raise ValueError(f"{name!r} is not a SageMaker instance type (ml.<family>.<size>)")
    if default not in allowed:
        raise ValueError(f"the default {default} is not one of {', '.join(allowed)}")
    return (default, *(name for name in allowed if name != default))


class TrainingJobResources(BaseModel):
    """What a SageMaker training job of this run may use (when the run trains there, requested or by size)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    instance_type: str | None = Field(
        default=None, pattern=INSTANCE_TYPE_PATTERN, description="one of the stack's TrainingInstanceTypes; "
        "default: TrainingInstanceType",
    )  # fmt: skip
    max_runtime_s: int | None = Field(
        default=None, ge=MIN_TRAINING_RUNTIME_S, le=MAX_TRAINING_RUNTIME_S,
        description="a job's StoppingCondition; default and ceiling: the stack's TrainingJobMaxRuntimeSeconds",
    )  # fmt: skip


class SettledTrainingJobResources(TrainingJobResources):
    """Both decided by Prepare; the Map's SageMaker task reads them by path (``$.sagemaker``)."""

    instance_type: str = Field(pattern=INSTANCE_TYPE_PATTERN)
    max_runtime_s: int = Field(ge=MIN_TRAINING_RUNTIME_S, le=MAX_TRAINING_RUNTIME_S)


def settle_training_job(
    requested: TrainingJobResources | None, default_instance_type: str, max_runtime_s: int
) -> SettledTrainingJobResources:
    """The request's choice (the governance check keeps it within the stack's), else the stack's."""
    requested = requested or TrainingJobResources()
    return SettledTrainingJobResources(
        instance_type=requested.instance_type or default_instance_type,
        max_runtime_s=max_runtime_s if requested.max_runtime_s is None else requested.max_runtime_s,
    )
