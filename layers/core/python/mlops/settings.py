"""Settings read once from the environment and validated: a missing value fails at start, never later."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlops.records.request import (
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_MAX_P99_LATENCY_MS,
    DEFAULT_MIN_REQUESTS,
    DEPLOYMENT_STRATEGIES,
    MAX_TRIALS,
)


class MissingSetting(RuntimeError):
    """An environment variable the template must set is absent."""


def _present(name: str) -> str:
    """A variable the template must set, which may be empty (an optional parameter left blank)."""
    if name not in os.environ:
        raise MissingSetting(f"environment variable {name} is not set; the template must set it")
    return os.environ[name]


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"environment variable {name} is not set; the template must set it")
    return value


@dataclass(frozen=True)
class Settings:
    """The stack's storage. Four tables so IAM can tell writers apart (it cannot scope a table by sort key):
    versions (``registry_table``), aliases (``alias_table``: only Deploy and the API write it), the insert-only
    audit trail (``audit_table``: PutItem only) and the monitor's items (``monitor_table``: the drift check)."""

    artifacts_bucket: str
    registry_table: str
    alias_table: str
    audit_table: str
    monitor_table: str

    # Every variable the code reads; a contract test checks the template sets each one for each function.
    ENVIRONMENT_VARIABLES = ("ARTIFACTS_BUCKET", "REGISTRY_TABLE", "ALIAS_TABLE", "AUDIT_TABLE", "MONITOR_TABLE")

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            artifacts_bucket=_required("ARTIFACTS_BUCKET"),
            registry_table=_required("REGISTRY_TABLE"),
            alias_table=_required("ALIAS_TABLE"),
            audit_table=_required("AUDIT_TABLE"),
            monitor_table=_required("MONITOR_TABLE"),
        )


@dataclass(frozen=True)
class EndpointSettings:
    """The predict function's settings on top of the common ones."""

    serving_runtime: str
    alias_refresh_s: float
    capture_sample_rate: float
    sklearn_function: str  # the scikit-learn predict function, serving what onnxruntime cannot (runtime onnx)

    ENVIRONMENT_VARIABLES = ("SERVING_RUNTIME", "ALIAS_REFRESH_S", "CAPTURE_SAMPLE_RATE", "SKLEARN_PREDICT_FUNCTION")

    @classmethod
    def from_environment(cls) -> EndpointSettings:
        runtime = _required("SERVING_RUNTIME")
        if runtime not in ("onnx", "sklearn"):
            raise MissingSetting(f"SERVING_RUNTIME must be onnx or sklearn, not {runtime!r}")
        try:
            refresh = float(_required("ALIAS_REFRESH_S"))
            rate = float(_required("CAPTURE_SAMPLE_RATE"))
        except ValueError as exc:
            raise MissingSetting(f"ALIAS_REFRESH_S and CAPTURE_SAMPLE_RATE must be numbers: {exc}") from exc
        if refresh < 0 or not 0 <= rate <= 1:
            raise MissingSetting("ALIAS_REFRESH_S must be >= 0 and CAPTURE_SAMPLE_RATE within [0, 1]")
        return cls(runtime, refresh, rate, _required("SKLEARN_PREDICT_FUNCTION"))


@dataclass(frozen=True)
class BatchSettings:
    """The batch function's settings: the serving runtime it scores with (the endpoint's) and where it hands the
    versions onnxruntime cannot serve."""

    serving_runtime: str
    sklearn_function: str
    max_concurrency: int = 20  # a job's chunks scored at once (BatchMaxConcurrency); a request cannot choose it

    ENVIRONMENT_VARIABLES = ("SERVING_RUNTIME", "SKLEARN_PREDICT_FUNCTION", "BATCH_MAX_CONCURRENCY")

    @classmethod
    def from_environment(cls) -> BatchSettings:
        runtime = _required("SERVING_RUNTIME")
        if runtime not in ("onnx", "sklearn"):
            raise MissingSetting(f"SERVING_RUNTIME must be onnx or sklearn, not {runtime!r}")
        return cls(
            runtime, _required("SKLEARN_PREDICT_FUNCTION"), _whole("BATCH_MAX_CONCURRENCY", low=1, high=MAX_TRIALS)
        )


@dataclass(frozen=True)
class BatchApiSettings:
    """The admin API's batch routes: the BatchTransform state machine they start and describe."""

    batch_transform_arn: str

    ENVIRONMENT_VARIABLES = ("BATCH_TRANSFORM_ARN",)

    @classmethod
    def from_environment(cls) -> BatchApiSettings:
        return cls(_required("BATCH_TRANSFORM_ARN"))


@dataclass(frozen=True)
class ModelCacheSettings:
    """How many bytes of model artifacts a predict function's execution environment keeps loaded."""

    max_bytes: int

    ENVIRONMENT_VARIABLES = ("MODEL_CACHE_MB",)

    @classmethod
    def from_environment(cls) -> ModelCacheSettings:
        try:
            megabytes = int(_required("MODEL_CACHE_MB"))
        except ValueError as exc:
            raise MissingSetting(f"MODEL_CACHE_MB must be a whole number of MiB: {exc}") from exc
        if megabytes < 1:
            raise MissingSetting(f"MODEL_CACHE_MB must be at least 1, not {megabytes}")
        return cls(megabytes * 1024 * 1024)


@dataclass(frozen=True)
class ApiSettings:
    """The admin API function's settings on top of the common ones."""

    training_pipeline_arn: str
    predict_function: str
    reproduce_function: str

    ENVIRONMENT_VARIABLES = ("TRAINING_PIPELINE_ARN", "PREDICT_FUNCTION", "REPRODUCE_FUNCTION")

    @classmethod
    def from_environment(cls) -> ApiSettings:
        return cls(_required("TRAINING_PIPELINE_ARN"), _required("PREDICT_FUNCTION"), _required("REPRODUCE_FUNCTION"))


@dataclass(frozen=True)
class ApprovalSettings:
    """Who may decide an approval (the stack's ``ApproverPrincipalArns``): IAM principal ARNs, comma-separated; empty,
    any caller other than the run's requester. An entry is compared as ``mlops.records.identity`` decides identities
    (a role admits its sessions)."""

    approver_principals: tuple[str, ...]

    ENVIRONMENT_VARIABLES = ("APPROVER_PRINCIPAL_ARNS",)

    @classmethod
    def from_environment(cls) -> ApprovalSettings:
        listed = tuple(entry.strip() for entry in _present("APPROVER_PRINCIPAL_ARNS").split(",") if entry.strip())
        malformed = [entry for entry in listed if not re.fullmatch(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+", entry)]
        if malformed:
            raise MissingSetting(f"APPROVER_PRINCIPAL_ARNS must list IAM principal ARNs, not {malformed}")
        return cls(listed)


@dataclass(frozen=True)
class EvaluateSettings:
    """The Evaluate step's: the predict function, which scores a champion the step's scikit-learn cannot load."""

    predict_function: str

    ENVIRONMENT_VARIABLES = ("PREDICT_FUNCTION",)

    @classmethod
    def from_environment(cls) -> EvaluateSettings:
        return cls(_required("PREDICT_FUNCTION"))


@dataclass(frozen=True)
class PipelineSettings:
    """Defaults the Prepare step applies to a training request (the stack's parameters)."""

    require_approval: bool
    approval_timeout_s: int
    code_version: str
    trial_max_concurrency: int = 10  # a search's trials at once, unless the request asks for fewer or more
    trial_tolerated_failure_percentage: float = 10.0  # failed trials a search tolerates before the run fails
    deployment_strategy: str = "all_at_once"
    bake_s: int = 600
    # GateMinimumScores: the least score per gate metric (a loss: the most); a request may ask for more, never less
    min_scores: dict[str, float] = field(default_factory=dict)

    ENVIRONMENT_VARIABLES = (
        "REQUIRE_APPROVAL",
        "APPROVAL_TIMEOUT_S",
        "CODE_VERSION",
        "TRIAL_MAX_CONCURRENCY",
        "TRIAL_TOLERATED_FAILURE_PERCENTAGE",
        "DEPLOYMENT_STRATEGY",
        "DEPLOYMENT_BAKE_S",
        "GATE_MINIMUM_SCORES",
    )

    @classmethod
    def from_environment(cls) -> PipelineSettings:
        flag = _required("REQUIRE_APPROVAL").lower()
        if flag not in ("true", "false"):
            raise MissingSetting(f"REQUIRE_APPROVAL must be true or false, not {flag!r}")
        try:
            timeout = int(_required("APPROVAL_TIMEOUT_S"))
        except ValueError as exc:
            raise MissingSetting(f"APPROVAL_TIMEOUT_S must be an integer: {exc}") from exc
        try:
            concurrency = int(_required("TRIAL_MAX_CONCURRENCY"))
            tolerated = float(_required("TRIAL_TOLERATED_FAILURE_PERCENTAGE"))
        except ValueError as exc:
            raise MissingSetting(f"TRIAL_MAX_CONCURRENCY / TRIAL_TOLERATED_FAILURE_PERCENTAGE: {exc}") from exc
        strategy = _required("DEPLOYMENT_STRATEGY")
        if strategy not in ("all_at_once", "canary", "linear", "shadow"):
            raise MissingSetting(f"DEPLOYMENT_STRATEGY must be all_at_once, canary, linear or shadow, not {strategy!r}")
        try:
            bake_s = int(_required("DEPLOYMENT_BAKE_S"))
        except ValueError as exc:
            raise MissingSetting(f"DEPLOYMENT_BAKE_S must be an integer: {exc}") from exc
        return cls(
            flag == "true",
            timeout,
            _required("CODE_VERSION"),
            concurrency,
            tolerated,
            strategy,
            bake_s,
            minimum_scores(_present("GATE_MINIMUM_SCORES")),
        )


# The gate's metrics (mlops.training.evaluation's, which a unit test holds this to): the settings cannot import the
# training room, and a misspelt metric in GateMinimumScores must fail at start, not be silently ignored.
GATE_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "f1", "roc_auc", "average_precision", "log_loss", "rmse", "mae", "r2"}
)


def minimum_scores(text: str) -> dict[str, float]:
    """GateMinimumScores (``f1=0.2,r2=0``; empty: none) as {metric: score}."""
    scores: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        metric, equals, value = item.partition("=")
        metric = metric.strip()
        if not equals or metric not in GATE_METRICS or metric in scores:
            raise MissingSetting(
                f"GATE_MINIMUM_SCORES: {item!r} is not metric=number with a gate metric named once "
                f"({', '.join(sorted(GATE_METRICS))})"
            )
        try:
            scores[metric] = float(value)
        except ValueError as exc:
            raise MissingSetting(f"GATE_MINIMUM_SCORES: {item!r}: {exc}") from exc
        if not math.isfinite(scores[metric]):
            raise MissingSetting(f"GATE_MINIMUM_SCORES: {item!r} is not a finite number")
    return scores


@dataclass(frozen=True)
class ComputeSettings:
    """What Prepare needs to choose where candidates train (mlops.training.compute): the Train function's
    MemorySize (the same template parameter sets both), the measured memory per cell, and the SageMaker training
    image (empty: this stack trains on Lambda only)."""

    train_memory_mb: int
    train_bytes_per_cell: float
    training_image: str

    ENVIRONMENT_VARIABLES = ("TRAIN_MEMORY_MB", "TRAIN_BYTES_PER_CELL", "TRAINING_IMAGE_URI")

    @property
    def sagemaker_available(self) -> bool:
        return bool(self.training_image)

    @classmethod
    def from_environment(cls) -> ComputeSettings:
        try:
            memory_mb = int(_required("TRAIN_MEMORY_MB"))
            bytes_per_cell = float(_required("TRAIN_BYTES_PER_CELL"))
        except ValueError as exc:
            raise MissingSetting(f"TRAIN_MEMORY_MB and TRAIN_BYTES_PER_CELL must be numbers: {exc}") from exc
        if memory_mb < 128 or bytes_per_cell <= 0:
            raise MissingSetting("TRAIN_MEMORY_MB must be >= 128 and TRAIN_BYTES_PER_CELL > 0")
        return cls(memory_mb, bytes_per_cell, _present("TRAINING_IMAGE_URI"))


@dataclass(frozen=True)
class TrainingJobSettings:
    """A SageMaker training job's settings (CreateTrainingJob's Environment): the one bucket it reads and writes."""

    artifacts_bucket: str

    ENVIRONMENT_VARIABLES = ("ARTIFACTS_BUCKET",)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TrainingJobSettings:
        variables = os.environ if environ is None else environ
        bucket = variables.get("ARTIFACTS_BUCKET")
        if not bucket:
            raise MissingSetting("environment variable ARTIFACTS_BUCKET is not set; the training job must set it")
        return cls(bucket)


@dataclass(frozen=True)
class MonitoringSettings:
    """The drift function's defaults (the stack's parameters); a model's monitoring config can override them."""

    consecutive_windows: int
    cooldown_hours: float
    retrain_on_drift: bool
    capture_settle_s: float

    ENVIRONMENT_VARIABLES = (
        "DRIFT_CONSECUTIVE_WINDOWS",
        "RETRAIN_COOLDOWN_HOURS",
        "RETRAIN_ON_DRIFT",
        "CAPTURE_SETTLE_S",
    )

    @classmethod
    def from_environment(cls) -> MonitoringSettings:
        flag = _required("RETRAIN_ON_DRIFT").lower()
        if flag not in ("true", "false"):
            raise MissingSetting(f"RETRAIN_ON_DRIFT must be true or false, not {flag!r}")
        try:
            windows = int(_required("DRIFT_CONSECUTIVE_WINDOWS"))
            cooldown = float(_required("RETRAIN_COOLDOWN_HOURS"))
            settle = float(_required("CAPTURE_SETTLE_S"))
        except ValueError as exc:
            raise MissingSetting(f"drift settings must be numbers: {exc}") from exc
        if windows < 1 or cooldown < 0 or settle < 0:
            raise MissingSetting("DRIFT_CONSECUTIVE_WINDOWS must be >= 1, the cooldown and settle time >= 0")
        return cls(windows, cooldown, flag == "true", settle)


def _number(name: str, *, low: float, high: float) -> float:
    try:
        value = float(_required(name))
    except ValueError as exc:
        raise MissingSetting(f"{name} must be a number: {exc}") from exc
    if not math.isfinite(value) or not low <= value <= high:
        raise MissingSetting(f"{name} must be a finite number within [{low}, {high}], not {value}")
    return value


def _whole(name: str, *, low: int, high: int) -> int:
    value = _number(name, low=low, high=high)
    if value != int(value):
        raise MissingSetting(f"{name} must be a whole number, not {value}")
    return int(value)


@dataclass(frozen=True)
class GovernanceSettings:
    """The stack's rules a training request may tighten but never loosen (read by the API and Prepare): approval,
    the gate's margin, where data may be read, and the caps on what a run may spend and risk. Ceilings: a search's
    trials (``SearchMaxTrials``) and trials at once (``TrialMaxConcurrency``). Floors of delivery: a progressive
    ``DeploymentStrategy`` (a request may not choose all_at_once on it) and its bake thresholds
    (``DeploymentMaxErrorRate``, ``DeploymentMaxP99LatencyMs``, ``DeploymentMinRequests``)."""

    require_approval: bool
    min_improvement: float
    dataset_locations: tuple[str, ...]  # ``s3://bucket/prefix/`` a dataset_uri must start with
    max_trials: int = MAX_TRIALS
    max_concurrency: int = MAX_TRIALS
    deployment_strategy: str = "all_at_once"
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    max_p99_latency_ms: float = DEFAULT_MAX_P99_LATENCY_MS
    min_requests: int = DEFAULT_MIN_REQUESTS

    ENVIRONMENT_VARIABLES = (
        "REQUIRE_APPROVAL",
        "GATE_MIN_IMPROVEMENT",
        "DATA_BUCKET",
        "ARTIFACTS_BUCKET",
        "SEARCH_MAX_TRIALS",
        "TRIAL_MAX_CONCURRENCY",
        "DEPLOYMENT_STRATEGY",
        "DEPLOYMENT_MAX_ERROR_RATE",
        "DEPLOYMENT_MAX_P99_LATENCY_MS",
        "DEPLOYMENT_MIN_REQUESTS",
    )

    @property
    def progressive(self) -> bool:
        return self.deployment_strategy != "all_at_once"

    @classmethod
    def from_environment(cls) -> GovernanceSettings:
        flag = _required("REQUIRE_APPROVAL").lower()
        if flag not in ("true", "false"):
            raise MissingSetting(f"REQUIRE_APPROVAL must be true or false, not {flag!r}")
        try:
            margin = float(_required("GATE_MIN_IMPROVEMENT"))
        except ValueError as exc:
            raise MissingSetting(f"GATE_MIN_IMPROVEMENT must be a number: {exc}") from exc
        if margin < 0:
            raise MissingSetting("GATE_MIN_IMPROVEMENT must be >= 0")
        data_bucket = _present("DATA_BUCKET")
        locations = (f"s3://{_required('ARTIFACTS_BUCKET')}/datasets/",)
        if data_bucket:
            locations += (f"s3://{data_bucket}/",)
        strategy = _required("DEPLOYMENT_STRATEGY")
        if strategy not in DEPLOYMENT_STRATEGIES:
            raise MissingSetting(f"DEPLOYMENT_STRATEGY must be one of {DEPLOYMENT_STRATEGIES}, not {strategy!r}")
        return cls(
            flag == "true",
            margin,
            locations,
            max_trials=_whole("SEARCH_MAX_TRIALS", low=1, high=MAX_TRIALS),
            max_concurrency=_whole("TRIAL_MAX_CONCURRENCY", low=1, high=MAX_TRIALS),
            deployment_strategy=strategy,
            max_error_rate=_number("DEPLOYMENT_MAX_ERROR_RATE", low=0, high=1),
            max_p99_latency_ms=_number("DEPLOYMENT_MAX_P99_LATENCY_MS", low=1, high=60_000),
            min_requests=_whole("DEPLOYMENT_MIN_REQUESTS", low=0, high=10_000_000),
        )


@dataclass(frozen=True)
class ScheduleSettings:
    """The scheduled drift checks: one EventBridge Scheduler schedule ticks at ``tick_rate`` and starts a check of
    every monitored model whose own rate (``default_rate``, the stack's, unless its monitoring config sets one) has
    come round. Rate expressions, checked by ``mlops.monitoring.config.rate_seconds``."""

    default_rate: str
    tick_rate: str

    ENVIRONMENT_VARIABLES = ("DRIFT_CHECK_RATE", "DRIFT_CHECK_TICK_RATE")

    @classmethod
    def from_environment(cls) -> ScheduleSettings:
        return cls(_required("DRIFT_CHECK_RATE"), _required("DRIFT_CHECK_TICK_RATE"))
