"""Imbalance handled by default, through the real TrainingPipeline: on a 6 %-positive table a default request trains
balanced copies of the default candidates, picks the winner on validation average precision, tunes its decision
threshold on validation, records it on the version and the card, and the endpoint labels with it."""

from __future__ import annotations

import csv
import io
import json
import logging
import os

import pytest

from local.runs.training import error_message, run_training
from local.stack import LocalStack
from mlops.governance import cards
from mlops.training import estimators
from tests.integration.test_baseline_floor import imbalanced_csv

pytestmark = pytest.mark.integration
MODEL = "claims"


@pytest.fixture(scope="module")
def stack():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack() as local_stack:
        os.environ.update(local_stack.environment())
        yield local_stack
    os.environ.clear()
    os.environ.update(saved)


def _predict(stack: LocalStack, rows: list[dict]) -> dict:
    event = {
        "pathParameters": {"name": MODEL},
        "body": json.dumps({"instances": rows}),
        "requestContext": {"requestId": "t"},
    }
    response = stack.client("lambda").invoke(
        FunctionName=stack.function_names["PredictFunction"], Payload=json.dumps(event).encode()
    )
    return json.loads(json.loads(response["Payload"].read())["body"])


def test_a_six_percent_table_gets_balanced_candidates_a_threshold_free_selection_and_a_tuned_threshold(stack):
    # Given a table with ~6 % positives and signal in two features
    body = imbalanced_csv(3, signal=1.5)
    stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/claims.csv", Body=body)

    # When it is trained with a default request (no candidates, no gate metric)
    request = {"model_name": MODEL, "dataset_uri": f"s3://{stack.bucket}/datasets/claims.csv", "target": "claim"}
    result = run_training(stack, {**request, "positive_class": "Yes"})

    # Then the defaults ran, each that takes class_weight also balanced
    assert result.end_state == "Deployed", error_message(result.cause)
    leaderboard = result.documents["leaderboard"]
    defaults = estimators.DEFAULT_CANDIDATES["classification"]
    assert [(row["estimator"], row["params"]) for row in leaderboard[: len(defaults)]] == [
        (c["estimator"], c["params"]) for c in defaults
    ]
    balanced = leaderboard[len(defaults) :]
    assert balanced and all(row["params"]["class_weight"] in ("balanced", "balanced_subsample") for row in balanced)
    assert all(row["status"] == "trained" for row in leaderboard)
    # And the winner is the best on validation average precision, not on the gate's F1
    record = stack.registry().get_version(MODEL, result.version)
    trained = [row for row in leaderboard if row["status"] == "trained"]
    best = max(trained, key=lambda row: (row["validation_metrics"]["average_precision"], -row["index"]))
    assert (record.estimator, record.params) == (best["estimator"], best["params"])
    assert record.training_request["selection_metric"] == "average_precision"
    assert record.gate["metric"] == "f1"
    assert record.training_request["minority_share"] == pytest.approx(0.06, abs=0.01)

    # And its threshold, tuned on validation, is on the version and the card
    decision = record.decision_threshold
    assert decision["positive_class"] == "Yes" and decision["tuned_on"] == "validation"
    assert decision["applied"] is True and decision["threshold"] < 0.5, decision
    assert decision["validation_score"] > decision["validation_score_at_default"]
    markdown = cards.render_markdown(cards.build_card(record, stack.registry().list_events(MODEL)))
    line = next(line for line in markdown.splitlines() if line.startswith("| Decision threshold |"))
    assert f"{decision['threshold']:.4f} on the probability of 'Yes' (applied)" in line, line
    # skl2onnx does not convert the thresholded model: scikit-learn serves it, the parity question does not arise
    assert record.serving.served_by == "sklearn"

    # And the endpoint labels a row 'Yes' exactly when its probability of 'Yes' reaches the threshold
    reader = csv.DictReader(io.StringIO(body.decode()))
    rows = [{k: float(v) for k, v in row.items() if k != "claim"} for row in list(reader)[:300]]
    answer = _predict(stack, rows)
    predictions = answer["predictions"]
    assert answer["version"] == record.version and len(predictions) == len(rows)
    for prediction in predictions:
        expected = "Yes" if prediction["probabilities"]["Yes"] >= decision["threshold"] else "No"
        assert prediction["prediction"] == expected, prediction
    between = [p for p in predictions if decision["threshold"] <= p["probabilities"]["Yes"] < 0.5]
    assert between, "no row between the threshold and 0.5: the test would not tell a threshold from 0.5"
