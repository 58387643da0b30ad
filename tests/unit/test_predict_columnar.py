"""A columnar predict request (``{"inputs": {feature: [...]}}``) against the same rows sent as ``instances``: the same
answers, the same captured records (read back by the one reader the drift check, feedback rows and shadow replay
use), and the body errors named."""

from __future__ import annotations

import json
import math
import random
from types import SimpleNamespace

import numpy as np
import pytest

from mlops.monitoring.capture_records import MAX_REQUEST_BYTES, ROWS_PER_LINE, records_of
from mlops.serving.http import handle_predict
from mlops.serving.runtime import Predictions
from tests.unit.test_serving_columns import SCHEMA, good_row


class ScoringModel:
    """Answers from the validated columns themselves (age, income, plan), so a column mixed up shows in the answer."""

    runtime = "onnx"

    def predict(self, columns: list[np.ndarray]) -> Predictions:
        age, income, plan = (column.ravel() for column in columns[:3])
        score = np.nan_to_num(age, nan=50.0) / 100 + np.nan_to_num(income, nan=0.0) / 2e6
        score = np.clip(score + np.where(plan == "pro", 0.1, 0.0), 0.0, 1.0)
        labels = ["yes" if s > 0.5 else "no" for s in score.tolist()]
        return Predictions(labels, [[1 - s, s] for s in score.tolist()], ["no", "yes"])


class Cache:
    def choose(self, model_name, draw, alias="production"):
        return SimpleNamespace(version=3, schema=SCHEMA, model=ScoringModel())


def call(body: dict, **dumps_options) -> tuple[int, dict, list[dict]]:
    lines: list[str] = []
    event = {"pathParameters": {"name": "churn"}, "body": json.dumps(body, **dumps_options)}
    answer = handle_predict(event, "req", Cache(), capture_sample_rate=1.0, write_line=lines.append)
    captured = [json.loads(line) for chunk in lines for line in chunk.splitlines() if line]
    return answer["statusCode"], json.loads(answer["body"]), captured


@pytest.mark.parametrize("rows", [1, 7, ROWS_PER_LINE + 1, 250, 1000])
def test_columns_get_the_answers_and_the_capture_the_same_rows_get(rows):
    # Given seeded rows with one set of keys (missing values, pooled categories, dates, an identifier)
    rng = random.Random(rows)
    instances = [good_row(rng) for _ in range(rows)]
    for row in instances:
        row["customer_id"] = f"customer-{rng.random():.12f}" * 4 if rows >= 1000 else row.get("customer_id")
    inputs = {name: [row[name] for row in instances] for name in instances[0]}
    # When they are sent as rows and as columns
    row_status, by_rows, row_capture = call({"instances": instances})
    column_status, by_columns, column_capture = call({"inputs": inputs})
    # Then both answer 200 with the same values, row for row
    assert row_status == column_status == 200
    outputs = by_columns["outputs"]
    assert outputs["inference_id"] == [p["inference_id"] for p in by_rows["predictions"]]
    assert outputs["prediction"] == [p["prediction"] for p in by_rows["predictions"]]
    assert outputs["probabilities"] == {
        label: [p["probabilities"][label] for p in by_rows["predictions"]] for label in ("no", "yes")
    }
    assert {k: by_columns[k] for k in ("model_name", "alias", "version")} == {
        k: by_rows[k] for k in ("model_name", "alias", "version")
    }
    # And the capture, read back, holds the same records: a body that fits one log event in one line, as it came,
    # a larger one in lines of at most ROWS_PER_LINE rows
    for body, capture in (({"instances": instances}, row_capture), ({"inputs": inputs}, column_capture)):
        whole = len(json.dumps(body)) <= MAX_REQUEST_BYTES
        assert len(capture) == (1 if whole else -(-rows // ROWS_PER_LINE)), (rows, len(json.dumps(body)))
        assert ("request" in capture[0]) is whole
    assert rows < 1000 or "request" not in row_capture[0]  # the generator made a body too large for one event
    records = [record for document in column_capture for record in records_of(document)]
    assert records == [record for document in row_capture for record in records_of(document)]
    assert [r["features"] for r in records] == instances


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"instances": [], "inputs": {}}, 400, "not both"),
        ({"rows": []}, 400, "an 'instances' list (rows) or an 'inputs' object (columns)"),
        ({"inputs": {"age": [1]}, "extra": 1}, 400, "unknown field(s) in the body: 'extra'"),
        ({"inputs": [[1, 2]]}, 422, "'inputs' must be an object of feature columns"),
        (
            {"inputs": {"age": ["41"], "income": [1], "plan": ["pro"], "region": [None], "signed_up": [None]}},
            422,
            "row 0: feature 'age' must be a number or null, not str",
        ),
    ],
)
def test_a_bad_columnar_body_is_refused_with_its_reason_and_nothing_captured(body, status, message):
    answered, document, captured = call(body)
    assert answered == status and message in document["message"]
    assert captured == []


def test_records_of_reads_neither_layout_as_nothing_and_drops_ragged_columns():
    assert records_of({"capture": "x"}) == []
    assert records_of({"records": [{"inference_id": "a"}, "junk"]}) == [{"inference_id": "a"}]
    document = {
        "version": 2,
        "inference_ids": ["a", "b"],
        "predictions": [1.5, 2.5],
        "features": {"x": [1, 2], "ragged": [1]},
    }
    assert records_of(document) == [
        {"inference_id": "a", "version": 2, "prediction": 1.5, "features": {"x": 1}},
        {"inference_id": "b", "version": 2, "prediction": 2.5, "features": {"x": 2}},
    ]


def test_a_pretty_printed_body_is_captured_on_one_line_and_a_lenient_one_in_documents():
    rows = [good_row(random.Random(seed)) | {"customer_id": None} for seed in range(3)]
    # Given a body with line breaks between its tokens: one capture line, still JSON, the rows as they came
    status, _, (document,) = call({"instances": rows}, indent=2)
    assert status == 200 and [r["features"] for r in records_of(document)] == rows
    # Given a body only the standard library reads (a NaN literal in a column the model ignores): documents of
    # values, the NaN written as null, never embedded as it came
    lenient = [row | {"customer_id": math.nan} for row in rows]
    status, _, (document,) = call({"instances": lenient})
    assert status == 200 and "request" not in document
    assert [r["features"]["customer_id"] for r in records_of(document)] == [None, None, None]
