"""The real BatchTransform state machine on the embedded AWS: a CSV of a few thousand rows with invalid ones, scored
chunk by chunk (Distributed Map over the plan in S3) with the endpoint's validation and runtime; its outputs, errors
file, summary and capture (read by the real DriftCheck); the routes; a chunk that fails after writing."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from datetime import UTC, datetime

import numpy as np
import pytest

from local.runs.datasets import breast_cancer_csv
from local.runs.monitoring import run_drift_check
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.data import dataset
from mlops.monitoring.capture_records import records_of
from mlops.records.batch import BatchJobRequest, BatchJobStart, ChunkItem
from mlops.records.events import ScoreChunkEvent
from mlops.serving import batch
from mlops.serving.cache import ModelCache
from mlops.serving.validation import validate_instances
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.api_story import Api, wait_for

pytestmark = pytest.mark.integration
MODEL = "bc-batch"
ROWS = 3_000
CHUNK_BYTES = 64 * 1024  # the smallest a request may ask for: several chunks from a few thousand rows
# row number -> (how the row is spoiled, a phrase the reason must hold)
SPOILED = {
    17: ("text", "must be a number or null, not str"),
    444: ("short", "the line has 3 fields; the header has"),
    1_201: ("infinite", "must be finite"),
    2_999: ("text", "must be a number or null, not str"),
}


@pytest.fixture(scope="module")
def deployed():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    parameters = {"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}
    with LocalStack(parameters=parameters) as stack:
        os.environ.update(stack.environment())
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        request = {
            "model_name": MODEL,
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
        }
        assert run_training(stack, request).end_state == "Deployed"
        api = Api(stack)
        yield stack, api
        api.close()
    os.environ.clear()
    os.environ.update(saved)


def batch_csv(seed: int = 7) -> tuple[bytes, list[str], list[dict[str, str]]]:
    """ROWS rows drawn from the training data, an ``id`` and the label carried along, SPOILED rows spoiled."""
    table = dataset.read_table(breast_cancer_csv())
    features = [c for c in table.names if c != "target"]
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, table.rows, ROWS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["id", *features, "target"]
    writer.writerow(header)
    rows = []
    for number, index in enumerate(picked.tolist()):
        row = {"id": f"r{number:05d}", "target": str(int(table.column("target").values[index]))}
        row.update({name: repr(float(table.column(name).values[index])) for name in features})
        kind = SPOILED.get(number, (None,))[0]
        if kind == "text":
            row[features[3]] = "twelve"
        elif kind == "infinite":
            row[features[0]] = "inf"
        rows.append(row)
        if kind == "short":
            writer.writerow([row["id"], row[features[0]], row["target"]])
        else:
            writer.writerow([row[name] for name in header])
    return out.getvalue().encode(), features, rows


def objects_under(stack: LocalStack, prefix: str) -> dict[str, bytes]:
    s3 = stack.client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            found[entry["Key"]] = s3.get_object(Bucket=stack.bucket, Key=entry["Key"])["Body"].read()
    return found


def json_lines(payloads: dict[str, bytes]) -> list[dict]:
    return [json.loads(line) for key in sorted(payloads) for line in payloads[key].decode().splitlines()]


def csv_rows(payloads: dict[str, bytes]) -> list[dict]:
    """CSV output parts (a header each) in the JSON lines' shape: positions as numbers, probabilities by class."""
    rows = []
    for key in sorted(payloads):
        for row in csv.DictReader(io.StringIO(payloads[key].decode())):
            classes = [name.removeprefix("probability_") for name in row if name.startswith("probability_")]
            rows.append(
                {
                    **{name: int(row[name]) for name in ("chunk", "chunk_row", "input_offset", "version")},
                    "inference_id": row["inference_id"],
                    "prediction": row["prediction"],
                    "probabilities": {label: float(row[f"probability_{label}"]) for label in classes},
                    "columns": {"id": row["id"], "target": row["target"]},
                }
            )
    return rows


def run_job(api: Api, body: dict) -> dict:
    status, started = api.call("POST", f"/models/{MODEL}/batch-jobs", body)
    assert status == 202, started
    job_id = started["job_id"]

    def ended():
        got = api.call("GET", f"/models/{MODEL}/batch-jobs/{job_id}")[1]
        return got if got["status"] != "RUNNING" else None

    return wait_for(ended, f"batch job {job_id}")


def test_a_batch_job_scores_every_valid_row_like_the_endpoint_and_sets_aside_the_invalid_ones(deployed):
    stack, api = deployed
    # Given a CSV of 3,000 rows with an id and the label the model does not use, and four spoiled rows
    payload, features, rows = batch_csv()
    key = "datasets/nightly/batch.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
    # When a batch job scores it in 64 KiB chunks through the API
    job = run_job(api, {"input_uri": f"s3://{stack.bucket}/{key}", "chunk_bytes": CHUNK_BYTES})
    # Then it succeeded with every row counted: scored or refused, none dropped
    assert job["status"] == "SUCCEEDED", job
    assert (job["rows"], job["scored"], job["invalid"]) == (ROWS, ROWS - len(SPOILED), len(SPOILED)), job
    summary = job["summary"]
    assert summary["complete"] is True and summary["chunks"] == len(summary["chunk_first_rows"]) > 3, summary
    prefix = f"predictions/{MODEL}/{job['job_id']}/"
    assert job["output_uri"] == f"s3://{stack.bucket}/{prefix}output/"
    assert job["errors_uri"] == f"s3://{stack.bucket}/{prefix}errors/"

    # And each output row (CSV, the default for CSV input) is the endpoint's answer for that row, with its id and
    # label carried through
    parts = objects_under(stack, prefix + "output/")
    assert parts and all(key.endswith(".csv") for key in parts), sorted(parts)
    output = csv_rows(parts)
    by_id = {record["columns"]["id"]: record for record in output}
    valid = [row for number, row in enumerate(rows) if number not in SPOILED]
    assert sorted(by_id) == sorted(row["id"] for row in valid)
    cache = ModelCache(stack.registry(), "onnx", 0.0, stack.bucket)
    served = cache.routing(MODEL).production
    instances = [{name: float(row[name]) for name in features} for row in valid]
    expected = served.model.predict(validate_instances(instances[:1000], served.schema))
    for row, label, probabilities in zip(valid, expected.labels, expected.probabilities, strict=False):
        record = by_id[row["id"]]
        assert record["prediction"] == label and record["version"] == served.version == job["version"]
        assert record["columns"] == {"id": row["id"], "target": row["target"]}
        assert list(record["probabilities"].values()) == pytest.approx(probabilities)
        assert record["inference_id"] == f"{job['job_id']}:{record['input_offset']}"
    # the position: chunk, row in the chunk and byte offset agree with the file
    for record in output[:50] + output[-50:]:
        number = summary["chunk_first_rows"][record["chunk"]] + record["chunk_row"]
        assert rows[number]["id"] == record["columns"]["id"]
        line_end = payload.index(b"\n", record["input_offset"])
        assert payload[record["input_offset"] : line_end].startswith(record["columns"]["id"].encode())

    # And the errors file names each refused row, why, and what it held
    errors = json_lines(objects_under(stack, prefix + "errors/"))
    assert len(errors) == len(SPOILED)
    for error in errors:
        number = summary["chunk_first_rows"][error["chunk"]] + error["chunk_row"]
        assert number in SPOILED, error
        assert SPOILED[number][1] in error["reason"], error
        assert rows[number]["id"] in json.dumps(error), error


def test_the_jobs_rows_feed_the_drift_check(deployed):
    stack, api = deployed
    # Given a batch job over rows like the training data
    payload, _, _ = batch_csv(seed=11)
    key = "datasets/nightly/drift.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
    body = {"input_uri": f"s3://{stack.bucket}/{key}", "chunk_bytes": 256 * 1024, "output_format": "jsonl"}
    job = run_job(api, body)
    assert job["status"] == "SUCCEEDED", job
    # Then its output is JSON lines, as asked, a line per scored row
    parts = objects_under(stack, f"predictions/{MODEL}/{job['job_id']}/output/")
    assert parts and all(key.endswith(".jsonl") for key in parts), sorted(parts)
    assert len(json_lines(parts)) == job["scored"]
    # And its scored rows are in the capture, in the endpoint's columnar line format, one record per scored row
    captured = objects_under(stack, f"capture/{MODEL}/")
    mine = {k: v for k, v in captured.items() if f"batch-{job['job_id']}-" in k}
    records = [r for line in json_lines(mine) for r in records_of(line)]
    assert len(records) == job["scored"]
    assert {r["inference_id"].split(":")[0] for r in records} == {job["job_id"]}
    # And the real DriftCheck reads them as it reads the endpoint's traffic
    check = run_drift_check(stack, MODEL)
    assert check.status == "SUCCEEDED", (check.error, check.cause)
    assert check.check["rows"] >= job["scored"], check.check


def test_the_routes_refuse_what_cannot_be_a_job(deployed):
    stack, api = deployed
    assert (
        api.call("POST", "/models/no-such-model/batch-jobs", {"input_uri": f"s3://{stack.bucket}/datasets/x.csv"})[0]
        == 404
    )
    assert api.call("POST", f"/models/{MODEL}/batch-jobs", {"input_uri": "https://example.com/x.csv"})[0] == 422
    assert api.call("POST", f"/models/{MODEL}/batch-jobs", {"input_uri": f"s3://{stack.bucket}/x", "rows": 1})[0] == 422
    status, refused = api.call(
        "POST", f"/models/{MODEL}/batch-jobs", {"input_uri": f"s3://{stack.bucket}/x", "output_format": "parquet"}
    )
    assert status == 422 and "output_format" in json.dumps(refused), refused
    status, refused = api.call("POST", f"/models/{MODEL}/batch-jobs", {"input_uri": f"s3://{stack.bucket}/models/a"})
    assert status == 403 and "outside the allowed locations" in refused["message"], refused
    assert api.call("GET", f"/models/{MODEL}/batch-jobs/20260101T000000Z-0123abcd")[0] == 404
    assert api.call("GET", f"/models/{MODEL}/batch-jobs/not-a-job")[0] == 422


def test_an_input_that_cannot_be_scored_ends_in_invalid_input_with_a_failed_summary(deployed):
    stack, api = deployed
    key = "datasets/nightly/wrong.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=b"id,colour\n1,red\n")
    job = run_job(api, {"input_uri": f"s3://{stack.bucket}/{key}"})
    assert job["status"] == "FAILED" and job["error"] == "InvalidBatchInput", job
    assert "lacks the model's input column" in job["cause"], job
    assert job["summary"]["end_state"] == "InvalidInput" and job["summary"]["complete"] is False
    assert job["output_uri"] is None
    assert_nothing_leaks(job)


def assert_nothing_leaks(job: dict) -> None:
    """A failed job's answer names its error, and says nothing of the code: no stack trace, no file, no source."""
    answer = json.dumps(job)
    assert "stackTrace" not in answer and '.py\\"' not in answer and "File \\" not in answer, answer
    assert "Traceback" not in answer, answer


def test_a_chunk_failing_after_its_writes_ends_the_job_in_chunk_failed_with_no_complete_output(deployed, monkeypatch):
    stack, api = deployed
    payload, _, _ = batch_csv(seed=3)
    key = "datasets/nightly/faulty.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
    # Given chunk 1 fails after writing its output and errors parts, when it comes to write its marker
    real_put_json = objects.put_json
    failing_marker = "/chunks/00001.json"

    def put_json(uri, document):
        if uri.key.endswith(failing_marker):
            raise RuntimeError("injected: the chunk's marker could not be written")
        return real_put_json(uri, document)

    monkeypatch.setattr(objects, "put_json", put_json)
    job = run_job(api, {"input_uri": f"s3://{stack.bucket}/{key}", "chunk_bytes": CHUNK_BYTES})
    monkeypatch.undo()
    # Then the job ends in the named state, and its summary says FAILED with no output URI
    assert job["status"] == "FAILED", job
    summary = job["summary"]
    assert summary["end_state"] == "ChunkFailed" and summary["complete"] is False, summary
    assert job["output_uri"] is None and job["errors_uri"] is None and "rows" not in job
    # even though chunk 1's part of the output is in S3 (the side effect before the failure)
    prefix = f"predictions/{MODEL}/{job['job_id']}/"
    assert f"{prefix}output/part-00001.csv" in objects_under(stack, prefix + "output/")
    assert f"{prefix}chunks/00001.json" not in objects_under(stack, prefix + "chunks/")
    assert summary["chunks_committed"] < summary["chunks"], summary
    assert job["error"] == "ChunkFailed" and "States.ExceedToleratedFailureThreshold" in summary["error"], job
    assert_nothing_leaks(job)
    # and the chunks it scored are not in the capture: a failed job feeds neither drift checks nor feedback training
    assert [k for k in objects_under(stack, f"capture/{MODEL}/") if f"batch-{job['job_id']}-" in k] == []


def test_a_retried_post_with_its_client_token_starts_one_job(deployed):
    stack, api = deployed
    body = {"input_uri": f"s3://{stack.bucket}/datasets/bc.csv", "client_token": "nightly-2026-12-07"}
    sfn = stack.client("stepfunctions")
    before = len(sfn.list_executions(stateMachineArn=stack.state_machine_arns["BatchTransform"])["executions"])

    first_status, first = api.call("POST", f"/models/{MODEL}/batch-jobs", body)
    again_status, again = api.call("POST", f"/models/{MODEL}/batch-jobs", body)

    assert (first_status, again_status) == (202, 200), (first, again)
    assert again["job_id"] == first["job_id"] and again["started"] is False
    assert (
        len(sfn.list_executions(stateMachineArn=stack.state_machine_arns["BatchTransform"])["executions"]) == before + 1
    )
    # the same token with another request is a conflict, and starts nothing
    status, refused = api.call("POST", f"/models/{MODEL}/batch-jobs", {**body, "chunk_bytes": CHUNK_BYTES})
    assert (status, refused["error"]) == (409, "ClientTokenReused"), refused
    assert api.call("GET", f"/models/{MODEL}/batch-jobs/{first['job_id']}")[0] == 200
    wait_for(
        lambda: api.call("GET", f"/models/{MODEL}/batch-jobs/{first['job_id']}")[1]["status"] != "RUNNING",
        "the job to end",
    )


class _Day:
    """``datetime`` as mlops.serving.batch sees it, on a day of the test's choosing."""

    day = datetime(2026, 12, 7, 23, 59, 50, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.day


def test_a_chunk_retried_across_midnight_and_a_retried_finish_capture_it_once(deployed, monkeypatch):
    from functions.batch import app  # noqa: PLC0415 - the function's own model cache, with the stack's settings

    stack, _ = deployed
    payload, _, _ = batch_csv(seed=5)
    key = "datasets/nightly/midnight.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
    start = BatchJobStart(
        job_id="t-" + "5" * 32,
        model_name=MODEL,
        request=BatchJobRequest(input_uri=f"s3://{stack.bucket}/{key}", chunk_bytes=CHUNK_BYTES),
    )
    job = batch.plan_job(start, stack.registry(), stack.bucket)
    items = [ChunkItem(**item) for item in objects.get_json(S3Uri(job.plan_bucket, job.plan_key))]
    assert len(items) > 1
    monkeypatch.setattr(batch, "datetime", _Day)
    # Given every chunk scored before midnight, and chunk 0 scored again after it (a retry)
    scored = {}
    for item in items:
        scored[item.chunk] = batch.score_chunk(
            ScoreChunkEvent(step="score", job=job, item=item), app._model_cache(), stack.bucket
        )
    _Day.day = datetime(2026, 12, 8, 0, 0, 10, tzinfo=UTC)
    batch.score_chunk(ScoreChunkEvent(step="score", job=job, item=items[0]), app._model_cache(), stack.bucket)
    # When the job finishes, and its finish is retried
    assert [batch.finish_job(job, stack.bucket)["scored"] for _ in range(2)] == [
        sum(s["scored"] for s in scored.values())
    ] * 2
    # Then each chunk is in the capture once, under the day of its last scoring, and every scored row once
    mine = {k: v for k, v in objects_under(stack, f"capture/{MODEL}/").items() if f"batch-{job.job_id}-" in k}
    assert sorted(mine) == sorted(
        f"capture/{MODEL}/dt={'2026-12-08' if i.chunk == 0 else '2026-12-07'}/batch-{job.job_id}-{i.chunk:05d}.jsonl"
        for i in items
    )
    ids = [r["inference_id"] for line in json_lines(mine) for r in records_of(line)]
    assert len(ids) == len(set(ids)) == sum(s["scored"] for s in scored.values())
