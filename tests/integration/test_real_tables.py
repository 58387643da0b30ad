"""Tables as users have them, through the real TrainingPipeline: names, row indexes, timestamps, free text,
wide categories, imbalanced labels. The roles chosen are recorded, and the deployed model predicts from a
whole record that still carries the columns it does not use."""

from __future__ import annotations

import csv
import gzip
import io
import json

import numpy as np
import pytest

from local.runs.training import error_message, run_training
from mlops.registry import documents
from tests.conftest import upload

pytestmark = pytest.mark.integration
FAST = [
    {"estimator": "logistic_regression", "params": {"max_iter": 500}},
    {"estimator": "random_forest", "params": {"n_estimators": 30, "min_samples_leaf": 2}},
]
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen", "Backus"]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _customers(rows: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """A churn table: a unique full name first, a row index, a signup timestamp, a free-text note, a city of
    thousands of values, and a label about 1:50 that depends on tenure, plan and the signup hour."""
    rng = np.random.default_rng(seed)
    tenure = rng.uniform(0, 60, rows)
    plan = rng.choice(["free", "pro", "team"], rows, p=[0.6, 0.3, 0.1])
    hour = rng.integers(0, 24, rows)
    score = -tenure / 10 + (plan == "free") * 1.5 + (hour >= 22) * 1.5 + rng.normal(0, 0.5, rows)
    churned = score > np.quantile(score, 1 - 1 / 51)
    header = ["full_name", "row", "signed_up", "note", "city", "tenure_months", "plan", "churned"]
    body = []
    for i in range(rows):
        day = np.datetime64("2022-01-01") + np.timedelta64(int(rng.integers(0, 700)), "D")
        note = f"customer {i} wrote that the {plan[i]} plan {'works' if i % 3 else 'is slow'} for them today"
        body.append(
            [
                f"{FIRST[i % 10]} {LAST[(i // 10) % 10]}-{i}",
                str(i),
                f"{day}T{hour[i]:02d}:{int(rng.integers(0, 60)):02d}:00",
                note,
                f"city-{int(rng.zipf(1.3)) % 5000}",
                f"{tenure[i]:.1f}",
                plan[i],
                "yes" if churned[i] else "no",
            ]
        )
    return header, body


def _predict(stack, model_name: str, instances: list[dict]) -> tuple[int, dict]:
    event = {
        "pathParameters": {"name": model_name},
        "body": json.dumps({"instances": instances}),
        "requestContext": {"requestId": "t"},
    }
    response = stack.client("lambda").invoke(
        FunctionName=stack.function_names["PredictFunction"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    return payload["statusCode"], json.loads(payload["body"])


def test_a_customer_table_trains_on_the_right_columns_and_serves_whole_records(stack):
    # Given a 1:50 churn table whose first column is a unique name and which carries a row index and notes
    header, rows = _customers(2000)
    uri = upload(stack, "datasets/customers.csv", _csv(header, rows))

    # When the pipeline runs with balanced class weights, gated on balanced accuracy
    result = run_training(
        stack,
        {
            "model_name": "churn",
            "dataset_uri": uri,
            "target": "churned",
            "candidates": FAST,
            "class_weight": "balanced",
            "gate": {"metric": "balanced_accuracy", "min_score": 0.7},
        },
    )

    # Then the roles are the ones a person would choose, each with its reason
    assert result.end_state == "Deployed", (error_message(result.cause), result.summary().get("gate"))
    summary = result.summary()
    roles = {name: column["role"] for name, column in summary["columns"].items()}
    assert roles == {
        "full_name": "id",
        "row": "id",
        "signed_up": "datetime",
        "note": "feature",  # free text: TF-IDF features
        "city": "feature",
        "tenure_months": "feature",
        "plan": "feature",
        "churned": "target",
    }
    assert all(column["reason"] for column in summary["columns"].values())
    assert "signed_up__hour" in summary["features"] and "full_name" not in summary["features"]
    assert summary["columns"]["note"]["kind"] == "text" and "note" in summary["features"]
    record = stack.registry().get_version("churn", 1)
    city = next(f for f in documents.schema_of(record)["features"] if f["name"] == "city")
    assert len(city["categories"]) <= 50
    # the imbalance is handled and reported
    assert summary["positive_class"] == "yes"
    assert {"balanced_accuracy", "average_precision"} <= set(summary["metrics"])
    assert summary["metrics"]["balanced_accuracy"] >= 0.7
    assert all(row["params"]["class_weight"] == "balanced" for row in summary["leaderboard"])
    assert summary["gate"]["warnings"] == []
    # and the deployed model predicts from whole records, excluded columns and the label included
    instances = [dict(zip(header, row, strict=True)) for row in rows[:3]]
    for instance in instances:
        instance["tenure_months"] = float(instance["tenure_months"])
    status, body = _predict(stack, "churn", instances)
    assert status == 200, body
    assert len(body["predictions"]) == 3
    assert {row["prediction"] for row in body["predictions"]} <= {"yes", "no"}


def test_a_leaking_feature_is_warned_about_and_blocks_the_gate_when_asked(stack):
    # Given a gzip-compressed regression table in the tens of thousands with a price copy in another currency
    rng = np.random.default_rng(8)
    size = rng.uniform(30, 200, 600)
    price = 300 * size + rng.normal(0, 4000, 600) + 10_000
    rows = [[f"{s:.1f}", f"{p * 0.9:.0f}", f"{p:.0f}"] for s, p in zip(size, price, strict=True)]
    uri = upload(stack, "datasets/flats.csv.gz", gzip.compress(_csv(["size_m2", "price_eur_copy", "price"], rows)))

    # When the gate is asked to block on leakage
    result = run_training(
        stack,
        {
            "model_name": "flats",
            "dataset_uri": uri,
            "target": "price",
            "candidates": [{"estimator": "ridge", "params": {}}],
            "gate": {"metric": "r2", "block_on_leakage": True},
        },
    )

    # Then the version is rejected, with the feature named
    assert result.end_state == "NotPromoted", error_message(result.cause)
    gate = result.summary()["gate"]
    assert gate["passed"] is False
    assert len(gate["warnings"]) == 1 and "'price_eur_copy'" in gate["warnings"][0]
    assert "block_on_leakage" in gate["reasons"][-1]


def test_a_retrain_on_new_rows_is_compared_with_its_champion_despite_other_kept_categories(stack):
    # Given a champion trained on one sample of a table with thousands of cities
    # (2,000 rows a sample: at 1:50, 400 holdout rows hold enough churners for the gate's floor to see the signal)
    header, rows = _customers(4000, seed=1)
    request = {
        "model_name": "churn2",
        "target": "churned",
        "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 500}}],
        "class_weight": "balanced",
        "gate": {"metric": "balanced_accuracy"},
    }
    first = run_training(stack, {**request, "dataset_uri": upload(stack, "datasets/a.csv", _csv(header, rows[:2000]))})
    assert first.end_state == "Deployed", error_message(first.cause)

    # When the next sample keeps other cities and starts at another date
    second = run_training(stack, {**request, "dataset_uri": upload(stack, "datasets/b.csv", _csv(header, rows[2000:]))})

    # Then the champion is scored on the new holdout, not refused as another problem
    registry = stack.registry()
    first_city = next(
        f for f in documents.schema_of(registry.get_version("churn2", 1))["features"] if f["name"] == "city"
    )
    second_city = next(
        f for f in documents.schema_of(registry.get_version("churn2", 2))["features"] if f["name"] == "city"
    )
    assert first_city["categories"] != second_city["categories"]
    champion = registry.get_version("churn2", 2).champion
    assert champion["problem"] is None
    assert set(champion["holdout_metrics"]) >= {"balanced_accuracy", "average_precision"}
    assert second.summary()["gate"]["champion_score"] == champion["holdout_metrics"]["balanced_accuracy"]
