"""The SDK against a real `python -m local up` (one server per module): every public call of `Client` at least once,
the three data shapes of predict round-tripping, the API's refusals as typed exceptions with its message, a retried
train starting one run, and an upload/download round trip compared by content."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.runs.datasets import breast_cancer_csv
from mlops_client import (
    BatchJob,
    Client,
    Conflict,
    Forbidden,
    Invalid,
    Model,
    NotFound,
    Run,
    SchemaMismatch,
    Version,
)
from tests.integration.test_mlops_cli import DATASET_URI, MODEL, Server, _start, _stop

pytestmark = pytest.mark.integration

pandas = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("mlops-sdk")
    running = _start(directory / "state", directory / "up.log", "--seed")
    yield running
    _stop(running)


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return Client(server.url, api_key=server.api_key)


def features() -> pandas.DataFrame:
    return pandas.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns=["target"])


# ---- predict: three shapes in, the same shape out --------------------------------------------------------------------
def test_predict_answers_in_the_shape_it_was_given(client):
    # Given 7 rows on an index that is not 0..n-1
    frame = features().iloc[10:17]
    frame.index = [f"patient-{i}" for i in range(7)]
    # When they are scored as a DataFrame, as records and as columns
    as_frame = client.predict(MODEL, frame)
    as_rows = client.predict(MODEL, frame.to_dict("records"))
    as_columns = client.predict(MODEL, frame.to_dict("list"))
    # Then each answer has the input's shape, and the three agree row by row
    assert isinstance(as_frame, pandas.DataFrame) and list(as_frame.index) == list(frame.index)
    assert {"prediction", "probability_0", "probability_1", "version", "inference_id"} <= set(as_frame.columns)
    assert isinstance(as_rows, list) and len(as_rows) == 7 and {"prediction", "probabilities"} <= set(as_rows[0])
    assert isinstance(as_columns, dict) and len(as_columns["prediction"]) == 7
    assert list(as_frame["prediction"]) == [r["prediction"] for r in as_rows] == as_columns["prediction"]
    assert list(as_frame["probability_1"]) == pytest.approx([r["probabilities"]["1"] for r in as_rows])
    assert as_columns["probabilities"]["1"] == pytest.approx(list(as_frame["probability_1"]))
    production = client.model(MODEL).production_version
    assert set(as_frame["version"]) == {production} and {r["version"] for r in as_rows} == {production}


def test_predict_splits_more_than_1000_rows_and_keeps_their_order(client):
    frame = pandas.concat([features()] * 3, ignore_index=True).iloc[:1500]  # 1,500 rows: two requests
    scored = client.predict(MODEL, frame)
    assert len(scored) == 1500 and list(scored.index) == list(frame.index)
    single = client.predict(MODEL, frame.iloc[[1499]].to_dict("records"))
    assert scored["prediction"].iloc[1499] == single[0]["prediction"]
    assert scored["probability_1"].iloc[1499] == pytest.approx(single[0]["probabilities"]["1"])


def test_missing_values_are_sent_as_null(client):
    frame = features().iloc[:2].copy()
    frame.iloc[0, 0] = float("nan")  # NaN means missing: imputed by the model, not refused
    assert len(client.predict(MODEL, frame)) == 2


# ---- typed errors with the API's message ----------------------------------------------------------------------------
def test_refusals_are_typed_exceptions_with_the_apis_message(client):
    with pytest.raises(NotFound) as unknown:
        client.version("no-such-model", 1)
    assert unknown.value.status == 404 and "no-such-model" in unknown.value.message
    with pytest.raises(NotFound):
        client.predict("no-such-model", [{"a": 1}])
    rows = features().iloc[:3].to_dict("records")
    rows[1]["mean radius"] = "large"
    with pytest.raises(Invalid) as bad_rows:
        client.predict(MODEL, rows)
    assert bad_rows.value.status == 422
    assert bad_rows.value.message == "row 1: feature 'mean radius' must be a number or null, not str"
    with pytest.raises(Conflict) as nothing_to_promote:
        client.promote(MODEL)
    assert nothing_to_promote.value.status == 409 and "canary" in nothing_to_promote.value.message
    with pytest.raises(NotFound):
        client.batch_job(MODEL, "20260101T000000Z-00000000")
    with pytest.raises(TypeError, match="DataFrame, a list of records or a dict of columns"):
        client.predict(MODEL, "a string")


# ---- training --------------------------------------------------------------------------------------------------------
def test_a_retried_train_with_one_client_token_starts_one_run(client):
    token = f"retry-{uuid.uuid4().hex}"
    request = {
        "model_name": "bc-sdk",
        "dataset_uri": DATASET_URI,
        "target": "target",
        "candidates": [{"estimator": "logistic_regression", "params": {"C": 0.001, "max_iter": 200}}],
    }
    first = client.train(request, client_token=token)
    again = client.train(request, client_token=token)  # a retry after, say, a lost answer
    assert isinstance(first, Run) and first.started is True and again.started is False
    assert again.execution_id == first.execution_id
    finished = first.wait(timeout_s=600)
    assert finished.succeeded and finished.version == 1 and finished.deployed, finished.document
    assert [r.execution_id for r in client.runs(limit=100)].count(first.execution_id) == 1
    assert client.run(first.execution_id).version == 1
    assert len(client.versions("bc-sdk")) == 1
    # the same token with another request is the API's 409
    with pytest.raises(Conflict):
        client.train({**request, "target": "mean radius"}, client_token=token)


def test_the_registry_reads_are_typed(client):
    (summary,) = [m for m in client.models() if m.model_name == MODEL]
    model = client.model(MODEL)
    assert isinstance(model, Model) and model.production_version == summary.production_version
    version = client.version(MODEL, model.production_version)
    assert isinstance(version, Version) and version.status == "Registered"
    assert "mean radius" in version.schema.feature_names and version.lineage.rows == 569
    assert version.gate.decision == "promote" and version.serving.runtime in ("onnx", "sklearn")
    assert version.metrics == version.document["metrics"]
    listed = client.versions(MODEL)
    assert [v.version for v in listed] == [v["version"] for v in client.api.json("GET", f"/models/{MODEL}/versions")]


def test_compare_sets_metrics_side_by_side(client):
    comparison = client.compare(MODEL, 1, 1)
    assert comparison.differences == []
    assert {m: c.difference for m, c in comparison.metrics.items()} == dict.fromkeys(
        client.version(MODEL, 1).metrics, 0.0
    )


# ---- deployments, aliases, tags, governance --------------------------------------------------------------------------
def test_deploy_promote_rollback_aliases_and_tags(client):
    # Given bc-sdk's weak v1 (the retry test above) and a v2 from the default candidates, which beat it
    name = "bc-sdk"
    second = client.train(model_name=name, dataset_uri=DATASET_URI, target="target").wait(timeout_s=600)
    assert (second.version, client.version(name, 2).status) == (2, "Registered"), second.document
    production = client.model(name).production_version
    other = 1 if production == 2 else 2
    canary = client.deploy(name, other, canary_weight=0.25, reason="try")
    assert (canary.version, canary.canary_version, canary.canary_weight) == (production, other, 0.25)
    assert client.promote(name).version == other
    assert client.rollback(name, reason="back").version == production
    staging = client.set_alias(name, "staging", other, reason="for the testers")
    assert staging.alias == "staging" and staging.version == other
    assert client.predict(name, features().iloc[:2], alias="staging")["version"].tolist() == [other, other]
    client.delete_alias(name, "staging")  # (warm predict instances re-read aliases every AliasRefreshSeconds)
    assert "staging" not in client.model(name).aliases
    client.set_tag(name, other, "reviewed", "yes")
    assert [v.version for v in client.versions(name, tag="reviewed=yes")] == [other]
    client.delete_tag(name, other, "reviewed")
    assert client.versions(name, tag="reviewed") == []
    events = [e["event_type"] for e in client.audit(name)]
    assert {"AliasMoved", "VersionTagSet", "VersionTagDeleted"} <= set(events)


def test_approve_and_reject(client, server):
    request = {
        "model_name": "bc-sdk-approval",
        "dataset_uri": DATASET_URI,
        "target": "target",
        "approval": {"required": True},
        "candidates": [{"estimator": "logistic_regression", "params": {"C": 0.001, "max_iter": 200}}],
    }
    run = client.train(request)
    deadline = time.monotonic() + 300
    while not _pending(client, "bc-sdk-approval"):  # until the run waits for its approval
        assert not run.refresh().done and time.monotonic() < deadline, run.document
        time.sleep(0.5)
    version = _pending(client, "bc-sdk-approval")[0]
    assert version == 1
    with pytest.raises(Forbidden) as self_approval:  # the requester may not approve their own run
        client.approve("bc-sdk-approval", version, reason="mine")
    assert self_approval.value.status == 403
    reviewer = Client(server.url, api_key=server.api_key, as_user="reviewer")
    reviewer.reject("bc-sdk-approval", version, reason="not today")
    assert run.wait(timeout_s=300).status == "FAILED" and run.error == "ApprovalRejected"


def _pending(client: Client, name: str) -> list[int]:
    try:
        return [v.version for v in client.versions(name, status="PendingApproval")]
    except NotFound:  # the run has not registered the model yet
        return []


def test_card_monitoring_and_dashboard(client):
    card = client.card(MODEL, 1)
    assert isinstance(card, dict) and card
    assert client.card(MODEL, 1, format="md").startswith("#")
    monitoring = client.monitoring(MODEL, {"cooldown_hours": 6})
    assert monitoring.config == {"cooldown_hours": 6}
    stopped = client.monitoring(MODEL, stop=True)
    assert stopped.schedule["enabled"] is False and stopped.config["cooldown_hours"] == 6  # settings kept
    assert client.monitoring(MODEL).document == stopped.document
    assert client.dashboard()["url"].endswith("/dashboard")
    with pytest.raises(NotFound, match="no drift report"):  # no drift check has run yet
        client.drift_report(MODEL)
    client.monitoring(MODEL, {})  # monitoring resumed; a check on demand then runs the schedule's DriftCheck
    check = client.check_monitoring(MODEL, wait=True)
    assert check.status == "SUCCEEDED" and check.check["check_id"], check.document
    assert client.drift_report(MODEL, check.check["check_id"]).lstrip().lower().startswith("<!doctype html")


# ---- data in and out, batch ------------------------------------------------------------------------------------------
def test_upload_download_round_trip_and_a_batch_job(client, tmp_path):
    source = tmp_path / "rows.csv"
    features().iloc[:40].to_csv(source, index=False)
    uri = client.upload(source)
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    assert uri == f"s3://mlops-local-artifactsbucket/datasets/{sha256}/rows.csv"  # stored by content
    assert client.uri_of(source) == uri and client.uri_of(uri) == uri  # the same bytes, the same object
    back = client.download(uri, tmp_path / "back.csv")
    assert back.read_bytes() == source.read_bytes()
    named = client.upload(source, uri="s3://mlops-local-artifactsbucket/datasets/sdk/rows.csv")
    assert client.download(named, tmp_path / "named.csv").read_bytes() == source.read_bytes()
    # outside the allowed locations: refused before anything is signed
    with pytest.raises(Forbidden, match="outside the allowed locations"):
        client.upload(source, uri="s3://someone-elses-bucket/rows.csv")
    with pytest.raises(Forbidden):
        client.download("s3://mlops-local-artifactsbucket/models/anything", tmp_path / "x")
    with pytest.raises(NotFound):
        client.download("s3://mlops-local-artifactsbucket/datasets/none-here.csv", tmp_path / "x")
    # a batch job over the upload; its output downloads through the same route
    job = client.batch(MODEL, uri)
    assert isinstance(job, BatchJob)
    job.wait(timeout_s=600)
    assert job.succeeded and (job.rows, job.scored, job.invalid) == (40, 40, 0), job.document
    output = client.download(job.output_uri, tmp_path / "scored")  # a prefix: one file per part
    parts = sorted(output.glob("part-*.csv"))  # CSV, the default for CSV input
    assert parts, list(output.iterdir())
    scored = pandas.concat([pandas.read_csv(part, dtype={"prediction": str}) for part in parts], ignore_index=True)
    scored = scored.sort_values("input_offset", ignore_index=True)
    assert len(scored) == 40
    direct = client.predict(MODEL, features().iloc[:40])
    assert scored["prediction"].astype(str).tolist() == direct["prediction"].astype(str).tolist()
    # and the labels of those predictions go back as feedback, by inference id
    labels = pandas.read_csv(io.BytesIO(breast_cancer_csv()))["target"].iloc[:40].tolist()
    answer = client.feedback(MODEL, dict(zip(direct["inference_id"], labels, strict=True)))
    assert answer["accepted"] == 40 and answer["model_name"] == MODEL


def test_the_input_schema_names_the_raw_columns_and_a_version_reproduces(client):
    production = client.model(MODEL).production_version
    schema = client.input_schema(MODEL)
    assert schema.version == production
    assert list(schema.kinds) == client.version(MODEL, production).schema.feature_names  # 30 numbers, no dates
    assert set(schema.kinds.values()) == {"numeric"}
    report = client.reproduce(MODEL, production)
    assert report["reproduced"] and report["data_matches"], report


def test_a_model_fitted_elsewhere_is_registered_through_the_gate_and_serves(client):
    # Given a scikit-learn pipeline fitted in the notebook, on the breast-cancer features in file order
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - the notebook's own libraries
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: PLC0415

    table = pandas.read_csv(io.BytesIO(breast_cancer_csv()))
    rows, labels = table.drop(columns=["target"]).to_numpy(), table["target"].to_numpy()
    fitted = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(rows, labels)
    # When the SDK registers it (serialised here with skops, uploaded, checked, gated)
    run = client.register_model("bc-own", fitted, target="target", dataset_uri=DATASET_URI)
    run.wait(timeout_s=600)
    # Then it ran the pipeline to production, its lineage names the artifact, and it answers predictions
    assert run.status == "SUCCEEDED", (run.error, run.document)
    version = client.version("bc-own", run.version)
    external = version.document["lineage"]["external"]
    assert external["format"] == "skops" and len(external["artifact_sha256"]) == 64, external
    answer = client.predict("bc-own", features().iloc[:5])
    expected = fitted.predict(rows[:5]).astype(str).tolist()
    assert answer["prediction"].astype(str).tolist() == expected
    # And a model holding a type outside the allow-list is refused at the door, the type named
    hostile = make_pipeline(FunctionTransformer(abs), LogisticRegression(max_iter=2000)).fit(rows, labels)
    with pytest.raises(Invalid, match="FunctionTransformer"):
        client.register_model("bc-hostile", hostile, target="target", dataset_uri=DATASET_URI)


def test_an_mlflow_directory_whose_signature_misses_a_column_is_refused_before_upload(client, tmp_path):
    # Given an MLflow sklearn directory (the format's files, written by hand) signed for all features but one
    import json  # noqa: PLC0415

    names = [name for name in features().columns if name != "worst symmetry"]
    inputs = json.dumps([{"type": "double", "name": name, "required": True} for name in names])
    (tmp_path / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n"
        f"signature:\n  inputs: '{inputs}'\n"
    )
    (tmp_path / "model.skops").write_bytes(b"not read: the signature is checked first")
    runs_before = len(client.runs(limit=100))
    # When it is registered; Then SchemaMismatch names the column, and no run starts
    with pytest.raises(SchemaMismatch) as refused:
        client.register_mlflow_model("bc-mlflow", tmp_path, target="target", dataset_uri=DATASET_URI)
    assert list(refused.value.columns) == ["worst symmetry"], refused.value.columns
    assert len(client.runs(limit=100)) == runs_before


def test_public_methods_are_all_exercised():
    """A guard: every public method of Client is called somewhere in this module."""
    text = Path(__file__).read_text()
    public = [name for name in dir(Client) if not name.startswith("_")]
    unused = [name for name in public if f".{name}(" not in text.replace("def test_", "")]
    assert unused == [], unused
