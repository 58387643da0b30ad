"""A batch job's records (request, start, plan, chunk), its id and its summary: what the API and the BatchTransform
steps share. numpy-free, so the admin API (core layer only) can import it; the work is in ``mlops.serving.batch``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlops.errors import ArtifactMissing
from mlops.registry.records import ALIAS_NAME_PATTERN, PRODUCTION
from mlops.storage import layout, objects

MIN_CHUNK_BYTES = 64 * 1024
MAX_CHUNK_BYTES = 256 * 1024 * 1024
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024  # ~100k rows of 30 numbers: seconds of work, far from the 15-minute timeout
JOB_ID_PATTERN = r"^\d{8}T\d{6}Z-[0-9a-f]{8}$"
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


class BatchJobRequest(BaseModel):
    """What a caller asks for (``POST /models/{name}/batch-jobs``)."""

    model_config = ConfigDict(extra="forbid")
    input_uri: str = Field(
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$",
        max_length=1024,
        description="a CSV object with a header row, under an allowed location",
    )
    alias: str = Field(default=PRODUCTION, pattern=ALIAS_NAME_PATTERN, description="the alias whose version scores")
    chunk_bytes: int = Field(
        default=DEFAULT_CHUNK_BYTES, ge=MIN_CHUNK_BYTES, le=MAX_CHUNK_BYTES, description="bytes of input per chunk"
    )
    capture: bool = Field(default=True, description="write the scored rows where the drift check reads capture")


class BatchJobStart(BaseModel):
    """The state machine's input."""

    model_config = ConfigDict(extra="forbid")
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    model_name: str
    request: BatchJobRequest


class PlannedJob(BaseModel):
    """What the planning step settles, carried in the state (small: the chunk list is in S3)."""

    model_config = ConfigDict(extra="forbid")
    job_id: str
    model_name: str
    alias: str
    version: int
    input_uri: str
    size_bytes: int
    header_end: int
    chunks: int
    capture: bool
    plan_bucket: str
    plan_key: str
    output_uri: str
    errors_uri: str
    started_at: str


class ChunkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class ScoreChunkEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job: PlannedJob
    item: ChunkItem


def new_job_id(now: datetime | None = None) -> str:
    """Sortable by start time, unique by its random part; also the execution's name."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_summary(artifacts_bucket: str, model_name: str, job_id: str) -> dict[str, Any] | None:
    """The job's summary, or None when there is none (a job still running, or one whose recorder failed)."""
    try:
        return objects.get_json(layout.batch_summary(artifacts_bucket, model_name, job_id))
    except ArtifactMissing:
        return None
