"""The SageMaker training job's entry point: fit one candidate with the same code the Train function runs.

SageMaker starts the container with ``train`` as its argument and mounts ``/opt/ml``: the job's hyperparameters in
``/opt/ml/input/config/hyperparameters.json`` (every value a string), ``/opt/ml/model`` (uploaded as
``model.tar.gz`` under ``OutputDataConfig.S3OutputPath`` when the job ends) and ``/opt/ml/output/failure``
(its text becomes the job's ``FailureReason``). The state machine puts the Train event into the hyperparameters,
one field each (``candidate``, ``dataset`` and ``trial`` — the trial's id, rung, row fraction and the search's
deadline — as JSON, ``index`` and ``seed`` as numbers, ``execution_arn``, ``training_job``); ``CreateTrainingJob``'s
``Environment`` sets ``ARTIFACTS_BUCKET``. The job needs no input channel: it reads the run's splits by the URIs
Prepare wrote, as the Train function does, and writes the trial's artifact and sha256 to the same key
(``layout.candidate_artifact``), with ``layout.candidate_result`` beside it (the trial's record, the job's name and
its library versions) for the pipeline to collect.

    python -m functions.training_job.app train     (the image's entry point; docs/training.md)
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops.errors import InvalidStepInput
from mlops.records.events import TrainEvent, parse_event
from mlops.records.lineage import library_versions, run_id_of
from mlops.records.steps import FailedCandidate, TrainedCandidate, TrainingJobResult
from mlops.settings import TrainingJobSettings
from mlops.storage import layout, objects
from mlops.training.train import train

ML_ROOT = Path("/opt/ml")
HYPERPARAMETERS = Path("input/config/hyperparameters.json")
MODEL_DIR = Path("model")
FAILURE_FILE = Path("output/failure")
FAILURE_REASON_LIMIT = 1024  # DescribeTrainingJob's FailureReason holds at most 1,024 characters
JSON_FIELDS = ("candidate", "dataset", "trial")
TRIAL_FIELDS = ("trial_id", "rung", "fraction", "deadline_epoch_s")  # a Distributed Map item's, beside the candidate
NUMBER_FIELDS = ("index", "seed")


def hyperparameters_of(event: TrainEvent, training_job: str) -> dict[str, str]:
    """The Train event as the state machine writes it into CreateTrainingJob's HyperParameters (for tests and
    the benchmark; the ASL builds the same map with States.JsonToString and States.Format)."""
    document = event.model_dump(mode="json", by_alias=True, include={"candidate", "dataset", "index", "seed"})
    document["trial"] = event.model_dump(mode="json", include=set(TRIAL_FIELDS))
    return {
        **{name: json.dumps(document[name], separators=(",", ":")) for name in JSON_FIELDS},
        **{name: str(document[name]) for name in NUMBER_FIELDS},
        "execution_arn": event.execution_arn,
        "training_job": training_job,
    }


def read_event(hyperparameters: Mapping[str, str]) -> tuple[TrainEvent, str]:
    """The Train event and the job's name from the job's hyperparameters (InvalidStepInput naming what is wrong)."""
    try:
        document: dict[str, Any] = {name: json.loads(hyperparameters[name]) for name in JSON_FIELDS}
        trial = document.pop("trial")
        document.update({name: trial[name] for name in TRIAL_FIELDS if name in trial})
        document.update({name: int(hyperparameters[name]) for name in NUMBER_FIELDS})
        document["execution_arn"] = hyperparameters["execution_arn"]
        training_job = hyperparameters["training_job"]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidStepInput(f"the training job's hyperparameters are incomplete or malformed: {exc!r}") from exc
    return parse_event(TrainEvent, document), training_job


def run(ml_root: Path = ML_ROOT, environ: Mapping[str, str] | None = None) -> TrainedCandidate | FailedCandidate:
    """Fit the candidate the hyperparameters name; write its artifact, its result and a copy in /opt/ml/model."""
    settings = TrainingJobSettings.from_environment(environ)
    hyperparameters = json.loads((ml_root / HYPERPARAMETERS).read_text())
    event, training_job = read_event(hyperparameters)
    trained = train(
        event.candidate,
        event.index,
        event.dataset,
        seed=event.seed,
        execution_arn=event.execution_arn,
        settings=settings,
        trial_id=event.trial_id,
        rung=event.rung,
        fraction=event.fraction,
        deadline_epoch_s=event.deadline_epoch_s,
        compute_engine="sagemaker",
        training_job=training_job,
    )
    result = TrainingJobResult(training_job=training_job, libraries=library_versions(), candidate=trained)
    document = result.to_document()
    run_id = run_id_of(event.execution_arn)
    objects.put_json(
        layout.candidate_result(settings.artifacts_bucket, run_id, event.index, trained.estimator, event.rung),
        document,
    )
    model_dir = ml_root / MODEL_DIR
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "candidate.json").write_text(json.dumps(document, indent=2))  # what model.tar.gz holds
    return trained


def failure_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:FAILURE_REASON_LIMIT]


def main(argv: list[str] | None = None, ml_root: Path = ML_ROOT, environ: Mapping[str, str] | None = None) -> int:
    """The container's command (SageMaker runs the image with ``train``): 0 when the candidate is stored, 1 with
    ``/opt/ml/output/failure`` written when anything failed (the job then ends Failed with that reason)."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] != ["train"]:
        print("usage: python -m functions.training_job.app train", file=sys.stderr)
        return 2
    try:
        trained = run(ml_root, os.environ if environ is None else environ)
    except Exception as exc:  # noqa: BLE001 - any failure ends the job, with its reason where SageMaker reads it
        traceback.print_exc()
        failure = ml_root / FAILURE_FILE
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(failure_reason(exc))
        return 1
    print(
        json.dumps({"status": trained.status, "estimator": trained.estimator, "fit_s": getattr(trained, "fit_s", None)})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
