"""Bring your own model through the SDK against a real `python -m local up` (one server for the module): a LightGBM
pipeline fitted in the notebook, the built-in `lightgbm` candidate, and an MLflow model directory, each through the
real TrainingPipeline to production and predicted; an MLflow signature that does not match the dataset refused on
the client before anything is uploaded."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mlops_client.client as client_module
from mlops_client import Client, SchemaMismatch
from tests.integration.test_mlops_cli import Server, _start, _stop

pytestmark = pytest.mark.integration

pandas = pytest.importorskip("pandas")
lightgbm = pytest.importorskip("lightgbm")

COLUMNS = ["distance_km", "weight_kg", "carrier"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("mlops-byom")
    running = _start(directory / "state", directory / "up.log")
    yield running
    _stop(running)


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return Client(server.url, api_key=server.api_key)


def shipments(rows: int = 500, seed: int = 21) -> pandas.DataFrame:
    """Numbers and a category; late depends on both (seeded)."""
    rng = np.random.default_rng(seed)
    frame = pandas.DataFrame(
        {
            "distance_km": np.round(rng.uniform(5, 900, rows), 1),
            "weight_kg": np.round(rng.gamma(2.0, 6.0, rows), 2),
            "carrier": rng.choice(["north", "south", "west"], rows),
        }
    )
    score = frame["distance_km"] / 300 + frame["weight_kg"] / 20 - 2 * (frame["carrier"] == "west")
    frame["late"] = np.where(score + rng.normal(0, 0.4, rows) > 1.5, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def dataset(client: Client, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pandas.DataFrame]:
    frame = shipments()
    path = tmp_path_factory.mktemp("data") / "shipments.csv"
    frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return client.upload(path), frame


def test_a_lightgbm_pipeline_from_the_notebook_is_gated_deployed_and_predicts_as_it_did(client, dataset):
    dataset_uri, frame = dataset
    # Given a LightGBM pipeline fitted in the notebook (columns by position, as the platform passes them)
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415
    from sklearn.pipeline import Pipeline  # noqa: PLC0415
    from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: PLC0415

    columns = ColumnTransformer(
        [("numbers", StandardScaler(), [0, 1]), ("carrier", OneHotEncoder(handle_unknown="ignore"), [2])]
    )
    model = lightgbm.LGBMClassifier(n_estimators=60, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)
    fitted = Pipeline([("columns", columns), ("model", model)])
    fitted.fit(frame[COLUMNS].to_numpy(dtype=object), frame["late"])

    # When it is registered through the SDK
    run = client.register_model("shipments-lgbm", fitted, target="late", dataset_uri=dataset_uri)
    run.wait(timeout_s=600)

    # Then it went every step to production, its lineage says external, and it answers as it did in the notebook
    assert run.status == "SUCCEEDED", (run.error, run.document)
    version = client.version("shipments-lgbm", run.version)
    assert version.document["lineage"]["external"]["format"] == "skops"
    assert version.document["serving"]["runtime"] in ("onnx", "sklearn"), version.document["serving"]
    rows = frame[COLUMNS].iloc[:25]
    answer = client.predict("shipments-lgbm", rows)
    assert answer["prediction"].tolist() == fitted.predict(rows.to_numpy(dtype=object)).tolist()


def test_the_built_in_lightgbm_candidate_trains_converts_and_deploys(client, dataset):
    dataset_uri, frame = dataset
    candidates = [{"estimator": "lightgbm", "params": {"n_estimators": 60, "num_leaves": 15}}]
    run = client.train(model_name="shipments-builtin", dataset_uri=dataset_uri, target="late", candidates=candidates)
    run.wait(timeout_s=600)

    assert run.status == "SUCCEEDED", (run.error, run.document)
    version = client.version("shipments-builtin", run.version)
    assert version.document["estimator"] == "lightgbm"
    serving = version.document["serving"]
    assert serving["runtime"] == "onnx" and serving["parity"]["passed"] is True, serving
    assert version.document["metrics"]["accuracy"] > 0.8
    answer = client.predict("shipments-builtin", frame[COLUMNS].iloc[:5])
    assert set(answer["prediction"]) <= {"yes", "no"} and len(answer) == 5


# ---- a pipeline with a TfidfVectorizer on a free-text column --------------------------------------------------------
def reviews(rows: int = 400, seed: int = 5) -> pandas.DataFrame:
    """A free-text review (unique per row: the platform's own pipeline excludes it) and a number; the label is in the
    words."""
    rng = np.random.default_rng(seed)
    praise, complaints = ["great", "fast", "friendly", "helpful"], ["slow", "broken", "rude", "late"]
    filler = ["the", "service", "was", "and", "delivery", "package", "order", "really"]
    good = rng.random(rows) < 0.5
    texts = [
        " ".join(rng.permutation([*rng.choice(praise if g else complaints, 2), *rng.choice(filler, 5)])) + f" #{i}"
        for i, g in enumerate(good)
    ]
    return pandas.DataFrame(
        {"review": texts, "stars": rng.integers(1, 6, rows), "label": np.where(good, "good", "bad")}
    )


def test_a_pipeline_with_tfidf_on_a_text_column_is_deployed_and_predicts_as_fitted(client, tmp_path):
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import Pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    # Given reviews whose label is in the text, and the team's pipeline: TF-IDF on the text, the stars scaled
    frame = reviews()
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    dataset_uri = client.upload(path)
    columns = ColumnTransformer(
        [("text", TfidfVectorizer(max_features=500), 0), ("stars", StandardScaler(), [1])]  # the text as a 1-D column
    )
    fitted = Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=2000))])
    fitted.fit(frame[["review", "stars"]].to_numpy(dtype=object), frame["label"])

    # When it is registered; Then the text reaches the model as written, and it deploys and predicts as fitted
    run = client.register_model("reviews-tfidf", fitted, target="label", dataset_uri=dataset_uri)
    run.wait(timeout_s=600)
    assert run.status == "SUCCEEDED", (run.error, run.document)
    version = client.version("reviews-tfidf", run.version)
    assert "passed as written" in version.document["schema"]["columns"]["review"]["reason"]
    assert version.document["metrics"]["accuracy"] > 0.9
    unseen = pandas.DataFrame(
        {"review": ["really great and fast service", "broken package, rude and slow"], "stars": [3, 3]}
    )
    answer = client.predict("reviews-tfidf", unseen)
    assert answer["prediction"].tolist() == fitted.predict(unseen.to_numpy(dtype=object)).tolist() == ["good", "bad"]


# ---- an MLflow model directory ---------------------------------------------------------------------------------------
def mlflow_directory(frame: pandas.DataFrame, path: Path, columns: list[str] = COLUMNS) -> tuple[Path, object]:
    """What an MLflow user has: a pipeline fitted on a DataFrame, saved by mlflow.sklearn with its signature and input
    example (MLflow's default format, skops)."""
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    from mlflow.models import infer_signature  # noqa: PLC0415
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import Pipeline  # noqa: PLC0415
    from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: PLC0415

    numeric = [i for i, c in enumerate(columns) if c != "carrier"]
    transform = ColumnTransformer(
        [
            ("numbers", StandardScaler(), numeric),
            ("carrier", OneHotEncoder(handle_unknown="ignore"), [columns.index("carrier")]),
        ]
    )
    fitted = Pipeline([("columns", transform), ("model", LogisticRegression(max_iter=2000))])
    fitted.fit(frame[columns], frame["late"])
    signature = infer_signature(frame[columns], fitted.predict(frame[columns]))
    mlflow_sklearn.save_model(fitted, str(path), signature=signature, input_example=frame[columns].iloc[:3])
    return path, fitted


def test_an_mlflow_model_directory_is_registered_deployed_and_predicted(client, dataset, tmp_path):
    dataset_uri, frame = dataset
    directory, fitted = mlflow_directory(frame, tmp_path / "mlflow-model")
    assert (directory / "MLmodel").is_file() and (directory / "model.skops").is_file()

    run = client.register_model("shipments-mlflow", directory, target="late", dataset_uri=dataset_uri)
    run.wait(timeout_s=600)

    assert run.status == "SUCCEEDED", (run.error, run.document)
    version = client.version("shipments-mlflow", run.version)
    external = version.document["lineage"]["external"]
    # the directory's own skops file was sent, byte for byte
    assert external["artifact_sha256"] == hashlib.sha256((directory / "model.skops").read_bytes()).hexdigest()
    rows = frame[COLUMNS].iloc[:20]
    assert client.predict("shipments-mlflow", rows)["prediction"].tolist() == fitted.predict(rows).tolist()


def test_an_mlflow_signature_that_does_not_match_the_dataset_is_refused_before_upload(
    client, dataset, tmp_path, monkeypatch
):
    dataset_uri, frame = dataset
    # Given a model logged on other columns: weight in pounds, and the carrier as a number code
    other = frame.rename(columns={"weight_kg": "weight_lb"})
    other["carrier"] = other["carrier"].map({"north": 0, "south": 1, "west": 2})
    directory, _ = mlflow_directory(other, tmp_path / "mismatched", ["distance_km", "weight_lb", "carrier"])
    uploads: list[str] = []
    monkeypatch.setattr(client_module, "transfer", recording(client_module.transfer, uploads))

    # When it is registered; Then the SDK refuses it, naming each column, and nothing was uploaded or started
    with pytest.raises(SchemaMismatch) as refused:
        client.register_model("shipments-mismatch", directory, target="late", dataset_uri=dataset_uri)
    assert set(refused.value.columns) == {"weight_lb", "weight_kg", "carrier"}, refused.value.columns
    assert "long" in refused.value.columns["carrier"] and "text" in refused.value.columns["carrier"]
    assert uploads == ["GET"]  # the dataset's first bytes, read; no PUT
    assert "shipments-mismatch" not in [m.model_name for m in client.models()]


def recording(transfer, methods: list[str]):
    def recorded(method, *args, **kwargs):
        methods.append(method)
        return transfer(method, *args, **kwargs)

    return recorded
