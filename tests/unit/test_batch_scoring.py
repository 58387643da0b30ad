"""Batch scoring's pieces without a stack: per-row validation with reasons, CSV lines to cells and to the endpoint's
values, and the column-wise block path against the row-by-row reference it replaced."""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import numpy as np
import pytest

from mlops.monitoring.capture_records import records_of
from mlops.records.batch import PlannedJob
from mlops.records.schema import Feature, Schema
from mlops.serving.batch_chunks import parse_chunk, request_values, score_rows
from mlops.serving.runtime import Predictions
from mlops.serving.validation import InvalidInstances, validate_each_row, validate_instances


def schema() -> Schema:
    return Schema(
        task="classification",
        target="y",
        features=[Feature(name="a", kind="numeric"), Feature(name="b", kind="numeric")],
        classes=["0", "1"],
        columns={
            "id": {"role": "identifier"},
            "a": {"role": "feature"},
            "b": {"role": "feature"},
            "y": {"role": "target"},
        },
    )


MIXED = Schema(
    task="classification",
    target="y",
    features=[
        Feature(name="a", kind="numeric"),
        Feature(name="b", kind="numeric"),
        Feature(name="plan", kind="categorical", categories=["basic", "pro"]),
        Feature(name="since_year", kind="numeric", source="since", part="year"),
    ],
    classes=["no", "yes"],
    columns={
        "id": {"role": "identifier"},
        "a": {"role": "feature"},
        "b": {"role": "feature"},
        "plan": {"role": "feature", "kind": "categorical"},
        "since": {"role": "feature", "kind": "datetime", "epoch": "2020-01-01"},
        "y": {"role": "target"},
    },
)
HEADER = ["id", "a", "plan", "b", "since", "y"]
CELLS = {
    "a": ["1.5", "-3", "1e3", " 7 ", "nan", "NA", "", "?", "inf", "twelve", "1_000", "0"],
    "b": ["2", "0.25", "-1", "null", "n/a", "1e400", "x"],
    "plan": ["basic", "pro", "enterprise", "", "NA", "pro "],
    "since": ["2021-03-04", "2023-11-30T10:00:00", "", "yesterday", "2021-13-45"],
}


class ScoringModel:
    """Answers from the validated columns themselves, so a row or column mixed up shows in the answer."""

    runtime = "onnx"

    def predict(self, columns: list[np.ndarray]) -> Predictions:
        a, b, plan, year = (column.ravel() for column in columns)
        score = np.nan_to_num(a.astype(float), nan=0.5) + np.nan_to_num(b.astype(float), nan=0.25)
        score = score + np.where(plan == "pro", 1.0, 0.0) + np.nan_to_num(year.astype(float), nan=0.0) / 1e4
        share = 1 / (1 + np.exp(-np.clip(score, -50, 50)))
        return Predictions(
            ["yes" if s > 0.5 else "no" for s in share.tolist()], [[1 - s, s] for s in share.tolist()], ["no", "yes"]
        )


def job(capture: bool = True) -> PlannedJob:
    return PlannedJob(
        job_id="20260101T000000Z-0e8a3b1e",
        model_name="churn",
        alias="production",
        version=7,
        input_uri="s3://bucket/datasets/in.csv",
        size_bytes=1,
        header_end=len(",".join(HEADER)) + 1,
        chunks=1,
        capture=capture,
        output_format="jsonl",
        plan_bucket="bucket",
        plan_key="plan.json",
        output_uri="s3://bucket/out/",
        errors_uri="s3://bucket/errors/",
        started_at="2026-01-01T00:00:00Z",
    )


def test_a_bad_row_is_set_aside_with_the_endpoints_reason_and_the_others_validated():
    rows = [{"a": 1.0, "b": 2.0}, {"a": "x", "b": 2.0}, {"a": 3.0, "b": None}]
    columns, valid, reasons = validate_each_row(rows, schema(), first_row=10)
    assert valid == [0, 2]
    assert reasons == ["row 11: feature 'a' must be a number or null, not str"]
    assert columns[0].ravel().tolist() == [1.0, 3.0]


def test_csv_lines_become_cells_and_the_values_a_request_carries_and_short_lines_are_refused():
    payload = b"r1,1.5,NA,0\nr2,twelve,2,1\n\nr3,1\n"
    parsed = parse_chunk(payload, 100, ["id", "a", "b", "y"])
    assert parsed.cells == [["r1", "r2"], ["1.5", "twelve"], ["NA", "2"], ["0", "1"]]
    assert request_values(parsed.block_cells(0, 2), schema()) == {"a": [1.5, "twelve"], "b": [None, 2.0]}
    assert parsed.offsets == [100, 112] and parsed.chunk_rows == [0, 1]
    assert parsed.rows == 3 and parsed.blank_lines == 1
    (error,) = parsed.errors
    assert (error["chunk_row"], error["input_offset"]) == (2, 127) and "has 2 fields" in error["reason"]


def test_a_plain_chunk_split_whole_matches_the_line_by_line_split():
    plain = b"r1,1.5,2\nr2,3,4\nr3,5,6"  # no final newline: the last chunk of a file
    quoted = b'"r1",1.5,2\nr2,3,4\nr3,5,6'  # a quote sends it down the line-by-line path
    fast, slow = parse_chunk(plain, 10, ["id", "a", "b"]), parse_chunk(quoted, 10, ["id", "a", "b"])
    assert fast.plain_lines is not None and slow.plain_lines is None
    assert (
        fast.block_cells(0, 3)
        == slow.block_cells(0, 3)
        == {"id": ["r1", "r2", "r3"], "a": ["1.5", "3", "5"], "b": ["2", "4", "6"]}
    )
    assert fast.offsets == [10, 19, 26] and slow.offsets == [10, 21, 28]
    assert (fast.rows, fast.blank_lines, fast.errors) == (slow.rows, slow.blank_lines, slow.errors) == (3, 0, [])


def random_chunk(rng: random.Random, rows: int, odd_share: float) -> bytes:
    lines = []
    for number in range(rows):
        cells = {
            name: rng.choice(values) if rng.random() < odd_share else rng.choice(values[:3])
            for name, values in CELLS.items()
        }
        lines.append(",".join([f"r{number}", cells["a"], cells["plan"], cells["b"], cells["since"], str(number % 2)]))
    return ("\n".join(lines) + "\n").encode()


def reference(payload: bytes, first_offset: int) -> tuple[dict[int, dict], dict[int, str]]:
    """Row by row, as the batch path first did it: each line's request values through the endpoint's validation."""
    answers, refused = {}, {}
    offset = first_offset
    for chunk_row, line in enumerate(payload.decode().splitlines()):
        cells = dict(zip(HEADER, line.split(","), strict=True))
        numbers = {"a", "b"}
        row = {
            name: request_values({n: [cells[n]] for n in HEADER}, MIXED)[name][0]
            if name in numbers
            else (None if cells[name].strip().lower() in {"", "na", "n/a", "nan", "null", "none", "?"} else cells[name])
            for name in ("a", "b", "plan", "since")
        }
        try:
            columns = validate_instances([row], MIXED)
        except InvalidInstances as exc:
            refused[offset] = str(exc).replace("row 0:", f"row {chunk_row} of chunk 0:", 1)
        else:
            predicted = ScoringModel().predict(columns)
            answers[offset] = {
                "prediction": predicted.labels[0],
                "probabilities": dict(zip(predicted.classes, predicted.probabilities[0], strict=True)),
                "columns": {"id": cells["id"], "y": cells["y"]},
                "features": row,
            }
        offset += len(line) + 1
    return answers, refused


@pytest.mark.parametrize(("seed", "odd_share"), [(seed, share) for seed in range(4) for share in (0.0, 0.003, 0.1)])
def test_the_column_wise_block_path_scores_and_refuses_rows_as_the_row_by_row_reference(seed, odd_share, monkeypatch):
    # Given seeded chunks of mixed columns: numbers, missing tokens, text among numbers, infinities, pooled and
    # missing categories, dates good and bad; some chunks span more than one 1,000-row block
    rng = random.Random(seed)
    monkeypatch.setattr("mlops.serving.batch_chunks.SCORE_BLOCK_ROWS", 64)
    payload = random_chunk(rng, rng.choice([1, 50, 200]), odd_share)
    served = SimpleNamespace(version=7, schema=MIXED, model=ScoringModel())
    # When the chunk is scored
    outcome = score_rows(job(), 0, parse_chunk(payload, 1000, HEADER), served)
    # Then every row is scored or refused as the reference does it, by content
    answers, refused = reference(payload, 1000)
    output = [json.loads(line) for line in outcome.output.decode().splitlines()]
    errors = [json.loads(line) for line in outcome.errors.decode().splitlines()]
    assert {row["input_offset"]: row["prediction"] for row in output} == {
        o: a["prediction"] for o, a in answers.items()
    }
    for row in output:
        want = answers[row["input_offset"]]
        assert row["probabilities"] == pytest.approx(want["probabilities"])
        assert row["columns"] == want["columns"] and row["version"] == 7
        assert row["inference_id"] == f"{job().job_id}:{row['input_offset']}"
    assert {e["input_offset"]: e["reason"] for e in errors} == refused
    assert (outcome.scored, outcome.invalid) == (len(answers), len(refused))
    assert answers  # the generator gave rows to score
    # And the capture holds each scored row's request values under its inference id
    records = [r for line in outcome.capture_lines for r in records_of(json.loads(line))]
    assert {r["inference_id"]: r["features"] for r in records} == {
        f"{job().job_id}:{offset}": answer["features"] for offset, answer in answers.items()
    }


@pytest.mark.parametrize("missing", ["NA", "", "?"])
def test_an_infinity_beside_a_missing_token_is_refused_as_the_endpoint_refuses_it(missing):
    # Given a block whose numeric column holds a missing token (numpy's CSV parser refuses the block, so the cells are
    # typed one column at a time) and an infinity, every other cell valid
    lines = [f"r0,{missing},basic,2,2021-03-04,0", "r1,inf,pro,2,2021-03-04,1", "r2,1.5,pro,-1,2021-03-04,0"]
    payload = ("\n".join(lines) + "\n").encode()
    served = SimpleNamespace(version=7, schema=MIXED, model=ScoringModel())
    # When the chunk is scored
    outcome = score_rows(job(), 0, parse_chunk(payload, 1000, HEADER), served)
    # Then the infinity's row is refused in the endpoint's words and the others are scored, as the reference does it
    errors = [json.loads(line) for line in outcome.errors.decode().splitlines()]
    answers, refused = reference(payload, 1000)
    assert refused == {1000 + len(lines[0]) + 1: "row 1 of chunk 0: feature 'a' must be finite"}
    assert {e["input_offset"]: e["reason"] for e in errors} == refused
    assert (outcome.scored, outcome.invalid) == (len(answers), 1) == (2, 1)
