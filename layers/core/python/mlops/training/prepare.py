"""The Prepare step: the training request checked against the stack's rules and the data, settled for the rest of
the run (task, candidates or search, gate, approval, deployment, compute engine), and the data read, split and
stored.

In the order the work happens: the policy first (a request that would loosen the stack's rules is refused before
anything is read or written), the dataset (with the captured rows a ``feedback`` request adds), the schema, what the
run trains and how it is gated, the splits and the baseline in S3, and the settled request.
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np

from mlops.data import baseline, dataset, typed_table
from mlops.errors import InvalidTrainingRequest, PolicyViolation
from mlops.governance import policy as governance
from mlops.records.compute import DEFAULT_INSTANCE_TYPE, DEFAULT_TRAINING_RUNTIME_S, settle_training_job
from mlops.records.lineage import run_id_of
from mlops.records.request import (
    Candidate,
    ComputeEngine,
    FeedbackRows,
    NormalisedRequest,
    SettledSearch,
    TrainingRequest,
    settle_deployment,
)
from mlops.records.steps import PreparedDataset, PreparedRun, SchemaSummary, Splits
from mlops.settings import ComputeSettings, GovernanceSettings, PipelineSettings, Settings
from mlops.storage import layout, objects
from mlops.training import baseline_floor, compute, estimators, evaluation, external, feedback_rows, imbalance
from mlops.training import search as trial_search
from mlops.training.run_files import put_document


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
    gate_request = _gate_request(request, policy)
    run_id, bucket = run_id_of(execution_arn), settings.artifacts_bucket
    added = _feedback_dataset(request, settings, run_id) if request.feedback is not None else None
    dataset_uri = added.uri if added is not None else request.dataset_uri
    external_model = _external_model(request)  # before the data is read: refused, nothing is written
    table, data_sha256, schema = _read_dataset(dataset_uri, request)
    defaults = defaults or _default_pipeline_settings()
    if external_model is not None:  # the caller's model is the one candidate: no balanced copies of it
        candidates, settled_search = [_external_candidate(request, external_model, schema)], None
        _, minority_share, selection_metric = imbalance.settled(
            schema, dataset.target_vector(table, schema), request, None
        )
    else:
        candidates, settled_search = _settled_trials(request, schema.task, defaults)
        candidates, minority_share, selection_metric = imbalance.settled(
            schema, dataset.target_vector(table, schema), request, candidates
        )
    gate = _gate_config(schema.task, gate_request, defaults.min_scores)
    split_rows, feedback_summary = _split(table, schema, request, added)
    rows, input_columns = table.rows, len(table.columns)
    compute_engine, compute_reason = _settled_compute(request.compute, rows, input_columns, compute_settings)
    if external_model is not None:  # nothing to fit: the Train function loads it, whatever the data's size
        compute_engine, compute_reason = "lambda", "an external model is loaded by the Train function, not fitted"
    example = dataset.input_record(table, schema, int(split_rows["test"][0]))
    split_uris = _write_splits(bucket, run_id, table, split_rows)
    train = table.take(split_rows["train"])
    del table  # the baseline needs only the training rows
    baseline_uri = _write_baseline(bucket, run_id, train, schema, request.split.seed)
    del train
    normalised = _normalised_request(
        request,
        schema,
        defaults,
        candidates=candidates,
        search=settled_search,
        gate=gate,
        compute=(compute_engine, compute_reason),
        imbalance=(minority_share, selection_metric),
        policy=policy,
        external=external_model[1] if external_model is not None else None,
    )
    prepared = PreparedDataset(
        uri=dataset_uri,
        sha256=data_sha256,
        rows=rows,
        columns=input_columns,
        schema_ref=put_document(layout.run_document(bucket, run_id, layout.RUN_SCHEMA), schema.to_dict()),
        schema_summary=SchemaSummary.of(schema),
        splits=Splits.model_validate(split_uris),
        input_example=put_document(layout.run_document(bucket, run_id, layout.RUN_INPUT_EXAMPLE), example),
        split_sizes={name: len(indices) for name, indices in split_rows.items()},
        baseline_uri=baseline_uri,
        feedback=feedback_summary,
    )
    return PreparedRun(request=normalised, dataset=prepared)


# ---- the request against the stack's rules ---------------------------------------------------------------------
def _gate_request(request: TrainingRequest, policy: GovernanceSettings | None) -> dict[str, Any]:
    """The request's gate, refused (InvalidTrainingRequest) if the request would loosen the stack's rules, and its
    minimum improvement settled by them."""
    gate_request = request.gate.model_dump(exclude_none=True)
    if policy is None:
        return gate_request
    try:
        governance.enforce(request, policy)
    except PolicyViolation as exc:
        raise InvalidTrainingRequest(str(exc)) from exc
    gate_request["min_improvement"] = governance.settled_min_improvement(request, policy)
    return gate_request


def _default_pipeline_settings() -> PipelineSettings:
    """What a caller without the stack's parameters gets (the steps called directly, in benchmarks and tests)."""
    return PipelineSettings(require_approval=False, approval_timeout_s=7 * 24 * 3600, code_version="unversioned")


# ---- a caller's own model -------------------------------------------------------------------------------------
def _external_model(request: TrainingRequest) -> tuple[Any, dict[str, str]] | None:
    """The caller's model, loaded through the allow-list (UntrustedModelType, ArtifactIntegrityError otherwise), with
    the libraries it declares. Its location was checked with the request's (``governance.violations``)."""
    if request.external is None:
        return None
    payload = objects.get_bytes(objects.S3Uri.parse(request.external.artifact_uri))
    model = external.load(payload, request.external.artifact_sha256)
    return model, external.declared_libraries(payload)


def _external_candidate(
    request: TrainingRequest, external_model: tuple[Any, dict[str, str]], schema: dataset.Schema
) -> Candidate:
    """The run's one candidate: the caller's model, refused unless it takes this dataset's features."""
    assert request.external is not None
    external.check_features(external_model[0], schema)
    external.align_labels(external_model[0], schema)  # refuses classes other than the dataset's
    if schema.task == "classification" and hasattr(external_model[0], "classes_"):
        classes = sorted(str(c) for c in external_model[0].classes_)
        if schema.classes is not None and classes != sorted(schema.classes):
            raise InvalidTrainingRequest(f"the model predicts the classes {classes}; the dataset has {schema.classes}")
    example = request.external.input_example
    if example is not None and sorted(example) != sorted(schema.input_columns):
        raise InvalidTrainingRequest(
            f"the input example has the columns {sorted(example)}; the dataset's inputs are {schema.input_columns}"
        )
    params = {"artifact_uri": request.external.artifact_uri, "artifact_sha256": request.external.artifact_sha256}
    return Candidate(estimator=external.EXTERNAL_ESTIMATOR, params=params)


# ---- the data -------------------------------------------------------------------------------------------------------
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


def _read_dataset(dataset_uri: str, request: TrainingRequest) -> tuple[dataset.Table, str, dataset.Schema]:
    """(the table with the columns its schema keeps, the sha256 of the bytes read, the schema inferred with the
    request's column roles); class_weight refused here for a task that is not classification."""
    stream = objects.open_dataset(dataset_uri)
    table = dataset.read_table(stream)
    data_sha256 = stream.hexdigest()
    schema, table = dataset.infer_schema(
        table, request.target, request.task, request.positive_class, roles=request.column_roles()
    )
    if request.class_weight is not None and schema.task != "classification":
        raise InvalidTrainingRequest("invalid training request: class_weight applies to classification only")
    return table, data_sha256, schema


def _split(
    table: dataset.Table, schema: dataset.Schema, request: TrainingRequest, added: feedback_rows.FeedbackDataset | None
) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """The rows of each split (seeded, stratified), the feedback rows placed by time when the request added them."""
    split = request.split
    split_rows = dataset.split_rows(table, schema, split.seed, split.validation_fraction, split.test_fraction)
    if added is None or request.feedback is None:
        return split_rows, None
    return _place_feedback_rows(split_rows, table.rows, added, request.feedback)


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


def _write_splits(bucket: str, run_id: str, table: dataset.Table, split_rows: dict[str, np.ndarray]) -> dict[str, str]:
    """Each split as a typed table in S3, written column by column from the table: no split held whole."""
    split_uris: dict[str, str] = {}
    for name, indices in split_rows.items():
        uri = layout.run_split(bucket, run_id, name)
        buffer = io.BytesIO()
        typed_table.write_npz(table, buffer, rows=indices)
        objects.put_buffer(uri, buffer)
        del buffer
        split_uris[name] = str(uri)
    return split_uris


def _write_baseline(bucket: str, run_id: str, train: dataset.Table, schema: dataset.Schema, seed: int) -> str:
    uri = layout.run_baseline(bucket, run_id)
    objects.put_json(uri, baseline.compute_baseline(dataset.feature_columns(train, schema), schema, seed))
    return str(uri)


# ---- what the run trains, how it is gated, where -----------------------------------------------------------------
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


def _takes_class_weight(task: str, estimator: str) -> bool:
    return "class_weight" in estimators.ESTIMATORS[task][estimator]().get_params()


def _with_class_weight(candidates: list[Candidate], task: str, class_weight: str | None) -> list[Candidate]:
    """The request's class_weight, set on every candidate whose estimator supports it (unless it sets its own)."""
    if class_weight is None:
        return candidates
    weighted = []
    for candidate in candidates:
        params = candidate.params
        if _takes_class_weight(task, candidate.estimator) and "class_weight" not in params:
            params = {**params, "class_weight": class_weight}
        weighted.append(candidate.model_copy(update={"params": params}))
    return weighted


def _settled_search(request: TrainingRequest, task: str, defaults: PipelineSettings) -> SettledSearch:
    """The request's search with every default applied: the task's spaces, the split's seed, the stack's fan-out
    limits; class_weight held fixed where an estimator takes it. A space the allow-list refuses names its field."""
    search = request.search
    assert search is not None
    if search.strategy == "guided" and search.halving is not None:
        raise InvalidTrainingRequest(
            "invalid training request: search.halving: a guided search's waves fit on every row; drop halving or "
            'use strategy "random"'
        )
    spaces = search.spaces if search.spaces is not None else trial_search.default_spaces(task)
    trial_search.check_spaces(task, spaces)
    if request.class_weight is not None:
        spaces = [
            space.model_copy(update={"fixed": {**space.fixed, "class_weight": request.class_weight}})
            if _takes_class_weight(task, space.estimator)
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


def _gate_config(task: str, gate_request: dict[str, Any], floors: dict[str, float]) -> evaluation.GateConfig:
    """The gate, its minimum score settled against the stack's GateMinimumScores (InvalidTrainingRequest if looser)."""
    try:
        config = evaluation.GateConfig.from_request(task, gate_request)
        config.min_score = baseline_floor.settled_min_score(config.metric, config.min_score, floors)
        return config
    except (ValueError, TypeError) as exc:
        raise InvalidTrainingRequest(f"invalid gate: {exc}") from exc


def _settled_compute(
    requested: ComputeEngine | None, rows: int, columns: int, settings: ComputeSettings | None
) -> tuple[ComputeEngine, str]:
    """The run's engine and why: every trial of every rung trains on it (mlops.training.compute)."""
    if settings is None:
        return requested or "lambda", "requested" if requested else "default"
    decision = compute.choose(requested, rows, columns, settings)
    return decision.engine, decision.reason


# ---- the request as the rest of the run reads it -------------------------------------------------------------------
def _normalised_request(
    request: TrainingRequest,
    schema: dataset.Schema,
    defaults: PipelineSettings,
    *,
    candidates: list[Candidate] | None,
    search: SettledSearch | None,
    gate: evaluation.GateConfig,
    compute: tuple[ComputeEngine, str],
    imbalance: tuple[float | None, str | None],
    policy: GovernanceSettings | None = None,
    external: dict[str, str] | None = None,
) -> NormalisedRequest:
    """The request with the task, trials, gate, approval, deployment and compute engine (and why) settled, and the
    minority share and selection metric of an imbalanced binary target; the bake thresholds it leaves out are the
    stack's (``policy``)."""
    return NormalisedRequest.model_validate(
        {
            **request.model_dump(),
            "task": schema.task,
            "positive_class": schema.positive_class,
            "candidates": [c.model_dump() for c in candidates] if candidates is not None else None,
            "search": search.model_dump() if search is not None else None,
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
                request.deployment, defaults.deployment_strategy, defaults.bake_s, floor=policy
            ).model_dump(),
            "code_version": defaults.code_version,
            "compute": compute[0],
            "compute_reason": compute[1],
            "requested_compute": request.compute,
            "sagemaker": settle_training_job(
                request.sagemaker,
                policy.training_instance_type if policy else DEFAULT_INSTANCE_TYPE,
                policy.max_training_runtime_s if policy else DEFAULT_TRAINING_RUNTIME_S,
            ).model_dump(),
            "minority_share": imbalance[0],
            "selection_metric": imbalance[1],
            "external": {**request.external.model_dump(), "declared_libraries": external}
            if request.external is not None and external is not None
            else None,
        }
    )
