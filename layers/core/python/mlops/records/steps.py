"""The TrainingPipeline's typed records: what each step returns and the next one reads from the state.

One definition per shape. The step functions (``mlops.training.prepare``, ``.trials``, ``.train``, ``.evaluation``,
``.conversion``, ``.register``) take and return these records; the step events (``mlops.records.events``) are made
of them; handlers turn them into JSON (``to_document``) only at the edge. Pydantic and the standard library only,
so the API and predict functions can import the contracts without numpy or scikit-learn. The JSON each record
dumps is what the state machine's paths read (``$.dataset.splits``, ``$.evaluation.gate.passed``,
``$.conversion.converted``, ``$.registration.version``).

Whatever grows with the table's width or the number of candidates (the schema, an input row, the leaderboard)
is written to S3 once and the records carry a ``DocumentRef`` to it (URI, sha256, size) and a small summary: the
claim-check pattern, so every state stays far below Step Functions' 256 KiB whatever the data.

Dicts are left where the keys are data, not fields: metrics by name, estimator hyper-parameters, a raw input
row by column name, library versions by package.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlops.records.gate import BaselineFloor, BootstrapInterval, DecisionThreshold, StepRecord
from mlops.records.request import ComputeEngine, NormalisedRequest
from mlops.records.schema import Schema

S3_URI = r"^s3://[^/]+/.+"
SHA256 = r"^[0-9a-f]{64}$"


def _as_prepare_infers_it(schema: Schema) -> Schema:
    if not schema.features:
        raise ValueError("a schema has at least one feature")
    # a binary problem names its positive class, and it is one of the classes
    binary = schema.task == "classification" and schema.classes is not None and len(schema.classes) == 2
    if (binary or schema.positive_class is not None) and schema.positive_class not in (schema.classes or []):
        raise ValueError(f"positive_class {schema.positive_class!r} is not one of the classes {schema.classes}")
    return schema


class DocumentRef(StepRecord):
    """A JSON document in S3 that a state carries by reference; read back only if it hashes to ``sha256``."""

    uri: str = Field(pattern=S3_URI)
    sha256: str = Field(pattern=SHA256)
    size_bytes: int = Field(ge=0)


def validated_schema(document: dict[str, Any]) -> Schema:
    """A schema document read back from S3, checked as the contracts check everything else."""
    try:
        return _as_prepare_infers_it(Schema.from_dict(document))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the schema document is invalid: {exc}") from exc


class SchemaSummary(StepRecord):
    """What a person (and the state) needs to know of a schema at a glance; its size does not grow with the table."""

    task: Literal["classification", "regression"]
    target: str
    positive_class: str | None = None
    classes: int | None = Field(default=None, ge=0, description="how many classes (classification)")
    features: int = Field(ge=1, description="the model's inputs")
    roles: dict[str, int] = Field(default_factory=dict, description="input columns per role (feature, id, ...)")

    @classmethod
    def of(cls, schema: Schema) -> SchemaSummary:
        roles: dict[str, int] = {}
        for column in schema.columns.values():
            role = str(column.get("role", "feature"))
            roles[role] = roles.get(role, 0) + 1
        return cls(
            task=schema.task,
            target=schema.target,
            positive_class=schema.positive_class,
            classes=len(schema.classes) if schema.classes is not None else None,
            features=len(schema.features),
            roles=roles,
        )


# ---- Prepare ----------------------------------------------------------------------------------------------
class Splits(StepRecord):
    train: str = Field(pattern=S3_URI)
    validation: str = Field(pattern=S3_URI)
    test: str = Field(pattern=S3_URI)

    def uri(self, name: str) -> str:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]


class PreparedDataset(StepRecord):
    """The dataset as Prepare fingerprinted, split and stored it (``$.dataset``)."""

    uri: str = Field(pattern=S3_URI)
    sha256: str = Field(pattern=SHA256)
    rows: int = Field(ge=1)
    columns: int | None = Field(default=None, ge=1, description="the table's column count")
    schema_ref: DocumentRef = Field(alias="schema", description="the schema document (Schema.to_dict()) in S3")
    schema_summary: SchemaSummary
    splits: Splits = Field(description="each split as a typed table (.npz: every column, no pickles)")
    input_example: DocumentRef = Field(description="one raw test row, by column name, in S3")
    split_sizes: dict[str, int]
    baseline_uri: str = Field(pattern=S3_URI)
    feedback: dict[str, Any] | None = Field(
        default=None, description="the labelled captured rows added to the data (a request with `feedback`)"
    )


# ---- PlanTrials ---------------------------------------------------------------------------------------------
class Trial(StepRecord):
    """One trial of the search, as the trial list in S3 holds it (one Distributed Map item)."""

    trial_id: str = Field(pattern=r"^t[0-9]{4,}$")
    index: int = Field(ge=0, description="the trial's place in the sampled list (its artifact's name)")
    rung: int = Field(default=0, ge=0)
    fraction: float = Field(default=1.0, gt=0, le=1, description="the share of training rows it fits on")
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)


class RungPlan(StepRecord):
    rung: int = Field(ge=0)
    trials: int = Field(ge=1)
    fraction: float = Field(gt=0, le=1)


S3_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class ResultManifest(StepRecord):
    """Where a Distributed Map pass's ResultWriter put its manifest (``ResultWriterDetails``)."""

    bucket: str = Field(pattern=S3_BUCKET)
    key: str = Field(min_length=1, max_length=1024)


class ResultWriterDetails(StepRecord):
    bucket: str = Field(alias="Bucket", pattern=S3_BUCKET)
    key: str = Field(alias="Key", min_length=1, max_length=1024)


class MapRunOutput(StepRecord):
    """A Distributed Map's output when it has a ResultWriter: where the manifest is (AWS's field names)."""

    map_run_arn: str = Field(alias="MapRunArn", min_length=1)
    result_writer_details: ResultWriterDetails = Field(alias="ResultWriterDetails")


class TrialPlan(StepRecord):
    """What PlanTrials returns (``$.trials.plan``): the current rung's trial list in S3 (the ItemReader's object),
    where its results go (the ResultWriter's prefix), the fan-out's limits, and the manifests of earlier rungs.
    Bounded: it grows by one manifest per rung, never with the trials."""

    trials_bucket: str = Field(pattern=S3_BUCKET)
    trials_key: str = Field(max_length=1024)
    results_bucket: str = Field(pattern=S3_BUCKET)
    results_prefix: str = Field(max_length=1024)
    rung: int = Field(ge=0)
    rungs: list[RungPlan] = Field(min_length=1, max_length=32)
    sampled: int = Field(ge=1, description="trials in the first rung")
    count: int = Field(ge=1, description="trials in this rung")
    final: bool
    max_concurrency: int = Field(ge=1)
    tolerated_failure_percentage: float = Field(ge=0, le=100)
    deadline_epoch_s: float | None = Field(default=None, description="no trial starts after this (time budget)")
    manifests: list[ResultManifest] = Field(default_factory=list, max_length=32)


class TrialRun(StepRecord):
    """``$.trials`` after a Map pass: the plan, and the Map's own output (the ResultWriter's details)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    plan: TrialPlan
    map_run: MapRunOutput | None = None

    def all_manifests(self) -> list[ResultManifest]:
        manifests = list(self.plan.manifests)
        if self.map_run is not None:
            details = self.map_run.result_writer_details
            manifests.append(ResultManifest(bucket=details.bucket, key=details.key))
        return manifests


# ---- Train ------------------------------------------------------------------------------------------------
class TrialFields(StepRecord):
    """Where a candidate sits in a search (absent for a run before searches: rung 0, all rows)."""

    trial_id: str | None = None
    rung: int = Field(default=0, ge=0)
    fraction: float = Field(default=1.0, gt=0, le=1)


class Winner(TrialFields):
    """A trained candidate as Evaluate names the winner (``$.evaluation.winner``)."""

    index: int = Field(ge=0)
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    artifact_uri: str = Field(pattern=S3_URI)
    artifact_sha256: str = Field(pattern=SHA256)
    validation_metrics: dict[str, float]
    compute: ComputeEngine = Field(default="lambda", description="the engine that trained it")
    training_job: str | None = Field(default=None, description="the SageMaker training job's name (sagemaker)")
    # an imbalanced binary target: the threshold tuned on validation (the artifact then applies it in predict)
    decision_threshold: DecisionThreshold | None = None


class TrainedCandidate(Winner):
    """What Train returns for one Map iteration, whichever engine trained it (the same artifact contract)."""

    status: Literal["trained"]
    artifact_size_bytes: int | None = Field(default=None, ge=0)
    fit_s: float | None = None
    warnings: list[str] = Field(default_factory=list)

    def as_winner(self) -> Winner:
        return Winner.model_validate(self.model_dump(include=set(Winner.model_fields)))


class FailedCandidate(TrialFields):
    """A trial whose Train invocation failed (read from the Map's FAILED results), or that the time budget
    skipped (``skipped``: never fitted)."""

    status: Literal["failed", "skipped"]
    index: int = Field(ge=0)
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    cause: str | None = None
    compute: ComputeEngine = "lambda"


CandidateResult = Annotated[TrainedCandidate | FailedCandidate, Field(discriminator="status")]


class TrainingJobRef(StepRecord):
    """What the Map keeps of a finished SageMaker training job (``$.training_job``, from DescribeTrainingJob)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)  # DescribeTrainingJob grows fields

    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    status: Literal["Completed"]  # .sync fails the task on any other end
    model_artifacts: str | None = Field(default=None, pattern=S3_URI)
    billable_s: int | None = Field(default=None, ge=0)


class TrainingJobResult(StepRecord):
    """What a training job writes beside its artifact (``runs/<run>/candidates/<i>-<estimator>.json``): the
    candidate as Train would return it, the job's name and the libraries it trained with (the version-skew guard
    compares them with the Train function's before anything uses the artifact)."""

    training_job: str
    libraries: dict[str, str]
    # trained; or skipped, when the search's time budget was spent before the job started fitting
    candidate: CandidateResult


# ---- Evaluate ---------------------------------------------------------------------------------------------
class GateDecision(StepRecord):
    """The promotion gate's verdict (``$.evaluation.gate``; the ASL branches on ``passed``)."""

    passed: bool
    metric: str
    challenger_score: float
    champion_score: float | None = None
    champion_version: int | None = None
    min_score: float | None = None
    min_improvement: float
    reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    decision: Literal["promote", "reject"]
    bootstrap: BootstrapInterval | None = None
    baseline: BaselineFloor | None = None  # the winner against the trivial baseline (None: gated before the floor)

    @model_validator(mode="after")
    def _decision_follows_passed(self) -> GateDecision:
        if self.decision != ("promote" if self.passed else "reject"):
            raise ValueError(f"decision {self.decision!r} contradicts passed={self.passed}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.to_document()


class ChampionSummary(StepRecord):
    version: int = Field(ge=1)
    holdout_metrics: dict[str, float] | None = None
    recorded_metrics: dict[str, float] = Field(default_factory=dict)
    problem: str | None = None
    # how the champion was measured: "scikit-learn" (its pipeline, on this holdout), "onnx" (its ONNX copy through
    # the predict function, on this holdout: it was trained with another scikit-learn), "recorded" (neither could
    # run it: its metrics on its own holdout, as registered)
    compared_by: str | None = None
    note: str | None = None


class LeaderboardEntry(TrialFields):
    index: int = Field(ge=0)
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    status: Literal["trained", "failed", "skipped"]
    validation_metrics: dict[str, float] | None = None
    fit_s: float | None = None
    error: str | None = None
    compute: ComputeEngine = "lambda"

    @classmethod
    def of(cls, candidate: TrainedCandidate | FailedCandidate) -> LeaderboardEntry:
        return cls.model_validate(candidate.model_dump(include=set(cls.model_fields)))


class LeaderboardSummary(StepRecord):
    trained: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(default=0, ge=0)
    rungs: int = Field(default=1, ge=1)


class FeatureEffect(StepRecord):
    name: str
    importance: float  # the mean drop of the score when the feature is shuffled (higher: the model relies on it more)
    std: float = Field(ge=0)  # its spread over the repeats
    rank: int = Field(ge=1)


class FeatureImportance(StepRecord):
    """Permutation importance of the winner on (a bounded sample of) the holdout, most important first."""

    method: Literal["permutation"] = "permutation"
    scoring: str
    rows: int = Field(ge=1)
    repeats: int = Field(ge=1)
    seed: int
    features: list[FeatureEffect] = Field(max_length=30)  # the most important (importance.MAX_FEATURES_KEPT)
    measured: int = Field(default=0, ge=0)  # how many features were shuffled


class EvaluationResult(StepRecord):
    """What Evaluate returns (the ASL keeps exactly these keys as ``$.evaluation``)."""

    winner: Winner
    metrics: dict[str, float]
    champion: ChampionSummary | None  # null when there is none; Register copies it into the version record
    gate: GateDecision
    leaderboard: DocumentRef = Field(description="every candidate (LeaderboardEntry documents, by index) in S3")
    leaderboard_summary: LeaderboardSummary
    prediction_baseline_uri: str = Field(pattern=S3_URI)
    # what monitoring needs of the version: the label-free estimator fitted on the holdout (a JSON document,
    # ``mlops.training.estimator``) and the holdout's permutation importance (its 30 most important features); None
    # when it could not be measured
    performance_estimator: DocumentRef | None = None
    feature_importance: FeatureImportance | None = None


# ---- Convert ----------------------------------------------------------------------------------------------
class Conversion(StepRecord):
    """The winner converted to ONNX (``$.conversion.result`` when ``$.conversion.converted``)."""

    converted: Literal[True]
    onnx_uri: str = Field(pattern=S3_URI)
    onnx_sha256: str = Field(pattern=SHA256)
    onnx_size_bytes: int = Field(ge=0)
    precision: Literal["double", "float"] = "float"
    float_reason: str | None = None
    reference_uri: str = Field(pattern=S3_URI)
    test_uri: str = Field(pattern=S3_URI)
    reason: str = ""
    libraries: dict[str, str] = Field(default_factory=dict)


class NoConversion(StepRecord):
    """skl2onnx could not convert the winner (or conversion was not attempted): served by scikit-learn."""

    converted: Literal[False] = False
    reason: str


ConversionResult = Annotated[Conversion | NoConversion, Field(discriminator="converted")]


class ParityReport(BaseModel):
    """The predict function's parity check of the ONNX model against scikit-learn (``$.parity.report``), or the
    ASL's stand-in when nothing was converted or the check errored. Its measures differ by task; the report
    carries more than Register reads (``extra="allow"``) and is stored as it came in the version's serving."""

    model_config = ConfigDict(extra="allow")

    passed: bool = False
    error: str | None = None
    tolerance: dict[str, float | None] = Field(default_factory=dict)
    relative_mean_diff: float | None = None  # regression
    close_share: float | None = None
    max_abs_diff: float | None = None
    label_agreement: float | None = None  # classification
    mean_probability_diff: float | None = None
    libraries: dict[str, str] = Field(default_factory=dict)

    def as_stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


# ---- Register ---------------------------------------------------------------------------------------------
class Registration(StepRecord):
    """What Register returns (``$.registration``)."""

    model_name: str
    version: int = Field(ge=1)
    status: str
    created: bool
    artifact_uri: str
    artifact_sha256: str = Field(pattern=SHA256)
    baseline_uri: str
    onnx_uri: str | None = None
    card_uri: str


# ---- Prepare's output -------------------------------------------------------------------------------------
class PreparedRun(StepRecord):
    """What Prepare returns: the state the rest of the run reads (``$.request``, ``$.dataset``)."""

    request: NormalisedRequest
    dataset: PreparedDataset
