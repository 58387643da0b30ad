"""The reference a window is compared with, built from the baseline a registered version carries
(``mlops.data.baseline``): for a numeric feature its quantile bin edges with the training counts (PSI) and a bounded
sorted sample (Kolmogorov–Smirnov); for a categorical feature its category counts (PSI, Jensen–Shannon, chi-square).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.data.baseline import OTHER_CATEGORY
from mlops.data.dataset import MISSING_CATEGORY
from mlops.errors import InvalidMonitoringConfig

UNSEEN_CATEGORY = "__unseen__"


@dataclass(frozen=True)
class GridLookup:
    """Where values fall among sorted grid points, without a binary search for most of them.

    The grid's range is cut into equal buckets; a bucket that holds no grid point (nor do its neighbours, which
    absorbs any rounding of the bucket arithmetic) gives one answer for every value in it, read from a table.
    Values below the grid and above it are answered by the two extra entries at the table's ends. Only values in
    the buckets near a grid point are placed by binary search. The result is exactly
    ``np.searchsorted(grid, values, side="right")``, several times faster on the sizes here.
    """

    low: float
    high: float
    scale: float
    table: np.ndarray  # [below the grid, bucket 0, ..., bucket B-1, above]: a position, or -1 = search

    BUCKETS_PER_POINT = 64
    MAX_BUCKETS = 1 << 16

    @classmethod
    def of(cls, grid: np.ndarray) -> GridLookup | None:
        if grid.size < 2 or not np.isfinite(grid[[0, -1]]).all():
            return None
        buckets = min(cls.BUCKETS_PER_POINT * grid.size, cls.MAX_BUCKETS)
        low, high = float(grid[0]), float(grid[-1])
        scale = buckets / (high - low)
        starts = low + np.arange(buckets + 1) / scale
        # grid points below each bucket's start (= searchsorted(grid, starts, "left"), from the 1000-odd grid side)
        landing = np.searchsorted(starts, grid, side="right")  # a point is below starts[b] for every b >= this
        first = np.cumsum(np.bincount(landing, minlength=buckets + 2))[: buckets + 1]
        holds_point = first[1:] > first[:-1]
        unsafe = holds_point.copy()
        unsafe[1:] |= holds_point[:-1]
        unsafe[:-1] |= holds_point[1:]
        unsafe[[0, -1]] = True
        table = np.concatenate(([0], np.where(unsafe, -1, first[:-1]), [grid.size])).astype(np.int64)
        return cls(low, high, scale, table)

    def positions(self, grid: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, searched): searchsorted(grid, values, "right") for finite values, and the indices of the
        values placed by binary search (only those can equal a grid point)."""
        buckets = self.table.size - 2
        slot = (values - self.low) * self.scale
        slot += 1.0
        np.clip(slot, 0.0, buckets + 1.0, out=slot)
        positions = self.table[slot.astype(np.int64)]
        # values just below the top point can round into the "above" slot: let the search decide them
        positions[(positions == grid.size) & (values <= self.high)] = -1
        searched = np.flatnonzero(positions < 0)
        positions[searched] = np.searchsorted(grid, values[searched], side="right")
        return positions, searched


@dataclass
class NumericReference:
    name: str
    rows: int
    missing_share: float
    edges: np.ndarray  # inner quantile edges: len(bin_counts) - 1 of them, outer bins open
    bin_counts: np.ndarray
    grid: np.ndarray  # the reference sample's distinct values, sorted
    grid_cdf: np.ndarray  # the sample's empirical distribution function at each of them
    sample_size: int
    summary: dict[str, float]
    lookup: GridLookup | None = None

    kind = "numeric"

    @classmethod
    def from_baseline(cls, name: str, document: Mapping[str, Any]) -> NumericReference:
        sample = np.sort(np.asarray(document.get("sample") or [], dtype=float))
        grid = np.unique(sample)
        cdf = np.searchsorted(sample, grid, side="right") / max(sample.size, 1)
        counts = np.asarray(document.get("bin_counts") or [], dtype=np.int64)
        summary = {key: float(document[key]) for key in ("min", "max", "mean", "std") if key in document}
        return cls(
            name=name,
            rows=int(document.get("count", 0)),
            missing_share=float(document.get("missing_share", 0.0)),
            edges=np.asarray(document.get("bin_edges") or [], dtype=float),
            bin_counts=counts,
            grid=grid,
            grid_cdf=cdf,
            sample_size=int(sample.size),
            summary=summary,
            lookup=GridLookup.of(grid),
        )

    @property
    def testable(self) -> bool:
        return self.sample_size > 0 and int(self.bin_counts.sum()) > 0

    def bin_labels(self) -> list[str]:
        edges = [f"{e:.4g}" for e in self.edges]
        if not edges:
            return ["all values"]
        return [f"< {edges[0]}", *(f"{a} – {b}" for a, b in zip(edges, edges[1:], strict=False)), f"≥ {edges[-1]}"]


@dataclass
class CategoricalReference:
    name: str
    rows: int
    missing_share: float
    categories: list[str]  # the baseline's categories, then UNSEEN_CATEGORY unless the baseline folded a tail
    index: dict[str, int]
    counts: np.ndarray
    fallback: int  # where a category the baseline does not list is counted

    kind = "categorical"

    @classmethod
    def from_baseline(cls, name: str, document: Mapping[str, Any]) -> CategoricalReference:
        category_counts = dict(document.get("category_counts") or {})
        categories = list(category_counts)
        counts = [int(category_counts[c]) for c in categories]
        if OTHER_CATEGORY in category_counts:
            fallback = categories.index(OTHER_CATEGORY)  # the tail beyond the listed categories was folded there
        else:
            categories.append(UNSEEN_CATEGORY)
            counts.append(0)
            fallback = len(categories) - 1
        return cls(
            name=name,
            rows=int(document.get("count", 0)),
            missing_share=float(document.get("missing_share", 0.0)),
            categories=categories,
            index={c: i for i, c in enumerate(categories)},
            counts=np.asarray(counts, dtype=np.int64),
            fallback=fallback,
        )

    @property
    def testable(self) -> bool:
        return int(self.counts.sum()) > 0

    @property
    def knows_every_category(self) -> bool:
        """Whether the baseline lists every training category (no folded tail): unseen ones are then new."""
        return self.categories[self.fallback] == UNSEEN_CATEGORY


FeatureReference = NumericReference | CategoricalReference


@dataclass
class Reference:
    features: dict[str, FeatureReference]

    @classmethod
    def from_baseline(cls, statistics: Mapping[str, Mapping[str, Any]]) -> Reference:
        """From a baseline's per-feature statistics (``baseline["features"]["features"]`` of a version)."""
        features: dict[str, FeatureReference] = {}
        for name, document in statistics.items():
            kind = document.get("kind")
            if kind == "numeric":
                features[name] = NumericReference.from_baseline(name, document)
            elif kind == "categorical":
                features[name] = CategoricalReference.from_baseline(name, document)
            else:
                raise InvalidMonitoringConfig(f"baseline of feature {name!r} has an unknown kind {kind!r}")
        return cls(features)

    @property
    def numeric_names(self) -> list[str]:
        return [n for n, f in self.features.items() if f.kind == "numeric"]

    @property
    def categorical_names(self) -> list[str]:
        return [n for n, f in self.features.items() if f.kind == "categorical"]


def baseline_of_columns(columns: Mapping[str, np.ndarray | Sequence[Any]], seed: int = 42) -> dict[str, Any]:
    """Per-feature baseline statistics of in-memory reference columns, with the same functions the pipeline uses:
    float arrays are numeric (NaN = missing), anything else categorical (None = missing)."""
    from mlops.data.baseline import categorical_baseline, numeric_baseline  # noqa: PLC0415 - only these callers

    rng = np.random.default_rng(seed)
    statistics = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            statistics[name] = numeric_baseline(values, rng)
        else:
            labels = np.array([MISSING_CATEGORY if v is None else str(v) for v in values], dtype=object)
            statistics[name] = categorical_baseline(labels)
    return statistics
