"""Reproduce a registered version from its lineage and say whether the result matches.

Re-reads the recorded dataset (and checks its sha256), re-splits it with the recorded seed and fractions,
refits the recorded estimator with the recorded params and seed, and compares the holdout metrics and the
holdout predictions with the registered version and its artifact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.data import dataset
from mlops.records.gate import DecisionThreshold
from mlops.records.lineage import library_versions
from mlops.records.registry import VersionRecord
from mlops.registry import documents
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from mlops.training import estimators, feedback_rows, imbalance, scoring

METRIC_TOLERANCE = 1e-9
PROBABILITY_TOLERANCE = 1e-9


def reproduce_version(record: VersionRecord) -> dict[str, Any]:
    lineage = record.lineage
    split = lineage.split
    report: dict[str, Any] = {
        "model_name": record.model_name,
        "version": record.version,
        "dataset_uri": lineage.dataset_uri,
        "libraries_now": library_versions(),
        "libraries_then": lineage.libraries,
    }
    stream = objects.open_dataset(lineage.dataset_uri)
    table = dataset.read_table(stream)
    report["data_matches"] = stream.hexdigest() == lineage.data_sha256
    if not report["data_matches"]:
        report.update(reproduced=False, reason="the dataset at the recorded URI has changed since training")
        return report
    schema_then = dataset.Schema.from_dict(documents.schema_of(record))
    # the target as training read it (missing rows dropped, labels normalised); the features as the version recorded
    _, table = dataset.infer_schema(table, schema_then.target, schema_then.task, schema_then.positive_class)
    schema = schema_then
    rows = dataset.split_rows(table, schema, split["seed"], split["validation_fraction"], split["test_fraction"])
    if lineage.feedback:  # labelled captured rows were placed by time, as Prepare placed them
        rows, _ = feedback_rows.place_in_splits(
            rows,
            total_rows=table.rows,
            labelled_rows=lineage.feedback["labelled_rows"],
            holdout_share=lineage.feedback["holdout_share"],
            weight=lineage.feedback["weight"],
        )
    parts = {name: table.take(indices) for name, indices in rows.items()}
    report["split_matches"] = {name: part.rows for name, part in parts.items()} == split["sizes"]
    train_x, train_y = dataset.feature_matrix(parts["train"], schema), dataset.target_vector(parts["train"], schema)
    test_x, test_y = dataset.feature_matrix(parts["test"], schema), dataset.target_vector(parts["test"], schema)
    refit, _ = estimators.fit_candidate(
        schema, record.estimator, record.params, seed=split["seed"], features=train_x, target=train_y
    )
    if record.decision_threshold:  # the threshold the version labels with, tuned on validation at training
        refit = imbalance.thresholded(refit, DecisionThreshold.model_validate(record.decision_threshold))
    metrics = scoring.score(refit, test_x, test_y, schema)
    differences = {name: abs(metrics[name] - record.metrics[name]) for name in record.metrics}
    report["metrics"] = metrics
    report["metric_differences"] = differences
    report["metrics_match"] = all(d <= METRIC_TOLERANCE for d in differences.values())

    registered = objects.load_model(S3Uri.parse(record.artifact_uri), record.artifact_sha256, record.sklearn_version)
    if schema.task == "classification":
        gap = float(np.max(np.abs(refit.predict_proba(test_x) - registered.predict_proba(test_x))))
        agreement = float(np.mean(refit.predict(test_x) == registered.predict(test_x)))
    else:
        gap = float(np.max(np.abs(refit.predict(test_x) - registered.predict(test_x))))
        agreement = float(np.mean(np.isclose(refit.predict(test_x), registered.predict(test_x))))
    report.update(
        prediction_agreement=agreement,
        max_prediction_difference=gap,
        predictions_match=agreement == 1.0 and gap <= PROBABILITY_TOLERANCE,
    )
    report["reproduced"] = report["split_matches"] and report["metrics_match"] and report["predictions_match"]
    report["reason"] = "" if report["reproduced"] else "metrics or predictions differ from the registered version"
    return report
