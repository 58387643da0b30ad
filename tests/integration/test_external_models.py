"""Bring your own model: a caller's skops file through the HTTP route and the real TrainingPipeline, gated, deployed
and predicted as a trained model is; hostile, corrupted and mismatched artifacts refused with nothing stored."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, PolynomialFeatures, StandardScaler

from local.runs.training import error_message, follow, run_training
from local.stack import LocalStack
from mlops.storage.objects import sha256_hex
from tests.api_story import Api
from tests.conftest import upload

pytestmark = pytest.mark.integration

MODEL = "churn"
COLUMNS = ["tenure", "spend", "plan"]  # the dataset's feature columns, in its order (the model's input order)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    with LocalStack() as local_stack:
        for name, value in local_stack.environment().items():
            monkeypatch.setenv(name, value)
        yield local_stack


@pytest.fixture
def api(stack: LocalStack):
    client = Api(stack)
    yield client
    client.close()


def churn_rows(rows: int = 600, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Numbers and a category; the label depends on both (seeded)."""
    rng = np.random.default_rng(seed)
    features = np.empty((rows, 3), dtype=object)
    features[:, 0] = np.round(rng.uniform(0, 60, rows), 2)
    features[:, 1] = np.round(rng.normal(50, 15, rows), 2)
    features[:, 2] = rng.choice(["basic", "plus", "premium"], rows)
    score = -0.08 * features[:, 0].astype(float) + 0.04 * features[:, 1].astype(float) + (features[:, 2] == "basic")
    labels = np.where(score + rng.normal(0, 0.4, rows) > 0, "churned", "stayed")
    return features, labels


def dataset_csv(features: np.ndarray, labels: np.ndarray) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*COLUMNS, "label"])
    writer.writerows([*row, label] for row, label in zip(features.tolist(), labels.tolist(), strict=True))
    return out.getvalue().encode()


def custom_pipeline(features: np.ndarray, labels: np.ndarray) -> Pipeline:
    """The team's own feature engineering: binned tenure, polynomial spend, one-hot plan (columns by position)."""
    columns = ColumnTransformer(
        [
            ("tenure", KBinsDiscretizer(n_bins=5, encode="onehot-dense", quantile_method="averaged_inverted_cdf"), [0]),
            ("spend", PolynomialFeatures(2, include_bias=False), [1]),
            ("plan", OneHotEncoder(handle_unknown="ignore"), [2]),
        ]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=2000))]).fit(features, labels)


class WritesSentinel:
    """A crafted object: rebuilding it would write a file (what a hostile artifact does on load)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setstate__(self, state: dict) -> None:
        Path(state["path"]).write_text("ran")


def upload_model(stack: LocalStack, model: Any, name: str) -> tuple[str, str]:
    payload = skops.io.dumps(model)
    return upload(stack, f"datasets/uploads/{name}.skops", payload), sha256_hex(payload)


def register(api: Api, dataset_uri: str, artifact: tuple[str, str], token: str, **extra: Any) -> tuple[int, Any]:
    body = {
        "artifact_uri": artifact[0],
        "artifact_sha256": artifact[1],
        "dataset_uri": dataset_uri,
        "target": "label",
        "client_token": token,
        "description": "churn, from the team's notebook",
        **extra,
    }
    return api.call("POST", f"/models/{MODEL}/external-versions", body, caller="dana")


def finished(stack: LocalStack, started: dict[str, Any]) -> dict[str, Any]:
    description, _ = follow(stack, started["execution_arn"], timeout_s=600)
    return description


def stored_keys(stack: LocalStack, prefix: str) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return [entry["Key"] for entry in listed.get("Contents", [])]


def executions(stack: LocalStack) -> list[dict[str, Any]]:
    return stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]


def test_a_custom_pipeline_is_gated_deployed_and_predicted_and_a_worse_one_is_rejected(stack, api):
    # Given a dataset and the team's own pipeline, fitted on the same columns, uploaded as skops
    features, labels = churn_rows()
    dataset_uri = upload(stack, "datasets/churn.csv", dataset_csv(features, labels))
    artifact = upload_model(stack, custom_pipeline(features, labels), "churn-v1")

    # When it is registered through the API
    status, started = register(
        api, dataset_uri, artifact, "byom-v1", input_example=dict(zip(COLUMNS, features[0], strict=True))
    )

    # Then the run starts, and goes every step a trained model goes, to production
    assert status == 202 and started["started"] is True, started
    description = finished(stack, started)
    assert description["status"] == "SUCCEEDED", description
    registry = stack.registry()
    record = registry.get_version(MODEL, 1)
    assert record.status == "Registered"
    assert registry.get_alias(MODEL).version == 1
    assert record.metrics["accuracy"] > 0.8  # measured by the platform, on its own holdout
    # the lineage says it is external: where from, its sha256, what it declares, and who sent it
    external = record.lineage.external
    assert external is not None
    assert (external["artifact_uri"], external["artifact_sha256"], external["format"]) == (*artifact, "skops")
    assert external["uploaded_by"] == "arn:aws:iam::123456789012:user/dana"
    assert external["declared_libraries"]["skops"] == skops.__version__
    assert external["declared_libraries"]["scikit-learn"] == record.lineage.libraries["scikit-learn"]
    # the registered artifact is the platform's own copy, not the caller's bytes
    assert record.artifact_sha256 != artifact[1]

    # And production answers with the caller's model
    status, record_document = api.call("GET", f"/models/{MODEL}/versions/1")
    example = record_document["input_example"]
    status, answer = api.call("POST", f"/models/{MODEL}/predict", {"instances": [example]}, api_key=True)
    assert status == 200, answer
    row = [example[column] for column in COLUMNS]
    expected = custom_pipeline(features, labels).predict(np.array([row], dtype=object))[0]
    assert answer["predictions"][0]["prediction"] == expected

    # When a model worse than the champion is registered (it always says the majority class)
    majority = DummyClassifier(strategy="most_frequent").fit(features, labels)
    status, second = register(api, dataset_uri, upload_model(stack, majority, "churn-v2"), "byom-v2")

    # Then the gate rejects it, and the rejection is recorded; production stays on v1
    assert status == 202, second
    assert finished(stack, second)["status"] == "SUCCEEDED"
    rejected = registry.get_version(MODEL, 2)
    assert rejected.status == "Rejected"
    assert rejected.gate["passed"] is False and rejected.gate["reasons"], rejected.gate
    assert rejected.lineage.external is not None
    assert registry.get_alias(MODEL).version == 1


def test_a_hostile_artifact_is_refused_with_nothing_stored_and_no_code_run(stack, api, tmp_path):
    features, labels = churn_rows(rows=200)
    dataset_uri = upload(stack, "datasets/churn.csv", dataset_csv(features, labels))
    sentinel = tmp_path / "sentinel"
    artifact = upload_model(stack, {"model": WritesSentinel(str(sentinel))}, "hostile")

    # When it is sent to the route; Then 422 names the type, and no run starts
    status, answer = register(api, dataset_uri, artifact, "hostile-1")
    assert status == 422, answer
    assert answer["error"] == "UntrustedModelType" and "WritesSentinel" in answer["message"], answer
    assert executions(stack) == []

    # When a run is started with it directly (past the API); Then Prepare refuses it before writing anything
    request = {
        "model_name": MODEL,
        "dataset_uri": dataset_uri,
        "target": "label",
        "external": {"artifact_uri": artifact[0], "artifact_sha256": artifact[1]},
    }
    result = run_training(stack, request)
    assert (result.status, result.end_state, result.error) == ("FAILED", "InvalidInput", "UntrustedModelType")
    assert "WritesSentinel" in error_message(result.cause)
    assert stored_keys(stack, "runs/") == [] and stored_keys(stack, "models/") == []
    assert not sentinel.exists()


def test_a_digest_mismatch_and_a_schema_mismatch_are_refused(stack, api):
    features, labels = churn_rows(rows=300)
    dataset_uri = upload(stack, "datasets/churn.csv", dataset_csv(features, labels))
    artifact_uri, digest = upload_model(stack, custom_pipeline(features, labels), "churn")

    # A sha256 that is not the file's: 422, no run
    status, answer = register(api, dataset_uri, (artifact_uri, "0" * 64), "wrong-digest")
    assert status == 422 and answer["error"] == "ArtifactIntegrityError", answer
    assert executions(stack) == []

    # A model fitted on other columns than the dataset's: the run ends in InvalidInput before any file is written
    wider = np.column_stack([features, features[:, 0]])
    columns = ColumnTransformer([("numbers", StandardScaler(), [0, 1, 3]), ("plan", OneHotEncoder(), [2])])
    other = Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=2000))]).fit(wider, labels)
    status, started = register(api, dataset_uri, upload_model(stack, other, "wider"), "wider")
    assert status == 202, started
    description = finished(stack, started)
    assert description["status"] == "FAILED"
    assert stored_keys(stack, "runs/") == []
    assert stack.registry().list_versions(MODEL) == []
    history = stack.client("stepfunctions").get_execution_history(executionArn=started["execution_arn"])["events"]
    failure = next(e for e in history if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    assert failure["error"] == "InvalidTrainingRequest", failure
    assert "takes 4 features" in error_message(failure["cause"]), failure
