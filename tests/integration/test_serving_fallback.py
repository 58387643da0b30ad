"""Per-version serving runtime on the default (onnx) stack: ONNX in double precision where it is exact, the
scikit-learn predict function for a version ONNX cannot serve within the parity tolerance. Through the real
TrainingPipeline, with a priced table like the one in the issue (3 categorical + 6 numeric columns, targets in
the tens of thousands)."""

from __future__ import annotations

import copy
import csv
import io
import json

import joblib
import numpy as np
import pytest

from local.runs.training import run_training
from mlops.serving.runtime import PARITY_MAX_RELATIVE_MEAN_DIFF
from mlops.storage import objects
from mlops.training import conversion
from tests.conftest import upload

pytestmark = pytest.mark.integration
NUMERIC = ["carat", "depth", "table", "x", "y", "z"]
CATEGORICAL = ["cut", "color", "clarity"]
ROWS = 1500


def priced_table_csv(seed: int = 7, rows: int = ROWS) -> bytes:
    """A diamonds-like regression table: price (about 2,000 to 40,000) from 6 numbers and 3 categories."""
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.2, 3.0, rows)
    depth = rng.normal(61.7, 1.4, rows)
    table = rng.normal(57.4, 2.2, rows)
    x, y, z = (carat ** (1 / 3) * 6.4 + rng.normal(0, 0.05, rows) for _ in range(3))
    cut = rng.choice(["Fair", "Good", "Very Good", "Premium", "Ideal"], rows)
    color = rng.choice(list("DEFGHIJ"), rows)
    clarity = rng.choice(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"], rows)
    price = (
        4000
        + 9000 * carat
        + 1200 * carat**2
        + 1500 * (cut == "Ideal")
        - 300 * (color == "J")
        + 900 * (clarity == "IF")
        + rng.normal(0, 600, rows)
    )
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*NUMERIC, *CATEGORICAL, "price"])
    for row in zip(carat, depth, table, x, y, z, cut, color, clarity, price, strict=True):
        writer.writerow([*(repr(float(v)) for v in row[:6]), *row[6:9], repr(round(float(row[9]), 2))])
    return buffer.getvalue().encode()


def _train(stack, candidates: list[dict], name: str = "diamonds"):
    uri = upload(stack, f"datasets/{name}.csv", priced_table_csv())
    request = {"model_name": name, "dataset_uri": uri, "target": "price", "task": "regression"}
    return run_training(stack, {**request, "candidates": candidates})


def _rows(count: int = 25, seed: int = 11) -> list[dict]:
    """Rows the model never saw (another seed), with a missing number and an unseen category."""
    table = list(csv.DictReader(io.StringIO(priced_table_csv(seed, count).decode())))
    rows = [{**{k: float(r[k]) for k in NUMERIC}, **{k: r[k] for k in CATEGORICAL}} for r in table]
    rows[0]["depth"] = None
    rows[1]["cut"] = "Astor"
    return rows


def _post_predict(stack, name: str, rows: list[dict]) -> dict:
    event = {
        "pathParameters": {"name": name},
        "body": json.dumps({"instances": rows}),
        "requestContext": {"requestId": "fallback-test"},
    }
    response = stack.client("lambda").invoke(
        FunctionName=stack.function_names["PredictFunction"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert payload["statusCode"] == 200, payload
    return json.loads(payload["body"])


def _sklearn_predictions(stack, record: dict, rows: list[dict]) -> list[float]:
    """The registered pipeline's own predictions, loaded straight from the registry's artifact."""
    key = record["artifact_uri"].split("/", 3)[3]
    model = joblib.load(io.BytesIO(stack.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read()))
    schema = objects.get_verified_json(record["schema_uri"], record["schema_sha256"])
    names = [f["name"] for f in schema["features"]]
    matrix = np.array([[np.nan if row[n] is None else row[n] for n in names] for row in rows], dtype=object)
    return model.predict(matrix).astype(float).tolist()


def test_a_model_onnx_cannot_convert_is_deployed_and_served_by_scikit_learn(stack):
    # Given the winner: a gradient-boosted regressor, which skl2onnx 1.20 cannot convert
    result = _train(stack, [{"estimator": "hist_gradient_boosting", "params": {"max_iter": 60}}])

    # Then the run deploys it, and the version says which runtime serves it and why
    assert result.end_state == "Deployed", result.cause
    registry = stack.registry()
    record = registry.get_version("diamonds", 1).to_document()
    assert record["serving"]["runtime"] == "sklearn"
    assert record["serving"]["reason"].startswith("skl2onnx could not convert hist_gradient_boosting")
    assert record["serving"]["onnx_uri"] is None
    assert registry.get_alias("diamonds").version == 1
    card = stack.client("s3").get_object(Bucket=stack.bucket, Key="models/diamonds/v1/card.md")["Body"].read().decode()
    assert "| Served by | sklearn |" in card

    # When a client posts to the same predict route of the default (onnx) stack
    rows = _rows()
    body = _post_predict(stack, "diamonds", rows)

    # Then the scikit-learn function answered, with exactly scikit-learn's predictions
    assert body["runtime"] == "sklearn" and body["version"] == 1
    served = [p["prediction"] for p in body["predictions"]]
    assert served == _sklearn_predictions(stack, record, rows)
    assert min(served) > 1000  # prices, not scaled values


def test_a_model_that_fails_the_parity_check_is_served_by_scikit_learn(stack, monkeypatch):
    # Given a conversion whose ONNX model is 5% off scikit-learn's (a converter bug, simulated on the coefficients)
    convert = conversion.convert_with_precision

    def five_percent_off(model, schema):
        skewed = copy.deepcopy(model)
        skewed.named_steps["model"].coef_ = skewed.named_steps["model"].coef_ * 1.05
        return convert(skewed, schema)

    monkeypatch.setattr(conversion, "convert_with_precision", five_percent_off)
    result = _train(stack, [{"estimator": "ridge", "params": {"alpha": 1.0}}])

    # Then the parity check refuses the ONNX model, the version records why, and it still deploys
    assert result.end_state == "Deployed", result.cause
    record = stack.registry().get_version("diamonds", 1).to_document()
    serving = record["serving"]
    assert serving["runtime"] == "sklearn"
    assert serving["parity"]["passed"] is False
    assert serving["parity"]["relative_mean_diff"] > PARITY_MAX_RELATIVE_MEAN_DIFF
    assert serving["reason"].startswith("the ONNX model (double precision) failed the parity check: mean difference")

    rows = _rows()
    body = _post_predict(stack, "diamonds", rows)
    assert body["runtime"] == "sklearn"
    assert [p["prediction"] for p in body["predictions"]] == _sklearn_predictions(stack, record, rows)


@pytest.mark.parametrize(
    ("estimator", "params"),
    [("random_forest", {"n_estimators": 30, "min_samples_leaf": 2}), ("ridge", {"alpha": 1.0})],
)
def test_onnx_in_double_precision_serves_a_regressor_exactly(stack, estimator, params):
    result = _train(stack, [{"estimator": estimator, "params": params}])

    assert result.end_state == "Deployed", result.cause
    record = stack.registry().get_version("diamonds", 1).to_document()
    serving = record["serving"]
    assert (serving["runtime"], serving["precision"]) == ("onnx", "double")
    assert serving["reason"] == "the ONNX model (double precision) passed the parity check"
    assert serving["parity"]["max_abs_diff"] <= 1e-9  # on the holdout, prices in the tens of thousands

    rows = _rows()
    body = _post_predict(stack, "diamonds", rows)
    assert body["runtime"] == "onnx"
    served = np.array([p["prediction"] for p in body["predictions"]])
    expected = np.array(_sklearn_predictions(stack, record, rows))
    # Trees: the same leaves, bit for bit. Linear: the same sums up to float64 rounding (a few 1e-12 here).
    np.testing.assert_allclose(served, expected, rtol=1e-12, atol=0)
