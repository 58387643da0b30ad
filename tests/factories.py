"""Typed registry records for tests that need a version without running a pipeline."""

from __future__ import annotations

import csv
import io
from typing import Any

from mlops.data import dataset
from mlops.records.registry import Lineage, VersionContent


def version_content(**fields: Any) -> VersionContent:
    """A valid version's content; ``fields`` override any part (e.g. ``metrics``, ``schema``, ``baseline_uri``)."""
    document: dict[str, Any] = {
        "task": "classification",
        "target": "y",
        "schema": {"features": [{"name": "x", "kind": "numeric"}], "target": "y", "task": "classification"},
        "estimator": "logistic_regression",
        "params": {},
        "metrics": {},
        "gate": {"passed": True, "reasons": []},
        "artifact_uri": "s3://bucket/models/m/" + "ab" * 32 + ".joblib",
        "artifact_sha256": "ab" * 32,
        "baseline_uri": "s3://bucket/baselines/m/" + "cd" * 32 + ".json",
        "lineage": Lineage(
            dataset_uri="s3://bucket/data.csv",
            data_sha256="ef" * 32,
            rows=100,
            split={"seed": 42},
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:TrainingPipeline:test",
            run_id="test",
        ),
    }
    document.update(fields)
    return VersionContent.model_validate(document)


def table_from_rows(header: list[str], rows: list[list[Any]]) -> dataset.Table:
    """A table from rows of cells (as a CSV with these rows would read)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return dataset.read_table(buffer.getvalue().encode())
