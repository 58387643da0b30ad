"""The current window, reduced chunk by chunk to fixed-size counts, and the one way values reach it.

``Window`` keeps, per feature, counts whose size depends on the reference only (PSI bins, the reference sample's
grid, category counts), so memory does not grow with the window; the two-sample KS statistic is exact all the same,
because both empirical distribution functions are step functions and the current one only needs counting between
the reference sample's points.

``WindowFeeder`` is the only path from raw values to a window, for every source: the scheduled check's capture
records (``add_records``), the CLI's CSV cells and in-memory columns (``add_columns``). It coerces each column by
the kind of its reference feature, as the dataset reads training data (``mlops.data.dataset``):

* numeric: numbers are numbers (booleans are not); ``None``, NaN, infinities and the dataset's missing tokens
  (``""``, ``"NA"``, ...) are missing; text that parses as a number is that number (CSV cells are all text);
  anything else is *mismatched* and counted as missing;
* categorical: text is stripped, and the missing tokens and ``None`` are missing; any other value is *mismatched*
  and counted by its text (``str(value)``), except in a typed numpy array (not dtype object), whose dtype
  declares the column;

and it counts a known feature a row does not have as *absent* (and missing), and a column the reference does not
know as *extra*.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops.data.dataset import MISSING_CATEGORY, is_missing
from mlops.monitoring.reference import CategoricalReference, FeatureReference, NumericReference, Reference

MAX_TRACKED_CATEGORIES = 1000  # distinct unseen category names remembered per feature (the count is always exact)


@dataclass
class NumericCounts:
    psi_counts: np.ndarray
    below_grid: np.ndarray  # rows with a value < grid[j] is its cumsum up to j (decision.ks_statistic)
    at_grid: np.ndarray  # rows equal to grid[j]
    present: int = 0
    missing: int = 0
    absent: int = 0
    mismatched: int = 0
    total: float = 0.0
    total_squares: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf


@dataclass
class CategoricalCounts:
    counts: np.ndarray
    present: int = 0
    missing: int = 0
    absent: int = 0
    mismatched: int = 0
    unseen: Counter[str] = field(default_factory=Counter)


class Window:
    """The current window reduced to counts, chunk by chunk: memory is O(features × reference size)."""

    def __init__(self, reference: Reference) -> None:
        self.reference = reference
        self.rows = 0
        self.extra_columns: Counter[str] = Counter()
        self.counts: dict[str, NumericCounts | CategoricalCounts] = {}
        for name, feature in reference.features.items():
            if isinstance(feature, NumericReference):
                self.counts[name] = NumericCounts(
                    psi_counts=np.zeros(feature.edges.size + 1, dtype=np.int64),
                    below_grid=np.zeros(feature.grid.size + 1, dtype=np.int64),
                    at_grid=np.zeros(feature.grid.size, dtype=np.int64),
                )
            else:
                self.counts[name] = CategoricalCounts(counts=np.zeros(len(feature.categories), dtype=np.int64))

    def add_rows(self, rows: int, extra_columns: Mapping[str, int] | None = None) -> None:
        self.rows += int(rows)
        if extra_columns:
            self.extra_columns.update(extra_columns)

    def add_numeric(self, name: str, values: np.ndarray, *, mismatched: int = 0, absent: int = 0) -> None:
        """Values of one numeric feature (float, NaN = missing); ``mismatched`` of them were not numbers and
        ``absent`` rows did not have the feature at all (both already counted as NaN)."""
        feature = self.reference.features[name]
        counts = self.counts[name]
        assert isinstance(feature, NumericReference) and isinstance(counts, NumericCounts)
        values = np.asarray(values, dtype=float)
        finite = np.isfinite(values)
        present = values if finite.all() else values[finite]  # NaN (and anything non-finite) is missing
        counts.missing += int(values.size - present.size)
        counts.mismatched += int(mismatched)
        counts.absent += int(absent)
        if present.size == 0:
            return
        counts.present += int(present.size)
        counts.total += float(present.sum())
        counts.total_squares += float(np.einsum("i,i->", present, present))  # not BLAS: no thread wake-ups
        counts.minimum = min(counts.minimum, float(present.min()))
        counts.maximum = max(counts.maximum, float(present.max()))
        # PSI bins [edge[i-1], edge[i]): cumulative counts by SIMD comparisons (9 edges), then differences
        below_edges = [np.count_nonzero(present < edge) for edge in feature.edges]
        counts.psi_counts += np.diff(np.array([0, *below_edges, present.size], dtype=np.int64))
        grid = feature.grid
        if grid.size:
            if feature.lookup is not None:
                position, searched = feature.lookup.positions(grid, present)
            else:
                position = np.searchsorted(grid, present, side="right")
                searched = np.arange(present.size)
            counts.below_grid += np.bincount(position, minlength=counts.below_grid.size)  # position = #grid <= v
            # only values placed by binary search can sit exactly on a grid point
            searched_positions, searched_values = position[searched], present[searched]
            tied = searched_positions > 0
            tied[tied] = grid[searched_positions[tied] - 1] == searched_values[tied]
            if tied.any():
                counts.at_grid += np.bincount(searched_positions[tied] - 1, minlength=counts.at_grid.size)

    def add_categorical(self, name: str, values: Sequence[str | None], *, mismatched: int = 0, absent: int = 0) -> None:
        """Values of one categorical feature (None = missing)."""
        feature = self.reference.features[name]
        counts = self.counts[name]
        assert isinstance(feature, CategoricalReference) and isinstance(counts, CategoricalCounts)
        index, fallback, missing_code = feature.index, feature.fallback, -1
        codes = np.fromiter(
            (missing_code if v is None or v == MISSING_CATEGORY else index.get(v, fallback) for v in values),
            dtype=np.int64,
            count=len(values),
        )
        present = codes[codes >= 0]
        counts.missing += int(codes.size - present.size)
        counts.present += int(present.size)
        counts.mismatched += int(mismatched)
        counts.absent += int(absent)
        counts.counts += np.bincount(present, minlength=counts.counts.size)
        if feature.knows_every_category and (present == fallback).any():
            unseen = (v for v in values if v is not None and v != MISSING_CATEGORY and v not in index)
            for value in unseen:
                if value in counts.unseen or len(counts.unseen) < MAX_TRACKED_CATEGORIES:
                    counts.unseen[value] += 1


# ---- the one feeder ---------------------------------------------------------------------------------------------
def numeric_values(values: np.ndarray | Sequence[Any]) -> tuple[np.ndarray, int]:
    """Values of a numeric feature as floats (NaN = missing) and how many of them were not numbers."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(float, copy=False), 0
    try:
        numbers = np.array(values, dtype=float)  # C speed when every value is a number, None or numeric text
        if any(isinstance(value, bool) for value in values):
            raise ValueError("booleans are not numbers")
    except (TypeError, ValueError):
        numbers = np.full(len(values), np.nan)
        mismatched = 0
        for i, value in enumerate(values):
            number = _number(value)
            if number is None:
                mismatched += 1
            else:
                numbers[i] = number
        return numbers, mismatched
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers, 0


def _number(value: Any) -> float | None:
    """A value as a float (NaN when missing), or None when it is not a number."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.number):
        number = float(value)
    elif isinstance(value, str):
        if is_missing(value):
            return math.nan
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else math.nan


def categorical_values(values: np.ndarray | Sequence[Any]) -> tuple[list[str | None], int]:
    """Values of a categorical feature as labels (None = missing) and how many of them were not text."""
    typed = isinstance(values, np.ndarray) and values.dtype.kind != "O"
    labels: list[str | None] = []
    mismatched = 0
    for value in values:
        if value is None:
            labels.append(None)
        elif isinstance(value, str):
            labels.append(None if is_missing(value) else value.strip())
        else:
            mismatched += not typed
            labels.append(str(value))
    return labels, mismatched


class WindowFeeder:
    """Feeds chunks of raw values to a window (see the module's docstring for the rules)."""

    def __init__(self, window: Window) -> None:
        self.window = window

    def add_columns(self, columns: Mapping[str, np.ndarray | Sequence[Any]], rows: int) -> None:
        """One chunk of ``rows`` rows given column by column; a known feature not among ``columns`` is absent from
        every row, a column the reference does not know is extra in every row."""
        lengths = {name: len(values) for name, values in columns.items() if len(values) != rows}
        if lengths:
            raise ValueError(f"columns of a different length than the chunk's {rows} rows: {lengths}")
        known = self.window.reference.features
        self.window.add_rows(rows, {name: rows for name in columns if name not in known})
        for name, feature in known.items():
            if name in columns:
                self._add_column(feature, columns[name], absent=0)
            else:
                self._add_column(feature, [None] * rows, absent=rows)

    def add_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        """One chunk given row by row (a mapping of feature name to value per row)."""
        known = self.window.reference.features
        extra: Counter[str] = Counter()
        for record in records:
            extra.update(name for name in record if name not in known)
        self.window.add_rows(len(records), extra)
        for name, feature in known.items():
            values = [record.get(name) for record in records]
            absent = sum(1 for record in records if name not in record)
            self._add_column(feature, values, absent=absent)

    def _add_column(self, feature: FeatureReference, values: np.ndarray | Sequence[Any], *, absent: int) -> None:
        if isinstance(feature, NumericReference):
            numbers, mismatched = numeric_values(values)
            self.window.add_numeric(feature.name, numbers, mismatched=mismatched, absent=absent)
        else:
            labels, mismatched = categorical_values(values)
            self.window.add_categorical(feature.name, labels, mismatched=mismatched, absent=absent)


def add_columns(window: Window, columns: Mapping[str, np.ndarray | Sequence[Any]], chunk_rows: int) -> None:
    """Feed in-memory columns to a window, ``chunk_rows`` rows at a time (the path a check's reader takes)."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    rows = lengths.pop() if lengths else 0
    feeder = WindowFeeder(window)
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        feeder.add_columns({name: values[start:stop] for name, values in columns.items()}, stop - start)
