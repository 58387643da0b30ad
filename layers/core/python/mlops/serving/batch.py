"""Batch scoring (the BatchTransform state machine): a CSV of any size in S3, scored chunk by chunk with the
endpoint's own validation and runtime, predictions and invalid rows written under ``predictions/<model>/<job>/``.

Chunks are byte ranges of the input aligned on line boundaries. Planning costs one ranged read per chunk, whatever
the object's size, and copies nothing; each chunk reads only its own bytes. The price: a row's number in the file
is not known inside a chunk without reading everything before it, so a row is identified by its chunk, its row in
the chunk and its byte offset in the input (exact, and enough to fetch the line again); the summary records each
chunk's first row, from which the file row number follows. Fields holding line breaks (quoted newlines) cannot be
split this way and are refused by name, as are gzip and Parquet (the serving layer has no pyarrow: docs/batch.md).

Steps (one Lambda function, one entry per state):
  plan    resolve alias -> version, read the header, cut the byte ranges, write ``plan.json`` (the Map's items)
  score   one chunk: validate rows (a bad row is set aside with its reason), predict (``mlops.serving.batch_chunks``),
          write the output part, the errors part and the capture lines (staged with the job's files), then the
          chunk's marker, last
  finish  every chunk's marker present -> each chunk's capture copied into ``capture/<model>/dt=<day scored>/``
          (one key per chunk: a chunk retried across midnight, or a retried finish, is captured once), counts, URIs
          and each chunk's first row in ``summary.json``
  failed  a job that ends in a Fail state: ``summary.json`` says FAILED and names no output as complete; its
          capture never reaches ``capture/``, so it feeds neither drift checks nor feedback training
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any

from mlops.errors import BatchChunkIncomplete, InvalidBatchInput, ModelNotFound
from mlops.records.batch import BatchJobStart, PlannedJob
from mlops.records.events import ScoreChunkEvent
from mlops.records.schema import Schema
from mlops.registry import documents
from mlops.registry.store import ModelRegistry
from mlops.serving import batch_output
from mlops.serving.batch_chunks import parse_chunk, score_rows
from mlops.serving.batch_jobs import FAILED, SUCCEEDED, utc_now
from mlops.serving.cache import ModelCache
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri

MAX_CHUNKS = 10_000  # the plan is one JSON array read by the Map's ItemReader (a few hundred KB at most)
ALIGN_WINDOW_BYTES = 64 * 1024  # read past a cut to find the end of the line it falls in
MAX_LINE_BYTES = 8 * 1024 * 1024  # a longer line (or header) is refused rather than read forever
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"


# ---- planning ---------------------------------------------------------------------------------------------------
def _line_end(uri: S3Uri, position: int, size: int) -> int:
    """The offset just past the newline at or after ``position`` (or the object's end)."""
    scanned = position
    while scanned < size:
        window = objects.get_range(uri, scanned, min(size, scanned + ALIGN_WINDOW_BYTES))
        newline = window.find(b"\n")
        if newline >= 0:
            return scanned + newline + 1
        scanned += len(window)
        if scanned - position > MAX_LINE_BYTES:
            raise InvalidBatchInput(f"{uri}: a line longer than {MAX_LINE_BYTES} bytes at byte {position}")
    return size


def _header(uri: S3Uri, size: int) -> tuple[list[str], int]:
    head = objects.get_range(uri, 0, min(size, ALIGN_WINDOW_BYTES))
    if head.startswith(GZIP_MAGIC):
        raise InvalidBatchInput(f"{uri} is gzip-compressed: batch scoring reads byte ranges, upload it uncompressed")
    if head.startswith(PARQUET_MAGIC):
        raise InvalidBatchInput(
            f"{uri} is a Parquet file: batch scoring reads CSV (a Parquet reader, pyarrow, does not fit the serving "
            "layer's size budget)"
        )
    header_end = _line_end(uri, 0, size)
    text = _decoded(objects.get_range(uri, 0, header_end), f"{uri}: the header").lstrip("\ufeff")
    names = next(csv.reader([text.rstrip("\r\n")]), [])
    names = [name.strip() for name in names]
    if not any(names):
        raise InvalidBatchInput(f"{uri} has no header row")
    if len(set(names)) != len(names):
        raise InvalidBatchInput(f"{uri}: the header names a column twice")
    return names, header_end


def _decoded(payload: bytes, what: str) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidBatchInput(f"{what} is not UTF-8 text: {exc}") from None


def _version_for(registry: ModelRegistry, model_name: str, alias: str) -> tuple[int, Schema]:
    record = registry.get_alias(model_name, alias)
    if record is None:
        raise ModelNotFound(f"model {model_name!r} has no {alias} version")
    version = registry.get_version(model_name, record.version)
    return record.version, Schema.from_dict(documents.schema_of(version))


def plan_job(
    start: BatchJobStart, registry: ModelRegistry, artifacts_bucket: str, *, max_concurrency: int = 20
) -> PlannedJob:
    """Resolve the alias once (every chunk scores with that version), check the header, cut the byte ranges; the
    chunks run at most ``max_concurrency`` at once (the stack's BatchMaxConcurrency: a request cannot choose it)."""
    request = start.request
    uri = S3Uri.parse(request.input_uri)
    version, schema = _version_for(registry, start.model_name, request.alias)
    try:
        size = objects.size_bytes(uri)
    except Exception as exc:  # botocore's ClientError: no such object, or no right to read it
        raise InvalidBatchInput(f"{uri} cannot be read: {exc}") from None
    if size == 0:
        raise InvalidBatchInput(f"{uri} is empty")
    names, header_end = _header(uri, size)
    missing = [name for name in schema.input_columns if name not in names]
    if missing:
        raise InvalidBatchInput(f"{uri}: the header lacks the model's input column(s) {', '.join(map(repr, missing))}")
    ranges: list[dict[str, int]] = []
    position = header_end
    while position < size:
        end = size if position + request.chunk_bytes >= size else _line_end(uri, position + request.chunk_bytes, size)
        ranges.append({"chunk": len(ranges), "start": position, "end": end})
        position = end
        if len(ranges) > MAX_CHUNKS:
            raise InvalidBatchInput(f"{uri}: more than {MAX_CHUNKS} chunks; ask for larger chunk_bytes")
    plan = layout.batch_plan(artifacts_bucket, start.model_name, start.job_id)
    objects.put_json(plan, ranges)
    return PlannedJob(
        job_id=start.job_id,
        model_name=start.model_name,
        alias=request.alias,
        version=version,
        input_uri=str(uri),
        size_bytes=size,
        header_end=header_end,
        chunks=len(ranges),
        capture=request.capture,
        output_format=request.output_format,
        plan_bucket=plan.bucket,
        plan_key=plan.key,
        output_uri=str(layout.batch_output_prefix(artifacts_bucket, start.model_name, start.job_id)),
        errors_uri=str(layout.batch_errors_prefix(artifacts_bucket, start.model_name, start.job_id)),
        started_at=utc_now(),
        max_concurrency=max_concurrency,
    )


def score_chunk(event: ScoreChunkEvent, cache: ModelCache, artifacts_bucket: str) -> dict[str, Any]:
    """Score one byte range and write its output, errors and capture; the chunk's marker is written last, so a
    chunk that fails part-way leaves no marker and the job cannot report it complete. Keys are the chunk's own,
    so a retried chunk overwrites what an earlier attempt wrote."""
    job, item = event.job, event.item
    uri = S3Uri.parse(job.input_uri)
    served = cache.load_version(job.model_name, job.version)
    names, _ = _header_names(uri, job.header_end)
    parsed = parse_chunk(objects.get_range(uri, item.start, item.end), item.start, names)
    outcome = score_rows(job, item.chunk, parsed, served)
    bucket, model_name = artifacts_bucket, job.model_name
    output_part = layout.batch_output_part(bucket, model_name, job.job_id, item.chunk, job.output_format)
    errors_part = layout.batch_errors_part(bucket, model_name, job.job_id, item.chunk)
    objects.put_bytes(output_part, outcome.output, batch_output.CONTENT_TYPES[job.output_format])
    objects.put_bytes(errors_part, outcome.errors, "application/x-ndjson")
    capture_uri = None
    if outcome.capture_lines:  # staged with the job's files: the capture receives it only if the job succeeds
        capture = layout.batch_capture_staged(bucket, model_name, job.job_id, item.chunk)
        objects.put_bytes(
            capture, "".join(line + "\n" for line in outcome.capture_lines).encode(), "application/x-ndjson"
        )
        capture_uri = str(capture)
    marker = {
        "chunk": item.chunk,
        "start": item.start,
        "end": item.end,
        "rows": outcome.rows,
        "scored": outcome.scored,
        "invalid": outcome.invalid,
        "blank_lines": outcome.blank_lines,
        "output_uri": str(output_part),
        "errors_uri": str(errors_part),
        "capture_uri": capture_uri,
        "scored_day": datetime.now(UTC).date().isoformat(),  # this attempt's: a retry's marker replaces it
    }
    objects.put_json(layout.batch_chunk_marker(bucket, model_name, job.job_id, item.chunk), marker)
    return {"chunk": item.chunk, "rows": outcome.rows, "scored": outcome.scored, "invalid": outcome.invalid}


def _header_names(uri: S3Uri, header_end: int) -> tuple[list[str], int]:
    text = _decoded(objects.get_range(uri, 0, header_end), f"{uri}: the header").lstrip("\ufeff")
    return [name.strip() for name in next(csv.reader([text.rstrip("\r\n")]))], header_end


# ---- the end of a job -----------------------------------------------------------------------------------------------
def finish_job(job: PlannedJob, artifacts_bucket: str) -> dict[str, Any]:
    """Every chunk's marker, or BatchChunkIncomplete: the summary of a complete job (counts, URIs, first rows)."""
    committed = _committed_chunks(job, artifacts_bucket)
    missing = [chunk for chunk in range(job.chunks) if chunk not in committed]
    if missing:
        raise BatchChunkIncomplete(
            f"job {job.job_id}: chunk(s) {', '.join(map(str, missing[:20]))} have no marker; the output is incomplete"
        )
    markers = [
        objects.get_json(layout.batch_chunk_marker(artifacts_bucket, job.model_name, job.job_id, chunk))
        for chunk in range(job.chunks)
    ]
    first_rows, rows = [], 0
    for chunk, marker in enumerate(markers):
        first_rows.append(rows)
        rows += marker["rows"]
        if marker.get("capture_uri"):  # into the capture, keyed by chunk and the day it was scored: once
            day = marker.get("scored_day") or utc_now()[:10]
            destination = layout.batch_capture_object(artifacts_bucket, job.model_name, day, job.job_id, chunk)
            objects.copy(S3Uri.parse(marker["capture_uri"]), destination)
    summary = {
        **_summary_head(job),
        "status": SUCCEEDED,
        "complete": True,
        "rows": rows,
        "scored": sum(m["scored"] for m in markers),
        "invalid": sum(m["invalid"] for m in markers),
        "blank_lines": sum(m["blank_lines"] for m in markers),
        "output_uri": job.output_uri,
        "errors_uri": job.errors_uri,
        "chunk_first_rows": first_rows,
        "captured": job.capture,
        "finished_at": utc_now(),
    }
    objects.put_json(layout.batch_summary(artifacts_bucket, job.model_name, job.job_id), summary)
    return {key: summary[key] for key in ("status", "rows", "scored", "invalid", "output_uri", "errors_uri")}


def _committed_chunks(job: PlannedJob, artifacts_bucket: str) -> set[int]:
    """The chunks whose marker exists (one listing, not a HEAD per chunk)."""
    prefix = layout.batch_chunk_markers(artifacts_bucket, job.model_name, job.job_id)
    names = (key[len(prefix.key) :] for key in objects.list_keys(prefix))
    return {int(name.removesuffix(".json")) for name in names if name.removesuffix(".json").isdigit()}


def _summary_head(job: PlannedJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "model_name": job.model_name,
        "alias": job.alias,
        "version": job.version,
        "input_uri": job.input_uri,
        "chunks": job.chunks,
        "started_at": job.started_at,
    }


def record_failure(
    state: dict[str, Any], end_state: str, error: dict[str, Any] | None, artifacts_bucket: str
) -> dict[str, Any]:
    """The summary of a job that ends in ``end_state``: FAILED, no output URI, how many chunks did commit."""
    model_name, job_id = state["model_name"], state["job_id"]
    planned = state.get("job")
    committed = 0
    head: dict[str, Any] = {"job_id": job_id, "model_name": model_name, "input_uri": state["request"]["input_uri"]}
    if isinstance(planned, dict):
        job = PlannedJob.model_validate(planned)
        head = _summary_head(job)
        committed = len(_committed_chunks(job, artifacts_bucket))
    error = error or {}
    summary = {
        **head,
        "status": FAILED,
        "complete": False,
        "end_state": end_state,
        "error": str(error.get("Error") or "BatchJobFailed")[:256],
        "cause": str(error.get("Cause") or "")[:4096],
        "chunks_committed": committed,
        "output_uri": None,
        "errors_uri": None,
        "finished_at": utc_now(),
    }
    objects.put_json(layout.batch_summary(artifacts_bucket, model_name, job_id), summary)
    return {"status": FAILED, "end_state": end_state, "error": summary["error"], "chunks_committed": committed}
