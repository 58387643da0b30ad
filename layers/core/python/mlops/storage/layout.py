"""Where everything lives: every S3 key and every DynamoDB key of the project is built here and only here.

The rest of the code asks this module (``layout.version_sk(3)``, ``layout.model_artifact(bucket, name, sha)``), so
the layout can be read, documented (docs/architecture.md) and changed in one room. Pure functions, no I/O.

DynamoDB, one table, items under ``pk = MODEL#<name>``:
  ``MODEL``                  the model and its version counter
  ``VERSION#<000001>``       one registered version
  ``RUN#<execution id>``     which version a pipeline execution registered (idempotent registration)
  ``ALIAS#<alias>``          where an alias points (version, previous version, canary)
  ``EVENT#<iso-ts>#<id>``    append-only audit event
  ``MONITOR``                monitoring overrides and the monitor's state
  ``CHECK#<iso-ts>#<id>``    one drift check's summary

S3, one bucket:
  ``runs/<run id>/...``                        a pipeline run's working files (splits, candidates, ONNX, baselines)
  ``models/<name>/<sha256>.joblib|.onnx``      content-addressed, write-once model artifacts
  ``models/<name>/v<n>/card.json|card.md``     model card snapshots
  ``models/<name>/v<n>/reproductions/<ts>.json`` a version retrained from its lineage and compared
  ``models/<name>/<kind>/<sha256>.json``       content-addressed version documents (schema, leaderboard,
                                               input example): the version item holds their URIs and digests
  ``baselines/<name>/<sha256>.json``           content-addressed drift baselines
  ``capture/<name>/dt=YYYY-MM-DD/...``         inference capture (Firehose, partitioned by model and day)
  ``shadow/<name>/v<n>/<ts>-<id>.jsonl``        a shadow's answers to production's replayed requests (bake)
  ``feedback/<name>/dt=YYYY-MM-DD/...jsonl``   ground-truth labels posted to the API
  ``monitoring/<name>/<ts>/report.json|html``  drift reports
  ``dashboards/<ts>-<id>.html``                the registry dashboard, rendered on request (presigned URL)
  ``datasets/feedback/<name>/<run id>.csv``    a run's data plus captured rows joined with their labels (+ manifest)
  ``datasets/uploads/<id>/<file name>``        a dataset uploaded through a presigned PUT (``POST /uploads``)
  ``datasets/<sha256>/<file name>``            a dataset stored by its content (a local run's upload, the SDK's and
                                               ``mlops data upload``'s): a changed file gets a new key, the old
                                               version's data stays where its lineage says
  ``predictions/<name>/<job>/...``             a batch job: its plan, each chunk's output, errors and commit
                                               marker, and its summary
  ``capture/<name>/dt=YYYY-MM-DD/batch-...``   a batch job's scored rows, in the capture's own line format
"""

from __future__ import annotations

from datetime import datetime

from mlops.storage.objects import S3Uri

# ---- DynamoDB keys ----------------------------------------------------------------------------------------
MODEL_SK = "MODEL"
MONITOR_SK = "MONITOR"
VERSION_PREFIX = "VERSION#"
ALIAS_PREFIX = "ALIAS#"
RUN_PREFIX = "RUN#"
EVENT_PREFIX = "EVENT#"
CHECK_PREFIX = "CHECK#"


def model_pk(model_name: str) -> str:
    return f"MODEL#{model_name}"


def model_name_of(pk: str) -> str:
    """The model a partition key belongs to (``MODEL#churn`` → ``churn``)."""
    if not pk.startswith("MODEL#"):
        raise ValueError(f"not a model partition key: {pk!r}")
    return pk.removeprefix("MODEL#")


def version_sk(version: int) -> str:
    return f"{VERSION_PREFIX}{version:06d}"


def alias_sk(alias: str) -> str:
    return f"{ALIAS_PREFIX}{alias}"


def run_sk(run_id: str) -> str:
    return f"{RUN_PREFIX}{run_id}"


def event_sk(at: str, event_id: str) -> str:
    return f"{EVENT_PREFIX}{at}#{event_id}"


def check_sk(created_at: str, check_id: str) -> str:
    return f"{CHECK_PREFIX}{created_at}#{check_id}"


def item_key(model_name: str, sort_key: str) -> dict[str, dict[str, str]]:
    """The DynamoDB wire form of an item's primary key."""
    return {"pk": {"S": model_pk(model_name)}, "sk": {"S": sort_key}}


# ---- S3 keys: a pipeline run's working files -----------------------------------------------------------
def run_file(bucket: str, run_id: str, name: str) -> S3Uri:
    """One working file of a run (the functions below name each one)."""
    return S3Uri(bucket, f"runs/{run_id}/{name}")


def run_split(bucket: str, run_id: str, split: str) -> S3Uri:
    """One split of the run's data (``train``, ``validation``, ``test``), a typed table as ``.npz``."""
    return run_file(bucket, run_id, f"data/{split}.npz")


def run_baseline(bucket: str, run_id: str) -> S3Uri:
    """The training rows' feature baseline, computed by Prepare."""
    return run_file(bucket, run_id, "baseline.json")


def run_prediction_baseline(bucket: str, run_id: str) -> S3Uri:
    """The winner's predictions on the holdout, summarised by Evaluate."""
    return run_file(bucket, run_id, "prediction_baseline.json")


def run_onnx_model(bucket: str, run_id: str) -> S3Uri:
    """The winner converted to ONNX, before the parity check decides whether the registry keeps it."""
    return run_file(bucket, run_id, "model.onnx")


def run_onnx_reference(bucket: str, run_id: str) -> S3Uri:
    """scikit-learn's outputs on the holdout, which the parity check compares the ONNX model's with."""
    return run_file(bucket, run_id, "onnx_reference.json")


# The documents that grow with the table's width or the number of candidates: a run writes each once and the
# state carries its URI, sha256 and a small summary (the claim check), never the document.
RUN_SCHEMA = "schema.json"
RUN_INPUT_EXAMPLE = "input_example.json"
# Not a key: the member of a skops archive that describes its object graph (a caller's model, read before loading).
SKOPS_SCHEMA_MEMBER = "schema.json"
RUN_LEADERBOARD = "leaderboard.json"
RUN_PERFORMANCE_ESTIMATOR = "performance_estimator.json"


def run_trial_list(bucket: str, run_id: str, rung: int) -> S3Uri:
    """A search rung's trial list (JSON), the Distributed Map's ItemReader object."""
    return run_file(bucket, run_id, f"trials/rung-{rung}.json")


def run_trial_results_prefix(bucket: str, run_id: str, rung: int) -> S3Uri:
    """Where a rung's ResultWriter writes ``<map run id>/manifest.json`` and ``SUCCEEDED_0.json``/``FAILED_0.json``."""
    return run_file(bucket, run_id, f"trial-results/rung-{rung}")


def run_document(bucket: str, run_id: str, name: str) -> S3Uri:
    """A run's schema, input example or leaderboard (``RUN_SCHEMA``, ...)."""
    return run_file(bucket, run_id, name)


def _candidate_name(index: int, estimator: str, rung: int) -> str:
    """A trial's name in its run: a later halving rung refits the same trial on more rows, so it gets its own."""
    return f"{index:02d}-{estimator}" if rung == 0 else f"r{rung}-{index:02d}-{estimator}"


def candidate_artifact(bucket: str, run_id: str, index: int, estimator: str, rung: int = 0) -> S3Uri:
    return run_file(bucket, run_id, f"candidates/{_candidate_name(index, estimator, rung)}.joblib")


def thresholded_artifact(bucket: str, run_id: str, index: int, estimator: str, rung: int = 0) -> S3Uri:
    """The winner wrapped with its tuned decision threshold (mlops.training.imbalance), beside its candidate."""
    return run_file(bucket, run_id, f"candidates/{_candidate_name(index, estimator, rung)}-thresholded.joblib")


def candidate_result(bucket: str, run_id: str, index: int, estimator: str, rung: int = 0) -> S3Uri:
    """What a SageMaker training job writes beside the candidate's artifact: the candidate's record and the job's
    libraries (the Train function returns the record instead)."""
    return run_file(bucket, run_id, f"candidates/{_candidate_name(index, estimator, rung)}.json")


# A run's SageMaker OutputDataConfig.S3OutputPath; the TrainingPipeline builds the same key with States.Format, so
# the template is declared here and the ASL's is checked against it (tests/contract/test_layering.py).
TRAINING_JOB_OUTPUT = "runs/{}/training-jobs"


def training_job_output(bucket: str, run_id: str) -> S3Uri:
    """Where SageMaker uploads a job's /opt/ml/model (``<path>/<job name>/output/model.tar.gz``)."""
    return S3Uri(bucket, TRAINING_JOB_OUTPUT.format(run_id))


# ---- S3 keys: the registry's immutable objects --------------------------------------------------------------
def model_artifact(bucket: str, model_name: str, sha256: str, suffix: str = "joblib") -> S3Uri:
    """Content-addressed and write-once: the key is the digest of the bytes."""
    return S3Uri(bucket, f"models/{model_name}/{sha256}.{suffix}")


def baseline(bucket: str, model_name: str, sha256: str) -> S3Uri:
    """Content-addressed, so a version never references an object written after it."""
    return S3Uri(bucket, f"baselines/{model_name}/{sha256}.json")


VERSION_DOCUMENT_KINDS = ("schema", "leaderboard", "input_example", "performance_estimator")


def version_document(bucket: str, model_name: str, kind: str, sha256: str) -> S3Uri:
    """A version's schema, leaderboard or input example, content-addressed and write-once like the artifacts."""
    if kind not in VERSION_DOCUMENT_KINDS:
        raise ValueError(f"unknown version document {kind!r}; one of {VERSION_DOCUMENT_KINDS}")
    return S3Uri(bucket, f"models/{model_name}/{kind}/{sha256}.json")


def card(bucket: str, model_name: str, version: int, suffix: str = "json") -> S3Uri:
    return S3Uri(bucket, f"models/{model_name}/v{version}/card.{suffix}")


def reproduction_report(bucket: str, model_name: str, version: int, at: str) -> S3Uri:
    """A version retrained from its lineage and compared (``at``: when the reproduction ran, an ISO timestamp)."""
    return S3Uri(bucket, f"models/{model_name}/v{version}/reproductions/{at}.json")


# ---- S3 keys: monitoring -----------------------------------------------------------------------------------
CAPTURE_MARKER = "mlops.capture.v1"  # the capture line contract: written by serving, read by monitoring
FEEDBACK_MARKER = "mlops.feedback.v1"


def capture_prefix(model_name: str) -> str:
    """Firehose writes ``capture/<model>/dt=<yyyy-MM-dd>/`` (template.yaml's dynamic partitioning prefix)."""
    return f"capture/{model_name}"


def shadow_capture(bucket: str, model_name: str, version: int, stamp: str, replay_id: str) -> S3Uri:
    """A shadow's answers to production's replayed requests: ``shadow/<model>/v<n>/<stamp>-<id>.jsonl``, never
    returned to a caller."""
    return S3Uri(bucket, f"shadow/{model_name}/v{version}/{stamp}-{replay_id}.jsonl")


def feedback_prefix(model_name: str) -> str:
    return f"feedback/{model_name}"


def day_prefix(prefix: str, day: str) -> str:
    return f"{prefix}/dt={day}/"


def feedback_object(bucket: str, model_name: str, day: str, name: str) -> S3Uri:
    return S3Uri(bucket, f"{day_prefix(feedback_prefix(model_name), day)}{name}.jsonl")


def report(bucket: str, model_name: str, created: datetime, suffix: str = "json") -> S3Uri:
    """One drift check's report: ``report.json`` (the data) or ``report.html`` (the page a person reads)."""
    return S3Uri(bucket, f"monitoring/{model_name}/{created.strftime('%Y%m%dT%H%M%S.%fZ')}/report.{suffix}")


# ---- S3 keys: datasets built by the project ---------------------------------------------------------------------
def feedback_dataset(bucket: str, model_name: str, run_id: str) -> S3Uri:
    """A training run's dataset: the request's data plus captured rows joined with their labels (under
    ``datasets/``, where a training request's data may live, and never expired like ``runs/``)."""
    return S3Uri(bucket, f"datasets/feedback/{model_name}/{run_id}.csv")


def feedback_dataset_manifest(bucket: str, model_name: str, run_id: str) -> S3Uri:
    """Which capture objects and inference ids gave the rows of ``feedback_dataset``."""
    return S3Uri(bucket, f"datasets/feedback/{model_name}/{run_id}.manifest.json")


def dataset_upload(bucket: str, upload_id: str, file_name: str) -> S3Uri:
    """A dataset uploaded through ``POST /uploads`` without a chosen URI (under ``datasets/``: training may read it)."""
    return S3Uri(bucket, f"datasets/uploads/{upload_id}/{file_name}")


def dataset_by_content(bucket: str, sha256: str, file_name: str) -> S3Uri:
    """A dataset keyed by the sha256 of its bytes, its original file name kept as the last part (write-once: the same
    bytes always land at the same key, other bytes never do)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return S3Uri(bucket, f"datasets/{sha256}/{file_name}")


def safe_file_name(file_name: str) -> str:
    """A file name as a dataset key's last part may hold it (letters, digits, ``.``, ``_``, ``-``; 128 at most: the
    upload route's rule), other characters as ``-``."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in file_name).lstrip("._-")
    return safe[:128] or "data.csv"


# ---- S3 keys: dashboards -----------------------------------------------------------------------------------
DASHBOARDS_PREFIX = "dashboards/"


def dashboard(bucket: str, at: str, render_id: str) -> S3Uri:
    """One rendering of the registry dashboard; ``at`` is an ISO timestamp (its punctuation is dropped)."""
    stamp = "".join(c for c in at if c.isalnum())
    return S3Uri(bucket, f"{DASHBOARDS_PREFIX}{stamp}-{render_id}.html")


# ---- S3 keys: batch scoring ----------------------------------------------------------------------------------
PREDICTIONS_PREFIX = "predictions/"


def batch_jobs_prefix(bucket: str) -> S3Uri:
    """Every batch job's files, of every model (what ``POST /downloads`` may sign a GET or a listing for)."""
    return S3Uri(bucket, PREDICTIONS_PREFIX)


def batch_job_prefix(bucket: str, model_name: str, job_id: str) -> S3Uri:
    """Everything one batch job writes: ``plan.json``, ``output/``, ``errors/``, ``chunks/``, ``summary.json``."""
    return S3Uri(bucket, f"{PREDICTIONS_PREFIX}{model_name}/{job_id}")


def batch_plan(bucket: str, model_name: str, job_id: str) -> S3Uri:
    """The planning step's chunk list: a JSON array the Distributed Map reads with its ItemReader."""
    return S3Uri(bucket, f"{batch_job_prefix(bucket, model_name, job_id).key}/plan.json")


def batch_output_prefix(bucket: str, model_name: str, job_id: str) -> S3Uri:
    return S3Uri(bucket, f"{batch_job_prefix(bucket, model_name, job_id).key}/output/")


def batch_errors_prefix(bucket: str, model_name: str, job_id: str) -> S3Uri:
    return S3Uri(bucket, f"{batch_job_prefix(bucket, model_name, job_id).key}/errors/")


def batch_output_part(bucket: str, model_name: str, job_id: str, chunk: int, output_format: str = "jsonl") -> S3Uri:
    """One chunk's predictions (``csv`` or ``jsonl``, the job's output format, as the extension), keyed by the chunk's
    index so a retried chunk overwrites its own."""
    return S3Uri(bucket, f"{batch_output_prefix(bucket, model_name, job_id).key}part-{chunk:05d}.{output_format}")


def batch_errors_part(bucket: str, model_name: str, job_id: str, chunk: int) -> S3Uri:
    return S3Uri(bucket, f"{batch_errors_prefix(bucket, model_name, job_id).key}part-{chunk:05d}.jsonl")


def batch_chunk_marker(bucket: str, model_name: str, job_id: str, chunk: int) -> S3Uri:
    """Written last by a chunk, after its output and errors: a chunk without it is not done."""
    return S3Uri(bucket, f"{batch_chunk_markers(bucket, model_name, job_id).key}{chunk:05d}.json")


def batch_chunk_markers(bucket: str, model_name: str, job_id: str) -> S3Uri:
    """The prefix every chunk marker of a job is under (listed by the finishing step)."""
    return S3Uri(bucket, f"{batch_job_prefix(bucket, model_name, job_id).key}/chunks/")


def batch_summary(bucket: str, model_name: str, job_id: str) -> S3Uri:
    return S3Uri(bucket, f"{batch_job_prefix(bucket, model_name, job_id).key}/summary.json")


def batch_capture_staged(bucket: str, model_name: str, job_id: str, chunk: int) -> S3Uri:
    """A chunk's capture lines while its job runs (``capture/`` only receives them when the job succeeds)."""
    return S3Uri(bucket, f"{batch_job_prefix(bucket, model_name, job_id).key}/capture/part-{chunk:05d}.jsonl")


def batch_capture_object(bucket: str, model_name: str, day: str, job_id: str, chunk: int) -> S3Uri:
    """A succeeded batch job's chunk, where the drift check and feedback read the endpoint's capture
    (``capture/<model>/dt=<the day the chunk was scored>/``): one key per chunk, however often it was retried."""
    return S3Uri(bucket, f"{day_prefix(capture_prefix(model_name), day)}batch-{job_id}-{chunk:05d}.jsonl")
