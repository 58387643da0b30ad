"""The registry's typed records: what a version, an alias, a run marker and an audit event hold.

One definition per shape. The store turns items into these records on read and back into items on write
(``to_document``); the domain passes records, not dicts; handlers and the API turn them into JSON. Records
accept fields they do not declare (``extra="allow"``) so an item written by a newer release still round-trips.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PRODUCTION = "production"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MODEL_NAME_PATTERN_RE = re.compile(MODEL_NAME_PATTERN)
# Any named alias (``production``, ``staging``, ``shadow-b``...): lower case, so a URL and a key spell it one way.
ALIAS_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
ALIAS_NAME_PATTERN_RE = re.compile(ALIAS_NAME_PATTERN)
# Version tags (a map on the version record, like MLflow's model version tags).
TAG_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
TAG_KEY_PATTERN_RE = re.compile(TAG_KEY_PATTERN)
# The names' rules in words, for refusals (mlops.records.problems): a caller is never shown a regular expression.
NAME_WORDS = "1 to 64 characters: letters, digits, '_', '.' or '-', starting with a letter or digit (no spaces)"
TAG_KEY_WORDS = f"a tag key is {NAME_WORDS}, e.g. owner"
TAG_VALUE_MAX_CHARS = 500
MAX_TAGS_PER_VERSION = 50

VERSION_REGISTERED = "Registered"
VERSION_REJECTED = "Rejected"
VERSION_PENDING_APPROVAL = "PendingApproval"
VERSION_APPROVED = "Approved"
VERSION_APPROVAL_EXPIRED = "ApprovalExpired"
VERSION_ABANDONED = "Abandoned"  # registered by a run that then failed: kept for the audit, never deployable
DEPLOYABLE_STATUSES = (VERSION_REGISTERED, VERSION_APPROVED)  # only these can serve an alias
VERSION_STATUSES = (
    VERSION_REGISTERED,
    VERSION_REJECTED,
    VERSION_PENDING_APPROVAL,
    VERSION_APPROVED,
    VERSION_APPROVAL_EXPIRED,
    VERSION_ABANDONED,
)


def is_alias_name(alias: object) -> bool:
    return isinstance(alias, str) and ALIAS_NAME_PATTERN_RE.fullmatch(alias) is not None


KEY_FIELDS = ("pk", "sk")


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_document(self) -> dict[str, Any]:
        """The JSON form (field aliases applied, so ``schema`` is spelled as stored)."""
        return self.model_dump(mode="json", by_alias=True, exclude=set(KEY_FIELDS))

    def to_stored(self) -> dict[str, Any]:
        """The item's attributes: unset (None) fields are left out, so ``attribute_not_exists`` means unset."""
        return self.model_dump(mode="json", by_alias=True, exclude=set(KEY_FIELDS), exclude_none=True)

    @classmethod
    def from_item(cls, document: dict[str, Any]) -> Any:
        return cls.model_validate({k: v for k, v in document.items() if k not in KEY_FIELDS})


class ModelEntry(Record):
    """The ``MODEL`` item: a registered model and its version counter."""

    model_name: str
    latest_version: int = Field(ge=1)
    created_at: str
    updated_at: str


class Lineage(Record):
    dataset_uri: str
    data_sha256: str
    rows: int
    split: dict[str, Any]
    execution_arn: str
    run_id: str
    requested_by: str = "unknown"
    code_version: str = "unversioned"
    libraries: dict[str, str] = Field(default_factory=dict)
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    trial_id: str | None = None  # the winning trial of a search (the leaderboard's trial_id)
    trials: int | None = None  # trials the run fitted or tried (every rung)
    # captured rows joined with their /feedback labels that were added to the data: which captures, how many rows,
    # and where they went (the newest share to the holdout); dataset_uri/data_sha256 name the combined data
    feedback: dict[str, Any] | None = None
    compute: str = "lambda"  # the engine that trained the version: lambda (Train function) or sagemaker
    training_job: str | None = None  # the SageMaker training job, when one trained it
    # a caller's own model (bring your own model): its artifact_uri, artifact_sha256, format, the libraries it
    # declares and who uploaded it (the caller's identity the API recorded); None for a model the pipeline trained
    external: dict[str, Any] | None = None


SERVING_RUNTIMES = ("onnx", "sklearn")


class Serving(Record):
    """What serves a version: onnxruntime only if its ONNX model converted and passed the parity check, else
    scikit-learn; ``reason`` says why, ``precision`` which ONNX precision was used."""

    runtime: str | None = None
    onnx_uri: str | None = None
    onnx_sha256: str | None = None
    precision: str | None = None
    reason: str = ""
    parity: dict[str, Any] | None = None
    libraries: dict[str, str] = Field(default_factory=dict)

    @property
    def served_by(self) -> str:
        if self.runtime in SERVING_RUNTIMES:
            return self.runtime
        return "onnx" if self.onnx_uri else "sklearn"  # versions registered before runtimes were recorded


class VersionContent(Record):
    """What the Register step records about a trained model (the version's identity is added by the store)."""

    task: str
    target: str
    description: str = ""
    # The schema, the leaderboard and the input example grow with the table's width and the number of candidates:
    # they live in S3 (content-addressed, mlops.registry.documents) and the item holds their URIs and digests, far
    # from DynamoDB's 400 KB. Versions registered before that hold them inline (``schema``, ``leaderboard``,
    # ``input_example``); documents.schema_of(record) and its siblings read either.
    schema_document: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_uri: str | None = None
    schema_sha256: str | None = None
    schema_summary: dict[str, Any] = Field(default_factory=dict)
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float]
    validation_metrics: dict[str, float] = Field(default_factory=dict)
    gate: dict[str, Any]
    # per metric the gate checked against the trivial baseline: the winner's difference and ratio (the gate's report
    # has the baseline itself under ``gate.baseline``); None for versions registered before the floor
    lift_over_baseline: dict[str, dict[str, float | None]] | None = None
    # a binary winner's decision threshold tuned on validation (imbalanced targets; DecisionThreshold's fields)
    decision_threshold: dict[str, Any] | None = None
    champion: dict[str, Any] | None = None
    leaderboard: list[dict[str, Any]] = Field(default_factory=list)
    leaderboard_uri: str | None = None
    leaderboard_sha256: str | None = None
    artifact_uri: str
    artifact_sha256: str
    artifact_size_bytes: int | None = None
    baseline_uri: str
    baseline_sha256: str | None = None
    input_example: dict[str, Any] = Field(default_factory=dict)
    input_example_uri: str | None = None
    input_example_sha256: str | None = None
    # what the training run used and cost up to Register, 1,000 predictions and a month of drift checks
    # (mlops.records.cost.VersionCost's document); None for versions registered before costs were recorded
    cost: dict[str, Any] | None = None
    serving: Serving = Field(default_factory=Serving)
    training_request: dict[str, Any] = Field(default_factory=dict)
    lineage: Lineage
    approval: dict[str, Any] = Field(default_factory=lambda: {"required": False})
    intended_use: str = ""
    limitations: str = ""
    # what the drift check estimates performance with before labels arrive (mlops.training.estimator: a calibration
    # curve or a loss model's trees, JSON) and a summary of it; permutation importance on the holdout
    # (FeatureImportance's fields). None for versions registered before them, or when they could not be measured.
    performance_estimator_uri: str | None = None
    performance_estimator_sha256: str | None = None
    performance_estimation: dict[str, Any] | None = None
    feature_importance: dict[str, Any] | None = None


class VersionRecord(VersionContent):
    """A ``VERSION#<000001>`` item: the content plus identity, status and the approval trail."""

    model_name: str
    version: int = Field(ge=1)
    status: str
    run_id: str
    created_at: str
    created_by: str
    approval_task_token: str | None = None
    approval_requested_at: str | None = None
    approval_decision: dict[str, Any] | None = None
    approval_expired_at: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    tags_revision: int = 0  # bumped by every tag change: tag writes are conditional on the revision read

    @property
    def sklearn_version(self) -> str:
        return self.lineage.libraries.get("scikit-learn", "")

    def public(self) -> dict[str, Any]:
        """The JSON a caller may see: the approval task token never leaves the registry."""
        document = self.to_document()
        document.pop("approval_task_token", None)
        return document


class AliasRecord(Record):
    """An ``ALIAS#<alias>`` item: where the alias points, what it pointed at before, and any canary."""

    alias: str
    model_name: str
    version: int
    previous_version: int | None = None
    canary_version: int | None = None
    canary_weight: float = 0.0
    # A shadow takes none of the alias's traffic: the bake replays production's captured requests against it.
    shadow_version: int | None = None
    revision: int = 0
    updated_at: str | None = None
    updated_by: str | None = None
    reason: str = ""


class RunMarker(Record):
    """A ``RUN#<execution id>`` item: which version a pipeline execution registered."""

    version: int
    created_at: str


class AuditEvent(Record):
    """An ``EVENT#<iso-ts>#<id>`` item: who did what, why, with the state before and after. Written once."""

    event_id: str
    model_name: str
    event_type: str
    actor: str
    reason: str = ""
    before: Any = None
    after: Any = None
    details: Any = None  # what a decision was based on (a bake's metrics and thresholds); unset for most events
    at: str
