"""`python -m local drift`: the drift check's statistics (mlops.monitoring) on two CSV files.

The reference file plays the training data: its baseline is computed with the pipeline's own functions
(mlops.data.baseline). The current file is read in chunks, so its size does not bound memory. Column kinds come from the
reference (a column whose every present value is a number is numeric), as the pipeline infers them. Cells reach the
window through the same feeder as the scheduled check's capture (``mlops.monitoring.window.WindowFeeder``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlops.monitoring.config import DriftConfig
from mlops.monitoring.decision import evaluate
from mlops.monitoring.reference import Reference, baseline_of_columns
from mlops.monitoring.window import Window, WindowFeeder, categorical_values, numeric_values

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


def read_reference(path: Path) -> dict[str, np.ndarray | list[str | None]]:
    """The reference columns: a first pass decides each column's kind, a second converts it."""
    header, chunks = _chunks(path, CHUNK_ROWS)
    numeric = dict.fromkeys(header, True)
    rows = 0
    for chunk in chunks:
        rows += len(chunk)
        for index, name in enumerate(header):
            if numeric[name] and numeric_values([row[index] for row in chunk])[1]:
                numeric[name] = False
    if rows == 0:
        raise CsvProblem(f"{path} has a header but no rows")
    header, chunks = _chunks(path, CHUNK_ROWS)
    parts: dict[str, list[Any]] = {name: [] for name in header}
    for chunk in chunks:
        for index, name in enumerate(header):
            values = [row[index] for row in chunk]
            parts[name].append(numeric_values(values)[0] if numeric[name] else categorical_values(values)[0])
    return {
        name: np.concatenate(pieces) if numeric[name] else [v for piece in pieces for v in piece]
        for name, pieces in parts.items()
    }


def add_current(window: Window, path: Path, chunk_rows: int) -> None:
    """Feed the current file to the window, one chunk at a time."""
    header, chunks = _chunks(path, chunk_rows)
    feeder = WindowFeeder(window)
    for chunk in chunks:
        feeder.add_columns({name: [row[index] for row in chunk] for index, name in enumerate(header)}, len(chunk))


def compare_files(reference: Path, current: Path, config: DriftConfig, seed: int = 42) -> dict[str, Any]:
    baseline = baseline_of_columns(read_reference(reference), seed)
    window = Window(Reference.from_baseline(baseline))
    add_current(window, current, config.chunk_rows)
    result = evaluate(window.reference, window, config)
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
