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
  score   one chunk: validate rows (a bad row is set aside with its reason), predict, write the output part, the
          errors part and the capture object, then the chunk's marker, last
  finish  every chunk's marker present -> counts, URIs and each chunk's first row in ``summary.json``
  failed  a job that ends in a Fail state: ``summary.json`` says FAILED and names no output as complete
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, repeat
from typing import Any

import numpy as np

from mlops.data import columns as column_roles
from mlops.errors import BatchChunkIncomplete, InvalidBatchInput, ModelNotFound
from mlops.monitoring import capture_records
from mlops.records.batch import BatchJobStart, PlannedJob
from mlops.records.events import ScoreChunkEvent
from mlops.records.schema import Schema
from mlops.registry import documents
from mlops.registry.store import ModelRegistry
from mlops.serving.batch_jobs import FAILED, SUCCEEDED, utc_now
from mlops.serving.cache import LoadedVersion, ModelCache
from mlops.serving.http import dumps, jsonl
from mlops.serving.runtime import Predictions, typed_columns, validate_each_row
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri

MAX_CHUNKS = 10_000  # the plan is one JSON array read by the Map's ItemReader (a few hundred KB at most)
ALIGN_WINDOW_BYTES = 64 * 1024  # read past a cut to find the end of the line it falls in
MAX_LINE_BYTES = 8 * 1024 * 1024  # a longer line (or header) is refused rather than read forever
SCORE_BLOCK_ROWS = 1_000  # rows validated and predicted together (the endpoint's own batch limit)
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
        plan_bucket=plan.bucket,
        plan_key=plan.key,
        output_uri=str(layout.batch_output_prefix(artifacts_bucket, start.model_name, start.job_id)),
        errors_uri=str(layout.batch_errors_prefix(artifacts_bucket, start.model_name, start.job_id)),
        started_at=utc_now(),
        max_concurrency=max_concurrency,
    )


# ---- one chunk ----------------------------------------------------------------------------------------------------
@dataclass
class ChunkRows:
    """A chunk's well-formed rows, with where each row is; lines refused before validation (not UTF-8, a wrong number
    of fields) have their reason in ``errors``. A plain chunk (UTF-8, no quotes, no carriage returns, no blank
    lines, every line as wide as the header: the usual export) keeps its lines whole (``plain_lines``), for numpy's
    CSV parser to read column by column; any other keeps its rows' cells, column by column (``cells``)."""

    names: list[str]
    plain_lines: list[str] | None = None
    cells: list[list[str]] | None = None
    chunk_rows: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    blank_lines: int = 0
    rows: int = 0

    def block_cells(self, start: int, end: int) -> dict[str, list[str]]:
        """The cells of rows start..end, by column name."""
        if self.cells is not None:
            return {name: column[start:end] for name, column in zip(self.names, self.cells, strict=True)}
        split = [line.split(",") for line in (self.plain_lines or [])[start:end]]
        columns = zip(*split, strict=True) if split else ([] for _ in self.names)
        return {name: list(column) for name, column in zip(self.names, columns, strict=True)}


def parse_chunk(payload: bytes, first_offset: int, names: list[str]) -> ChunkRows:
    """Split a chunk into rows: a plain chunk at once, any other line by line, a bad line set aside with its
    reason."""
    parsed = ChunkRows(names)
    lines = payload.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the chunk's final newline ends the last line; it starts no blank one
    starts = list(accumulate((len(line) + 1 for line in lines), initial=first_offset))
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if lines and text is not None and '"' not in text and "\r" not in text:
        plain = text.split("\n")[: len(lines)]
        separators = len(names) - 1
        if all(line.count(",") == separators for line in plain) and all(line.strip() for line in plain):
            parsed.rows = len(plain)
            parsed.plain_lines = plain
            parsed.chunk_rows = list(range(len(plain)))
            parsed.offsets = starts[: len(plain)]
            return parsed
    rows: list[list[str]] = []
    width = len(names)
    for line, line_offset in zip(lines, starts, strict=False):
        if not line.strip():
            parsed.blank_lines += 1
            continue
        chunk_row = parsed.rows
        parsed.rows += 1
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            parsed.errors.append(_error_record(chunk_row, line_offset, f"the line is not UTF-8 text: {exc}", line))
            continue
        decoded = decoded.removesuffix("\r")
        cells = next(csv.reader([decoded]), []) if '"' in decoded else decoded.split(",")  # split: the fast case
        if len(cells) != width:
            reason = f"the line has {len(cells)} fields; the header has {width}"
            if decoded.count('"') % 2:
                reason += " (a quoted field spanning lines is not supported)"
            parsed.errors.append(_error_record(chunk_row, line_offset, reason, line))
            continue
        rows.append(cells)
        parsed.chunk_rows.append(chunk_row)
        parsed.offsets.append(line_offset)
    parsed.cells = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in names]
    return parsed


def _number_or_text(text: str) -> Any:
    """A number column's cell as the JSON value a predict request would carry: a float, null for a missing token
    (``nan`` included), or the text itself when it is no number, so the endpoint's validation refuses it in its own
    words. float() first: most cells are numbers, and the missing tokens are not."""
    try:
        value = float(text)
    except ValueError:
        return None if column_roles.is_missing(text) else text
    return None if value != value else value  # NaN: a missing token  # noqa: PLR0124


def _text_or_null(text: str) -> str | None:
    return None if column_roles.is_missing(text) else text


def request_values(cells: dict[str, list[str]], schema: Schema) -> dict[str, list[Any]]:
    """Input columns' cells as the values a predict request would carry (floats, null for a missing token, text
    left as text so the validation words the error)."""
    numeric = _plain_numeric(schema)
    return {
        name: list(map(_number_or_text if name in numeric else _text_or_null, cells[name]))
        for name in schema.input_columns
    }


@dataclass
class Block:
    """Rows start..end of a chunk, typed column by column: ``typed`` holds the input columns (numbers as float64
    arrays whose NaN is a missing cell, or request values where a cell is not a number; texts as strings or None),
    ``carried`` the other columns' cells."""

    start: int
    end: int
    typed: dict[str, Any]
    carried: dict[str, list[str]]


def _plain_block(parsed: ChunkRows, schema: Schema, start: int, end: int) -> Block | None:
    """numpy's C CSV parser reads the numeric input columns of plain lines at once; None when a cell is no number it
    reads (a missing token, text, or a spelling only Python's float() accepts): the cell path then decides."""
    plain_numeric = _plain_numeric(schema)
    numeric = [name for name in schema.input_columns if name in plain_numeric]
    texts = [name for name in parsed.names if name not in numeric]
    position = {name: index for index, name in enumerate(parsed.names)}
    lines = (parsed.plain_lines or [])[start:end]
    read = {"delimiter": ",", "comments": None, "ndmin": 2}
    if not numeric:
        return None  # nothing for the C parser to win
    try:
        numbers = (
            np.loadtxt(lines, usecols=[position[n] for n in numeric], dtype=np.float64, **read) if numeric else None
        )
    except ValueError:
        return None
    cells = np.loadtxt(lines, usecols=[position[n] for n in texts], dtype=object, **read).T.tolist() if texts else []
    by_name = dict(zip(texts, cells, strict=True))
    typed: dict[str, Any] = {}
    typed.update(zip(numeric, np.ascontiguousarray(numbers.T), strict=True))
    for name in schema.input_columns:
        if name not in typed:
            typed[name] = list(map(_text_or_null, by_name[name]))
    carried = {name: by_name[name] for name in parsed.names if name not in typed}
    return Block(start, end, typed, carried)


def _plain_numeric(schema: Schema) -> set[str]:
    """The numeric input columns the model reads as they are (not parts of a date)."""
    return {f.name for f in schema.features if f.kind == "numeric" and f.source is None}


def _typed_block(parsed: ChunkRows, schema: Schema, start: int, end: int) -> Block:
    """The block typed column by column: a numeric column whose every cell numpy reads as a number becomes a float64
    array at once; any other column goes cell by cell, as the request values."""
    if parsed.plain_lines is not None:
        block = _plain_block(parsed, schema, start, end)
        if block is not None:
            return block
    cells = parsed.block_cells(start, end)
    numeric = _plain_numeric(schema)
    typed: dict[str, Any] = {}
    for name in schema.input_columns:
        if name in numeric:
            try:
                typed[name] = np.array(cells[name], dtype=np.float64)
                continue
            except ValueError:  # a missing token or a text cell: the cell-by-cell reading decides
                pass
            values = list(map(_number_or_text, cells[name]))
            if set(map(type, values)) <= {float, type(None)}:
                typed[name] = np.array(values, dtype=np.float64)  # null becomes NaN: missing
            else:
                typed[name] = values  # text among the numbers: the validation refuses it
        else:
            typed[name] = list(map(_text_or_null, cells[name]))
    return Block(start, end, typed, {name: cells[name] for name in parsed.names if name not in typed})


def _error_record(chunk_row: int, offset: int, reason: str, line: bytes) -> dict[str, Any]:
    return {
        "chunk_row": chunk_row,
        "input_offset": offset,
        "reason": reason,
        "line": line[:1024].decode("utf-8", errors="replace"),
    }


@dataclass
class ChunkOutcome:
    chunk: int
    rows: int
    scored: int
    invalid: int
    blank_lines: int
    output: bytes  # JSON lines
    errors: bytes
    capture_lines: list[str]


def score_rows(job: PlannedJob, chunk: int, parsed: ChunkRows, served: LoadedVersion) -> ChunkOutcome:
    """Validate and predict a chunk's rows block by block. A block is typed and validated column by column; a block
    the column-wise pass refuses is validated row by row, and each bad row goes to the errors with its reason."""
    schema = served.schema
    output: list[dict[str, Any]] = []
    errors = [{"chunk": chunk, **record} for record in parsed.errors]
    captured: list[str] = []
    scored = 0
    for start in range(0, len(parsed.offsets), SCORE_BLOCK_ROWS):
        block = _typed_block(parsed, schema, start, min(start + SCORE_BLOCK_ROWS, len(parsed.offsets)))
        columns = typed_columns(block.typed, schema)
        valid = list(range(block.end - start))
        if columns is None:
            columns, valid, bad = _validate_rows_of(parsed, block, schema, chunk)
            errors.extend(bad)
            if columns is None:
                continue
        predicted = served.model.predict(columns)
        ids = [f"{job.job_id}:{parsed.offsets[start + position]}" for position in valid]
        output.extend(_output_rows(chunk, served.version, parsed, block, valid=valid, ids=ids, predicted=predicted))
        scored += len(valid)
        if job.capture:
            captured.extend(_capture(job, served.version, block.typed, valid=valid, ids=ids, predicted=predicted))
    return ChunkOutcome(
        chunk, parsed.rows, scored, parsed.rows - scored, parsed.blank_lines, jsonl(output), jsonl(errors), captured
    )


def _output_rows(
    chunk: int,
    version: int,
    parsed: ChunkRows,
    block: Block,
    *,
    valid: list[int],
    ids: list[str],
    predicted: Predictions,
) -> list[dict[str, Any]]:
    """The output line of each scored row: where it is, the endpoint's answer, and the columns carried through."""
    rows = [block.start + position for position in valid]
    names = list(block.carried)
    carried = zip(*block.carried.values(), strict=True) if names else repeat(())
    if len(valid) != block.end - block.start:
        kept = set(valid)
        carried = (values for position, values in enumerate(carried) if position in kept)
    classes = predicted.classes or []
    probabilities = predicted.probabilities if predicted.probabilities is not None else repeat(None)
    output = []
    for row, inference_id, label, row_probabilities, values in zip(
        rows, ids, predicted.labels, probabilities, carried, strict=False
    ):
        line = {
            "chunk": chunk,
            "chunk_row": parsed.chunk_rows[row],
            "input_offset": parsed.offsets[row],
            "inference_id": inference_id,
            "version": version,
            "prediction": label,
        }
        if row_probabilities is not None:
            line["probabilities"] = dict(zip(classes, row_probabilities, strict=True))
        line["columns"] = dict(zip(names, values, strict=True))
        output.append(line)
    return output


def _validate_rows_of(
    parsed: ChunkRows, block: Block, schema: Schema, chunk: int
) -> tuple[list[np.ndarray] | None, list[int], list[dict[str, Any]]]:
    """A block with a bad row: the endpoint's row-by-row validation, each bad row's reason worded as its 422."""
    cells = parsed.block_cells(block.start, block.end)
    values = request_values(cells, schema)
    names = list(values)
    instances = [dict(zip(names, row, strict=True)) for row in zip(*values.values(), strict=True)]
    columns, valid, reasons = validate_each_row(instances, schema, first_row=block.start)
    refused = sorted(set(range(len(instances))) - set(valid))
    errors = []
    for position, reason in zip(refused, reasons, strict=True):
        row = block.start + position
        chunk_row = parsed.chunk_rows[row]
        errors.append(
            {
                "chunk": chunk,
                "chunk_row": chunk_row,
                "input_offset": parsed.offsets[row],
                "reason": reason.replace(f"row {row}:", f"row {chunk_row} of chunk {chunk}:", 1),
                "columns": {**{name: block.carried[name][position] for name in block.carried}, **instances[position]},
            }
        )
    return columns, valid, errors


def _capture(
    job: PlannedJob, version: int, typed: dict[str, Any], *, valid: list[int], ids: list[str], predicted: Predictions
) -> list[str]:
    """The block's scored rows as column capture lines: each input column as a request carries it (NaN as null)."""
    features: dict[str, list[Any]] = {}
    for name, values in typed.items():
        if isinstance(values, np.ndarray):
            kept = values[valid] if len(valid) != len(values) else values
            listed = kept.tolist()
            if np.isnan(kept).any():  # a missing cell is a null, as a request carries it
                listed = [None if value != value else value for value in listed]  # noqa: PLR0124
            features[name] = listed
        else:
            features[name] = [values[p] for p in valid] if len(valid) != len(values) else values
    answer = capture_records.CapturedAnswer(
        job.model_name,
        version,
        job.alias,
        time.time(),
        inference_ids=ids,
        predictions=predicted.labels,
        probabilities=predicted.by_class(),
    )
    return [dumps(document, allow_nan=False) for document in capture_records.column_documents(answer, features)]


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
    output_part = layout.batch_output_part(bucket, model_name, job.job_id, item.chunk)
    errors_part = layout.batch_errors_part(bucket, model_name, job.job_id, item.chunk)
    objects.put_bytes(output_part, outcome.output, "application/x-ndjson")
    objects.put_bytes(errors_part, outcome.errors, "application/x-ndjson")
    capture_uri = None
    if outcome.capture_lines:
        day = datetime.now(UTC).date().isoformat()
        capture = layout.batch_capture_object(bucket, model_name, day, job.job_id, item.chunk)
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
    for marker in markers:
        first_rows.append(rows)
        rows += marker["rows"]
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
