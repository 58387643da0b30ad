"""Drift statistics on synthetic data of known shifts: what is shifted is flagged, what is not is not, at every
window size from 100 to 100,000 rows; the false-alarm controls; the numbers against scipy's."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mlops.errors import InvalidMonitoringConfig
from mlops.monitoring import statistics
from mlops.monitoring.config import DriftConfig
from mlops.monitoring.decision import REPORT_SCHEMA, compare, evaluate, ks_statistic
from mlops.monitoring.reference import GridLookup, NumericReference, Reference, baseline_of_columns
from mlops.monitoring.reports import render_html
from mlops.monitoring.window import Window, add_columns

CATEGORIES = np.array(["red", "green", "blue", "amber", "violet"])
CATEGORY_SHARES = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
WINDOW_SIZES = [100, 1_000, 10_000, 100_000]
REFERENCE_ROWS = 20_000


def columns(rng: np.random.Generator, rows: int, *, shifted: bool = False) -> dict[str, object]:
    """Ten features of several shapes; with ``shifted``, num_0 (mean), num_1 (scale) and cat_0 (frequencies) move."""
    table: dict[str, object] = {
        "num_0": rng.normal(0, 1, rows) + (1.5 if shifted else 0.0),
        "num_1": rng.normal(0, 1, rows) * (3.0 if shifted else 1.0),
        "num_2": rng.normal(5, 2, rows),
        "num_3": rng.lognormal(0, 1, rows),
        "num_4": rng.uniform(-1, 1, rows),
        "num_5": rng.exponential(2, rows),
        "int_0": rng.integers(0, 6, rows).astype(float),  # discrete: ties with the reference sample
        "int_1": rng.poisson(3, rows).astype(float),
        "cat_0": CATEGORIES[rng.choice(5, rows, p=CATEGORY_SHARES[::-1] if shifted else CATEGORY_SHARES)].tolist(),
        "cat_1": CATEGORIES[rng.choice(5, rows, p=CATEGORY_SHARES)].tolist(),
    }
    return table


SHIFTED = {"num_0", "num_1", "cat_0"}


@pytest.fixture(scope="module")
def reference() -> Reference:
    rng = np.random.default_rng(2024)
    return Reference.from_baseline(baseline_of_columns(columns(rng, REFERENCE_ROWS), seed=1))


def check(reference: Reference, current: dict[str, object], config: DriftConfig | None = None) -> dict:
    config = config or DriftConfig()
    window = Window(reference)
    add_columns(window, current, config.chunk_rows)
    return evaluate(reference, window, config)


# ---- false positives and power across window sizes ----------------------------------------------------------------
@pytest.mark.parametrize(("rows", "repeats"), [(100, 200), (1_000, 100), (10_000, 30), (100_000, 6)])
def test_identical_distributions_false_positive_rate_is_at_most_five_percent(reference, rows, repeats):
    # Given windows drawn from the reference's own distributions, over many seeds
    rng = np.random.default_rng(rows)
    flagged = dataset_alarms = tested = 0

    # When each is checked
    for _ in range(repeats):
        result = check(reference, columns(rng, rows))
        flagged += len(result["drifted_features"])
        tested += result["tested_features"]
        dataset_alarms += result["dataset_drift"]

    # Then at most 5% of feature tests and of windows raise a false alarm
    assert tested == repeats * 10
    assert flagged / tested <= 0.05, f"per-feature false-positive rate {flagged / tested:.3f} at {rows} rows"
    assert dataset_alarms / repeats <= 0.05


@pytest.mark.parametrize("rows", WINDOW_SIZES)
def test_shifted_features_are_flagged_and_the_others_are_not(reference, rows):
    rng = np.random.default_rng(7 + rows)
    for _ in range(3):
        result = check(reference, columns(rng, rows, shifted=True))

        assert set(result["drifted_features"]) == SHIFTED, result["drifted_features"]
        assert result["status"] == "drift" and result["dataset_drift"] is True  # 3 of 10 ≥ 30%
        for name in SHIFTED:
            assert result["features"][name]["p_value_adjusted"] < 0.05
            assert result["features"][name]["score"] >= result["features"][name]["threshold"]


def test_a_small_shift_on_a_huge_window_is_significant_but_below_the_effect_floor(reference):
    # Given 100,000 rows where num_2's mean moved by 0.2 standard deviations and cat_1's shares by ~2 points
    rng = np.random.default_rng(3)
    current = columns(rng, 100_000)
    current["num_2"] = current["num_2"] + 0.4
    current["cat_1"] = CATEGORIES[rng.choice(5, 100_000, p=[0.38, 0.27, 0.15, 0.12, 0.08])].tolist()

    result = check(reference, current)

    for name in ("num_2", "cat_1"):
        feature = result["features"][name]
        assert feature["p_value_adjusted"] < 0.05, name  # a significance test alone would alarm
        assert feature["score"] < feature["threshold"], name
        assert feature["drifted"] is False and "below the effect floor" in feature["reason"]


def test_below_min_rows_is_insufficient_data_never_drift(reference):
    rng = np.random.default_rng(4)
    result = check(reference, columns(rng, 60, shifted=True))

    assert result["status"] == "insufficient_data"
    assert result["dataset_drift"] is False and result["drifted_features"] == []
    assert "insufficient data: 60 rows < min_rows 100" in result["features"]["num_0"]["reason"]
    assert result["features"]["num_0"]["score"] > 0.1  # the numbers are still reported


def test_a_critical_feature_alone_makes_dataset_drift(reference):
    rng = np.random.default_rng(5)
    current = columns(rng, 2_000)
    current["num_3"] = current["num_3"] * 2.5

    plain = check(reference, current)
    critical = check(reference, current, DriftConfig(critical_features=("num_3",)))

    assert plain["drifted_features"] == ["num_3"] and plain["dataset_drift"] is False
    assert critical["dataset_drift"] is True and "critical feature(s) drifted: num_3" in critical["reason"]


def test_chunked_and_unchunked_windows_give_identical_results(reference):
    rng = np.random.default_rng(6)
    current = columns(rng, 5_000, shifted=True)

    whole = check(reference, current, DriftConfig(chunk_rows=1_000_000))
    chunked = check(reference, current, DriftConfig(chunk_rows=333))

    for name, feature in whole["features"].items():
        assert chunked["features"][name]["score"] == pytest.approx(feature["score"], rel=1e-12)
        assert chunked["features"][name]["statistic"] == pytest.approx(feature["statistic"], rel=1e-12)


def test_window_memory_does_not_grow_with_rows(reference):
    # Given a window's accumulators before any data
    window = Window(reference)
    size = sum(
        array.nbytes for c in window.counts.values() for array in vars(c).values() if isinstance(array, np.ndarray)
    )

    # When 50,000 rows go through it in chunks
    add_columns(window, columns(np.random.default_rng(8), 50_000), 10_000)

    # Then it holds exactly as many bytes: counts, not rows
    after = sum(
        array.nbytes for c in window.counts.values() for array in vars(c).values() if isinstance(array, np.ndarray)
    )
    assert window.rows == 50_000
    assert after == size


# ---- categorical, missing values, data quality --------------------------------------------------------------------
def test_new_categories_are_counted_and_reported(reference):
    rng = np.random.default_rng(9)
    current = columns(rng, 2_000)
    current["cat_1"] = [("teal" if i % 5 == 0 else value) for i, value in enumerate(current["cat_1"])]

    result = check(reference, current)

    feature = result["features"]["cat_1"]
    assert feature["drifted"] is True and feature["current"]["unseen_rows"] == 400
    (violation,) = [v for v in result["data_quality"]["violations"] if v["check"] == "new_categories"]
    assert violation["feature"] == "cat_1" and violation["categories"] == ["teal"]
    assert violation["share"] == pytest.approx(0.2)


def test_a_rising_missing_share_is_a_data_quality_violation(reference):
    rng = np.random.default_rng(10)
    current = columns(rng, 3_000)
    current["num_4"][:900] = np.nan  # 30% missing, none in the reference
    current["cat_1"] = [None if i % 10 == 0 else v for i, v in enumerate(current["cat_1"])]  # 10%

    result = check(reference, current)

    violations = {
        v["feature"]: v for v in result["data_quality"]["violations"] if v["check"] == "missing_values_increased"
    }
    assert set(violations) == {"num_4", "cat_1"}
    assert violations["num_4"]["current_share"] == pytest.approx(0.3)
    assert result["features"]["num_4"]["drifted"] is False  # drift is measured on the values that are present
    assert result["features"]["num_4"]["missing_share"] == pytest.approx(0.3)


def test_missing_extra_and_mistyped_columns_are_violations(reference):
    rng = np.random.default_rng(11)
    current = columns(rng, 500)
    del current["num_5"]
    current["surprise"] = np.zeros(500)
    current["int_0"] = ["many" if i < 10 else float(v) for i, v in enumerate(current["int_0"])]

    result = check(reference, current)

    checks = {(v["check"], v.get("feature")) for v in result["data_quality"]["violations"]}
    assert ("missing_column", "num_5") in checks
    assert ("type_mismatch", "int_0") in checks
    assert ("extra_columns", None) in checks
    assert result["features"]["num_5"]["testable"] is False and result["features"]["num_5"]["drifted"] is False


def test_report_json_has_every_number_of_each_decision_and_is_strict_json(reference):
    rng = np.random.default_rng(12)
    result = check(reference, columns(rng, 1_000, shifted=True))

    document = json.loads(json.dumps(result, allow_nan=False))
    assert document["schema"] == REPORT_SCHEMA
    for feature in document["features"].values():
        assert {
            "drifted",
            "method",
            "score",
            "threshold",
            "test",
            "statistic",
            "p_value",
            "p_value_adjusted",
            "alpha",
            "correction",
            "reason",
            "histogram",
        } <= set(feature)
    assert document["config"]["psi_threshold"] == 0.1 and document["config"]["correction"] == "holm"


def test_html_report_is_self_contained_and_escapes_names(reference):
    baseline = baseline_of_columns({"<script>x</script>": np.arange(500.0), "city": ["a", "b"] * 250})
    result = compare(
        {"<script>x</script>": np.arange(500.0), "city": ["a", "b"] * 250},
        {"<script>x</script>": np.arange(500.0) + 300, "city": ["a", "c"] * 250},
    )
    page = render_html(result)

    assert baseline and page.startswith("<!doctype html>")
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert page.count("<svg") == 2 and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "DRIFT" in page


# ---- the numbers against scipy ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["continuous", "discrete", "heavy-tailed"])
def test_streamed_ks_statistic_is_exactly_scipys(kind):
    rng = np.random.default_rng(13)
    if kind == "continuous":
        reference_values, current = rng.normal(size=3_000), rng.normal(0.2, 1.3, 20_000)
    elif kind == "discrete":
        reference_values, current = rng.integers(0, 8, 3_000).astype(float), rng.integers(1, 9, 20_000).astype(float)
    else:
        reference_values, current = rng.standard_cauchy(3_000), rng.standard_cauchy(20_000) * 1.5
    document = baseline_of_columns({"x": reference_values})["x"]
    feature = NumericReference.from_baseline("x", document)
    window = Window(Reference({"x": feature}))
    for start in range(0, current.size, 4_096):
        window.add_numeric("x", current[start : start + 4_096])
    sample = np.array(document["sample"])  # the bounded reference sample the baseline keeps

    expected = stats.ks_2samp(sample, current).statistic

    assert ks_statistic(feature, window.counts["x"]) == pytest.approx(expected, abs=1e-12)


def test_grid_lookup_places_values_exactly_as_searchsorted():
    rng = np.random.default_rng(14)
    for _ in range(50):
        grid = np.unique(np.round(rng.normal(size=rng.integers(2, 1_200)) * rng.uniform(0.01, 1e3), rng.integers(0, 5)))
        if grid.size < 2:
            continue
        lookup = GridLookup.of(grid)
        values = np.concatenate(
            [rng.normal(size=3_000) * grid.std() * 2, grid, np.nextafter(grid, -np.inf), np.nextafter(grid, np.inf)]
        )
        positions, _ = lookup.positions(grid, values)
        assert np.array_equal(positions, np.searchsorted(grid, values, side="right"))


@pytest.mark.parametrize("x", [0.05, 0.3, 0.6, 0.9, 1.0, 1.36, 2.0, 3.5])
def test_kolmogorov_survival_function_matches_scipy(x):
    assert statistics.kolmogorov_sf(x) == pytest.approx(stats.kstwobign.sf(x), abs=1e-12)


@pytest.mark.parametrize(("statistic", "dof"), [(0.5, 1), (3.84, 1), (12.0, 4), (40.0, 9), (150.0, 99), (600.0, 30)])
def test_chi_square_survival_function_matches_scipy(statistic, dof):
    assert statistics.chi2_sf(statistic, dof) == pytest.approx(stats.chi2.sf(statistic, dof), rel=1e-9, abs=1e-300)


def test_ks_p_value_is_close_to_scipys_asymptotic_one():
    rng = np.random.default_rng(15)
    a, b = rng.normal(size=1_000), rng.normal(0.1, 1, 5_000)
    result = stats.ks_2samp(a, b, method="asymp")

    assert statistics.ks_p_value(result.statistic, b.size, a.size) == pytest.approx(result.pvalue, rel=0.05)


def test_chi2_homogeneity_matches_scipys_contingency_test():
    reference_counts, current_counts = np.array([400, 250, 150, 120, 80]), np.array([30, 40, 12, 10, 8])
    expected = stats.chi2_contingency(np.vstack([reference_counts, current_counts]), correction=False)

    statistic, dof, p_value = statistics.chi2_homogeneity(reference_counts, current_counts)

    assert (statistic, dof) == (pytest.approx(expected.statistic), expected.dof)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_corrections_match_their_definitions():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    holm = statistics.adjust_p_values(p, "holm")
    bh = statistics.adjust_p_values(p, "bh")

    assert holm.tolist() == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.2])
    assert bh.tolist() == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.2])
    assert statistics.adjust_p_values(p, "bonferroni").tolist() == pytest.approx([0.05, 0.2, 0.15, 0.025, 1.0])


def test_psi_of_identical_counts_is_zero_and_grows_with_the_shift():
    counts = np.array([[10, 20, 30, 40]])
    assert statistics.psi_rows(counts, counts)[0] == pytest.approx(0.0)
    small = statistics.psi_rows(counts, np.array([[12, 20, 30, 38]]))[0]
    large = statistics.psi_rows(counts, np.array([[40, 30, 20, 10]]))[0]
    assert small > 0
    assert small < 0.01
    assert large > 0.5


# ---- configuration ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings",
    [
        {"alpha": 0},
        {"min_rows": 0},
        {"correction": "fdr"},
        {"drift_share": 1.5},
        {"unknown": 1},
        {"critical_features": "num_0"},
        {"psi_threshold": -1},
    ],
)
def test_invalid_settings_are_refused_with_a_named_error(settings):
    with pytest.raises(InvalidMonitoringConfig):
        DriftConfig.from_dict(settings)


def test_settings_round_trip_through_their_document():
    config = DriftConfig.from_dict({"critical_features": ["a"], "correction": "bh", "min_rows": 50})
    assert DriftConfig.from_dict(config.to_dict()) == config


# ---- the package's rooms --------------------------------------------------------------------------------------
MONITORING = Path(__file__).resolve().parents[2] / "layers" / "core" / "python" / "mlops" / "monitoring"


def imports_of(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from module import name`` and ``import module`` of a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return found


@pytest.mark.parametrize("path", sorted(MONITORING.glob("*.py")), ids=lambda p: p.name)
def test_monitoring_modules_import_only_public_names_numpy_and_the_registry_in_one_place(path):
    imports = imports_of(path)
    private = [f"{module}.{name}" for module, name in imports if module.startswith("mlops.") and name.startswith("_")]
    assert not private, f"{path.name} imports private names: {private}"
    assert not [module for module, _ in imports if module.split(".")[0] == "scipy"], f"{path.name} imports scipy"
    registry = [module for module, _ in imports if module.startswith("mlops.registry")]
    assert not registry or path.name == "registry_view.py", f"{path.name} imports {registry}: use registry_view"


def string_literals(path: Path) -> list[str]:
    """Every string constant of a source file but its docstrings (f-string pieces included)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", sorted(MONITORING.glob("*.py")), ids=lambda p: p.name)
def test_monitoring_builds_no_storage_key_of_its_own(path):
    """Every S3 key, DynamoDB key and capture/feedback marker comes from mlops.storage.layout."""
    keys = (
        "MODEL#",
        "CHECK#",
        "MONITOR",
        "capture/",
        "feedback/",
        "monitoring/",
        "/dt=",
        "mlops.capture",
        "mlops.feedback",
    )
    built = [text for text in string_literals(path) if any(key in text for key in keys)]
    assert not built, f"{path.name} spells storage keys itself: {built}"
