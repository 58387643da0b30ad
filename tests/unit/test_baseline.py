"""Drift baselines: quantile bins and counts, bounded seeded samples, category frequencies, missing shares."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from mlops.data.baseline import (
    MAX_CATEGORIES,
    OTHER_CATEGORY,
    QUANTILE_BINS,
    REFERENCE_SAMPLE_SIZE,
    categorical_baseline,
    compute_baseline,
    numeric_baseline,
    prediction_baseline,
)
from mlops.data.dataset import MISSING_CATEGORY, Feature, Schema


def with_missing(values: np.ndarray, every: int) -> np.ndarray:
    """An object column, as feature_matrix makes it, with every `every`-th value missing (NaN)."""
    column = values.astype(object)
    column[::every] = np.nan
    return column


def present_values(column: np.ndarray) -> list[float]:
    return [float(v) for v in column if not math.isnan(v)]


# ---- numeric ----------------------------------------------------------------------------------------------
def test_numeric_bins_are_the_inner_quantile_edges_and_count_like_a_histogram():
    column = with_missing(np.random.default_rng(3).normal(size=500), every=10)
    present = np.array(present_values(column))

    result = numeric_baseline(column, np.random.default_rng(0))

    edges = np.unique(np.quantile(present, np.linspace(0, 1, QUANTILE_BINS + 1)))
    assert result["bin_edges"] == pytest.approx(edges[1:-1].tolist())
    histogram, _ = np.histogram(present, bins=edges)  # same closed-left bins, last one closed
    assert result["bin_counts"] == histogram.tolist()


def test_numeric_bins_hold_about_a_decile_each_of_distinct_values():
    values = np.random.default_rng(4).uniform(-5, 5, size=450)

    result = numeric_baseline(values, np.random.default_rng(0))

    assert len(result["bin_counts"]) == QUANTILE_BINS
    for count in result["bin_counts"]:
        assert abs(count - values.size / QUANTILE_BINS) <= 1


def test_tied_values_land_in_the_bin_that_starts_at_them():
    values = np.array([0.0] * 50 + [1.0] * 30 + [2.0] * 20)

    result = numeric_baseline(values, np.random.default_rng(0))

    edges = result["bin_edges"]
    expected = [0] * (len(edges) + 1)
    for value in values:
        expected[sum(edge <= value for edge in edges)] += 1
    assert result["bin_counts"] == expected
    assert sum(result["bin_counts"]) == values.size
    assert edges == sorted(set(edges))  # duplicate quantiles collapse to one edge


def test_bin_counts_sum_to_the_non_missing_rows():
    column = with_missing(np.random.default_rng(5).exponential(size=333), every=7)
    missing = column.size - len(present_values(column))

    result = numeric_baseline(column, np.random.default_rng(0))

    assert sum(result["bin_counts"]) == column.size - missing
    assert result["count"] == column.size
    assert result["missing_share"] == pytest.approx(missing / column.size)


def test_summary_moments_are_those_of_the_present_values():
    column = with_missing(np.random.default_rng(6).normal(10, 3, size=200), every=4)
    present = present_values(column)

    result = numeric_baseline(column, np.random.default_rng(0))

    assert result["min"] == min(present)
    assert result["max"] == max(present)
    assert result["mean"] == pytest.approx(statistics.fmean(present))
    assert result["std"] == pytest.approx(statistics.pstdev(present))


def test_a_constant_column_has_one_open_bin():
    values = np.full(40, 7.0)

    result = numeric_baseline(values, np.random.default_rng(0))

    assert result["bin_edges"] == []
    assert result["bin_counts"] == [40]
    assert (result["min"], result["max"], result["std"]) == (7.0, 7.0, 0.0)


def test_an_all_missing_numeric_column_has_no_bins_and_no_sample():
    result = numeric_baseline(np.full(25, np.nan, dtype=object), np.random.default_rng(0))

    assert result == {
        "kind": "numeric",
        "count": 25,
        "missing_share": 1.0,
        "bin_edges": [],
        "bin_counts": [],
        "sample": [],
    }


def test_the_sample_is_bounded_sorted_and_drawn_from_the_values():
    values = np.random.default_rng(7).normal(size=REFERENCE_SAMPLE_SIZE * 3)

    sample = numeric_baseline(values, np.random.default_rng(0))["sample"]

    assert len(sample) == REFERENCE_SAMPLE_SIZE
    assert sample == sorted(sample)
    assert np.isin(sample, values).all()
    assert len(set(sample)) == len(sample)  # drawn without replacement from distinct values


def test_a_small_column_is_sampled_whole():
    values = with_missing(np.arange(60, dtype=float), every=5)
    present = sorted(present_values(values))

    assert numeric_baseline(values, np.random.default_rng(0))["sample"] == present


def test_the_sample_is_seeded():
    values = np.random.default_rng(8).normal(size=REFERENCE_SAMPLE_SIZE * 2)

    first = numeric_baseline(values, np.random.default_rng(1))["sample"]
    again = numeric_baseline(values, np.random.default_rng(1))["sample"]
    other = numeric_baseline(values, np.random.default_rng(2))["sample"]

    assert first == again
    assert first != other


# ---- categorical ------------------------------------------------------------------------------------------
def test_category_counts_and_missing_share():
    values = np.array(["red"] * 5 + ["blue"] * 3 + [MISSING_CATEGORY] * 2, dtype=object)

    result = categorical_baseline(values)

    assert result == {
        "kind": "categorical",
        "count": 10,
        "missing_share": 0.2,
        "category_counts": {"red": 5, "blue": 3},
    }


def test_categories_beyond_the_cap_are_folded_into_other():
    # category k appears k + 1 times, so the ranking by frequency has no ties
    extra = 5
    names = [f"c{k:03d}" for k in range(MAX_CATEGORIES + extra)]
    values = np.array(
        [name for k, name in enumerate(names) for _ in range(k + 1)] + [MISSING_CATEGORY] * 4, dtype=object
    )

    counts = categorical_baseline(values)["category_counts"]

    kept = {name: k + 1 for k, name in enumerate(names) if k >= extra}
    assert {name: n for name, n in counts.items() if name != OTHER_CATEGORY} == kept
    assert counts[OTHER_CATEGORY] == sum(range(1, extra + 1))
    assert sum(counts.values()) == values.size - 4


def test_exactly_the_cap_of_categories_needs_no_other_bucket():
    values = np.array([f"c{k}" for k in range(MAX_CATEGORIES)] * 2, dtype=object)

    counts = categorical_baseline(values)["category_counts"]

    assert OTHER_CATEGORY not in counts
    assert len(counts) == MAX_CATEGORIES


def test_an_empty_categorical_column_has_no_missing_share():
    assert categorical_baseline(np.array([], dtype=object))["missing_share"] == 0.0


# ---- whole baselines --------------------------------------------------------------------------------------
def test_compute_baseline_describes_every_feature_by_its_kind_and_is_seeded():
    rng = np.random.default_rng(9)
    rows = 3 * REFERENCE_SAMPLE_SIZE  # two thirds present: more than the sample holds
    features = np.empty((rows, 2), dtype=object)
    features[:, 0] = rng.choice(["red", "green", MISSING_CATEGORY], size=rows)
    features[:, 1] = with_missing(rng.normal(size=rows), every=3)
    schema = Schema([Feature("colour", "categorical"), Feature("size", "numeric")], "label", "classification")

    first = compute_baseline(features, schema, seed=4)
    again = compute_baseline(features, schema, seed=4)
    other = compute_baseline(features, schema, seed=5)

    assert first["rows"] == rows
    assert list(first["features"]) == ["colour", "size"]
    assert first["features"]["colour"] == categorical_baseline(features[:, 0])
    assert first["features"]["size"]["kind"] == "numeric"
    assert first["features"]["size"]["missing_share"] == pytest.approx(rows // 3 / rows)
    assert first == again
    assert first["features"]["size"]["sample"] != other["features"]["size"]["sample"]


def test_classification_predictions_are_counted_as_categories():
    predictions = np.array(["yes"] * 7 + ["no"] * 3)

    result = prediction_baseline(predictions, "classification", rng_seed=0)

    assert result["kind"] == "categorical"
    assert result["category_counts"] == {"yes": 7, "no": 3}
    assert result["missing_share"] == 0.0


def test_regression_predictions_are_binned_and_seeded():
    predictions = np.random.default_rng(10).normal(size=REFERENCE_SAMPLE_SIZE + 500)

    result = prediction_baseline(predictions, "regression", rng_seed=3)

    assert result["kind"] == "numeric"
    assert sum(result["bin_counts"]) == predictions.size
    assert len(result["sample"]) == REFERENCE_SAMPLE_SIZE
    assert result == prediction_baseline(predictions, "regression", rng_seed=3)
