"""The steps of the TrainingPipeline state machine, one typed function each.

Each takes and returns the typed records of ``mlops.records.steps`` (the request as ``mlops.records.request``
defines it), so a handler parses its event, makes one call and dumps the result to JSON, and the steps can be
run and tested without Lambda. Large things (splits, models, baselines) go to S3; the state carries URIs, and
whatever grows with the table's width or the number of candidates (the schema, an input row, the leaderboard) is
a ``DocumentRef`` (URI + sha256) with a small summary beside it, so no state grows with the data.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import numpy as np

from mlops.data import baseline, dataset
from mlops.errors import (
    ArtifactIntegrityError,
    InvalidStepInput,
    InvalidTrainingRequest,
    LibraryVersionMismatch,
    NoCandidateTrained,
    PolicyViolation,
)
from mlops.governance import cards
from mlops.governance import policy as governance
from mlops.records.events import ScoreHoldoutEvent
from mlops.records.lineage import CONVERSION_LIBRARIES, library_versions, run_id_of
from mlops.records.registry import (
    PRODUCTION,
    VERSION_PENDING_APPROVAL,
    VERSION_REGISTERED,
    VERSION_REJECTED,
    Lineage,
    Serving,
    VersionContent,
)
from mlops.records.request import (
    Candidate,
    ComputeEngine,
    FeedbackRows,
    NormalisedRequest,
    SettledSearch,
    TrainingRequest,
    settle_deployment,
)
from mlops.records.steps import (
    BootstrapInterval,
    ChampionSummary,
    Conversion,
    ConversionResult,
    DocumentRef,
    EvaluationResult,
    FailedCandidate,
    LeaderboardEntry,
    LeaderboardSummary,
    NoConversion,
    ParityReport,
    PreparedDataset,
    PreparedRun,
    Registration,
    ResultManifest,
    SchemaSummary,
    Splits,
    TrainedCandidate,
    TrainingJobRef,
    TrainingJobResult,
    Trial,
    TrialPlan,
    TrialRun,
    validated_schema,
)
from mlops.registry import documents
from mlops.registry.store import ModelRegistry
from mlops.settings import ComputeSettings, GovernanceSettings, PipelineSettings, Settings, TrainingJobSettings
from mlops.storage import clients, layout, objects
from mlops.storage.objects import S3Uri
from mlops.training import (
    baseline_floor,
    compute,
    conversion,
    estimators,
    evaluation,
    feedback_rows,
    imbalance,
    significance,
)
from mlops.training import search as trial_search


def _run_prefix(settings: Settings | TrainingJobSettings, run_id: str) -> str:
    return str(layout.run_prefix(settings.artifacts_bucket, run_id))


def _put_document(uri: S3Uri, document: object) -> DocumentRef:
    digest, size = objects.put_document(uri, document)
    return DocumentRef(uri=str(uri), sha256=digest, size_bytes=size)


def load_schema(ref: DocumentRef) -> dataset.Schema:
    """The run's schema, read from S3 only if it hashes to the digest the state carries."""
    try:
        return validated_schema(objects.get_verified_json(ref.uri, ref.sha256))
    except ValueError as exc:
        raise InvalidStepInput(f"{ref.uri}: {exc}") from exc


def _load_table(split_uri: str) -> dataset.Table:
    return dataset.from_npz(objects.get_bytes(S3Uri.parse(split_uri)))


def _load_matrices(prepared: PreparedDataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's (feature matrix, target) from the typed table Prepare stored."""
    schema = load_schema(prepared.schema_ref)
    table = _load_table(prepared.splits.uri(name))
    return dataset.feature_matrix(table, schema), dataset.target_vector(table, schema)


def _with_class_weight(candidates: list[Candidate], task: str, class_weight: str | None) -> list[Candidate]:
    """The request's class_weight, set on every candidate whose estimator supports it (unless it sets its own)."""
    if class_weight is None:
        return candidates
    weighted = []
    for candidate in candidates:
        supported = "class_weight" in estimators.ESTIMATORS[task][candidate.estimator]().get_params()
        params = candidate.params
        if supported and "class_weight" not in params:
            params = {**params, "class_weight": class_weight}
        weighted.append(candidate.model_copy(update={"params": params}))
    return weighted


def _settled_search(request: TrainingRequest, task: str, defaults: PipelineSettings) -> SettledSearch:
    """The request's search with every default applied: the task's spaces, the split's seed, the stack's fan-out
    limits; class_weight held fixed where an estimator takes it. A space the allow-list refuses names its field."""
    search = request.search
    assert search is not None
    spaces = search.spaces if search.spaces is not None else trial_search.default_spaces(task)
    trial_search.check_spaces(task, spaces)
    if request.class_weight is not None:
        spaces = [
            space.model_copy(update={"fixed": {**space.fixed, "class_weight": request.class_weight}})
            if "class_weight" in estimators.ESTIMATORS[task][space.estimator]().get_params()
            and "class_weight" not in space.params
            and "class_weight" not in space.fixed
            else space
            for space in spaces
        ]
    return SettledSearch.model_validate(
        {
            **search.model_dump(),
            "spaces": [space.model_dump() for space in spaces],
            "seed": search.seed if search.seed is not None else request.split.seed,
            "max_concurrency": search.max_concurrency or defaults.trial_max_concurrency,
            "tolerated_failure_percentage": search.tolerated_failure_percentage
            if search.tolerated_failure_percentage is not None
            else defaults.trial_tolerated_failure_percentage,
        }
    )


# ---- Prepare ----------------------------------------------------------------------------------------------
def _feedback_dataset(request: TrainingRequest, settings: Settings, run_id: str) -> feedback_rows.FeedbackDataset:
    """The request's data plus the captured rows joined with their labels, as a dataset object of its own."""
    assert request.feedback is not None
    now = time.time()
    bucket = settings.artifacts_bucket
    return feedback_rows.write_dataset(
        request.dataset_uri,
        request.target,
        feedback_rows.collect(bucket, request.model_name, request.feedback, now=now),
        request.feedback,
        bucket=bucket,
        model_name=request.model_name,
        run_id=run_id,
        now=now,
    )


def _place_feedback_rows(
    split_rows: dict[str, np.ndarray], total_rows: int, added: feedback_rows.FeedbackDataset, settings: FeedbackRows
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    placed_rows, placed = feedback_rows.place_in_splits(
        split_rows,
        total_rows=total_rows,
        labelled_rows=added.labelled_rows,
        holdout_share=settings.holdout_share,
        weight=settings.weight,
    )
    return placed_rows, {**added.summary, "test_rows": placed["test"], "train_rows": placed["train"]}


def _settled_trials(
    request: TrainingRequest, task: str, defaults: PipelineSettings
) -> tuple[list[Candidate] | None, SettledSearch | None]:
    """What the run trains: the request's search settled, or its candidates (the task's defaults when it lists none),
    each checked against the allow-list."""
    if request.search is not None:
        return None, _settled_search(request, task, defaults)
    candidates = (
        request.candidates
        if request.candidates
        else [Candidate.model_validate(c) for c in estimators.DEFAULT_CANDIDATES[task]]
    )
    candidates = _with_class_weight(candidates, task, request.class_weight)
    for candidate in candidates:
        estimators.check_candidate(task, candidate.estimator, candidate.params)
    return candidates, None


def _settled_compute(
    requested: ComputeEngine | None, rows: int, columns: int, settings: ComputeSettings | None
) -> tuple[ComputeEngine, str]:
    """The run's engine and why: every trial of every rung trains on it (mlops.training.compute)."""
    if settings is None:
        return requested or "lambda", "requested" if requested else "default"
    decision = compute.choose(requested, rows, columns, settings)
    return decision.engine, decision.reason


def prepare(
    request: TrainingRequest,
    execution_arn: str,
    settings: Settings,
    defaults: PipelineSettings | None = None,
    *,
    policy: GovernanceSettings | None = None,
    compute_settings: ComputeSettings | None = None,
) -> PreparedRun:
    """Validate the data against the request, infer the schema, split, store splits and baseline, and settle the
    request (task, candidates, gate, approval, compute engine) for the rest of the run. With ``policy`` (the
    stack's rules), a request that would loosen them is refused before anything is read or written. Without
    ``compute_settings`` the request's engine is kept (Lambda by default) and nothing is switched by size."""
    gate_request = request.gate.model_dump(exclude_none=True)
    if policy is not None:
        try:
            governance.enforce(request, policy)
        except PolicyViolation as exc:
            raise InvalidTrainingRequest(str(exc)) from exc
        gate_request["min_improvement"] = governance.settled_min_improvement(request, policy)
    run_id = run_id_of(execution_arn)
    added = _feedback_dataset(request, settings, run_id) if request.feedback is not None else None
    dataset_uri = added.uri if added is not None else request.dataset_uri
    stream = objects.open_dataset(dataset_uri)
    table = dataset.read_table(stream)
    data_sha256 = stream.hexdigest()
    schema, table = dataset.infer_schema(
        table, request.target, request.task, request.positive_class, roles=request.column_roles()
    )

    if request.class_weight is not None and schema.task != "classification":
        raise InvalidTrainingRequest("invalid training request: class_weight applies to classification only")
    defaults = defaults or PipelineSettings(
        require_approval=False, approval_timeout_s=7 * 24 * 3600, code_version="unversioned"
    )
    candidates, settled_search = _settled_trials(request, schema.task, defaults)
    candidates, minority_share, selection_metric = imbalance.settled(
        schema, dataset.target_vector(table, schema), request, candidates
    )
    try:
        gate = evaluation.GateConfig.from_request(schema.task, gate_request)
        gate.min_score = baseline_floor.settled_min_score(gate.metric, gate.min_score, defaults.min_scores)
    except (ValueError, TypeError) as exc:
        raise InvalidTrainingRequest(f"invalid gate: {exc}") from exc

    seed = request.split.seed
    split_rows = dataset.split_rows(table, schema, seed, request.split.validation_fraction, request.split.test_fraction)
    feedback_summary = None
    if added is not None and request.feedback is not None:
        split_rows, feedback_summary = _place_feedback_rows(split_rows, table.rows, added, request.feedback)
    input_columns, rows = len(table.columns), table.rows
    compute_engine, compute_reason = _settled_compute(request.compute, rows, input_columns, compute_settings)
    example = dataset.input_record(table, schema, int(split_rows["test"][0]))
    prefix = _run_prefix(settings, run_id)
    split_uris: dict[str, str] = {}
    for name, indices in split_rows.items():  # written column by column from the table: no split held whole
        uri = S3Uri.parse(f"{prefix}/data/{name}.npz")
        buffer = io.BytesIO()
        dataset.write_npz(table, buffer, rows=indices)
        objects.put_buffer(uri, buffer)
        del buffer
        split_uris[name] = str(uri)
    train = table.take(split_rows["train"])
    del table  # the baseline needs only the training rows
    baseline_uri = S3Uri.parse(f"{prefix}/baseline.json")
    objects.put_json(baseline_uri, baseline.compute_baseline(dataset.feature_columns(train, schema), schema, seed))
    del train

    normalised = NormalisedRequest.model_validate(
        {
            **request.model_dump(),
            "task": schema.task,
            "positive_class": schema.positive_class,
            "candidates": [c.model_dump() for c in candidates] if candidates is not None else None,
            "search": settled_search.model_dump() if settled_search is not None else None,
            "gate": {
                "metric": gate.metric,
                "min_score": gate.min_score,
                "min_improvement": gate.min_improvement,
                "block_on_leakage": gate.block_on_leakage,
                "bootstrap": gate.bootstrap,
            },
            "approval": {
                "required": defaults.require_approval
                if request.approval.required is None
                else request.approval.required,
                "timeout_s": request.approval.timeout_s or defaults.approval_timeout_s,
            },
            "deployment": settle_deployment(
                request.deployment, defaults.deployment_strategy, defaults.bake_s
            ).model_dump(),
            "code_version": defaults.code_version,
            "compute": compute_engine,
            "compute_reason": compute_reason,
            "requested_compute": request.compute,
            "minority_share": minority_share,
            "selection_metric": selection_metric,
        }
    )
    bucket = settings.artifacts_bucket
    prepared = PreparedDataset(
        uri=dataset_uri,
        sha256=data_sha256,
        rows=rows,
        columns=input_columns,
        schema_ref=_put_document(layout.run_document(bucket, run_id, layout.RUN_SCHEMA), schema.to_dict()),
        schema_summary=SchemaSummary.of(schema),
        splits=Splits.model_validate(split_uris),
        input_example=_put_document(
            layout.run_document(bucket, run_id, layout.RUN_INPUT_EXAMPLE),
            example,
        ),
        split_sizes={name: len(indices) for name, indices in split_rows.items()},
        baseline_uri=str(baseline_uri),
        feedback=feedback_summary,
    )
    return PreparedRun(request=normalised, dataset=prepared)


# ---- PlanTrials (the trial list of each rung, in S3) -------------------------------------------------------
# Hand-listed candidates keep their old behaviour in the Distributed Map: a few at a time, a failure recorded and
# never fatal (Evaluate ends the run in NoCandidateTrained if none trained).
CANDIDATE_MAX_CONCURRENCY = 4
CANDIDATE_TOLERATED_FAILURE_PERCENTAGE = 100.0


def plan_trials(
    request: NormalisedRequest,
    execution_arn: str,
    settings: Settings,
    previous: TrialRun | None = None,
    *,
    now_epoch_s: float | None = None,
) -> TrialPlan:
    """Write the next rung's trial list to S3 and return where it is (the Distributed Map reads it there).

    First call (``previous`` None): the sampled trials (or the hand-listed candidates) and the rung structure.
    Later calls, with successive halving: the best of the rung that just ran go on to more rows."""
    bucket, run_id = settings.artifacts_bucket, run_id_of(execution_arn)
    if previous is None:
        search = request.search
        if search is not None:
            sampled = trial_search.sample(search)
            rungs = trial_search.rungs(len(sampled), search.halving)
            concurrency, tolerated = search.max_concurrency, search.tolerated_failure_percentage
            now = time.time() if now_epoch_s is None else now_epoch_s
            deadline = now + search.time_budget_s if search.time_budget_s is not None else None
        else:
            sampled = [(c.estimator, c.params) for c in request.candidates or []]
            rungs = trial_search.rungs(len(sampled), None)
            concurrency, tolerated, deadline = CANDIDATE_MAX_CONCURRENCY, CANDIDATE_TOLERATED_FAILURE_PERCENTAGE, None
        trials = trial_search.first_rung(sampled, rungs)
        plan = TrialPlan(
            trials_bucket=bucket,
            trials_key="",
            results_bucket=bucket,
            results_prefix="",
            rung=0,
            rungs=rungs,
            sampled=len(trials),
            count=len(trials),
            final=len(rungs) == 1,
            max_concurrency=concurrency,
            tolerated_failure_percentage=tolerated,
            deadline_epoch_s=deadline,
        )
    else:
        done = previous.plan
        manifests = previous.all_manifests()
        results = [r for r in read_trial_results(manifests[-1:]) if r.rung == done.rung]
        rung = done.rungs[done.rung + 1]
        trials = trial_search.promote(results, request.gate.metric, rung)
        if not trials:
            raise NoCandidateTrained(f"no trial of rung {done.rung} trained, so none can go on to rung {rung.rung}")
        plan = done.model_copy(
            update={
                "rung": rung.rung,
                "count": len(trials),
                "final": rung.rung == len(done.rungs) - 1,
                "manifests": manifests,
            }
        )
    trial_list = layout.run_trial_list(bucket, run_id, plan.rung)
    objects.put_json(trial_list, [_trial_item(trial) for trial in trials])
    results_prefix = layout.run_trial_results_prefix(bucket, run_id, plan.rung)
    return plan.model_copy(update={"trials_key": trial_list.key, "results_prefix": results_prefix.key})


def _trial_item(trial: Trial) -> dict[str, Any]:
    """One ItemReader item: what the Map's ItemSelector passes to Train (beside the dataset and seed)."""
    return {
        "trial_id": trial.trial_id,
        "index": trial.index,
        "rung": trial.rung,
        "fraction": trial.fraction,
        "candidate": {"estimator": trial.estimator, "params": trial.params},
    }


def read_trial_results(manifests: list[ResultManifest]) -> list[TrainedCandidate | FailedCandidate]:
    """Every trial's record from the Distributed Map's ResultWriter files: Train's output for a trial that
    succeeded, its input with the error and cause for one that failed."""
    results: list[TrainedCandidate | FailedCandidate] = []
    for manifest_ref in manifests:
        manifest = objects.get_json(S3Uri(manifest_ref.bucket, manifest_ref.key))
        files = manifest.get("ResultFiles", {})
        for status in ("SUCCEEDED", "FAILED"):
            for result_file in files.get(status, []):
                for execution in objects.get_json(S3Uri(manifest["DestinationBucket"], result_file["Key"])):
                    results.append(_trial_result(execution))
    return sorted(results, key=lambda r: (r.rung, r.index))


def _trial_result(execution: dict[str, Any]) -> TrainedCandidate | FailedCandidate:
    try:
        if execution["Status"] == "SUCCEEDED":
            output = json.loads(execution["Output"])
            if output.get("status") == "trained":
                return TrainedCandidate.model_validate(output)
            return FailedCandidate.model_validate(output)
        item = json.loads(execution["Input"])
        return FailedCandidate(
            status="failed",
            trial_id=item.get("trial_id"),
            index=item["index"],
            rung=item.get("rung", 0),
            fraction=item.get("fraction", 1.0),
            estimator=item["candidate"]["estimator"],
            params=item["candidate"].get("params", {}),
            error=execution.get("Error"),
            cause=(execution.get("Cause") or "")[:2000],
            compute=item.get("compute") or "lambda",  # the engine it failed on (a failed training job: sagemaker)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidStepInput(f"a trial result the ResultWriter wrote is not a Train record: {exc}") from exc


# ---- Train (one candidate per Map iteration) --------------------------------------------------------------
def _subsample(
    features: np.ndarray, target: np.ndarray, fraction: float, seed: int, task: str
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded share of the training rows (stratified for classification, so every class is there)."""
    if fraction >= 1.0:
        return features, target
    from sklearn.utils import resample  # noqa: PLC0415 - scikit-learn's, as the estimators are

    classes = len(np.unique(target)) if task == "classification" else 1
    rows = min(len(target), max(2 * classes, round(fraction * len(target))))
    stratify = target if task == "classification" else None
    return resample(features, target, n_samples=rows, replace=False, stratify=stratify, random_state=seed)


def train(
    candidate: Candidate,
    index: int,
    prepared: PreparedDataset,
    *,
    seed: int,
    execution_arn: str,
    settings: Settings | TrainingJobSettings,
    trial_id: str | None = None,
    rung: int = 0,
    fraction: float = 1.0,
    deadline_epoch_s: float | None = None,
    compute_engine: ComputeEngine = "lambda",
    training_job: str | None = None,
) -> TrainedCandidate | FailedCandidate:
    """Fit one candidate (a trial: on ``fraction`` of the training rows) and store it at its run key with its
    sha256: the Train function and a SageMaker training job (functions.training_job.app) both run this, so what follows
    never knows which engine trained."""
    estimator, params = candidate.estimator, candidate.params
    trial = {"trial_id": trial_id, "rung": rung, "fraction": fraction}
    if deadline_epoch_s is not None and time.time() > deadline_epoch_s:  # the search's time budget is spent
        return FailedCandidate(
            status="skipped", index=index, estimator=estimator, params=params, error="TimeBudgetSpent", **trial
        )
    schema = load_schema(prepared.schema_ref)
    train_x, train_y = _load_matrices(prepared, "train")
    train_x, train_y = _subsample(train_x, train_y, fraction, seed, schema.task)
    validation_x, validation_y = _load_matrices(prepared, "validation")
    started = time.perf_counter()
    model, warnings = estimators.fit_candidate(schema, estimator, params, seed=seed, features=train_x, target=train_y)
    fit_seconds = time.perf_counter() - started
    validation_metrics = evaluation.score(model, validation_x, validation_y, schema)
    payload = objects.dump_model(model)
    uri = layout.candidate_artifact(settings.artifacts_bucket, run_id_of(execution_arn), index, estimator, rung)
    digest = objects.put_bytes(uri, payload)
    return TrainedCandidate(
        status="trained",
        index=index,
        estimator=estimator,
        params=params,
        artifact_uri=str(uri),
        artifact_sha256=digest,
        artifact_size_bytes=len(payload),
        validation_metrics=validation_metrics,
        fit_s=round(fit_seconds, 4),
        warnings=warnings,
        compute=compute_engine,
        training_job=training_job,
        **trial,
    )


def collect_training_job(
    job: TrainingJobRef,
    candidate: Candidate,
    index: int,
    *,
    execution_arn: str,
    settings: Settings,
    trial_id: str | None = None,
    rung: int = 0,
    fraction: float = 1.0,
) -> TrainedCandidate | FailedCandidate:
    """The trial a finished SageMaker training job trained, read from the result it wrote beside the artifact.

    Refused (InvalidStepInput or LibraryVersionMismatch: the trial's child execution fails, and the Distributed
    Map counts it as a failed trial, like any failed fit) if the result is another job's or another trial's, or if
    the job trained with other library versions than this function's: its artifact would be loaded by a
    scikit-learn that did not make it (the version-skew guard; Evaluate's loader trusts the run's own candidates).
    A trial the job skipped (the search's time budget was spent) comes back skipped, as from the Train function."""
    run_id = run_id_of(execution_arn)
    uri = layout.candidate_result(settings.artifacts_bucket, run_id, index, candidate.estimator, rung)
    try:
        result = TrainingJobResult.model_validate(objects.get_json(uri))
    except ValueError as exc:
        raise InvalidStepInput(f"{uri}: not a training job result: {exc}") from exc
    trained = result.candidate
    if result.training_job != job.name:
        raise InvalidStepInput(f"{uri} was written by training job {result.training_job!r}, not {job.name!r}")
    ours = (index, candidate.estimator, trial_id, rung, fraction)
    if (trained.index, trained.estimator, trained.trial_id, trained.rung, trained.fraction) != ours:
        raise InvalidStepInput(f"{uri} describes another trial ({trained.index}, {trained.estimator})")
    if isinstance(trained, FailedCandidate):
        return trained.model_copy(update={"compute": "sagemaker"})
    expected_artifact = layout.candidate_artifact(settings.artifacts_bucket, run_id, index, candidate.estimator, rung)
    if trained.training_job != job.name or trained.artifact_uri != str(expected_artifact):
        raise InvalidStepInput(f"{uri} names another job's or another trial's artifact ({trained.artifact_uri})")
    ours_libraries = library_versions()
    skewed = {
        name: (version, ours_libraries.get(name))
        for name, version in result.libraries.items()
        if ours_libraries.get(name) != version
    }
    if skewed or "scikit-learn" not in result.libraries:
        raise LibraryVersionMismatch(
            f"training job {job.name} trained with {result.libraries}; the pipeline runs {ours_libraries} "
            f"(differences: {skewed})"
        )
    return trained.model_copy(update={"compute": "sagemaker"})


# ---- Evaluate ---------------------------------------------------------------------------------------------
def _model_inputs(schema: dataset.Schema) -> list[tuple[str, str, str | None, str | None]]:
    """What a model takes, whatever the data-dependent details (kept categories, datetime epoch) of its schema."""
    return [(f.name, f.kind, f.source, f.part) for f in schema.features]


def _champion_matrix(
    prepared: PreparedDataset, champion_schema: dataset.Schema, schema: dataset.Schema, test_x: np.ndarray
) -> np.ndarray:
    """The holdout as the champion's own schema encodes it (its kept categories, its datetime epoch)."""
    if champion_schema.features == schema.features and champion_schema.columns == schema.columns:
        return test_x
    return dataset.feature_matrix(_load_table(prepared.splits.test), champion_schema)


def _same_problem(champion_schema: dataset.Schema, schema: dataset.Schema) -> str | None:
    if champion_schema.task != schema.task or champion_schema.target != schema.target:
        return "it was trained for another task or target"
    if _model_inputs(champion_schema) != _model_inputs(schema):
        return "its features differ from this dataset's"
    if champion_schema.classes != schema.classes:
        return "its classes differ from this dataset's"
    return None


def _winner(trained: list[TrainedCandidate], metric: str) -> TrainedCandidate:
    """The best trained candidate on validation (a named error if one was not scored by Train)."""
    unscored = [c.index for c in trained if metric not in c.validation_metrics]
    if unscored:
        raise InvalidStepInput(f"candidates {unscored} have no validation {metric}: not from Train")
    return evaluation.select_best(trained, metric)


def evaluate(
    request: NormalisedRequest,
    prepared: PreparedDataset,
    candidates: list[TrainedCandidate | FailedCandidate],
    *,
    execution_arn: str,
    settings: Settings,
    registry: ModelRegistry,
    predict_function: str | None = None,
    final_rung: int = 0,
) -> EvaluationResult:
    """Pick the best candidate on validation, score it and the champion on the same holdout, and gate.

    A champion trained with another scikit-learn (the pins were upgraded since) cannot be unpickled here; it is
    scored on the same holdout through its ONNX copy by ``predict_function``, or, if it has none, compared by the
    metrics it was registered with (noted in the gate's reasons), so an upgrade never rejects every challenger."""
    # With successive halving only the last rung's trials fitted on every training row: the winner is one of them.
    trained = [c for c in candidates if isinstance(c, TrainedCandidate) and c.rung == final_rung]
    if not trained:  # named before anything is read
        errors = "; ".join(
            f"{c.estimator}: {c.error}" for c in candidates[:20] if isinstance(c, FailedCandidate) and c.error
        )
        raise NoCandidateTrained(f"none of the {len(candidates)} candidates trained: {errors}"[:4000])
    schema = load_schema(prepared.schema_ref)
    gate_config = evaluation.GateConfig.from_request(schema.task, request.gate.model_dump())
    winner = _winner(trained, request.selection_metric or gate_config.metric)
    model = objects.load_model(
        S3Uri.parse(winner.artifact_uri), winner.artifact_sha256, library_versions()["scikit-learn"]
    )
    train_x, train_y = _load_matrices(prepared, "train")
    validation_x, validation_y = _load_matrices(prepared, "validation")
    winner, model = imbalance.with_threshold(
        winner, model, (validation_x, validation_y), schema, minority=request.minority_share,
        gate_metric=gate_config.metric,
        artifact_uri=layout.thresholded_artifact(
            settings.artifacts_bucket, run_id_of(execution_arn), winner.index, winner.estimator, winner.rung
        ),
    )  # fmt: skip
    test_x, test_y = _load_matrices(prepared, "test")
    holdout_metrics = evaluation.score(model, test_x, test_y, schema)
    leakage = evaluation.leakage_warnings(train_x, train_y, validation_x, validation_y, schema)

    champion_summary = None
    champion_metrics = None
    champion_problem = None
    gate_champion = None
    champion_outputs = None  # the champion's per-row outputs on this holdout, for the paired bootstrap
    alias = registry.get_alias(request.model_name, PRODUCTION)
    if alias is not None:
        record = registry.get_version(request.model_name, alias.version)
        champion_schema = dataset.Schema.from_dict(documents.schema_of(record))
        champion_problem = _same_problem(champion_schema, schema)
        compared_by = None
        champion_note = None
        if champion_problem is None:
            try:
                champion = objects.load_model(
                    S3Uri.parse(record.artifact_uri), record.artifact_sha256, record.sklearn_version
                )
                champion_x = _champion_matrix(prepared, champion_schema, schema, test_x)
                champion_metrics = evaluation.score(champion, champion_x, test_y, schema)
                compared_by = "scikit-learn"
                if gate_config.bootstrap is not None:
                    champion_outputs = _outputs(champion, champion_x, schema)
            except LibraryVersionMismatch as exc:
                # An upgrade must not dead-end promotion: measure the champion another way (docs/deploy.md#upgrades)
                champion_metrics, compared_by, champion_note, champion_outputs = _champion_after_upgrade(
                    record, prepared, schema, test_y, predict_function=predict_function, problem=str(exc)
                )
            except ArtifactIntegrityError as exc:
                champion_problem = str(exc)
        gate_champion = champion_metrics if compared_by != "recorded" else record.metrics
        champion_summary = ChampionSummary(
            version=alias.version,
            holdout_metrics=champion_metrics if compared_by != "recorded" else None,
            recorded_metrics=record.metrics,
            problem=champion_problem,
            compared_by=compared_by,
            note=champion_note,
        )
    interval, interval_problem = _gate_interval(
        gate_config, schema, test_y, challenger=(model, test_x), champion=champion_outputs
    )
    decision = evaluation.gate(
        gate_config,
        holdout_metrics,
        gate_champion,
        alias.version if alias else None,
        champion_problem,
        warnings=leakage,
        champion_note=champion_summary.note if champion_summary else None,
        interval=interval,
        interval_problem=interval_problem,
        floor=baseline_floor.measure(
            schema,
            gate_config.metric,
            model,
            holdout_metrics,
            train=(train_x, train_y),
            test=(test_x, test_y),
            bootstrap=gate_config.bootstrap,
        ),  # fmt: skip
    )

    predictions = model.predict(test_x)
    run_id = run_id_of(execution_arn)
    prediction_baseline_uri = S3Uri.parse(f"{_run_prefix(settings, run_id)}/prediction_baseline.json")
    objects.put_json(
        prediction_baseline_uri, baseline.prediction_baseline(predictions, schema.task, request.split.seed)
    )
    leaderboard = [LeaderboardEntry.of(c).to_document() for c in sorted(candidates, key=lambda c: (c.rung, c.index))]
    counts = {status: sum(1 for c in candidates if c.status == status) for status in ("trained", "failed", "skipped")}
    return EvaluationResult(
        winner=winner.as_winner(),
        metrics=holdout_metrics,
        champion=champion_summary,
        gate=decision,
        leaderboard=_put_document(
            layout.run_document(settings.artifacts_bucket, run_id, layout.RUN_LEADERBOARD), leaderboard
        ),
        leaderboard_summary=LeaderboardSummary(**counts, rungs=final_rung + 1),
        prediction_baseline_uri=str(prediction_baseline_uri),
    )


def _outputs(model: Any, features: Any, schema: dataset.Schema) -> significance.Outputs:
    """A model's per-row outputs on the holdout, as the paired bootstrap reads them."""
    labels = np.asarray(model.predict(features))
    if schema.task == "regression":
        return significance.Outputs(labels=labels.astype(np.float64))
    return significance.Outputs(
        labels=labels.astype(object),
        probabilities=np.asarray(model.predict_proba(features), dtype=np.float64),
        classes=tuple(model.classes_),
    )


def _gate_interval(
    config: evaluation.GateConfig,
    schema: dataset.Schema,
    test_y: np.ndarray,
    *,
    challenger: tuple[Any, Any],
    champion: significance.Outputs | None,
) -> tuple[BootstrapInterval | None, str | None]:
    """(the paired bootstrap of the improvement, or why there is none) when the gate asks for one; ``challenger`` is
    (the winner's model, the holdout features)."""
    if config.bootstrap is None or champion is None:
        return None, None
    options = config.bootstrap
    try:
        interval = significance.improvement_interval(
            config.metric,
            schema.task,
            test_y,
            _outputs(*challenger, schema),
            champion,
            higher_is_better=evaluation.higher_is_better(config.metric),
            resamples=int(options.get("resamples", 1000)),
            seed=int(options.get("seed", 0)),
            confidence=float(options.get("confidence", 0.95)),
            classes=list(schema.classes or []),
            positive=schema.positive_class,
        )
    except ValueError as exc:
        return None, str(exc)
    return interval, None


class _ServedOutputs:
    """A champion's outputs on the holdout as the serving runtime returned them, shaped as ``evaluation.score``
    reads a model (it ignores the features: the outputs are for exactly this holdout's rows)."""

    def __init__(self, scored: dict[str, Any]) -> None:
        self.labels = np.asarray(scored["labels"], dtype=object if scored.get("classes") else float)
        self.probabilities = np.asarray(scored["probabilities"]) if scored.get("probabilities") is not None else None
        self.classes_ = np.asarray(scored.get("classes") or [], dtype=object)

    def predict(self, _features: Any) -> np.ndarray:
        return self.labels

    def predict_proba(self, _features: Any) -> np.ndarray:
        return self.probabilities


def _champion_after_upgrade(
    record: Any, prepared: PreparedDataset, schema: dataset.Schema, test_y: np.ndarray, *,
    predict_function: str | None, problem: str,
) -> tuple[dict[str, float], str, str, significance.Outputs | None]:  # fmt: skip
    """(metrics, how they were measured, a note for the gate, its per-row outputs on this holdout if measured there)
    of a champion this scikit-learn cannot load."""
    why_not_onnx = "it has no ONNX copy" if not record.serving.onnx_uri else "no predict function to run its ONNX copy"
    if record.serving.onnx_uri and predict_function:
        response = clients.client("lambda").invoke(
            FunctionName=predict_function,
            Payload=ScoreHoldoutEvent(
                step="score_holdout",
                model_name=record.model_name,
                version=record.version,
                test_uri=prepared.splits.test,
            )
            .model_dump_json()
            .encode(),
        )
        scored = json.loads(response["Payload"].read() or b"{}")
        if not response.get("FunctionError") and scored.get("runtime") == "onnx":
            served = _ServedOutputs(scored)
            metrics = evaluation.score(served, None, test_y, schema)
            return (
                metrics,
                "onnx",
                f"champion v{record.version} measured on this holdout through its ONNX copy ({problem})",
                _outputs(served, None, schema),
            )
        why_not_onnx = f"the predict function could not run its ONNX copy ({scored.get('errorType', 'not onnx')})"
    return (
        dict(record.metrics),
        "recorded",
        f"champion v{record.version} compared by its registered metrics, measured on its own holdout: {problem}; "
        f"{why_not_onnx}",
        None,  # no per-row outputs on this holdout: no paired bootstrap
    )


# ---- Convert (to ONNX, for serving without scikit-learn) ------------------------------------------------
def convert(
    prepared: PreparedDataset, evaluation_result: EvaluationResult, *, execution_arn: str, settings: Settings
) -> ConversionResult:
    """Convert the winner to ONNX and store scikit-learn's holdout outputs for the parity check.

    A pipeline skl2onnx cannot convert is not an error: it is recorded, and the version can still be served
    by the scikit-learn runtime.
    """
    schema = load_schema(prepared.schema_ref)
    winner = evaluation_result.winner
    model = objects.load_model(
        S3Uri.parse(winner.artifact_uri), winner.artifact_sha256, library_versions()["scikit-learn"]
    )
    try:
        onnx_bytes, precision, why_float = conversion.convert_with_precision(model, schema)
    except conversion.ConversionUnsupported as exc:
        return NoConversion(reason=f"skl2onnx could not convert {winner.estimator}: {exc}")
    prefix = _run_prefix(settings, run_id_of(execution_arn))
    onnx_uri = S3Uri.parse(f"{prefix}/model.onnx")
    onnx_sha256 = objects.put_bytes(onnx_uri, onnx_bytes)
    test_x, _ = _load_matrices(prepared, "test")
    reference_uri = S3Uri.parse(f"{prefix}/onnx_reference.json")
    objects.put_json(reference_uri, conversion.reference_outputs(model, test_x, schema))
    return Conversion(
        converted=True,
        onnx_uri=str(onnx_uri),
        onnx_sha256=onnx_sha256,
        onnx_size_bytes=len(onnx_bytes),
        precision=precision,
        float_reason=why_float,
        reference_uri=str(reference_uri),
        test_uri=prepared.splits.test,
        reason="",
        libraries=library_versions(CONVERSION_LIBRARIES),
    )


def _parity_shortfall(parity: ParityReport) -> str:
    """The measured differences against the tolerances, in words."""
    tolerance = parity.tolerance
    if parity.relative_mean_diff is not None:
        return (
            f"mean difference {parity.relative_mean_diff:.3g} of the predictions' spread (at most "
            f"{tolerance.get('max_relative_mean_diff')}), {parity.close_share or 0:.2%} of rows close (at "
            f"least {tolerance.get('min_close_share') or 0:.0%}), largest difference {parity.max_abs_diff}"
        )
    if parity.label_agreement is not None:
        return (
            f"labels agree on {parity.label_agreement:.2%} of rows (at least "
            f"{tolerance.get('min_label_agreement') or 0:.0%}), mean probability difference "
            f"{parity.mean_probability_diff or 0:.3g} (at most {tolerance.get('mean_probability_diff')})"
        )
    return "its outputs differ from scikit-learn's beyond the tolerance"


def serving_record(
    model_name: str, conversion_result: ConversionResult, parity: ParityReport, settings: Settings
) -> Serving:
    """Which runtime serves the version, and why: onnx only if the ONNX model converted and passed the parity
    check; otherwise sklearn (the onnx endpoint hands such a version to the scikit-learn predict function)."""
    if not isinstance(conversion_result, Conversion):
        return Serving(runtime="sklearn", reason=conversion_result.reason or "not converted")
    precision = conversion_result.precision
    if not parity.passed:
        reason = parity.error or _parity_shortfall(parity)
        return Serving(
            runtime="sklearn",
            precision=precision,
            reason=f"the ONNX model ({precision} precision) failed the parity check: {reason}",
            parity=parity.as_stored(),
        )
    digest = conversion_result.onnx_sha256
    onnx_uri = layout.model_artifact(settings.artifacts_bucket, model_name, digest, "onnx")
    objects.put_write_once(onnx_uri, objects.get_bytes(S3Uri.parse(conversion_result.onnx_uri)), digest)
    why_float = conversion_result.float_reason
    return Serving(
        runtime="onnx",
        onnx_uri=str(onnx_uri),
        onnx_sha256=digest,
        precision=precision,
        reason=f"the ONNX model ({precision} precision) passed the parity check"
        + (f"; float32 because {why_float}" if why_float else ""),
        parity=parity.as_stored(),
        libraries={**conversion_result.libraries, **parity.libraries},
    )


# ---- Register ---------------------------------------------------------------------------------------------
def register(
    request: NormalisedRequest,
    prepared: PreparedDataset,
    evaluation_result: EvaluationResult,
    *,
    execution_arn: str,
    settings: Settings,
    registry: ModelRegistry,
    conversion_result: ConversionResult | None = None,
    parity: ParityReport | None = None,
) -> Registration:
    """Record the winner as a new version: Registered if the gate passed, Rejected (with the report) if not.

    Artifacts are copied to content-addressed, write-once keys *before* the version exists, so a version
    never references an object that is missing; the registry write itself is one transaction; the model card
    is built from the record in hand. A retry finds the run's version (RUN# marker) and rewrites the same card.
    """
    model_name = request.model_name
    run_id = run_id_of(execution_arn)
    winner = evaluation_result.winner
    model_bytes = objects.get_bytes(S3Uri.parse(winner.artifact_uri))
    digest = winner.artifact_sha256
    model_uri = layout.model_artifact(settings.artifacts_bucket, model_name, digest)
    objects.put_write_once(model_uri, model_bytes, digest)

    bucket = settings.artifacts_bucket
    schema = load_schema(prepared.schema_ref)
    schema_document = schema.to_dict()
    baseline_document = {
        "features": objects.get_json(S3Uri.parse(prepared.baseline_uri)),
        "predictions": objects.get_json(S3Uri.parse(evaluation_result.prediction_baseline_uri)),
        "schema": schema_document,
    }
    baseline_bytes = objects.json_bytes(baseline_document)
    baseline_sha256 = objects.sha256_hex(baseline_bytes)
    baseline_uri = layout.baseline(bucket, model_name, baseline_sha256)
    objects.put_write_once(baseline_uri, baseline_bytes, baseline_sha256)
    # The documents that grow with the data go to content-addressed keys; the version item holds URI + sha256.
    leaderboard = objects.get_verified_json(evaluation_result.leaderboard.uri, evaluation_result.leaderboard.sha256)
    input_example = objects.get_verified_json(prepared.input_example.uri, prepared.input_example.sha256)
    schema_uri, schema_sha256 = documents.store(bucket, model_name, "schema", schema_document)
    leaderboard_uri, leaderboard_sha256 = documents.store(bucket, model_name, "leaderboard", leaderboard)
    example_uri, example_sha256 = documents.store(bucket, model_name, "input_example", input_example)

    serving = serving_record(
        model_name,
        conversion_result or NoConversion(reason="conversion was not attempted"),
        parity or ParityReport(),
        settings,
    )
    gate = evaluation_result.gate
    if not gate.passed:
        status = VERSION_REJECTED
    elif request.approval.required:
        status = VERSION_PENDING_APPROVAL
    else:
        status = VERSION_REGISTERED
    content = VersionContent(
        task=request.task,
        target=request.target,
        description=request.description,
        schema_uri=schema_uri,
        schema_sha256=schema_sha256,
        schema_summary=prepared.schema_summary.to_document(),
        estimator=winner.estimator,
        params=winner.params,
        metrics=evaluation_result.metrics,
        validation_metrics=winner.validation_metrics,
        gate=gate.to_document(),
        lift_over_baseline=gate.baseline.lift() if gate.baseline else None,
        decision_threshold=winner.decision_threshold.to_document() if winner.decision_threshold else None,
        champion=evaluation_result.champion.to_document() if evaluation_result.champion else None,
        leaderboard_uri=leaderboard_uri,
        leaderboard_sha256=leaderboard_sha256,
        artifact_uri=str(model_uri),
        artifact_sha256=digest,
        artifact_size_bytes=len(model_bytes),
        baseline_uri=str(baseline_uri),
        baseline_sha256=baseline_sha256,
        input_example_uri=example_uri,
        input_example_sha256=example_sha256,
        serving=serving,
        training_request=request.model_dump(mode="json"),
        lineage=Lineage(
            dataset_uri=prepared.uri,
            data_sha256=prepared.sha256,
            rows=prepared.rows,
            split={**request.split.model_dump(mode="json"), "sizes": prepared.split_sizes},
            execution_arn=execution_arn,
            run_id=run_id,
            requested_by=request.requested_by,
            code_version=request.code_version,
            libraries=library_versions(),
            trial_id=winner.trial_id,
            trials=evaluation_result.leaderboard_summary.trained + evaluation_result.leaderboard_summary.failed,
            feedback=prepared.feedback,
            compute=winner.compute,
            training_job=winner.training_job,
        ),
        approval=request.approval.model_dump(mode="json"),
        intended_use=request.intended_use,
        limitations=request.limitations,
    )
    version, created = registry.register_version(
        model_name, content, status=status, run_id=run_id, actor=f"pipeline:{run_id}", reason="; ".join(gate.reasons)
    )
    record = registry.get_version(model_name, version)
    # No approval event can exist yet (approval comes after Register), so the card needs none of the trail.
    card_uri = cards.write_card(settings.artifacts_bucket, record, ())
    return Registration(
        model_name=model_name,
        version=version,
        status=record.status,
        created=created,
        artifact_uri=record.artifact_uri,
        artifact_sha256=record.artifact_sha256,
        baseline_uri=record.baseline_uri,
        onnx_uri=record.serving.onnx_uri,
        card_uri=str(card_uri),
    )
