"""Large and odd data through the real pipeline: it trains, or stops with a named and explained error."""

from __future__ import annotations

import csv
import io
import time

import numpy as np
import pytest

from local.runs.training import error_message, run_training
from mlops.registry import documents
from tests.conftest import upload

pytestmark = pytest.mark.integration
FAST = [
    {"estimator": "logistic_regression", "params": {"max_iter": 300}},
    {"estimator": "decision_tree", "params": {"max_depth": 6}},
]


def _csv(header: list[str], rows) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _run(stack, payload: bytes, target: str, **request):
    uri = upload(stack, "datasets/odd.csv", payload)
    started = time.perf_counter()
    result = run_training(
        stack, {"model_name": "odd", "dataset_uri": uri, "target": target, "candidates": FAST, **request}
    )
    return result, time.perf_counter() - started


def test_a_wide_csv_with_unicode_names_constant_and_empty_columns_trains(stack):
    rng = np.random.default_rng(11)
    rows_count, numeric_columns = 600, 300
    header = [f"größe_{i} (cm)" for i in range(numeric_columns)] + ['région, "quoted"', "constant", "empty", "y"]
    data = rng.normal(size=(rows_count, numeric_columns))
    rows = []
    for i in range(rows_count):
        label = "oui" if data[i, :5].sum() > 0 else "non"
        rows.append([f"{v:.4f}" for v in data[i]] + [rng.choice(["nord, est", "sud\nouest", "ouest"]), "1", "", label])
    result, seconds = _run(stack, _csv(header, rows), "y")

    assert result.end_state == "Deployed", error_message(result.cause)
    record = stack.registry().get_version("odd", 1)
    kinds = {f["name"]: f["kind"] for f in documents.schema_of(record)["features"]}
    assert len(kinds) == numeric_columns + 3
    assert kinds['région, "quoted"'] == "categorical" and kinds["constant"] == "numeric"
    assert record.metrics["accuracy"] > 0.7
    print(f"wide csv {rows_count} x {len(header)}: {seconds:.1f} s")


def test_a_tall_csv_of_tens_of_thousands_of_rows_trains(stack):
    rng = np.random.default_rng(5)
    rows_count = 30_000
    features = rng.normal(size=(rows_count, 6))
    target = features @ np.array([1.0, -2.0, 0.5, 0.0, 3.0, 0.0]) + rng.normal(0, 0.1, rows_count)
    rows = [[*(f"{v:.5f}" for v in features[i]), f"{target[i]:.5f}"] for i in range(rows_count)]
    result, seconds = _run(
        stack,
        _csv([f"x{i}" for i in range(6)] + ["y"], rows),
        "y",
        task="regression",
        candidates=[{"estimator": "ridge", "params": {}}, {"estimator": "decision_tree", "params": {"max_depth": 8}}],
    )

    assert result.end_state == "Deployed", error_message(result.cause)
    assert stack.registry().get_version("odd", 1).metrics["r2"] > 0.99
    print(f"tall csv {rows_count} x 7: {seconds:.1f} s")


def test_a_target_with_rare_classes_stops_with_an_explained_error(stack):
    rng = np.random.default_rng(2)
    rows = [[f"{rng.normal():.3f}", "common" if i % 50 else "rare"] for i in range(120)]
    result, _ = _run(stack, _csv(["x", "label"], rows), "label")

    assert (result.status, result.end_state, result.error) == ("FAILED", "InvalidInput", "InvalidDataset")
    assert "fewer than 5 rows ('rare': 3)" in error_message(result.cause)


def test_all_missing_features_stop_with_an_explained_error_or_train(stack):
    rows = [["", "", "a" if i % 2 else "b"] for i in range(60)]
    result, _ = _run(stack, _csv(["x1", "x2", "label"], rows), "label")

    # Nothing to learn from: either a named failure or a model no better than chance, never a crash.
    assert result.end_state in ("InvalidInput", "NoCandidateTrained", "Deployed", "NotPromoted"), result.cause
    if result.status == "FAILED":
        assert error_message(result.cause)
