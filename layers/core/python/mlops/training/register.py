"""The Register step: the winner recorded as a new version (Registered, PendingApproval, or Rejected with the gate's
report), with its model card.

Everything the version references is copied to content-addressed, write-once keys *before* the version exists (the
model, the drift baseline, the schema, leaderboard and input example), so a version never references an object that
is missing; the registry write itself is one transaction; the model card is built from the record in hand. A retry
finds the run's version (the RUN# marker) and rewrites the same card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.governance import cards
from mlops.records.lineage import library_versions, run_id_of
from mlops.records.registry import (
    VERSION_PENDING_APPROVAL,
    VERSION_REGISTERED,
    VERSION_REJECTED,
    Lineage,
    Serving,
    VersionContent,
)
from mlops.records.request import NormalisedRequest
from mlops.records.steps import (
    ConversionResult,
    EvaluationResult,
    NoConversion,
    ParityReport,
    PreparedDataset,
    Registration,
)
from mlops.registry import documents
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri
from mlops.training.conversion import serving_record
from mlops.training.run_files import load_schema


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
    run_cost: Callable[[list[dict[str, Any]], int], dict[str, Any] | None] | None = None,
) -> Registration:
    """Record the winner as a new version: Registered if the gate passed, Rejected (with the report) if not."""
    model_name, run_id = request.model_name, run_id_of(execution_arn)
    stored = _store_version_objects(settings.artifacts_bucket, model_name, prepared, evaluation_result)
    serving = serving_record(
        model_name,
        conversion_result or NoConversion(reason="conversion was not attempted"),
        parity or ParityReport(),
        settings,
    )
    content = _version_content(request, prepared, evaluation_result, stored, serving, execution_arn=execution_arn)
    if run_cost is not None:  # what the run used up to this step, priced (mlops.training.run_cost)
        content = content.model_copy(update={"cost": run_cost(stored.leaderboard_entries, stored.model_size_bytes)})
    gate = evaluation_result.gate
    version, created = registry.register_version(
        model_name,
        content,
        status=_status(gate.passed, approval_required=bool(request.approval.required)),
        run_id=run_id,
        actor=f"pipeline:{run_id}",
        reason="; ".join(gate.reasons),
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


@dataclass(frozen=True)
class _StoredObjects:
    """The version's objects at their content-addressed keys: (URI, sha256) each, and the model's size."""

    model: tuple[str, str]
    model_size_bytes: int
    leaderboard_entries: list[dict[str, Any]]  # the run's candidates, for the cost of its trials
    baseline: tuple[str, str]
    schema: tuple[str, str]
    leaderboard: tuple[str, str]
    input_example: tuple[str, str]
    performance_estimator: tuple[str, str] | None
    performance_estimation: dict[str, Any] | None


def _store_version_objects(
    bucket: str, model_name: str, prepared: PreparedDataset, evaluation_result: EvaluationResult
) -> _StoredObjects:
    """Copy the run's model, baseline and documents to the registry's write-once keys (before the version exists)."""
    winner = evaluation_result.winner
    model_bytes = objects.get_bytes(S3Uri.parse(winner.artifact_uri))
    digest = winner.artifact_sha256
    model_uri = layout.model_artifact(bucket, model_name, digest)
    objects.put_write_once(model_uri, model_bytes, digest)
    schema_document = load_schema(prepared.schema_ref).to_dict()
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
    estimator_ref = evaluation_result.performance_estimator
    estimator = objects.get_verified_json(estimator_ref.uri, estimator_ref.sha256) if estimator_ref else None
    return _StoredObjects(
        model=(str(model_uri), digest),
        model_size_bytes=len(model_bytes),
        leaderboard_entries=leaderboard if isinstance(leaderboard, list) else [],
        baseline=(str(baseline_uri), baseline_sha256),
        schema=documents.store(bucket, model_name, "schema", schema_document),
        leaderboard=documents.store(bucket, model_name, "leaderboard", leaderboard),
        input_example=documents.store(bucket, model_name, "input_example", input_example),
        performance_estimator=documents.store(bucket, model_name, "performance_estimator", estimator)
        if estimator
        else None,
        performance_estimation=_estimation_summary(estimator),
    )


def _estimation_summary(estimator: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the version item and the card say of its estimator: the method, the calibration, what it was fitted on."""
    if estimator is None:
        return None
    calibration = estimator.get("calibration") or {}
    return {
        "method": estimator["method"],
        "calibration": calibration.get("method"),
        "fitted_with": calibration.get("fitted_with") or "sklearn.ensemble.HistGradientBoostingRegressor (|error|)",
        "rows": calibration.get("rows", estimator.get("rows")),
        "reference": estimator.get("reference"),
    }


def _status(gate_passed: bool, *, approval_required: bool) -> str:
    if not gate_passed:
        return VERSION_REJECTED
    return VERSION_PENDING_APPROVAL if approval_required else VERSION_REGISTERED


def _version_content(
    request: NormalisedRequest,
    prepared: PreparedDataset,
    evaluation_result: EvaluationResult,
    stored: _StoredObjects,
    serving: Serving,
    *,
    execution_arn: str,
) -> VersionContent:
    winner = evaluation_result.winner
    return VersionContent(
        task=request.task,
        target=request.target,
        description=request.description,
        schema_uri=stored.schema[0],
        schema_sha256=stored.schema[1],
        schema_summary=prepared.schema_summary.to_document(),
        estimator=winner.estimator,
        params=winner.params,
        metrics=evaluation_result.metrics,
        validation_metrics=winner.validation_metrics,
        gate=evaluation_result.gate.to_document(),
        lift_over_baseline=evaluation_result.gate.baseline.lift() if evaluation_result.gate.baseline else None,
        decision_threshold=winner.decision_threshold.to_document() if winner.decision_threshold else None,
        champion=evaluation_result.champion.to_document() if evaluation_result.champion else None,
        leaderboard_uri=stored.leaderboard[0],
        leaderboard_sha256=stored.leaderboard[1],
        artifact_uri=stored.model[0],
        artifact_sha256=stored.model[1],
        artifact_size_bytes=stored.model_size_bytes,
        baseline_uri=stored.baseline[0],
        baseline_sha256=stored.baseline[1],
        input_example_uri=stored.input_example[0],
        input_example_sha256=stored.input_example[1],
        serving=serving,
        training_request=request.model_dump(mode="json"),
        lineage=_lineage(request, prepared, evaluation_result, execution_arn=execution_arn),
        approval=request.approval.model_dump(mode="json"),
        intended_use=request.intended_use,
        limitations=request.limitations,
        performance_estimator_uri=stored.performance_estimator[0] if stored.performance_estimator else None,
        performance_estimator_sha256=stored.performance_estimator[1] if stored.performance_estimator else None,
        performance_estimation=stored.performance_estimation,
        feature_importance=evaluation_result.feature_importance.to_document()
        if evaluation_result.feature_importance
        else None,
    )


def _lineage(
    request: NormalisedRequest, prepared: PreparedDataset, evaluation_result: EvaluationResult, *, execution_arn: str
) -> Lineage:
    """Where the version comes from: the data and its split, the run, who asked, the code and libraries, the trial."""
    winner, trials = evaluation_result.winner, evaluation_result.leaderboard_summary
    return Lineage(
        dataset_uri=prepared.uri,
        data_sha256=prepared.sha256,
        rows=prepared.rows,
        split={**request.split.model_dump(mode="json"), "sizes": prepared.split_sizes},
        execution_arn=execution_arn,
        run_id=run_id_of(execution_arn),
        requested_by=request.requested_by,
        code_version=request.code_version,
        libraries=library_versions(),
        trial_id=winner.trial_id,
        trials=trials.trained + trials.failed,
        feedback=prepared.feedback,
        compute=winner.compute,
        training_job=winner.training_job,
        external=_external_lineage(request),
    )


def _external_lineage(request: NormalisedRequest) -> dict[str, Any] | None:
    """What a caller's own model records: where its bytes came from, their sha256, what it declares, who sent it."""
    if request.external is None:
        return None
    return {**request.external.model_dump(mode="json"), "uploaded_by": request.requested_by}
