"""Bring your own model through the SDK against a real `python -m local up` (one server for the module): a LightGBM
pipeline fitted in the notebook, the built-in `lightgbm` candidate, and an MLflow model directory, each through the
real TrainingPipeline to production and predicted; an MLflow signature that does not match the dataset refused on
the client before anything is uploaded."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlops_client import Client
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


def lightgbm_pipeline(frame: pandas.DataFrame):
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415
    from sklearn.pipeline import Pipeline  # noqa: PLC0415
    from sklearn.preprocessing import OneHotEncoder  # noqa: PLC0415

    columns = ColumnTransformer(
        [("numbers", "passthrough", [0, 1]), ("carrier", OneHotEncoder(handle_unknown="ignore"), [2])]
    )
    model = lightgbm.LGBMClassifier(n_estimators=60, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)
    return Pipeline([("columns", columns), ("model", model)]).fit(frame[COLUMNS].to_numpy(dtype=object), frame["late"])


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
