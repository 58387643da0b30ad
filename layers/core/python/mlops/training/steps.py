"""The steps of the TrainingPipeline state machine, one typed function each.

Each takes and returns the typed records of ``mlops.training.records`` (the request as ``mlops.training.request``
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
from mlops.governance.lineage import CONVERSION_LIBRARIES, library_versions, run_id_of
from mlops.registry import documents
from mlops.registry.records import (
    PRODUCTION,
    VERSION_PENDING_APPROVAL,
    VERSION_REGISTERED,
    VERSION_REJECTED,
    Lineage,
    Serving,
    VersionContent,
)
from mlops.registry.store import ModelRegistry
from mlops.settings import ComputeSettings, GovernanceSettings, PipelineSettings, Settings, TrainingJobSettings
from mlops.storage import clients, layout, objects
from mlops.storage.objects import S3Uri
from mlops.training import compute, conversion, estimators, evaluation, significance
from mlops.training.records import (
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
    SchemaSummary,
    Splits,
    TrainedCandidate,
    TrainingJobRef,
    TrainingJobResult,
    validated_schema,
)
from mlops.training.request import Candidate, ComputeEngine, NormalisedRequest, TrainingRequest


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


# ---- Prepare ----------------------------------------------------------------------------------------------
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
    stream = objects.open_dataset(request.dataset_uri)
    table = dataset.read_table(stream)
    data_sha256 = stream.hexdigest()
    schema, table = dataset.infer_schema(
        table, request.target, request.task, request.positive_class, roles=request.column_roles()
    )

    candidates = (
        request.candidates
        if request.candidates
        else [Candidate.model_validate(c) for c in estimators.DEFAULT_CANDIDATES[schema.task]]
    )
    if request.class_weight is not None and schema.task != "classification":
        raise InvalidTrainingRequest("invalid training request: class_weight applies to classification only")
    candidates = _with_class_weight(candidates, schema.task, request.class_weight)
    for candidate in candidates:
        estimators.check_candidate(schema.task, candidate.estimator, candidate.params)
    try:
        gate = evaluation.GateConfig.from_request(schema.task, gate_request)
    except (ValueError, TypeError) as exc:
        raise InvalidTrainingRequest(f"invalid gate: {exc}") from exc

    seed = request.split.seed
    split_rows = dataset.split_rows(table, schema, seed, request.split.validation_fraction, request.split.test_fraction)
    input_columns, rows = len(table.columns), table.rows
    if compute_settings is not None:
        engine = compute.choose(request.compute, rows, input_columns, compute_settings)
        compute_engine, compute_reason = engine.engine, engine.reason
    else:
        compute_engine, compute_reason = request.compute or "lambda", "requested" if request.compute else "default"
    example = dataset.input_record(table, schema, int(split_rows["test"][0]))
    run_id = run_id_of(execution_arn)
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

    defaults = defaults or PipelineSettings(
        require_approval=False, approval_timeout_s=7 * 24 * 3600, code_version="unversioned"
    )
    normalised = NormalisedRequest.model_validate(
        {
            **request.model_dump(),
            "task": schema.task,
            "positive_class": schema.positive_class,
            "candidates": [c.model_dump() for c in candidates],
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
            "code_version": defaults.code_version,
            "compute": compute_engine,
            "compute_reason": compute_reason,
            "requested_compute": request.compute,
        }
    )
    bucket = settings.artifacts_bucket
    prepared = PreparedDataset(
        uri=request.dataset_uri,
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
    )
    return PreparedRun(request=normalised, dataset=prepared)


# ---- Train (one candidate per Map iteration) --------------------------------------------------------------
def train(
    candidate: Candidate,
    index: int,
    prepared: PreparedDataset,
    *,
    seed: int,
    execution_arn: str,
    settings: Settings | TrainingJobSettings,
    compute_engine: ComputeEngine = "lambda",
    training_job: str | None = None,
) -> TrainedCandidate:
    """Fit one candidate and store it at its run key with its sha256: the Train function and a SageMaker training
    job (mlops.training.job) both run this, so what follows never knows which engine trained."""
    schema = load_schema(prepared.schema_ref)
    estimator, params = candidate.estimator, candidate.params
    train_x, train_y = _load_matrices(prepared, "train")
    validation_x, validation_y = _load_matrices(prepared, "validation")
    started = time.perf_counter()
    model, warnings = estimators.fit_candidate(schema, estimator, params, seed=seed, features=train_x, target=train_y)
    fit_seconds = time.perf_counter() - started
    validation_metrics = evaluation.score(model, validation_x, validation_y, schema)
    payload = objects.dump_model(model)
    uri = layout.candidate_artifact(settings.artifacts_bucket, run_id_of(execution_arn), index, estimator)
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
    )


def collect_training_job(
    job: TrainingJobRef, candidate: Candidate, index: int, *, execution_arn: str, settings: Settings
) -> TrainedCandidate:
    """The candidate a finished SageMaker training job trained, read from the result it wrote beside the artifact.

    Refused (a failed candidate, like any failed fit) if the result is another job's or another candidate's, or if
    the job trained with other library versions than this function's: its artifact would be loaded by a
    scikit-learn that did not make it (the version-skew guard; Evaluate's loader trusts the run's own candidates)."""
    uri = layout.candidate_result(settings.artifacts_bucket, run_id_of(execution_arn), index, candidate.estimator)
    try:
        result = TrainingJobResult.model_validate(objects.get_json(uri))
    except ValueError as exc:
        raise InvalidStepInput(f"{uri}: not a training job result: {exc}") from exc
    trained = result.candidate
    if result.training_job != job.name or trained.training_job != job.name:
        raise InvalidStepInput(f"{uri} was written by training job {result.training_job!r}, not {job.name!r}")
    expected_artifact = layout.candidate_artifact(
        settings.artifacts_bucket, run_id_of(execution_arn), index, candidate.estimator
    )
    if (trained.index, trained.estimator, trained.artifact_uri) != (index, candidate.estimator, str(expected_artifact)):
        raise InvalidStepInput(f"{uri} describes another candidate ({trained.index}, {trained.estimator})")
    ours = library_versions()
    skewed = {
        name: (version, ours.get(name)) for name, version in result.libraries.items() if ours.get(name) != version
    }
    if skewed or "scikit-learn" not in result.libraries:
        raise LibraryVersionMismatch(
            f"training job {job.name} trained with {result.libraries}; the pipeline runs {ours} (differences: {skewed})"
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
) -> EvaluationResult:
    """Pick the best candidate on validation, score it and the champion on the same holdout, and gate.

    A champion trained with another scikit-learn (the pins were upgraded since) cannot be unpickled here; it is
    scored on the same holdout through its ONNX copy by ``predict_function``, or, if it has none, compared by the
    metrics it was registered with (noted in the gate's reasons), so an upgrade never rejects every challenger."""
    trained = [c for c in candidates if isinstance(c, TrainedCandidate)]
    if not trained:  # named before anything is read
        errors = "; ".join(f"{c.estimator}: {c.error}" for c in candidates if isinstance(c, FailedCandidate))
        raise NoCandidateTrained(f"none of the {len(candidates)} candidates trained: {errors}")
    schema = load_schema(prepared.schema_ref)
    gate_config = evaluation.GateConfig.from_request(schema.task, request.gate.model_dump())
    winner = _winner(trained, gate_config.metric)
    model = objects.load_model(
        S3Uri.parse(winner.artifact_uri), winner.artifact_sha256, library_versions()["scikit-learn"]
    )
    test_x, test_y = _load_matrices(prepared, "test")
    holdout_metrics = evaluation.score(model, test_x, test_y, schema)
    train_x, train_y = _load_matrices(prepared, "train")
    validation_x, validation_y = _load_matrices(prepared, "validation")
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
    )

    predictions = model.predict(test_x)
    run_id = run_id_of(execution_arn)
    prediction_baseline_uri = S3Uri.parse(f"{_run_prefix(settings, run_id)}/prediction_baseline.json")
    objects.put_json(
        prediction_baseline_uri, baseline.prediction_baseline(predictions, schema.task, request.split.seed)
    )
    leaderboard = [LeaderboardEntry.of(c).to_document() for c in sorted(candidates, key=lambda c: c.index)]
    return EvaluationResult(
        winner=winner.as_winner(),
        metrics=holdout_metrics,
        champion=champion_summary,
        gate=decision,
        leaderboard=_put_document(
            layout.run_document(settings.artifacts_bucket, run_id, layout.RUN_LEADERBOARD), leaderboard
        ),
        leaderboard_summary=LeaderboardSummary(trained=len(trained), failed=len(candidates) - len(trained)),
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
            Payload=json.dumps(
                {
                    "score_holdout": {
                        "model_name": record.model_name,
                        "version": record.version,
                        "test_uri": prepared.splits.test,
                    }
                }
            ).encode(),
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
