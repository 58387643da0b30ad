"""`python -m local drift`: the drift check's statistics (mlops.monitoring.drift) on two CSV files.

The reference file plays the training data: its baseline is computed with the pipeline's own functions
(mlops.data.baseline). The current file is read in chunks, so its size does not bound memory. Column kinds come from the
reference (a column whose every present value is a number is numeric), as the pipeline infers them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlops.data.dataset import is_missing
from mlops.monitoring import drift

CHUNK_ROWS = 50_000


class CsvProblem(ValueError):
    """The file is not a CSV this command can read (reported as a usage error, no traceback)."""


def _rows(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for record in csv.reader(handle, strict=True):
                if record and any(cell.strip() for cell in record):
                    yield record
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CsvProblem(f"{path} is not a UTF-8 CSV file: {exc}") from None


def _chunks(path: Path, chunk_rows: int) -> tuple[list[str], Iterator[list[list[str]]]]:
    rows = _rows(path)
    header = next(rows, None)
    if header is None:
        raise CsvProblem(f"{path} is empty")
    header = [name.strip() for name in header]
    if len(set(header)) != len(header) or any(not name for name in header):
        raise CsvProblem(f"{path} has empty or duplicate column names")

    def chunks() -> Iterator[list[list[str]]]:
        chunk: list[list[str]] = []
        for number, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise CsvProblem(f"{path}: record {number} has {len(row)} fields; the header has {len(header)}")
            chunk.append(row)
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    return header, chunks()


def _numbers(values: list[str]) -> tuple[np.ndarray, int]:
    """Cells as floats (missing tokens and non-finite numbers are NaN) and how many were text, not numbers."""
    try:
        numbers = np.array(values, dtype=float)  # C-speed path when every cell is a number
    except ValueError:
        numbers = np.full(len(values), np.nan)
        text = 0
        for i, value in enumerate(values):
            if is_missing(value):
                continue
            try:
                numbers[i] = float(value)
            except ValueError:
                text += 1
        numbers[~np.isfinite(numbers)] = np.nan
        return numbers, text
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers, 0


def _labels(values: list[str]) -> list[str | None]:
    return [None if is_missing(v) else v.strip() for v in values]


def read_reference(path: Path) -> dict[str, np.ndarray | list[str | None]]:
    """The reference columns: a first pass decides each column's kind, a second converts it."""
    header, chunks = _chunks(path, CHUNK_ROWS)
    numeric = dict.fromkeys(header, True)
    rows = 0
    for chunk in chunks:
        rows += len(chunk)
        for index, name in enumerate(header):
            if numeric[name] and _numbers([row[index] for row in chunk])[1]:
                numeric[name] = False
    if rows == 0:
        raise CsvProblem(f"{path} has a header but no rows")
    header, chunks = _chunks(path, CHUNK_ROWS)
    parts: dict[str, list[Any]] = {name: [] for name in header}
    for chunk in chunks:
        for index, name in enumerate(header):
            values = [row[index] for row in chunk]
            parts[name].append(_numbers(values)[0] if numeric[name] else _labels(values))
    return {
        name: np.concatenate(pieces) if numeric[name] else [v for piece in pieces for v in piece]
        for name, pieces in parts.items()
    }


def add_current(window: drift.Window, path: Path, chunk_rows: int) -> None:
    """Feed the current file to the window, one chunk at a time."""
    header, chunks = _chunks(path, chunk_rows)
    known = window.reference.features
    positions = {name: header.index(name) for name in known if name in header}
    extra = [name for name in header if name not in known]
    for chunk in chunks:
        window.add_rows(len(chunk), dict.fromkeys(extra, len(chunk)))
        for name, feature in known.items():
            if name not in positions:
                if feature.kind == "numeric":
                    window.add_numeric(name, np.full(len(chunk), math.nan), absent=len(chunk))
                else:
                    window.add_categorical(name, [None] * len(chunk), absent=len(chunk))
                continue
            values = [row[positions[name]] for row in chunk]
            if feature.kind == "numeric":
                numbers, text = _numbers(values)
                window.add_numeric(name, numbers, mismatched=text)
            else:
                window.add_categorical(name, _labels(values))


def compare_files(reference: Path, current: Path, config: drift.DriftConfig, seed: int = 42) -> dict[str, Any]:
    baseline = drift.baseline_of_columns(read_reference(reference), seed)
    window = drift.Window(drift.Reference.from_baseline(baseline))
    add_current(window, current, config.chunk_rows)
    result = drift.evaluate(window.reference, window, config)
    return {**result, "reference_label": str(reference), "current_label": str(current)}


def print_summary(result: dict[str, Any], out: Any) -> None:
    verdict = {"ok": "NO DRIFT", "drift": "DRIFT", "insufficient_data": "INSUFFICIENT DATA"}[result["status"]]
    print(f"{verdict}: {result['reason']}", file=out)
    rows = sorted(result["features"].items(), key=lambda item: (not item[1]["drifted"], -item[1]["score"]))
    width = max([len(name) for name, _ in rows] + [7])
    print(f"  {'feature':<{width}}  drifted  {'PSI':>7}  floor  test   statistic  adj. p", file=out)
    for name, feature in rows:
        print(
            f"  {name:<{width}}  {'yes' if feature['drifted'] else 'no':<7}  {feature['score']:7.3f}  "
            f"{feature['threshold']:<5}  {feature['test']:<5}  {feature['statistic']:9.3f}  "
            f"{feature['p_value_adjusted']:.2g}",
            file=out,
        )
    for violation in result["data_quality"]["violations"]:
        print(f"  data quality: {violation['detail']}", file=out)
