"""How good the models are that a user gets with the defaults, against a hand-written anchor and a trivial baseline.

Each table is split 80/20 with a fixed seed. The 80 % goes through the real TrainingPipeline on the local stack with a
default request (model name, dataset, target: the run's own candidates, split and gate); its winner (deployed or
not) scores the 20 %. On the same 80/20 split: scikit-learn's ``HistGradientBoostingClassifier/Regressor`` with its
defaults, written by hand (the anchor), and ``DummyClassifier(strategy="prior")`` / ``DummyRegressor(strategy="mean")``
(the trivial baseline the gate's floor compares with). Per table: the quality metric (ROC AUC for a binary target,
accuracy for a multiclass one, R² for regression; for a binary table also the F1 of the labels each model gives,
ours with its tuned decision threshold where the run set one), ``quality_ratio_vs_hgb`` (ours over the anchor's) and
``lift_over_baseline`` (ours minus the baseline's), and what the gate did. ``quality_ratio_vs_hgb_min`` is the
minimum over the tables with signal: on a noise-only table every model is at chance and the ratio says nothing;
there, what counts is that the gate did not deploy.

Tables: scikit-learn's bundled breast cancer, wine and diabetes, and generated ones with the traits users bring: a
binary target with 6 % positives and signal, the same with pure-noise features, a regression target of pure noise,
and product reviews whose only feature is free text (``reviews-text``): there the anchor is a hand-written TF-IDF +
logistic regression (scikit-learn's defaults) instead of HistGradientBoosting, which takes no text, and the row says
``"anchor": "tfidf_logistic"``.

    python -m bench.quality
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import datasets as bundled
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from local.runs.datasets import reviews_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.data import dataset
from mlops.records.lineage import library_versions
from mlops.registry import documents
from mlops.storage import objects
from mlops.storage.objects import S3Uri

SEED = 0
TARGET = "target"


@dataclass(frozen=True)
class BenchTable:
    name: str
    task: str  # "binary", "multiclass", "regression"
    features: np.ndarray
    target: np.ndarray
    signal: bool = True
    header: tuple[str, ...] | None = None  # the feature columns' names (default x0, x1, ...)
    anchor: str = "hgb"  # the hand-written model ours is compared with: "hgb", or "tfidf_logistic" for a text table


def _bundled(name: str, task: str, loader: Callable) -> BenchTable:
    bunch = loader()
    return BenchTable(name, task, bunch.data, bunch.target)


def _imbalanced(name: str, *, signal: bool, rows: int = 3000) -> BenchTable:
    """~6 % positives over eight features; with ``signal`` the positives depend on three of them."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(rows, 8))
    score = (features[:, 0] + features[:, 1] - features[:, 2]) + rng.normal(scale=1.0, size=rows)
    if not signal:
        score = rng.normal(size=rows)
    positive = score > np.quantile(score, 0.94)
    return BenchTable(name, "binary", features, positive.astype(int), signal)


def _noise_regression(rows: int = 1500) -> BenchTable:
    rng = np.random.default_rng(8)
    return BenchTable("noise-regression", "regression", rng.normal(size=(rows, 6)), rng.normal(1000, 50, rows), False)


def _reviews(rows: int = 2000) -> BenchTable:
    """Product reviews whose only feature is free text (local.runs.datasets.reviews_csv); target 1 = positive."""
    body = list(csv.DictReader(io.StringIO(reviews_csv(rows, seed=11).decode())))
    texts = np.array([[row["review"]] for row in body], dtype=object)
    labels = np.array([int(row["sentiment"] == "positive") for row in body])
    return BenchTable("reviews-text", "binary", texts, labels, header=("review",), anchor="tfidf_logistic")


def tables() -> list[BenchTable]:
    return [
        _bundled("breast-cancer", "binary", bundled.load_breast_cancer),
        _bundled("wine", "multiclass", bundled.load_wine),
        _bundled("diabetes", "regression", bundled.load_diabetes),
        _imbalanced("six-percent-positives", signal=True),
        _imbalanced("six-percent-noise", signal=False),
        _noise_regression(),
        _reviews(),
    ]


def _csv(features: np.ndarray, target: np.ndarray, header: tuple[str, ...] | None = None) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*(header or (f"x{i}" for i in range(features.shape[1]))), TARGET])
    for row, label in zip(features.tolist(), target.tolist(), strict=True):
        writer.writerow([*(value if isinstance(value, str) else repr(value) for value in row), label])
    return buffer.getvalue().encode()


def _quality(task: str, truth: np.ndarray, labels: np.ndarray, probabilities: np.ndarray | None, classes) -> float:
    """The table's quality metric: ROC AUC (binary, the positive class the larger label), accuracy, R²."""
    if task == "regression":
        return float(skm.r2_score(truth, labels))
    if task == "multiclass":
        return float(skm.accuracy_score(truth, labels))
    positive = list(classes).index(max(classes))
    return float(skm.roc_auc_score(truth == max(classes), probabilities[:, positive]))


def _binary_f1(task: str, truth: np.ndarray, labels: np.ndarray) -> float | None:
    """F1 of the larger label (the positive class) for a binary table: how useful the labels themselves are."""
    return round(float(skm.f1_score(truth, labels, pos_label=max(truth))), 4) if task == "binary" else None


def _ours(stack: LocalStack, table: BenchTable, train: tuple, test: tuple) -> tuple[float, dict]:
    """Our winner's quality on the 20 %, and what the run did."""
    s3 = stack.client("s3")
    s3.put_object(Bucket=stack.bucket, Key=f"datasets/{table.name}.csv", Body=_csv(*train, table.header))
    request = {"model_name": table.name, "dataset_uri": f"s3://{stack.bucket}/datasets/{table.name}.csv"}
    result = run_training(stack, {**request, "target": TARGET, "requested_by": "bench"})
    if result.status != "SUCCEEDED" or result.version is None:
        raise SystemExit(f"{table.name}: the run failed: {result.error}: {result.cause}")
    record = stack.registry().get_version(table.name, result.version)
    schema = dataset.Schema.from_dict(documents.schema_of(record))
    model = objects.load_model(
        S3Uri.parse(record.artifact_uri), record.artifact_sha256, library_versions()["scikit-learn"]
    )
    held_out = dataset.feature_matrix(dataset.read_table(_csv(*test, table.header)), schema)
    labels = model.predict(held_out)
    probabilities = model.predict_proba(held_out) if table.task != "regression" else None
    classes = [int(label) for label in model.classes_] if table.task != "regression" else None
    if classes is not None:
        labels = labels.astype(int)
    quality = _quality(table.task, test[1], labels, probabilities, classes)
    gate = record.gate
    return quality, {
        "estimator": record.estimator,
        "status": record.status,
        "end_state": result.end_state,
        "gate_metric": gate.get("metric"),
        "gate_reasons": gate.get("reasons"),
        "lift_over_baseline_in_gate": record.lift_over_baseline,
        "decision_threshold": (record.decision_threshold or {}).get("threshold"),
        "ours_f1": _binary_f1(table.task, test[1], labels),
    }


def _anchor(model, table: BenchTable, train: tuple, test: tuple) -> tuple[float, float | None]:
    """(the quality metric, the binary F1) of a hand-written model fitted on the same 80 %."""
    model.fit(*train)
    probabilities = model.predict_proba(test[0]) if table.task != "regression" else None
    classes = list(model.classes_) if table.task != "regression" else None
    labels = model.predict(test[0])
    return _quality(table.task, test[1], labels, probabilities, classes), _binary_f1(table.task, test[1], labels)


def _anchor_model(table: BenchTable):
    """scikit-learn's HistGradientBoosting with its defaults; for a text table TF-IDF + logistic regression."""
    if table.anchor == "tfidf_logistic":
        text = ColumnTransformer([("text", TfidfVectorizer(), 0)])
        return make_pipeline(text, LogisticRegression(max_iter=1000))
    regression = table.task == "regression"
    return (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(random_state=SEED)


def measure(stack: LocalStack, table: BenchTable) -> dict:
    stratify = table.target if table.task != "regression" else None
    train_x, test_x, train_y, test_y = train_test_split(
        table.features, table.target, test_size=0.2, random_state=SEED, stratify=stratify
    )
    train, test = (train_x, train_y), (test_x, test_y)
    ours, run = _ours(stack, table, train, test)
    regression = table.task == "regression"
    hgb, hgb_f1 = _anchor(_anchor_model(table), table, train, test)
    baseline, _ = _anchor(
        DummyRegressor(strategy="mean") if regression else DummyClassifier(strategy="prior"), table, train, test
    )
    metric = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}[table.task]
    return {
        "table": table.name,
        "task": table.task,
        "rows": len(table.target),
        "signal": table.signal,
        "metric": metric,
        "ours": round(ours, 4),
        "hgb": round(hgb, 4),
        "baseline": round(baseline, 4),
        "anchor": table.anchor,
        "quality_ratio_vs_hgb": round(ours / hgb, 4) if hgb > 0 else None,
        "lift_over_baseline": round(ours - baseline, 4),
        "hgb_f1": hgb_f1,
        **run,
    }


def main() -> None:
    logging.disable(logging.WARNING)
    rows = []
    with LocalStack() as stack:
        for table in tables():
            row = measure(stack, table)
            rows.append(row)
            print(
                f"{row['table']:>22}: {row['metric']} ours {row['ours']:.4f}, {row['anchor']} {row['hgb']:.4f}, "
                f"baseline "
                f"{row['baseline']:.4f}; {row['estimator']} {row['status']} ({row['end_state']})",
                flush=True,
            )
    with_signal = [row for row in rows if row["signal"] and row["quality_ratio_vs_hgb"] is not None]
    noise = [row for row in rows if not row["signal"]]
    print(
        json.dumps(
            {
                "benchmark": "quality",
                "quality_ratio_vs_hgb": {row["table"]: row["quality_ratio_vs_hgb"] for row in rows},
                "quality_ratio_vs_hgb_min": min(row["quality_ratio_vs_hgb"] for row in with_signal),
                "quality_lift_over_baseline_min": min(row["lift_over_baseline"] for row in with_signal),
                "quality_noise_tables_deployed": sum(row["end_state"] == "Deployed" for row in noise),
                "quality_signal_tables_deployed": sum(row["end_state"] == "Deployed" for row in with_signal),
                "tables": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
