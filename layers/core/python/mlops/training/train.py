"""The Train step: fit one trial and store it at its run key with its sha256; or collect the trial a SageMaker
training job fitted (the same record, whichever engine trained).

The Train function and a SageMaker training job (``functions.training_job.app``) both run ``train``, so what
follows never knows which engine trained; ``collect_training_job`` reads what a job wrote and refuses it unless it is
this trial's, by this job, with this function's library versions.
"""

from __future__ import annotations

import time

import numpy as np

from mlops.data import dataset
from mlops.data.dataset import Schema
from mlops.errors import InvalidStepInput, LibraryVersionMismatch
from mlops.records.lineage import library_versions, run_id_of
from mlops.records.request import Candidate, ComputeEngine
from mlops.records.steps import (
    FailedCandidate,
    PreparedDataset,
    TrainedCandidate,
    TrainingJobRef,
    TrainingJobResult,
)
from mlops.settings import Settings, TrainingJobSettings
from mlops.storage import layout, objects
from mlops.training import estimators, external, lean, scoring
from mlops.training.run_files import load_matrices, load_schema, load_table


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
    """Fit one candidate (a trial: on ``fraction`` of the training rows), score it on validation and store it at its
    run key with its sha256; skipped, unfitted, once the search's time budget is spent."""
    estimator, params = candidate.estimator, candidate.params
    trial = {"trial_id": trial_id, "rung": rung, "fraction": fraction}
    if deadline_epoch_s is not None and time.time() > deadline_epoch_s:
        return FailedCandidate(
            status="skipped", index=index, estimator=estimator, params=params, error="TimeBudgetSpent", **trial
        )
    schema = load_schema(prepared.schema_ref)
    if lean.applies(schema, estimator):  # from the typed split, column by column: no object matrix
        table = load_table(prepared.splits.uri("train"))
        train_y = dataset.target_vector(table, schema)
        rows, train_y = _subsample(np.arange(table.rows), train_y, fraction, seed, schema.task)
        table = table if fraction >= 1.0 else table.take(rows)
        started = time.perf_counter()
        model, warnings = lean.fit(schema, estimator, params, seed=seed, table=table, target=train_y)
        fit_seconds = time.perf_counter() - started
        del table
        validation = load_table(prepared.splits.uri("validation"))
        scored, validation_x = lean.scoring_matrix(model, schema, validation)  # type: ignore[misc]
        validation_metrics = scoring.score(scored, validation_x, dataset.target_vector(validation, schema), schema)
    else:
        train_x, train_y = load_matrices(prepared, "train")
        train_x, train_y = _subsample(train_x, train_y, fraction, seed, schema.task)
        validation_x, validation_y = load_matrices(prepared, "validation")
        started = time.perf_counter()
        if estimator == external.EXTERNAL_ESTIMATOR:  # the caller's model, fitted already: verified, loaded safely
            model, warnings = _external(params, schema), []
        else:
            model, warnings = estimators.fit_candidate(
                schema, estimator, params, seed=seed, features=train_x, target=train_y
            )
        fit_seconds = time.perf_counter() - started
        validation_metrics = scoring.score(model, validation_x, validation_y, schema)
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


def _external(params: dict, schema: Schema) -> object:
    """The caller's model from its skops file (sha256, allow-list and features checked again: the file is read anew)."""
    try:
        model = external.fetch(str(params["artifact_uri"]), str(params["artifact_sha256"]))
    except KeyError as exc:
        raise InvalidStepInput(f"an external candidate names its artifact_uri and artifact_sha256: {exc}") from exc
    external.check_features(model, schema)
    return external.align_labels(model, schema)


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


# ---- a trial a SageMaker training job fitted ----------------------------------------------------------------------
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
    bucket, run_id = settings.artifacts_bucket, run_id_of(execution_arn)
    uri = layout.candidate_result(bucket, run_id, index, candidate.estimator, rung)
    try:
        result = TrainingJobResult.model_validate(objects.get_json(uri))
    except ValueError as exc:
        raise InvalidStepInput(f"{uri}: not a training job result: {exc}") from exc
    trained = result.candidate
    if result.training_job != job.name:
        raise InvalidStepInput(f"{uri} was written by training job {result.training_job!r}, not {job.name!r}")
    this_trial = (index, candidate.estimator, trial_id, rung, fraction)
    if (trained.index, trained.estimator, trained.trial_id, trained.rung, trained.fraction) != this_trial:
        raise InvalidStepInput(f"{uri} describes another trial ({trained.index}, {trained.estimator})")
    if isinstance(trained, FailedCandidate):
        return trained.model_copy(update={"compute": "sagemaker"})
    expected_artifact = layout.candidate_artifact(bucket, run_id, index, candidate.estimator, rung)
    if trained.training_job != job.name or trained.artifact_uri != str(expected_artifact):
        raise InvalidStepInput(f"{uri} names another job's or another trial's artifact ({trained.artifact_uri})")
    _check_libraries(job, result)
    return trained.model_copy(update={"compute": "sagemaker"})


def _check_libraries(job: TrainingJobRef, result: TrainingJobResult) -> None:
    """LibraryVersionMismatch unless the job trained with this function's library versions (scikit-learn named)."""
    ours = library_versions()
    skewed = {
        name: (version, ours.get(name)) for name, version in result.libraries.items() if ours.get(name) != version
    }
    if skewed or "scikit-learn" not in result.libraries:
        raise LibraryVersionMismatch(
            f"training job {job.name} trained with {result.libraries}; the pipeline runs {ours} (differences: {skewed})"
        )
