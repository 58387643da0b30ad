"""One chunk of a batch job, from its bytes to its output lines: split into rows (a bad line set aside with its
reason), typed column by column (numpy's C CSV parser on plain lines, the data room's cell typer otherwise),
validated and predicted block by block with the endpoint's own validation and model, and written out as output,
error and capture lines. No S3 here: ``mlops.serving.batch`` reads the chunk's bytes and writes what this returns.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from itertools import accumulate
from operator import methodcaller
from typing import Any

import numpy as np

from mlops.data import columns as column_roles
from mlops.data import reader
from mlops.monitoring import capture_records
from mlops.records.batch import PlannedJob
from mlops.records.schema import Schema
from mlops.serving import batch_output
from mlops.serving.cache import LoadedVersion
from mlops.serving.http import dumps, jsonl
from mlops.serving.runtime import Predictions
from mlops.serving.validation import plain_numeric, typed_columns, validate_each_row

try:
    import orjson
except ImportError:  # pragma: no cover - the serving layer ships orjson
    orjson = None  # type: ignore[assignment]

SCORE_BLOCK_ROWS = 1_000  # rows validated and predicted together (the endpoint's own batch limit)


_NOT_NUMBER_MARKS = (
    "t",
    "f",
    "n",
    "[",
    "{",
)  # no JSON value but a number lacks all five; quotes are not in plain lines


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
        # every line as wide as the header (with a comma in it, no line is blank)
        if set(map(methodcaller("count", ","), plain)) == {separators} and (separators or all(map(str.strip, plain))):
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
    """A number column's cell as the JSON value a predict request would carry: a float (the data room's cell rule,
    ``reader.number_cell``), null for a missing token (``nan`` included), or the text itself when it is no number, so
    the endpoint's validation refuses it in its own words."""
    try:
        value = reader.number_cell(text)
    except ValueError:
        return text
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


def _json_numbers(columns: list[list[str]]) -> np.ndarray | None:
    """Columns of cells, every one a JSON number (digits, sign, point, exponent, spaces around), as a float64 matrix
    (a row per column), read by orjson's parser a column at a time; None for any other cell (numpy's parser or the
    cell path then reads the block) or without orjson. A JSON number reads as the same float as numpy reads it."""
    if orjson is None:
        return None
    try:
        parsed = []
        for cells in columns:
            text = ",".join(cells)
            if any(token in text for token in _NOT_NUMBER_MARKS):  # true/false/null, a list or an object
                return None
            parsed.append(orjson.loads("[" + text + "]"))
        return np.array(parsed, dtype=np.float64)
    except (ValueError, OverflowError):  # orjson's JSONDecodeError is a ValueError: "1.", "+1", "01", an empty cell
        return None


def _plain_block(parsed: ChunkRows, schema: Schema, start: int, end: int) -> Block | None:
    """Plain lines split into cells at once (no quotes: every comma ends a cell), the numeric input columns read whole
    (orjson's number parser, else numpy's C CSV parser); None when a cell is no number numpy reads (a missing token,
    text, or a spelling only Python's float() accepts): the cell path then decides."""
    plain_numeric = _plain_numeric(schema)
    numeric = [name for name in schema.input_columns if name in plain_numeric]
    if not numeric:
        return None  # nothing for a number parser to win
    texts = [name for name in parsed.names if name not in numeric]
    position = {name: index for index, name in enumerate(parsed.names)}
    lines = (parsed.plain_lines or [])[start:end]
    width = len(parsed.names)
    cells = ",".join(lines).split(",")  # a plain block's lines are each exactly `width` cells
    numbers = _json_numbers([cells[position[name] :: width] for name in numeric])
    if numbers is None:
        try:
            numbers = np.loadtxt(
                lines, usecols=[position[n] for n in numeric], delimiter=",", comments=None, ndmin=2, dtype=np.float64
            ).T
        except ValueError:
            return None
    by_name = {name: cells[position[name] :: width] for name in texts}
    typed: dict[str, Any] = dict(zip(numeric, np.ascontiguousarray(numbers), strict=True))
    for name in schema.input_columns:
        if name not in typed:
            typed[name] = list(map(_text_or_null, by_name[name]))
    carried = {name: by_name[name] for name in parsed.names if name not in typed}
    return Block(start, end, typed, carried)


def _plain_numeric(schema: Schema) -> set[str]:
    """The numeric input columns the model reads as they are (not parts of a date, not numbers written with signs or
    yes/no words: those stay text for the validation to read as training did)."""
    return {schema.features[i].name for i in plain_numeric(schema)}


def _typed_block(parsed: ChunkRows, schema: Schema, start: int, end: int) -> Block:
    """The block typed column by column: a numeric column whose every cell is a number or a missing token becomes a
    float64 array (NaN for missing); any other column goes cell by cell, as the request values."""
    if parsed.plain_lines is not None:
        block = _plain_block(parsed, schema, start, end)
        if block is not None:
            return block
    cells = parsed.block_cells(start, end)
    numeric = _plain_numeric(schema)
    typed: dict[str, Any] = {}
    for name in schema.input_columns:
        if name in numeric:
            numbers = reader.number_cells(cells[name])  # the training reader's typer: NaN for a missing token
            # text among the numbers: the request values, for the validation to refuse in its own words
            typed[name] = numbers if numbers is not None else list(map(_number_or_text, cells[name]))
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
    output: bytes  # CSV or JSON lines (the job's output_format)
    errors: bytes  # JSON lines
    capture_lines: list[str]


def score_rows(job: PlannedJob, chunk: int, parsed: ChunkRows, served: LoadedVersion) -> ChunkOutcome:
    """Validate and predict a chunk's rows block by block. A block is typed and validated column by column; a block
    the column-wise pass refuses is validated row by row, and each bad row goes to the errors with its reason. The
    scored rows' positions, answers and carried columns are gathered column by column and written out at the end."""
    schema = served.schema
    errors = [{"chunk": chunk, **record} for record in parsed.errors]
    captured: list[str] = []
    kept: list[int] = []  # the scored rows' indices into the chunk's well-formed rows
    ids: list[str] = []
    kept_offsets: list[int] = []
    classes: list[str] | None = None
    labels: list[Any] = []
    probabilities: list[np.ndarray] = []
    carried: dict[str, list[str]] = {name: [] for name in parsed.names if name not in set(schema.input_columns)}
    id_prefix = f"{job.job_id}:"
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
        whole = len(valid) == block.end - start
        rows = range(start, block.end) if whole else [start + position for position in valid]
        offsets = parsed.offsets[start : block.end] if whole else [parsed.offsets[row] for row in rows]
        block_ids = list(map(id_prefix.__add__, map(str, offsets)))
        kept.extend(rows)
        ids.extend(block_ids)
        kept_offsets.extend(offsets)
        classes = predicted.classes
        labels.extend(predicted.labels)
        if predicted.probabilities is not None:
            matrix = predicted.probability_matrix
            probabilities.append(matrix if matrix is not None else np.asarray(predicted.probabilities, dtype=float))
        for name, values in carried.items():
            cells = block.carried[name]
            values.extend(cells if whole else [cells[position] for position in valid])
        if job.capture:
            captured.extend(_capture(job, served.version, block.typed, valid=valid, ids=block_ids, predicted=predicted))
    scored = batch_output.ScoredColumns(
        chunk,
        served.version,
        chunk_rows=[parsed.chunk_rows[row] for row in kept] if parsed.errors else kept,
        offsets=kept_offsets,
        inference_ids=ids,
        labels=labels,
        classes=classes,
        probabilities=np.vstack(probabilities) if probabilities else None,
        carried=carried,
    )
    output = batch_output.write(scored, job.output_format)
    return ChunkOutcome(
        chunk, parsed.rows, len(kept), parsed.rows - len(kept), parsed.blank_lines, output, jsonl(errors), captured
    )


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
    features: dict[str, Any] = {}
    for name, values in typed.items():
        if isinstance(values, np.ndarray):  # written by orjson from the array: NaN, a missing cell, as null
            features[name] = np.ascontiguousarray(values[valid] if len(valid) != len(values) else values)
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
    documents = capture_records.column_documents(answer, features)
    if orjson is not None:
        try:
            return [orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY).decode() for document in documents]
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits in an ignored column: the plain lists below
            pass
    listed = {name: _listed(values) for name, values in features.items()}
    return [dumps(document, allow_nan=False) for document in capture_records.column_documents(answer, listed)]


def _listed(values: Any) -> list[Any]:
    if not isinstance(values, np.ndarray):
        return values
    listed = values.tolist()
    return [None if value != value else value for value in listed] if np.isnan(values).any() else listed  # noqa: PLR0124
