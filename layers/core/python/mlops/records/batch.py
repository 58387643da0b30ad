"""A batch job's records: what a caller asks for, what the state machine starts with, what planning settles and one
chunk of the plan. Shared by the API (which validates the request at the door) and the BatchTransform steps."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlops.records.registry import ALIAS_NAME_PATTERN, PRODUCTION

MIN_CHUNK_BYTES = 64 * 1024
MAX_CHUNK_BYTES = 256 * 1024 * 1024
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024  # ~100k rows of 30 numbers: seconds of work, far from the 15-minute timeout
# A job started without a client token: its start time and a random part; with one: a digest of the token.
JOB_ID_PATTERN = r"^(\d{8}T\d{6}Z-[0-9a-f]{8}|t-[0-9a-f]{32})$"
CLIENT_TOKEN_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class BatchJobRequest(BaseModel):
    """What a caller asks for (``POST /models/{name}/batch-jobs``): JSON types as declared (no "1" for 1, no 0 for
    false), nothing undeclared."""

    model_config = ConfigDict(extra="forbid", strict=True)
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
    output_format: Literal["csv", "jsonl"] = Field(
        default="csv",
        description="the output parts' format: CSV (the default for CSV input, as SageMaker Batch Transform writes) "
        "or JSON lines, one object per scored row",
    )


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
    output_format: Literal["csv", "jsonl"] = "csv"
    plan_bucket: str
    plan_key: str
    output_uri: str
    errors_uri: str
    started_at: str
    max_concurrency: int = Field(default=20, ge=1, le=1000, description="chunks scored at once (BatchMaxConcurrency)")


class ChunkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
