"""Batch output written from columns (CSV, the default, and JSON lines) against a row-by-row reference of the
output the per-row path wrote: the same rows, positions, answers and carried cells, read back, through quoted fields,
missing values, bad rows, ids, text and date columns, written numbers and yes/no words."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from mlops.data import formats
from mlops.records.batch import BatchJobRequest, PlannedJob
from mlops.records.schema import Feature, Schema
from mlops.serving import batch_output
from mlops.serving.batch_chunks import parse_chunk, score_rows
from mlops.serving.runtime import Predictions
from mlops.serving.validation import InvalidInstances, validate_instances

HEADER = ["id", "a", "note", "amount", "active", "since", "y"]
CARRIED = ["id", "y"]
SCHEMA = Schema(
    task="classification",
    target="y",
    features=[
        Feature(name="a", kind="numeric"),
        Feature(name="note", kind="text"),
        Feature(name="amount", kind="numeric"),
        Feature(name="active", kind="numeric"),
        Feature(name="since_year", kind="numeric", source="since", part="year"),
    ],
    classes=["no", "yes"],
    columns={
        "id": {"role": "identifier"},
        "a": {"role": "feature"},
        "note": {"role": "feature", "kind": "text"},
        "amount": {"role": "feature", "format": formats.NUMBER_FORMAT},
        "active": {"role": "feature", "format": formats.BOOLEAN_FORMAT},
        "since": {"role": "feature", "kind": "datetime", "epoch": "2020-01-01"},
        "y": {"role": "target"},
    },
)


class Model:
    """Answers from the validated columns themselves, so a row or column mixed up shows in the answer."""

    runtime = "onnx"

    def predict(self, columns: list[np.ndarray]) -> Predictions:
        a, note, amount, active, year = (column.ravel() for column in columns)
        score = np.nan_to_num(a.astype(float), nan=0.5) + np.nan_to_num(amount.astype(float), nan=0.0) / 1e3
        score = score + np.nan_to_num(active.astype(float)) + np.array([len(str(n)) for n in note]) / 10
        score = score + np.nan_to_num(year.astype(float), nan=0.0) / 1e4
        share = 1 / (1 + np.exp(-np.clip(score - 2, -50, 50)))
        probabilities = np.column_stack([1 - share, share])
        labels = ["yes" if s > 0.5 else "no" for s in share.tolist()]
        return Predictions(labels, probabilities.tolist(), ["no", "yes"], probabilities)


def job(output_format: str) -> PlannedJob:
    return PlannedJob(
        job_id="20260101T000000Z-0e8a3b1e",
        model_name="churn",
        alias="production",
        version=3,
        input_uri="s3://bucket/datasets/in.csv",
        size_bytes=1,
        header_end=len(",".join(HEADER)) + 1,
        chunks=1,
        capture=True,
        output_format=output_format,
        plan_bucket="bucket",
        plan_key="plan.json",
        output_uri="s3://bucket/out/",
        errors_uri="s3://bucket/errors/",
        started_at="2026-01-01T00:00:00Z",
    )


PLAIN = [
    'r0,1.5,fine service,"$1,200",yes,2021-03-04,1',  # a quoted written number: the chunk is not plain
    "r1,,slow,12,no,2023-11-30,0",  # a missing number
    'r2,"3","said ""cancel"", twice",7,y,,1',  # quotes in a text feature, a missing date
    "r3,twelve,x,1,yes,2021-03-04,0",  # a bad row: text among numbers
    "r4,2,too,few",  # a short line
    "r5\\x,0.25,tabs\tand back\\slash,3,false,2022-01-01,ü",  # JSON escapes in an id and a text, a non-ASCII label
    '"r6, the sixth",-1,NA,"1,000",n,2020-06-30,1',  # a comma in a quoted id, a missing text
]


def reference(lines: list[str], first_offset: int) -> list[dict]:
    """Row by row, as the per-row path wrote its output: each line's cells, the endpoint's validation of the one row,
    the model's answer for it, the carried cells as text."""
    rows, offset = [], first_offset
    for chunk_row, line in enumerate(lines):
        cells = next(csv.reader([line]))
        if len(cells) == len(HEADER):
            by_name = dict(zip(HEADER, cells, strict=True))
            values = {
                name: (None if by_name[name].strip() in {"", "NA"} else by_name[name])
                for name in ("a", "note", "amount", "active", "since")
            }
            if values["a"] is not None:
                with contextlib.suppress(ValueError):
                    values["a"] = float(values["a"])
            try:
                predicted = Model().predict(validate_instances([values], SCHEMA))
            except InvalidInstances:
                predicted = None
            if predicted is not None:
                rows.append(
                    {
                        "chunk": 0,
                        "chunk_row": chunk_row,
                        "input_offset": offset,
                        "inference_id": f"{job('csv').job_id}:{offset}",
                        "version": 3,
                        "prediction": predicted.labels[0],
                        "probabilities": dict(zip(predicted.classes, predicted.probabilities[0], strict=True)),
                        "columns": {name: by_name[name] for name in CARRIED},
                    }
                )
        offset += len(line.encode()) + 1
    return rows


def read_back(output: bytes, output_format: str) -> list[dict]:
    """The output part parsed into the JSON lines' shape (CSV by the standard library's reader)."""
    if output_format == "jsonl":
        return [json.loads(line) for line in output.decode().splitlines()]
    reader = csv.DictReader(io.StringIO(output.decode(), newline=""))
    assert reader.fieldnames == [*batch_output.OWN_COLUMNS, "probability_no", "probability_yes", *CARRIED]
    return [
        {
            "chunk": int(row["chunk"]),
            "chunk_row": int(row["chunk_row"]),
            "input_offset": int(row["input_offset"]),
            "inference_id": row["inference_id"],
            "version": int(row["version"]),
            "prediction": row["prediction"],
            "probabilities": {label: float(row[f"probability_{label}"]) for label in ("no", "yes")},
            "columns": {name: row[name] for name in CARRIED},
        }
        for row in reader
    ]


PLAIN_LINES = [line for line in PLAIN if '"' not in line and line.count(",") == 6]
NUMBERS_READ_WHOLE = [PLAIN[5], "r7,4,ok,5,yes,2021-01-01,0", "r8,-2.5,,12,no,2024-02-29,1"]  # numpy reads column a


@pytest.mark.parametrize("output_format", ["csv", "jsonl"])
@pytest.mark.parametrize("lines", [PLAIN, PLAIN_LINES, NUMBERS_READ_WHOLE], ids=["quoted", "plain", "numbers"])
def test_the_columnar_output_reads_back_as_the_row_by_row_output(output_format, lines, monkeypatch):
    # Given a chunk of quoted and plain fields, missing values, a bad and a short row, text, date, written-number and
    # yes/no columns, scored in blocks of 2 rows (so a bad row falls inside a block and others span blocks)
    monkeypatch.setattr("mlops.serving.batch_chunks.SCORE_BLOCK_ROWS", 2)
    payload = ("\n".join(lines) + "\n").encode()
    parsed = parse_chunk(payload, 500, HEADER)
    assert (parsed.plain_lines is None) == (lines is PLAIN)
    served = SimpleNamespace(version=3, schema=SCHEMA, model=Model())
    # When the chunk is scored with either output format
    outcome = score_rows(job(output_format), 0, parsed, served)
    # Then its output reads back as the row-by-row reference: the same rows in order, with ids and carried cells
    expected = reference(lines, 500)
    assert read_back(outcome.output, output_format) == expected
    assert len(expected) >= 2  # the fixture scores rows
    assert outcome.scored == len(expected) and outcome.invalid == len(lines) - len(expected)
    # And each refused row is in the errors, with the capture holding exactly the scored rows
    refused = {json.loads(line)["input_offset"] for line in outcome.errors.decode().splitlines()}
    assert refused.isdisjoint(row["input_offset"] for row in expected) and len(refused) == outcome.invalid
    captured = [i for line in outcome.capture_lines for i in json.loads(line)["inference_ids"]]
    assert captured == [row["inference_id"] for row in expected]


def test_both_formats_write_a_regression_and_an_empty_chunk():
    scored = batch_output.ScoredColumns(
        chunk=2,
        version=1,
        chunk_rows=[0, 4],
        offsets=[10, 90],
        inference_ids=["j:10", "j:90"],
        labels=[1.25, float("nan")],
        classes=None,
        probabilities=None,
        carried={"prediction": ["a,b", 'q"'], "id": ["x", "y"]},
    )
    rows = list(csv.reader(io.StringIO(batch_output.write(scored, "csv").decode())))
    assert rows[0] == [*batch_output.OWN_COLUMNS, "input_prediction", "id"]  # a carried name the output uses
    assert rows[1:] == [["2", "0", "10", "j:10", "1", "1.25", "a,b", "x"], ["2", "4", "90", "j:90", "1", "", 'q"', "y"]]
    lines = [json.loads(line) for line in batch_output.write(scored, "jsonl").decode().splitlines()]
    assert [line["prediction"] for line in lines] == [1.25, None]
    assert lines[1]["columns"] == {"prediction": 'q"', "id": "y"} and "probabilities" not in lines[1]
    empty = batch_output.ScoredColumns(2, 1, [], [], [], [], None, None, {"id": []})
    assert batch_output.write(empty, "jsonl") == b""
    assert batch_output.write(empty, "csv").decode().splitlines() == [",".join([*batch_output.OWN_COLUMNS, "id"])]


def test_the_request_output_format_defaults_to_csv_and_refuses_an_unknown_one():
    request = {"input_uri": "s3://bucket-a/datasets/in.csv"}
    assert BatchJobRequest.model_validate(request).output_format == "csv"
    assert BatchJobRequest.model_validate({**request, "output_format": "jsonl"}).output_format == "jsonl"
    with pytest.raises(ValidationError, match="output_format"):
        BatchJobRequest.model_validate({**request, "output_format": "parquet"})
