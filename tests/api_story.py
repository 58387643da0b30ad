"""One story through every route of the HTTP API, each answer checked for its content (not only its status).

Used by the HTTP fuzz module (valid requests succeed with correct bodies) and by the append-only audit test
(which records every DynamoDB write the story makes). Requests go through the local gateway's dispatch: the
template's routes, API key on predict, the function invoked through the (local) Lambda API, as `sam local`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable
from typing import Any

from local.gateway import LOCAL_CALLER_ARN, LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.stack import LocalStack
from local.template import ROOT
from mlops.monitoring.capture_records import records_of
from mlops.monitoring.store import MonitoringStore
from tests.stack_state import stack_state

DEADLINE_S = 180
MODEL = "bc"
REQUEST = {
    "model_name": MODEL,
    "target": "target",
    "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
    "description": "benign or malignant",
}
# The story's stack: the gate accepts an equal challenger (GateMinImprovement 0), so the approval runs pass it. A
# request may not lower the stack's margin: a stack with the default 0.001 would refuse `min_improvement: 0` (403).
STORY_PARAMETERS = {"GateMinImprovement": "0"}
APPROVER = "approver"  # another IAM identity than the requester's (x-local-caller): nobody approves their own run
# Every route the story calls, as (method, resource): the HTTP tests check it is all of openapi.json.
STORY_ROUTES: set[tuple[str, str]] = set()


def documented_routes() -> set[tuple[str, str]]:
    """Every (method, resource) of the committed OpenAPI document."""
    document = json.loads((ROOT / "openapi.json").read_text())
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {DEADLINE_S} s waiting for {what}")


class Api:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.gateway = LocalGateway(stack, port=0)  # dispatch only: no server thread is started

    def close(self) -> None:
        self.gateway.server.server_close()

    def call(
        self, method: str, path: str, body: Any = None, *, api_key: bool = False, caller: str | None = None
    ) -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        if api_key:
            headers["x-api-key"] = self.stack.api_key
        if caller is not None:  # the local stand-in for another signer's IAM identity
            headers["x-local-caller"] = caller
        payload = json.dumps(body).encode() if body is not None else b""
        route = next(
            (r for r in self.gateway.routes if r.method == method and r.pattern.match(path.split("?", maxsplit=1)[0])),
            None,
        )
        if route is not None:
            STORY_ROUTES.add((route.method, route.resource))
        status, _, raw = self.gateway.dispatch(method, path, headers, payload)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()


def upload_dataset(stack: LocalStack) -> str:
    stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
    return f"s3://{stack.bucket}/datasets/bc.csv"


def execution_status(stack: LocalStack, arn: str) -> str:
    return stack.client("stepfunctions").describe_execution(executionArn=arn)["status"]


def start_training(api: Api, token: str, **extra: Any) -> dict[str, Any]:
    """POST /pipelines/training; the answer names the execution, and a retry with the token starts nothing."""
    request = {**REQUEST, "dataset_uri": upload_dataset(api.stack), "client_token": token, **extra}
    status, started = api.call("POST", "/pipelines/training", request)
    assert status == 202, started
    assert started["started"] is True and started["status"] == "RUNNING", started
    assert started["execution_arn"].endswith(f":{started['execution_id']}"), started
    retry_status, retried = api.call("POST", "/pipelines/training", request)
    assert (retry_status, retried["execution_id"], retried["started"]) == (200, started["execution_id"], False)
    return started


def finish(api: Api, started: dict[str, Any]) -> dict[str, Any]:
    wait_for(lambda: execution_status(api.stack, started["execution_arn"]) != "RUNNING", "the training run to end")
    status, run = api.call("GET", f"/pipelines/training/{started['execution_id']}")
    assert status == 200, run
    assert run["execution_id"] == started["execution_id"] and run["status"] == "SUCCEEDED", run
    return run


def pending_version(stack: LocalStack, version: int) -> dict[str, Any]:
    registry = stack.registry()

    def waiting() -> dict[str, Any] | None:
        versions = {v.version: v.to_document() for v in registry.list_versions(MODEL)}
        record = versions.get(version)
        return record if record and record.get("approval_task_token") else None

    return wait_for(waiting, f"v{version} to wait for approval")


def captured_records(stack: LocalStack) -> list[dict[str, Any]]:
    """Every record the capture Firehose stream delivered to S3 (capture/<model>/dt=.../), in order."""
    s3 = stack.client("s3")
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=f"capture/{MODEL}/"):
        for entry in sorted(page.get("Contents", []), key=lambda o: o["Key"]):
            body = s3.get_object(Bucket=stack.bucket, Key=entry["Key"])["Body"].read().decode()
            for line in body.splitlines():
                records.extend(records_of(json.loads(line)))
    return records


def run_story(stack: LocalStack, api: Api) -> dict[str, Any]:  # noqa: PLR0915 - one story, told in order
    """From an empty registry: train and deploy v1 (through the API), predict, give feedback, train a challenger
    that the gate rejects, train v3 and v4 behind approval (approve one, reject the other), canary v3, promote,
    roll back, reproduce v1. Returns what later checks need."""
    registry = stack.registry()

    # Given an empty registry; When a run is started through the API; Then v1 is registered and deployed.
    first = finish(api, start_training(api, "story-v1"))
    assert first["registration"]["version"] == 1, first
    status, models = api.call("GET", "/models")
    assert status == 200 and [(m["model_name"], m["production_version"]) for m in models] == [(MODEL, 1)], models
    status, model = api.call("GET", f"/models/{MODEL}")
    assert status == 200 and model["model_name"] == MODEL, model
    assert {name: a["version"] for name, a in model["aliases"].items()} == {"production": 1}, model
    status, versions = api.call("GET", f"/models/{MODEL}/versions")
    assert status == 200 and [(v["version"], v["status"]) for v in versions] == [(1, "Registered")], versions
    status, record = api.call("GET", f"/models/{MODEL}/versions/1")
    stored = registry.get_version(MODEL, 1).to_document()
    assert status == 200 and "pk" not in record and "sk" not in record, record
    assert (record["artifact_sha256"], record["metrics"]) == (stored["artifact_sha256"], stored["metrics"])
    status, card = api.call("GET", f"/models/{MODEL}/versions/1/card")
    assert status == 200 and json.dumps(card).count(stored["artifact_sha256"]) >= 1, card
    status, markdown = api.call("GET", f"/models/{MODEL}/versions/1/card?format=md")
    assert status == 200 and isinstance(markdown, str) and MODEL in markdown, markdown

    # When the production version is asked for a prediction; Then it answers with v1's classes, and captures it.
    example = record["input_example"]  # the API serves the version's documents from S3
    status, answer = api.call("POST", f"/models/{MODEL}/predict", {"instances": [example]}, api_key=True)
    assert status == 200, answer
    (row,) = answer["predictions"]
    assert (answer["model_name"], answer["version"], row["version"]) == (MODEL, 1, 1), answer
    probabilities = row["probabilities"]
    assert set(probabilities) == set(record["schema"]["classes"]), row
    assert abs(sum(probabilities.values()) - 1) < 1e-6 and row["prediction"] == max(
        probabilities, key=probabilities.get
    )
    assert api.call("POST", f"/models/{MODEL}/predict", {"instances": [example]})[0] == 403  # no API key
    captured = captured_records(stack)
    assert [(r["inference_id"], r["features"], r["prediction"]) for r in captured] == [
        (row["inference_id"], example, row["prediction"])
    ], captured

    # When ground truth arrives for that inference; Then it is stored where drift checks read it.
    status, accepted = api.call(
        "POST", f"/models/{MODEL}/feedback", {"labels": [{"inference_id": row["inference_id"], "label": "1"}]}
    )
    assert status == 202 and (accepted["model_name"], accepted["accepted"]) == (MODEL, 1), accepted
    bucket, key = accepted["uri"].removeprefix("s3://").split("/", 1)
    assert row["inference_id"] in stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    status, monitoring = api.call("GET", f"/models/{MODEL}/monitoring")
    assert status == 200 and monitoring["model_name"] == MODEL and isinstance(monitoring["checks"], list), monitoring

    # When the monitoring settings are replaced; Then the MONITOR item holds them, and {} returns to the stack's.
    status, configured = api.call("PUT", f"/models/{MODEL}/monitoring", {"drift": {"psi_threshold": 0.2}})
    assert status == 200 and configured["config"] == {"drift": {"psi_threshold": 0.2}}, configured
    monitors = MonitoringStore(stack.monitor_table)
    assert monitors.get(MODEL).config == {"drift": {"psi_threshold": 0.2}}
    assert api.call("PUT", f"/models/{MODEL}/monitoring", {"drift": {"no_such": 1}})[0] == 422
    # When monitoring is stopped; Then its scheduled checks are off and the other settings kept, and a PUT resumes it
    status, stopped = api.call("DELETE", f"/models/{MODEL}/monitoring")
    assert status == 200 and monitors.get(MODEL).config == {
        "drift": {"psi_threshold": 0.2},
        "schedule": {"enabled": False},
    }
    assert api.call("PUT", f"/models/{MODEL}/monitoring", {})[1]["config"] == {}
    assert monitors.get(MODEL).config == {}
    # When a check has written its report; Then the report route answers that HTML (and 404 for an unknown check).
    assert api.call("GET", f"/models/{MODEL}/monitoring/report")[0] == 404
    html_key = f"monitoring/{MODEL}/story/report.html"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=html_key, Body=b"<html>story report</html>")
    stack.client("dynamodb").put_item(
        TableName=stack.monitor_table,
        Item={
            "pk": {"S": f"MODEL#{MODEL}"},
            "sk": {"S": "CHECK#2026-01-01T00:00:00Z#story"},
            "check_id": {"S": "story"},
            "created_at": {"S": "2026-01-01T00:00:00Z"},
            "html_uri": {"S": f"s3://{stack.bucket}/{html_key}"},
        },
    )
    assert api.call("GET", f"/models/{MODEL}/monitoring/report") == (200, "<html>story report</html>")
    assert api.call("GET", f"/models/{MODEL}/monitoring/report?check_id=other")[0] == 404
    stack.client("dynamodb").delete_item(
        TableName=stack.monitor_table,
        Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": "CHECK#2026-01-01T00:00:00Z#story"}},
    )
    # When a check is asked for now; Then it is the schedule's DriftCheck execution, once per client token, and its
    # record answers with the check it stored (the one the monitoring route lists first)
    status, started = api.call("POST", f"/models/{MODEL}/monitoring/checks", {"client_token": "story-check"})
    assert status == 202 and started["started"] is True, started
    assert (
        api.call("POST", f"/models/{MODEL}/monitoring/checks", {"client_token": "story-check"})[1]["started"] is False
    )
    deadline = time.monotonic() + 120
    while (check := api.call("GET", f"/models/{MODEL}/monitoring/checks/{started['execution_id']}")[1])[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline, check
        time.sleep(0.2)
    assert check["status"] == "SUCCEEDED" and check["check"]["version"] == 1, check
    listed = api.call("GET", f"/models/{MODEL}/monitoring")[1]["checks"]
    assert listed[0]["check_id"] == check["check"]["check_id"], (listed, check)
    # When runs are listed; Then v1's run is there, and its steps end with the deployment.
    status, runs = api.call("GET", "/pipelines/training?limit=5")
    assert status == 200 and [(r["execution_id"], r["model_name"]) for r in runs] == [(first["execution_id"], MODEL)], (
        runs
    )
    status, stepped = api.call("GET", f"/pipelines/training/{first['execution_id']}?steps=true")
    exited = [s["state"] for s in stepped["steps"] if s["event"] == "exited"]
    assert (
        status == 200
        and exited[0] == "Prepare"
        and exited[-4:] == ["SmokeTest", "Rollout", "RolloutOutcome?", "Deployed"]
    ), stepped

    # When the same data trains a challenger with a gate it cannot pass; Then v2 is registered Rejected.
    challenger = finish(api, start_training(api, "story-v2", gate={"metric": "f1", "min_improvement": 0.5}))
    assert challenger["registration"]["version"] == 2, challenger
    assert registry.get_version(MODEL, 2).status == "Rejected"
    assert api.call("POST", f"/models/{MODEL}/deployments", {"version": 2})[0] == 409  # a rejected version

    # When two runs wait for approval; Then approving one and rejecting the other records both decisions.
    approved_run = start_training(api, "story-v3", approval={"required": True}, gate={"min_improvement": 0})
    pending_version(stack, 3)
    before = stack_state(stack)
    status, refused = api.call("POST", f"/models/{MODEL}/versions/3/approve", {"reason": "my own run"})
    assert (status, refused["error"]) == (403, "SelfApprovalRefused"), refused
    assert stack_state(stack).changes_since(before) == {}
    status, decision = api.call(
        "POST", f"/models/{MODEL}/versions/3/approve", {"reason": "card reviewed"}, caller=APPROVER
    )
    assert status == 200 and (decision["version"], decision["status"]) == (3, "Approved"), decision
    finish(api, approved_run)
    status, model = api.call("GET", f"/models/{MODEL}")
    assert {name: a["version"] for name, a in model["aliases"].items()} == {"production": 3}, model
    rejected_run = start_training(api, "story-v4", approval={"required": True}, gate={"min_improvement": 0})
    pending_version(stack, 4)
    status, decision = api.call("POST", f"/models/{MODEL}/versions/4/reject", {"reason": "bias review failed"})
    assert status == 200 and (decision["version"], decision["status"]) == (4, "Rejected"), decision
    wait_for(lambda: execution_status(stack, rejected_run["execution_arn"]) != "RUNNING", "the rejected run to end")

    # When v1 is sent a canary share, promoted, then rolled back; Then the alias says so at each step.
    status, deployed = api.call(
        "POST", f"/models/{MODEL}/deployments", {"version": 1, "canary_weight": 0.25, "reason": "canary"}
    )
    assert status == 200 and deployed["smoke_test"]["passed"] is True, deployed
    alias = deployed["alias"]
    assert (alias["version"], alias["canary_version"], alias["canary_weight"]) == (3, 1, 0.25), alias
    status, alias = api.call("POST", f"/models/{MODEL}/promote", {"reason": "canary healthy"})
    assert status == 200 and (alias["version"], alias["previous_version"], alias["canary_version"]) == (1, 3, None)
    status, alias = api.call("POST", f"/models/{MODEL}/rollback", {"reason": "latency"})
    assert status == 200 and (alias["version"], alias["previous_version"]) == (3, 1), alias
    assert alias["updated_by"] == LOCAL_CALLER_ARN, alias

    # When staging is pointed at v1 and v1 is tagged; Then predict serves staging from v1, the listing filters by both.
    status, staged = api.call("PUT", f"/models/{MODEL}/aliases/staging", {"version": 1, "reason": "compare"})
    assert status == 200 and staged["alias"] == registry.get_alias(MODEL, "staging").to_document(), staged
    status, answer = api.call("POST", f"/models/{MODEL}/predict?alias=staging", {"instances": [example]}, api_key=True)
    assert status == 200 and (answer["alias"], answer["version"]) == ("staging", 1), answer
    status, tagged = api.call("PUT", f"/models/{MODEL}/versions/1/tags/tier", {"value": "gold"})
    assert status == 200 and tagged["tags"] == registry.get_version(MODEL, 1).tags == {"tier": "gold"}, tagged
    status, listed = api.call("GET", f"/models/{MODEL}/versions?tag=tier=gold&alias=staging")
    assert status == 200 and [(v["version"], v["aliases"]) for v in listed] == [(1, ["staging"])], listed
    status, untagged = api.call("DELETE", f"/models/{MODEL}/versions/1/tags/tier")
    assert status == 200 and untagged["tags"] == registry.get_version(MODEL, 1).tags == {}, untagged
    status, removed = api.call("DELETE", f"/models/{MODEL}/aliases/staging")
    assert status == 200 and removed["removed_version"] == 1 and registry.get_alias(MODEL, "staging") is None

    # When v1 is reproduced from its lineage; Then the retrained model matches the registered one.
    status, report = api.call("POST", f"/models/{MODEL}/versions/1/reproduce")
    assert status == 200 and report["reproduced"] is True and report["data_matches"] is True, report

    # Then the audit trail the API shows is the registry's, newest decisions included.
    status, trail = api.call("GET", f"/models/{MODEL}/audit")
    assert status == 200, trail
    assert [e["event_id"] for e in trail] == [e.event_id for e in registry.list_events(MODEL)]
    kinds = [e["event_type"] for e in trail]
    for kind in ("VersionRegistered", "AliasMoved", "VersionRejected", "ApprovalRequested", "VersionApproved",
                 "VersionRejectedByApprover", "CanaryChanged", "CanaryPromoted", "RolledBack", "AliasRemoved",
                 "VersionTagSet", "VersionTagDeleted"):  # fmt: skip
        assert kind in kinds, (kind, kinds)

    # When a CSV is scored by a batch job (without capture: the story's capture counts stay the endpoint's);
    # Then the job answers 202, ends SUCCEEDED with every row scored by the production version.
    lines = breast_cancer_csv().decode().splitlines()[:51]
    stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/story-batch.csv", Body="\n".join(lines).encode())
    body = {"input_uri": f"s3://{stack.bucket}/datasets/story-batch.csv", "capture": False}
    status, job = api.call("POST", f"/models/{MODEL}/batch-jobs", body)
    assert status == 202 and job["status"] == "RUNNING", job
    path = f"/models/{MODEL}/batch-jobs/{job['job_id']}"
    done = wait_for(lambda: (got := api.call("GET", path)[1])["status"] != "RUNNING" and got, "the batch job to end")
    production = registry.get_alias(MODEL, "production").version
    assert (done["status"], done["rows"], done["scored"], done["version"]) == ("SUCCEEDED", 50, 50, production), done

    # When a file is to be uploaded and the batch input downloaded (the SDK's upload and download); Then each answer
    # is a presigned URL for exactly that object, a download outside the allowed locations is refused, and a
    # download of a missing object is 404.
    status, grant = api.call("POST", "/uploads", {"file_name": "story.csv"})
    assert status == 200 and grant["method"] == "PUT", grant
    assert grant["uri"].startswith(f"s3://{stack.bucket}/datasets/uploads/") and grant["uri"].endswith("/story.csv")
    assert grant["uri"].removeprefix(f"s3://{stack.bucket}/") in grant["url"], grant
    status, grant = api.call("POST", "/downloads", {"uri": body["input_uri"]})
    assert status == 200 and grant["method"] == "GET" and grant["size_bytes"] == len("\n".join(lines)), grant
    assert api.call("POST", "/downloads", {"uri": f"s3://{stack.bucket}/models/{MODEL}/x.joblib"})[0] == 403
    assert api.call("POST", "/downloads", {"uri": f"s3://{stack.bucket}/datasets/no-such.csv"})[0] == 404

    # When the dashboard is published; Then the page in S3 shows every version with the registry's metrics.
    status, published = api.call("POST", "/dashboard")
    assert status == 200 and published["uri"].startswith(f"s3://{stack.bucket}/dashboards/"), published
    key = published["uri"].removeprefix(f"s3://{stack.bucket}/")
    page = stack.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode()
    for version in registry.list_versions(MODEL):
        f1 = version.metrics["f1"]
        assert f'data-version="{version.version}" data-metric="f1" data-value="{f1}"' in page, version.version
    register_external_version(stack, api)
    return {"inference_id": row["inference_id"], "input_example": example}


def register_external_version(stack: LocalStack, api: Api) -> None:
    """When a model fitted elsewhere is uploaded as skops and registered (another model name, so the story's model
    keeps its versions); Then its run registers it, with lineage that says who sent it and its sha256."""
    import skops.io  # noqa: PLC0415 - the story's one caller-side model
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    rows = list(csv.reader(io.StringIO(breast_cancer_csv().decode())))
    features = [[float(value) for value in row[:-1]] for row in rows[1:]]
    labels = [row[-1] for row in rows[1:]]
    assert rows[0][-1] == "target", rows[0]
    payload = skops.io.dumps(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(features, labels))
    stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/uploads/bc.skops", Body=payload)
    body = {
        "artifact_uri": f"s3://{stack.bucket}/datasets/uploads/bc.skops",
        "artifact_sha256": hashlib.sha256(payload).hexdigest(),
        "dataset_uri": upload_dataset(stack),
        "target": "target",
        "client_token": "story-external",
    }
    status, started = api.call("POST", "/models/bc-external/external-versions", body)
    assert status == 202 and started["started"] is True and started["model_name"] == "bc-external", started
    finish(api, started)
    record = stack.registry().get_version("bc-external", 1)
    assert record.lineage.external is not None, record.lineage
    assert (record.lineage.external["artifact_sha256"], record.lineage.external["uploaded_by"]) == (
        body["artifact_sha256"],
        LOCAL_CALLER_ARN,
    )
