"""A chunk's scored rows written from their columns, without a Python object per row: CSV (the default for CSV input,
as SageMaker Batch Transform writes) or JSON lines. Numbers are formatted a column at a time (orjson over a numpy
array, the shortest text that reads back as the same float), text cells are quoted or escaped only in a column that
needs it, and each line is joined from its column pieces in one pass (``str.join`` over ``zip``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

try:
    import orjson
except ImportError:  # pragma: no cover - the serving layer ships orjson; the standard library is the fallback
    orjson = None  # type: ignore[assignment]

OUTPUT_FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
_CSV_SPECIAL = re.compile(r'[",\r\n]')
_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f]')
OWN_COLUMNS = ("chunk", "chunk_row", "input_offset", "inference_id", "version", "prediction")


@dataclass
class ScoredColumns:
    """A chunk's scored rows, a sequence per column, in the chunk's order."""

    chunk: int
    version: int
    chunk_rows: Sequence[int]
    offsets: Sequence[int]
    inference_ids: Sequence[str]
    labels: Sequence[Any]  # class labels (str) or regression values (float)
    classes: list[str] | None
    probabilities: np.ndarray | None  # (rows, classes)
    carried: dict[str, Sequence[str]]

    def __len__(self) -> int:
        return len(self.inference_ids)


def write(scored: ScoredColumns, output_format: str) -> bytes:
    if output_format == "csv":
        return write_csv(scored)
    if output_format == "jsonl":
        return write_jsonl(scored)
    raise ValueError(f"unknown output format {output_format!r}; one of {', '.join(OUTPUT_FORMATS)}")


def _number_texts(values: Any) -> list[str]:
    """Each number's JSON text (NaN as null), formatted a column at a time; float32 as the float64 it widens to, as
    a Python float of it writes."""
    array = np.asarray(values)
    array = np.ascontiguousarray(array, dtype=np.float64 if array.dtype.kind == "f" else None)
    if array.size == 0:
        return []
    if orjson is not None:
        return orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].decode().split(",")
    listed = [None if value != value else value for value in array.tolist()]  # noqa: PLR0124 - NaN
    return json.dumps(listed)[1:-1].split(", ")


def _is_text(values: Sequence[Any]) -> bool:
    """Labels (text) rather than regression values: a runtime answers with one type for every row."""
    return bool(values) and isinstance(values[0], str)


def _csv_cells(values: Sequence[str]) -> Sequence[str]:
    """Cells as CSV text: quoted (quotes doubled) only where a cell holds a comma, a quote or a line break."""
    if not _CSV_SPECIAL.search("".join(values)):
        return values
    return ['"' + v.replace('"', '""') + '"' if _CSV_SPECIAL.search(v) else v for v in values]


def _csv_line(names: Iterable[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(list(names))
    return out.getvalue()


def csv_header(scored: ScoredColumns) -> list[str]:
    """The CSV output's columns: the row's position and answer, a ``probability_<class>`` per class, then the carried
    input columns under their own names (``input_<name>`` where a name is one of the output's own)."""
    own = [*OWN_COLUMNS]
    if scored.probabilities is not None:
        own.extend(f"probability_{label}" for label in scored.classes or [])
    return [*own, *(f"input_{name}" if name in own else name for name in scored.carried)]


def write_csv(scored: ScoredColumns) -> bytes:
    """A header line, then a line per scored row (NaN regression values as empty cells)."""
    header = _csv_line(csv_header(scored))
    if not len(scored):
        return header.encode()
    labels = scored.labels
    prediction = _csv_cells(labels) if _is_text(labels) else [v if v != "null" else "" for v in _number_texts(labels)]
    columns: list[Iterable[str]] = [
        repeat(str(scored.chunk)),
        _number_texts(scored.chunk_rows),
        _number_texts(scored.offsets),
        scored.inference_ids,
        repeat(str(scored.version)),
        prediction,
    ]
    if scored.probabilities is not None:
        columns.extend(_number_texts(column) for column in scored.probabilities.T)
    columns.extend(_csv_cells(values) for values in scored.carried.values())
    return (header + "\n".join(map(",".join, zip(*columns, strict=False))) + "\n").encode()


def _json_key(name: str) -> str:
    return orjson.dumps(name).decode() if orjson is not None else json.dumps(name)


def _json_strings(values: Sequence[str]) -> tuple[Sequence[str], bool]:
    """A text column's JSON pieces, and whether they still need their quotes (a column with nothing to escape is used
    as it is, the quotes in the line's template)."""
    if not _JSON_SPECIAL.search("".join(values)):
        return values, True
    return [_json_key(value) for value in values], False


def write_jsonl(scored: ScoredColumns) -> bytes:
    """A JSON object per scored row (``chunk``, ``chunk_row``, ``input_offset``, ``inference_id``, ``version``,
    ``prediction``, ``probabilities`` by class, ``columns``), written from a template of the line's fixed text."""
    if not len(scored):
        return b""
    pieces: list[Iterable[str]] = [
        repeat(f'{{"chunk":{scored.chunk},"chunk_row":'),
        _number_texts(scored.chunk_rows),
        repeat(',"input_offset":'),
        _number_texts(scored.offsets),
        repeat(',"inference_id":"'),
        scored.inference_ids,  # <job>:<offset>, nothing to escape
        repeat(f'","version":{scored.version},"prediction":'),
    ]
    if _is_text(scored.labels):
        labels, bare = _json_strings(scored.labels)
        pieces.extend([repeat('"'), labels, repeat('"')] if bare else [labels])
    else:
        pieces.append(_number_texts(scored.labels))
    if scored.probabilities is not None:
        for position, (label, column) in enumerate(zip(scored.classes or [], scored.probabilities.T, strict=True)):
            opening = ',"probabilities":{' if position == 0 else ","
            pieces.extend([repeat(f"{opening}{_json_key(str(label))}:"), _number_texts(column)])
        pieces.append(repeat("}"))
    pieces.append(repeat(',"columns":{'))
    for position, (name, values) in enumerate(scored.carried.items()):
        text, bare = _json_strings(values)
        key = ("," if position else "") + _json_key(name) + ":"
        pieces.extend([repeat(key + '"'), text, repeat('"')] if bare else [repeat(key), text])
    pieces.append(repeat("}}"))
    return ("\n".join(map("".join, zip(*pieces, strict=False))) + "\n").encode()
