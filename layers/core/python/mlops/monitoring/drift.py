"""Drift statistics of a window of current data against a registered baseline: numpy only, streaming, vectorised.

The reference is the baseline a registered version carries (``mlops.data.baseline``): for a numeric feature its
quantile bin edges with the training counts (PSI) and a bounded sorted sample (Kolmogorov–Smirnov); for a
categorical feature its category counts (PSI, Jensen–Shannon, chi-square). The current window arrives in chunks
(``Window.add_numeric`` / ``add_categorical``) and is reduced at once to fixed-size counts, so memory does not grow
with the window: the two-sample KS statistic is exact all the same, because both empirical distribution functions
are step functions and the current one only needs counting between the reference sample's points.

A feature is **drifted** only when both hold:

* the shift is statistically significant: the feature's test (KS for numbers, chi-square for categories) has a
  p-value below ``alpha`` after a multiple-testing correction across all features (Holm by default), and
* it is large enough to matter: its PSI is at least ``psi_threshold`` (the effect-size floor), so that a tiny
  shift made "significant" by a huge window is not an alarm.

A window smaller than ``min_rows`` is ``insufficient_data``, never drift. The dataset drifts when the share of
drifted features reaches ``drift_share`` or any critical feature drifts. Confirmation over consecutive windows
and the cooldown are the monitor's business (``mlops.monitoring.check``), not this module's.

p-values are computed here (Kolmogorov distribution, regularised incomplete gamma) rather than with scipy.stats:
importing scipy.stats costs ~1 s of cold start and scipy.special ~0.4 s; the tests check these against scipy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from mlops.data.baseline import OTHER_CATEGORY
from mlops.data.dataset import MISSING_CATEGORY
from mlops.errors import InvalidMonitoringConfig

REPORT_SCHEMA = "mlops.drift_report.v1"
STATUS_OK = "ok"
STATUS_DRIFT = "drift"
STATUS_INSUFFICIENT = "insufficient_data"
UNSEEN_CATEGORY = "__unseen__"
PSI_EPSILON = 1e-4  # shares are floored at this before PSI's logarithm (an empty bin is not infinitely different)
MIN_EXPECTED_COUNT = 5.0  # chi-square cells expected to hold fewer rows are pooled (the test's usual validity rule)
MAX_TRACKED_CATEGORIES = 1000  # distinct unseen category names remembered per feature (the count is always exact)
HISTOGRAM_CATEGORIES = 12  # categories drawn per feature in a report; the rest are summed into one bar
CORRECTIONS = ("holm", "bh", "bonferroni", "none")


# ---- configuration ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DriftConfig:
    """The false-alarm controls of one comparison. Every value is reported with the result it produced."""

    min_rows: int = 100  # below this a window is insufficient_data
    alpha: float = 0.05  # significance level after the correction
    correction: str = "holm"  # holm (family-wise error), bh (false discovery rate), bonferroni or none
    psi_threshold: float = 0.1  # effect-size floor: a significant shift with a smaller PSI is not drift
    drift_share: float = 0.3  # the dataset drifts when at least this share of features drift ...
    critical_features: tuple[str, ...] = ()  # ... or any of these does
    prediction_is_critical: bool = False  # prediction drift alone makes dataset drift
    missing_share_increase: float = 0.05  # data quality: a significant rise of the missing share by at least this
    new_category_share: float = 0.01  # data quality: categories never seen in training, at least this share
    chunk_rows: int = 65_536  # rows reduced at a time (bounds the memory of a check)

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.min_rows, int) and self.min_rows >= 1):
            problems.append("min_rows must be an integer >= 1")
        if not 0 < self.alpha < 1:
            problems.append("alpha must be within (0, 1)")
        if self.correction not in CORRECTIONS:
            problems.append(f"correction must be one of {', '.join(CORRECTIONS)}")
        if not self.psi_threshold >= 0:
            problems.append("psi_threshold must be >= 0")
        if not 0 < self.drift_share <= 1:
            problems.append("drift_share must be within (0, 1]")
        if not 0 <= self.missing_share_increase <= 1 or not 0 <= self.new_category_share <= 1:
            problems.append("missing_share_increase and new_category_share must be within [0, 1]")
        if not (isinstance(self.chunk_rows, int) and self.chunk_rows >= 1):
            problems.append("chunk_rows must be an integer >= 1")
        if problems:
            raise InvalidMonitoringConfig("invalid drift settings: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, document: Mapping[str, Any] | None) -> DriftConfig:
        document = dict(document or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise InvalidMonitoringConfig(f"unknown drift setting(s): {', '.join(unknown)}; known: {sorted(known)}")
        if "critical_features" in document:
            critical = document["critical_features"]
            if isinstance(critical, str) or not all(isinstance(name, str) for name in critical or ()):
                raise InvalidMonitoringConfig("critical_features must be a list of feature names")
            document["critical_features"] = tuple(critical or ())
        try:
            return cls(**document)
        except TypeError as exc:
            raise InvalidMonitoringConfig(f"invalid drift settings: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["critical_features"] = list(self.critical_features)
        return document


# ---- p-values (numpy/math only) ---------------------------------------------------------------------------
def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (the limit law of sqrt(n)·D)."""
    if x <= 0:
        return 1.0
    if x < 1.0:  # the theta-function form converges fast for small x
        total = sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 12))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2 * math.pi) / x * total))
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 40))
    return min(1.0, max(0.0, 2.0 * total))


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """Two-sample KS p-value with Stephens' small-sample correction of the effective size n·m/(n+m)."""
    if n == 0 or m == 0:
        return 1.0
    effective = math.sqrt(n * m / (n + m))
    return kolmogorov_sf((effective + 0.12 + 0.11 / effective) * statistic)


def _upper_gamma_regularised(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x)/Γ(a): series below a+1, Lentz's continued fraction above (Numerical Recipes 6.2)."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, max(0.0, 1.0 - total * math.exp(log_prefix)))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, max(0.0, math.exp(log_prefix) * h))


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X > statistic) for a chi-square distribution with ``dof`` degrees of freedom."""
    if dof <= 0:
        return 1.0
    return _upper_gamma_regularised(dof / 2.0, statistic / 2.0)


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def adjust_p_values(p_values: np.ndarray, method: str) -> np.ndarray:
    """Multiple-testing adjusted p-values (vectorised): Holm step-down, Benjamini–Hochberg step-up, Bonferroni."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, ranked * (m - np.arange(m))))
    elif method == "bh":
        adjusted = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
        adjusted = np.minimum(1.0, adjusted)
    else:
        raise InvalidMonitoringConfig(f"unknown correction {method!r}")
    result = np.empty(m)
    result[order] = adjusted
    return result


def psi_rows(reference_counts: np.ndarray, current_counts: np.ndarray) -> np.ndarray:
    """Population stability index of each row of two (features × buckets) count matrices (zero-padded)."""
    reference = np.asarray(reference_counts, dtype=float)
    current = np.asarray(current_counts, dtype=float)
    reference_totals = np.maximum(reference.sum(axis=1, keepdims=True), 1.0)
    current_totals = np.maximum(current.sum(axis=1, keepdims=True), 1.0)
    p = np.maximum(reference / reference_totals, PSI_EPSILON)
    q = np.maximum(current / current_totals, PSI_EPSILON)
    used = (reference > 0) | (current > 0)  # padding cells contribute nothing
    return np.where(used, (q - p) * np.log(q / p), 0.0).sum(axis=1)


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, within [0, 1]) of two count vectors."""
    p = reference_counts / max(reference_counts.sum(), 1)
    q = current_counts / max(current_counts.sum(), 1)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(math.sqrt(max(0.0, (kl_p + kl_q) / 2)))


def chi2_homogeneity(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test that two count vectors come from one distribution (2×K table); cells expected to hold fewer
    than MIN_EXPECTED_COUNT rows in either sample are pooled. Returns (statistic, degrees of freedom, p-value)."""
    reference = np.asarray(reference_counts, dtype=float)
    current = np.asarray(current_counts, dtype=float)
    keep = (reference + current) > 0
    reference, current = reference[keep], current[keep]
    n_ref, n_cur = reference.sum(), current.sum()
    if n_ref == 0 or n_cur == 0 or reference.size < 2:
        return 0.0, 0, 1.0
    column = reference + current
    expected_min = column * min(n_ref, n_cur) / (n_ref + n_cur)
    small = expected_min < MIN_EXPECTED_COUNT
    if small.any():
        pooled_ref, pooled_cur = reference[small].sum(), current[small].sum()
        reference, current = reference[~small], current[~small]
        pooled_min = (pooled_ref + pooled_cur) * min(n_ref, n_cur) / (n_ref + n_cur)
        if pooled_min >= MIN_EXPECTED_COUNT or reference.size == 0:
            reference, current = np.append(reference, pooled_ref), np.append(current, pooled_cur)
        else:  # still too small on its own: merge it into the smallest remaining cell
            smallest = int(np.argmin(reference + current))
            reference[smallest] += pooled_ref
            current[smallest] += pooled_cur
    if reference.size < 2:
        return 0.0, 0, 1.0
    total = n_ref + n_cur
    column = reference + current
    expected_ref = column * n_ref / total
    expected_cur = column * n_cur / total
    statistic = float(
        (((reference - expected_ref) ** 2) / expected_ref + ((current - expected_cur) ** 2) / expected_cur).sum()
    )
    dof = int(reference.size - 1)
    return statistic, dof, chi2_sf(statistic, dof)


# ---- the reference (from a baseline document) ---------------------------------------------------------------
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


# ---- the current window (fixed-size accumulators) ---------------------------------------------------------------
@dataclass
class NumericCounts:
    psi_counts: np.ndarray
    below_grid: np.ndarray  # below_grid[j] = rows with a value < grid[j] is cumsum of it; see KS below
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


# ---- per-feature statistics -------------------------------------------------------------------------------
def ks_statistic(feature: NumericReference, counts: NumericCounts) -> float:
    """sup |F_ref - F_cur| exactly: between two consecutive reference points F_ref is constant and F_cur is
    monotone, so the supremum is reached at a reference point or just below the next one."""
    n = counts.present
    if n == 0 or feature.grid.size == 0:
        return 0.0
    below = np.cumsum(counts.below_grid)  # below[j] = rows < grid[j] (j < k); below[k] = n
    at_or_below = below[:-1] + counts.at_grid  # rows <= grid[j]
    reference_cdf = feature.grid_cdf
    gaps_at = np.abs(reference_cdf - at_or_below / n)
    gaps_before_next = np.abs(reference_cdf - below[1:] / n)  # on [grid[j], grid[j+1]): up to F_cur(grid[j+1]-)
    return float(max(gaps_at.max(), gaps_before_next.max(), below[0] / n))


def _numeric_statistics(feature: NumericReference, counts: NumericCounts) -> dict[str, Any]:
    n = counts.present
    statistic = ks_statistic(feature, counts)
    p_value = ks_p_value(statistic, n, feature.sample_size) if feature.testable and n else 1.0
    reference_shares = feature.bin_counts / max(int(feature.bin_counts.sum()), 1)
    current_shares = counts.psi_counts / max(n, 1)
    mean = counts.total / n if n else None
    variance = max(counts.total_squares / n - (mean or 0.0) ** 2, 0.0) if n else None
    return {
        "kind": "numeric",
        "test": "ks",
        "statistic": statistic,
        "p_value": p_value,
        "reference": {"rows": feature.rows, "sample_size": feature.sample_size, **feature.summary},
        "current": {
            "mean": mean,
            "std": math.sqrt(variance) if variance is not None else None,
            "min": counts.minimum if n else None,
            "max": counts.maximum if n else None,
        },
        "histogram": {
            "labels": feature.bin_labels(),
            "reference": [float(s) for s in reference_shares],
            "current": [float(s) for s in current_shares],
        },
    }


def _categorical_histogram(feature: CategoricalReference, counts: CategoricalCounts) -> dict[str, Any]:
    reference = feature.counts / max(int(feature.counts.sum()), 1)
    current = counts.counts / max(counts.present, 1)
    order = np.argsort(-np.maximum(reference, current), kind="stable")
    shown, rest = order[:HISTOGRAM_CATEGORIES], order[HISTOGRAM_CATEGORIES:]
    labels = ["(not in training)" if feature.categories[i] == UNSEEN_CATEGORY else feature.categories[i] for i in shown]
    reference_shares = [float(reference[i]) for i in shown]
    current_shares = [float(current[i]) for i in shown]
    if rest.size:
        labels.append(f"({rest.size} more)")
        reference_shares.append(float(reference[rest].sum()))
        current_shares.append(float(current[rest].sum()))
    return {"labels": labels, "reference": reference_shares, "current": current_shares}


def _categorical_statistics(feature: CategoricalReference, counts: CategoricalCounts) -> dict[str, Any]:
    statistic, dof, p_value = chi2_homogeneity(feature.counts, counts.counts)
    return {
        "kind": "categorical",
        "test": "chi2",
        "statistic": statistic,
        "dof": dof,
        "p_value": p_value if feature.testable and counts.present else 1.0,
        "js_distance": js_distance(feature.counts.astype(float), counts.counts.astype(float)),
        "reference": {"rows": feature.rows, "categories": len(feature.categories)},
        "current": {
            "categories_seen": int((counts.counts > 0).sum()),
            "unseen_rows": int(counts.counts[feature.fallback]) if feature.knows_every_category else 0,
        },
        "histogram": _categorical_histogram(feature, counts),
    }


def _psi_all(reference: Reference, window: Window, names: list[str]) -> np.ndarray:
    """PSI of every feature at once, over a zero-padded (features × buckets) matrix."""
    rows = []
    for name in names:
        feature, counts = reference.features[name], window.counts[name]
        if isinstance(feature, NumericReference):
            rows.append((feature.bin_counts, counts.psi_counts))  # type: ignore[union-attr]
        else:
            rows.append((feature.counts, counts.counts))  # type: ignore[union-attr]
    width = max((r.size for r, _ in rows), default=1)
    reference_matrix = np.zeros((len(rows), width))
    current_matrix = np.zeros((len(rows), width))
    for i, (reference_counts, current_counts) in enumerate(rows):
        reference_matrix[i, : reference_counts.size] = reference_counts
        current_matrix[i, : current_counts.size] = current_counts
    return psi_rows(reference_matrix, current_matrix)


def _decide(result: dict[str, Any], *, enough_rows: bool, window_rows: int, config: DriftConfig) -> None:
    """Set drifted and the reason from the (adjusted) p-value and the PSI floor."""
    test = "KS D" if result["test"] == "ks" else "chi-square"
    significant = result["p_value_adjusted"] < config.alpha
    large = result["score"] >= result["threshold"]
    evidence = (
        f"PSI {result['score']:.3f} {'≥' if large else '<'} {result['threshold']}; {test} {result['statistic']:.3f}, "
        f"adjusted p {result['p_value_adjusted']:.2g} {'<' if significant else '≥'} α {config.alpha}"
    )
    if not enough_rows:
        result["drifted"] = False
        result["reason"] = f"insufficient data: {window_rows} rows < min_rows {config.min_rows} ({evidence})"
    elif not result["testable"]:
        result["drifted"] = False
        result["reason"] = "not tested: no values in the reference or in this window"
    else:
        result["drifted"] = bool(significant and large)
        if result["drifted"]:
            result["reason"] = f"drifted: significant and above the effect floor ({evidence})"
        elif large:
            result["reason"] = f"not drifted: PSI above the floor but not significant ({evidence})"
        elif significant:
            result["reason"] = f"not drifted: significant but below the effect floor ({evidence})"
        else:
            result["reason"] = f"not drifted ({evidence})"


def _feature_results(reference: Reference, window: Window, names: list[str], config: DriftConfig) -> dict[str, Any]:
    """Every statistic of the named features, with the correction applied across them and the decisions."""
    if not names:
        return {}
    psi = _psi_all(reference, window, names)
    results: dict[str, dict[str, Any]] = {}
    for name, score in zip(names, psi, strict=True):
        feature, counts = reference.features[name], window.counts[name]
        if isinstance(feature, NumericReference):
            result = _numeric_statistics(feature, counts)  # type: ignore[arg-type]
        else:
            result = _categorical_statistics(feature, counts)  # type: ignore[arg-type]
        rows_seen = counts.present + counts.missing
        results[name] = {
            "drifted": False,
            "method": "psi",
            "score": float(score),
            "threshold": config.psi_threshold,
            "testable": bool(feature.testable and counts.present > 0),
            **result,
            "rows": rows_seen,
            "missing": counts.missing,
            "missing_share": counts.missing / rows_seen if rows_seen else 0.0,
            "reference_missing_share": feature.missing_share,
            "critical": name in config.critical_features,
        }
    tested = [n for n in names if results[n]["testable"]]
    adjusted = adjust_p_values(np.array([results[n]["p_value"] for n in tested]), config.correction)
    for name, p_adjusted in zip(tested, adjusted, strict=True):
        results[name]["p_value_adjusted"] = float(p_adjusted)
    enough = window.rows >= config.min_rows
    for name in names:
        results[name].setdefault("p_value_adjusted", 1.0)
        results[name]["alpha"] = config.alpha
        results[name]["correction"] = config.correction
        _decide(results[name], enough_rows=enough, window_rows=window.rows, config=config)
    return results


# ---- data quality -----------------------------------------------------------------------------------------
def _data_quality(reference: Reference, window: Window, config: DriftConfig) -> dict[str, Any]:
    violations: list[dict[str, Any]] = []
    enough = window.rows >= config.min_rows
    features = list(reference.features)
    for name in features:
        feature, counts = reference.features[name], window.counts[name]
        if window.rows and counts.absent >= window.rows:
            violations.append(
                {"check": "missing_column", "feature": name, "detail": f"{name!r} is absent from every row"}
            )
            continue
        if counts.mismatched:
            expected = "numbers" if feature.kind == "numeric" else "strings"
            violations.append(
                {
                    "check": "type_mismatch",
                    "feature": name,
                    "rows": counts.mismatched,
                    "share": counts.mismatched / max(window.rows, 1),
                    "detail": f"{counts.mismatched} value(s) of {name!r} are not {expected} (counted as missing)",
                }
            )
        rows_seen = counts.present + counts.missing
        if enough and rows_seen:
            current_share = counts.missing / rows_seen
            increase = current_share - feature.missing_share
            pooled = (counts.missing + feature.missing_share * feature.rows) / (rows_seen + feature.rows)
            spread = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / rows_seen + 1 / max(feature.rows, 1)))
            p_value = normal_sf(increase / spread)
            if increase >= config.missing_share_increase and p_value < config.alpha / len(features):
                violations.append(
                    {
                        "check": "missing_values_increased",
                        "feature": name,
                        "reference_share": feature.missing_share,
                        "current_share": current_share,
                        "threshold": config.missing_share_increase,
                        "p_value": p_value,
                        "detail": f"missing share of {name!r} rose from {feature.missing_share:.1%} to "
                        f"{current_share:.1%} (floor +{config.missing_share_increase:.0%}, p {p_value:.2g})",
                    }
                )
        if isinstance(feature, CategoricalReference) and isinstance(counts, CategoricalCounts) and counts.present:
            unseen_rows = int(counts.counts[feature.fallback]) if feature.knows_every_category else 0
            share = unseen_rows / counts.present
            if enough and unseen_rows and share >= config.new_category_share:
                examples = [value for value, _ in counts.unseen.most_common(10)]
                violations.append(
                    {
                        "check": "new_categories",
                        "feature": name,
                        "rows": unseen_rows,
                        "share": share,
                        "threshold": config.new_category_share,
                        "categories": examples,
                        "detail": f"{share:.1%} of {name!r} values are categories never seen in training, "
                        f"e.g. {', '.join(map(repr, examples[:3]))}",
                    }
                )
    if window.extra_columns:
        names = [name for name, _ in window.extra_columns.most_common(20)]
        violations.append(
            {
                "check": "extra_columns",
                "columns": names,
                "detail": f"columns the model does not know: {', '.join(map(repr, names))}",
            }
        )
    return {"passed": not violations, "violations": violations}


# ---- the whole comparison -----------------------------------------------------------------------------------
def evaluate(
    reference: Reference,
    window: Window,
    config: DriftConfig,
    *,
    prediction: tuple[Reference, Window] | None = None,
) -> dict[str, Any]:
    """The drift result of one window: status, dataset drift, every feature's numbers and decision, data quality
    and (when given) prediction drift. The shape is report.json's (see REPORT_SCHEMA)."""
    names = list(reference.features)
    features = _feature_results(reference, window, names, config)
    tested = [n for n in names if features[n]["testable"]]
    drifted = [n for n in names if features[n]["drifted"]]
    share = len(drifted) / len(tested) if tested else 0.0
    critical = [n for n in drifted if n in config.critical_features]
    prediction_result = None
    if prediction is not None:
        prediction_reference, prediction_window = prediction
        (only,) = prediction_reference.features
        # one test, no family to correct over; its own min_rows counts the rows that carried a prediction
        prediction_result = _feature_results(prediction_reference, prediction_window, [only], config)[only]
    enough = window.rows >= config.min_rows
    reasons = []
    if not enough:
        reasons.append(f"{window.rows} rows in the window, fewer than min_rows {config.min_rows}")
    dataset_drift = False
    if enough:
        if tested and share >= config.drift_share:
            dataset_drift = True
            reasons.append(f"{len(drifted)} of {len(tested)} features drifted ({share:.0%} ≥ {config.drift_share:.0%})")
        if critical:
            dataset_drift = True
            reasons.append(f"critical feature(s) drifted: {', '.join(critical)}")
        if prediction_result and prediction_result["drifted"] and config.prediction_is_critical:
            dataset_drift = True
            reasons.append("the prediction distribution drifted (prediction_is_critical)")
        if not dataset_drift:
            reasons.append(
                f"{len(drifted)} of {len(tested)} features drifted ({share:.0%} < {config.drift_share:.0%})"
                + (", no critical feature" if config.critical_features else "")
            )
    status = STATUS_INSUFFICIENT if not enough else (STATUS_DRIFT if dataset_drift else STATUS_OK)
    return {
        "schema": REPORT_SCHEMA,
        "status": status,
        "dataset_drift": dataset_drift,
        "reason": "; ".join(reasons),
        "rows": window.rows,
        "drift_share": share,
        "drifted_features": drifted,
        "tested_features": len(tested),
        "config": config.to_dict(),
        "features": features,
        "prediction": prediction_result,
        "data_quality": _data_quality(reference, window, config),
    }


# ---- conveniences for in-memory columns (CLI, tests, benchmarks) --------------------------------------------
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


def add_columns(window: Window, columns: Mapping[str, np.ndarray | Sequence[Any]], chunk_rows: int) -> None:
    """Feed in-memory current columns to a window chunk by chunk (the same path a check's reader takes)."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    rows = lengths.pop() if lengths else 0
    known = window.reference.features
    extra = {name: rows for name in columns if name not in known}
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        window.add_rows(stop - start, extra)
        for name, feature in known.items():
            if name not in columns:
                if feature.kind == "numeric":
                    window.add_numeric(name, np.full(stop - start, np.nan), absent=stop - start)
                else:
                    window.add_categorical(name, [None] * (stop - start), absent=stop - start)
                continue
            values = columns[name][start:stop]
            if feature.kind == "numeric":
                numbers, mismatched = _as_numbers(values)
                window.add_numeric(name, numbers, mismatched=mismatched)
            else:
                window.add_categorical(name, [None if v is None else str(v) for v in values])


def _as_numbers(values: np.ndarray | Sequence[Any]) -> tuple[np.ndarray, int]:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(float, copy=False), 0
    numbers = np.full(len(values), np.nan)
    mismatched = 0
    for i, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            mismatched += 1
            continue
        numbers[i] = float(value)
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers, mismatched


def compare(
    reference_columns: Mapping[str, np.ndarray | Sequence[Any]],
    current_columns: Mapping[str, np.ndarray | Sequence[Any]],
    config: DriftConfig | None = None,
    *,
    seed: int = 42,
) -> dict[str, Any]:
    """Compare two in-memory tables column by column: the baseline of the first, the window of the second."""
    config = config or DriftConfig()
    reference = Reference.from_baseline(baseline_of_columns(reference_columns, seed))
    window = Window(reference)
    add_columns(window, current_columns, config.chunk_rows)
    return evaluate(reference, window, config)


def drifted_names(result: Mapping[str, Any]) -> list[str]:
    return [name for name, feature in result["features"].items() if feature["drifted"]]


def iter_chunks(values: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
