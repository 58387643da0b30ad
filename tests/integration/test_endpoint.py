"""The predict route and the admin API through the local HTTP gateway, on versions trained by the real pipeline."""

from __future__ import annotations

import json
import logging
import os
import random
import time
import urllib.request
from collections import Counter

import pytest
from scipy.stats import binomtest

from local.gateway import LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.monitoring.capture_records import records_of
from mlops.registry import documents
from mlops.storage import objects
from mlops.storage.objects import S3Uri

pytestmark = pytest.mark.integration
MODEL = "bc"
WEAK = [{"estimator": "decision_tree", "params": {"max_depth": 1}}]
STRONG = [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}]


@pytest.fixture(scope="module")
def served():
    """v1 (a stump) then v2 (logistic regression, promoted by the gate); production serves v2."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack(parameters={"AliasRefreshSeconds": "0"}) as stack:
        os.environ.update(stack.environment())
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        dataset_uri = f"s3://{stack.bucket}/datasets/bc.csv"
        for candidates in (WEAK, STRONG):
            result = run_training(
                stack, {"model_name": MODEL, "dataset_uri": dataset_uri, "target": "target", "candidates": candidates}
            )
            assert result.end_state == "Deployed", result.cause
        gateway = LocalGateway(stack, port=0).start()
        yield stack, gateway
        gateway.stop()
    os.environ.clear()
    os.environ.update(saved)


def call(gateway, method: str, path: str, body=None, *, api_key: str | None = None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json", **({"x-api-key": api_key} if api_key else {})}
    request = urllib.request.Request(gateway.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def example(stack, version: int = 2) -> dict:
    return documents.input_example_of(stack.registry().get_version(MODEL, version))


def predict(served, instances, **kwargs):
    stack, gateway = served
    return call(gateway, "POST", f"/models/{MODEL}/predict", {"instances": instances}, api_key=stack.api_key, **kwargs)


def test_predict_returns_versioned_rows_that_match_the_registered_model(served):
    stack, _ = served
    rows = [example(stack)] * 3
    status, body = predict(served, rows)

    assert status == 200, body
    assert (body["model_name"], body["version"], body["runtime"]) == (MODEL, 2, "onnx")
    assert len({p["inference_id"] for p in body["predictions"]}) == 3
    record = stack.registry().get_version(MODEL, 2)
    model = objects.load_model(S3Uri.parse(record.artifact_uri), record.artifact_sha256, record.sklearn_version)
    from mlops.data.dataset import Schema  # noqa: PLC0415
    from mlops.serving.validation import validate_instances  # noqa: PLC0415

    schema = Schema.from_dict(documents.schema_of(record))
    columns = validate_instances(rows, schema)
    import numpy as np  # noqa: PLC0415

    expected = model.predict_proba(np.hstack(columns).astype(object))
    for row, probabilities in zip(body["predictions"], expected, strict=True):
        assert row["version"] == 2
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert row["probabilities"]["1"] == pytest.approx(probabilities[1], abs=1e-4)


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object with an 'instances' list"),
        (b'{"rows": []}', 400, "'instances' list"),
        (b'{"instances": [], "extra": 1}', 400, "unknown field"),
        (b'{"instances": []}', 422, "is empty"),
        (b'{"instances": "row"}', 422, "must be a list"),
        (b'{"instances": [{"mean radius": 1}]}', 422, "missing feature"),
        (b'{"instances": [{"mean radius": NaN}]}', 422, "row 0"),
        (b"", 400, "no body"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(served, raw, status, message):
    stack, gateway = served
    got, body = call(gateway, "POST", f"/models/{MODEL}/predict", raw=raw, api_key=stack.api_key)
    assert got == status
    assert message in body["message"]


def test_wrong_types_and_non_finite_numbers_are_422(served):
    stack, _ = served
    row = example(stack)
    feature = next(iter(row))
    for bad in ("12.5", True, None, [1], {"v": 1}):
        status, body = predict(served, [{**row, feature: bad}])
        if bad is None:
            assert status == 200  # null means missing: imputed
        else:
            assert status == 422 and feature in body["message"]
    status, body = predict(served, [row] * 1001)
    assert status == 422 and "at most 1000" in body["message"]


def test_auth_unknown_models_and_routes(served):
    stack, gateway = served
    assert call(gateway, "POST", f"/models/{MODEL}/predict", {"instances": [example(stack)]})[0] == 403
    assert call(gateway, "POST", f"/models/{MODEL}/predict", {"instances": []}, api_key="wrong")[0] == 403
    status, body = call(gateway, "POST", "/models/nope/predict", {"instances": [{}]}, api_key=stack.api_key)
    assert status == 404 and "no production version" in body["message"]
    assert call(gateway, "GET", "/nowhere")[0] == 404
    assert call(gateway, "GET", f"/models/{MODEL}/predict")[0] == 405


def test_capture_lands_in_s3_partitioned_by_model_and_date(served):
    stack, _ = served
    status, body = predict(served, [example(stack)] * 2)
    assert status == 200
    ids = {p["inference_id"] for p in body["predictions"]}
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=f"capture/{MODEL}/dt=")
    records = []
    for item in listed.get("Contents", []):
        assert item["Key"].split("/")[2] == f"dt={time.strftime('%Y-%m-%d', time.gmtime())}"
        text = stack.client("s3").get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read().decode()
        for line in text.splitlines():
            document = json.loads(line)
            assert document["capture"] == "mlops.capture.v1" and document["model_name"] == MODEL
            records.extend(records_of(document))
    captured = {r["inference_id"]: r for r in records}
    assert ids <= set(captured)
    one = captured[next(iter(ids))]
    assert one["features"] == example(stack) and one["version"] == 2 and "probabilities" in one


def test_a_columnar_request_is_answered_and_captured_as_its_rows_are(served):
    # Given five rows of the held-out example's shape, with one value varied per row, sent once as rows and once
    # as columns ({"inputs": {feature: [...]}}) through the gateway, on the real ONNX-served version
    stack, gateway = served
    rows = [{**example(stack), "mean radius": 10.0 + 3 * index} for index in range(5)]
    inputs = {name: [row[name] for row in rows] for name in rows[0]}
    row_status, by_rows = predict(served, rows)
    status, by_columns = call(gateway, "POST", f"/models/{MODEL}/predict", {"inputs": inputs}, api_key=stack.api_key)
    # Then the columns' outputs are the rows' predictions, value for value
    assert row_status == status == 200, by_columns
    assert by_columns["outputs"]["prediction"] == [p["prediction"] for p in by_rows["predictions"]]
    for label, values in by_columns["outputs"]["probabilities"].items():
        assert values == [p["probabilities"][label] for p in by_rows["predictions"]]
    # And the drift check's reader finds its capture in S3 with the rows' features, keyed by its inference ids
    wanted = by_columns["outputs"]["inference_id"]
    records = {}
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=f"capture/{MODEL}/dt=")
    for item in listed.get("Contents", []):
        text = stack.client("s3").get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read().decode()
        for line in text.splitlines():
            records.update({r["inference_id"]: r for r in records_of(json.loads(line))})
    assert [records[inference_id]["features"] for inference_id in wanted] == rows
    assert {records[inference_id]["version"] for inference_id in wanted} == {2}
    # And a column of the wrong length is a 422 that says which
    inputs["mean radius"] = inputs["mean radius"][:4]
    status, body = call(gateway, "POST", f"/models/{MODEL}/predict", {"inputs": inputs}, api_key=stack.api_key)
    assert status == 422 and "'mean radius' has 4 values" in body["message"]


def test_admin_routes_browse_the_registry(served):
    _, gateway = served
    status, models = call(gateway, "GET", "/models")
    assert status == 200 and [m["model_name"] for m in models] == [MODEL]
    assert models[0]["production_version"] == 2
    status, model = call(gateway, "GET", f"/models/{MODEL}")
    assert model["aliases"]["production"]["version"] == 2
    assert model["aliases"]["production"]["previous_version"] == 1
    status, versions = call(gateway, "GET", f"/models/{MODEL}/versions")
    assert [(v["version"], v["estimator"]) for v in versions] == [(1, "decision_tree"), (2, "logistic_regression")]
    status, record = call(gateway, "GET", f"/models/{MODEL}/versions/2")
    assert record["serving"]["parity"]["passed"] is True and record["lineage"]["data_sha256"]
    assert call(gateway, "GET", f"/models/{MODEL}/versions/9")[0] == 404
    assert call(gateway, "GET", f"/models/{MODEL}/versions/zero")[0] == 422
    assert call(gateway, "GET", "/models/bad%20name!")[0] == 422
    status, events = call(gateway, "GET", f"/models/{MODEL}/audit")
    assert [e["event_type"] for e in events][:4] == [
        "VersionRegistered",
        "AliasMoved",
        "VersionRegistered",
        "AliasMoved",
    ]


def test_canary_split_promote_and_rollback(served):
    stack, gateway = served
    status, body = call(gateway, "POST", f"/models/{MODEL}/deployments", {"version": 1, "canary_weight": 0.3})
    assert status == 200, body
    assert body["alias"]["canary_version"] == 1 and body["smoke_test"]["passed"] is True
    # The predict function draws from the process's random module (in-process invocations, one at a time): seeded,
    # the split below is the same on every run, and the binomial test cannot fail by chance
    saved_state = random.getstate()
    random.seed(20261129)
    try:
        requests, row = 200, example(stack)
        counts = Counter(predict(served, [row])[1]["version"] for _ in range(requests))
        # The share served by the canary is what a fair 30% coin gives (two-sided binomial test)
        assert set(counts) == {1, 2}
        assert binomtest(counts[1], requests, 0.3).pvalue > 0.001, counts
    finally:
        random.setstate(saved_state)
        status, body = call(gateway, "POST", f"/models/{MODEL}/rollback", {"reason": "end of test"})
    assert status == 200 and body["canary_version"] is None and body["version"] == 2
    assert {predict(served, [row])[1]["version"] for _ in range(20)} == {2}


def test_deploy_refusals_are_409_and_change_nothing(served):
    stack, gateway = served
    before = stack.registry().get_alias(MODEL)
    status, body = call(gateway, "POST", f"/models/{MODEL}/deployments", {"version": 2, "canary_weight": 0.5})
    assert status == 409 and "already serves" in body["message"]
    assert call(gateway, "POST", f"/models/{MODEL}/promote")[0] == 409  # no canary
    assert call(gateway, "POST", f"/models/{MODEL}/deployments", {"version": 7})[0] == 404
    status, body = call(gateway, "POST", f"/models/{MODEL}/deployments", {"version": 1, "canary_weight": 2})
    assert status == 422
    assert stack.registry().get_alias(MODEL).revision == before.revision


def test_training_start_is_idempotent_on_the_client_token(served):
    stack, gateway = served
    request = {
        "model_name": "idem",
        "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
        "target": "target",
        "candidates": WEAK,
        "client_token": "retry-me",
    }
    first = call(gateway, "POST", "/pipelines/training", request)
    second = call(gateway, "POST", "/pipelines/training", request)
    assert first[0] == 202 and first[1]["started"] is True
    assert second[0] == 200 and second[1]["started"] is False
    assert first[1]["execution_arn"] == second[1]["execution_arn"]
    executions = stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)
    assert sum(e["name"] == first[1]["execution_id"] for e in executions["executions"]) == 1
    assert call(gateway, "POST", "/pipelines/training", {**request, "target": "other"})[0] == 409
    deadline = time.monotonic() + 120
    while True:
        status, run = call(gateway, "GET", f"/pipelines/training/{first[1]['execution_id']}")
        if run["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200 and run["status"] == "SUCCEEDED" and run["registration"]["version"] == 1
    assert call(gateway, "GET", "/pipelines/training/api-unknown")[0] == 404
    status, body = call(gateway, "POST", "/pipelines/training", {"model_name": "x"})
    assert status == 422 and "message" in body
