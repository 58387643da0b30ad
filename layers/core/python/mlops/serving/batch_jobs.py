"""A batch job's records (request, start, plan, chunk), its id and its summary: what the API and the BatchTransform
steps share. numpy-free, so the admin API (core layer only) can import it; the work is in ``mlops.serving.batch``."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from mlops.errors import ArtifactMissing
from mlops.storage import layout, objects

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


def new_job_id(now: datetime | None = None) -> str:
    """Sortable by start time, unique by its random part; also the execution's name."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def job_id_for_token(model_name: str, client_token: str) -> str:
    """The job id (and execution name) a client token always gives for a model: a retried POST starts no second
    job, because Step Functions keeps an execution name unique per state machine for 90 days."""
    return "t-" + hashlib.sha256(f"{model_name}\n{client_token}".encode()).hexdigest()[:32]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_summary(artifacts_bucket: str, model_name: str, job_id: str) -> dict[str, Any] | None:
    """The job's summary, or None when there is none (a job still running, or one whose recorder failed)."""
    try:
        return objects.get_json(layout.batch_summary(artifacts_bucket, model_name, job_id))
    except ArtifactMissing:
        return None
