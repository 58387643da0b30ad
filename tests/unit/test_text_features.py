"""Free-text columns as features (TF-IDF inside the model pipeline) and HistGradientBoosting on native categories:
the role rule, the request's override, the bounded vocabulary, ONNX parity on awkward strings, and serving from raw
text on both predict paths."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pytest
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from local.runs.datasets import reviews_csv
from mlops.data import dataset
from mlops.data.dataset import MISSING_CATEGORY
from mlops.errors import InvalidTrainingRequest
from mlops.records.request import ColumnRoles
from mlops.serving import batch_chunks
from mlops.serving.runtime import OnnxModel, SklearnModel, holdout_columns
from mlops.serving.validation import InvalidInstances, validate_inputs, validate_instances
from mlops.training import conversion, estimators
from tests.factories import table_from_rows

AWKWARD = [
    "GREAT!!! Love-it, PERFECT fit",
    "café très bon, works well",
    "",
    None,
    "  stopped   working\tafter a\nweek  ",
    "don't buy: waste_of_money 100%",
    "x",
    "recommend 👍👍 recommend",
    "Broken. Broken? BROKEN!",
]


def _reviews(rows: int = 600, *, numbers: bool = False, seed: int = 0) -> tuple[dataset.Schema, dataset.Table]:
    return dataset.infer_schema(dataset.read_table(reviews_csv(rows, seed=seed, numbers=numbers)), "sentiment")


def _fitted(schema: dataset.Schema, table: dataset.Table, estimator: str, params: dict):
    features, target = dataset.feature_matrix(table, schema), dataset.target_vector(table, schema)
    model, _ = estimators.fit_candidate(schema, estimator, params, seed=0, features=features, target=target)
    return model, features, target


def test_a_review_column_is_a_text_feature_with_its_reason():
    schema, _ = _reviews(numbers=True)

    assert schema.columns["review"]["role"] == "feature"
    assert schema.columns["review"]["kind"] == "text"
    assert "free text" in schema.columns["review"]["reason"]
    assert [(f.name, f.kind) for f in schema.features] == [
        ("review", "text"),
        ("price", "numeric"),
        ("helpful_votes", "numeric"),
    ]
    assert schema.text_indices == [0]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([f"Ada Lovelace {i}" for i in range(200)], "identifier"),  # several words, mostly distinct, but short
        ([f"{i:032x}" for i in range(200)], "identifier"),  # long and distinct, one word
        (["the box arrived damaged and late", "works well for the price so far"] * 100, "categorical"),  # few values
        ([f"the parcel number {i} arrived on time and intact" for i in range(200)], "text"),
    ],
)
def test_the_text_rule_needs_distinct_long_several_word_values(values, kind):
    table = table_from_rows(["column", "x", "y"], [[value, str(i % 7), str(i % 2)] for i, value in enumerate(values)])

    schema, _ = dataset.infer_schema(table, "y")

    assert schema.columns["column"]["kind"] == kind


def test_the_request_names_a_text_column_and_unknown_names_are_refused():
    rows = [[["red car", "blue van", "green bike"][i % 3], str(i % 2)] for i in range(60)]
    table = table_from_rows(["vehicle", "y"], rows)
    assert dataset.infer_schema(table, "y")[0].columns["vehicle"]["kind"] == "categorical"

    schema, _ = dataset.infer_schema(table, "y", roles=ColumnRoles(text_columns=("vehicle",)))

    assert schema.columns["vehicle"] == {
        "role": "feature",
        "kind": "text",
        "reason": "named a text column by the request: TF-IDF features over a bounded vocabulary",
    }
    with pytest.raises(InvalidTrainingRequest, match="text_columns names unknown column"):
        dataset.infer_schema(table, "y", roles=ColumnRoles(text_columns=("nope",)))


def test_the_vocabulary_is_bounded_by_the_ceiling(monkeypatch):
    schema, table = _reviews()
    monkeypatch.setattr(estimators, "TEXT_MAX_FEATURES", 12)

    linear, _, _ = _fitted(schema, table, "logistic_regression", {"max_iter": 2000})
    boosted, _, _ = _fitted(schema, table, "hist_gradient_boosting", {"max_iter": 20})

    assert len(linear.named_steps["preprocess"].named_transformers_["text_0"].vocabulary_) == 12
    dense = boosted.named_steps["preprocess"].named_transformers_["text_0"].vocabulary_
    assert 12 < len(dense) <= estimators.TEXT_MAX_FEATURES_DENSE


def test_a_text_only_table_learns_from_its_words():
    schema, table = _reviews(1000)
    features, target = dataset.feature_matrix(table, schema), dataset.target_vector(table, schema)

    model, _ = estimators.fit_candidate(
        schema, "logistic_regression", {"max_iter": 2000}, seed=0, features=features[:800], target=target[:800]
    )

    majority = max(np.mean(target[800:] == label) for label in ("positive", "negative"))
    assert np.mean(model.predict(features[800:]) == target[800:]) > majority + 0.25


@pytest.mark.parametrize("numbers", [False, True])
def test_the_onnx_model_tokenises_awkward_text_as_scikit_learn_does(numbers):
    schema, table = _reviews(numbers=numbers)
    model, features, _ = _fitted(schema, table, "logistic_regression", {"max_iter": 2000})
    onnx_bytes, precision, _ = conversion.convert_with_precision(model, schema)
    served = OnnxModel(onnx_bytes, schema)
    rows = [{"review": text, **({"price": 12.5, "helpful_votes": 3} if numbers else {})} for text in AWKWARD]

    columns = validate_instances(rows, schema)
    predicted = served.predict(columns)

    artifact = io.BytesIO()
    joblib.dump(model, artifact)
    expected = SklearnModel(artifact.getvalue(), schema).predict(columns)  # the scikit-learn runtime's answer
    assert predicted.labels == expected.labels
    np.testing.assert_allclose(predicted.probabilities, expected.probabilities, atol=1e-5)
    # the holdout too (the parity check's rows): the same probabilities to float32 precision
    np.testing.assert_allclose(
        served.predict(holdout_columns(features, schema)).probabilities, model.predict_proba(features), atol=1e-5
    )
    assert precision == "float"


def test_raw_text_on_the_predict_route_is_read_as_training_read_it():
    schema, table = _reviews(numbers=True)
    trained = dataset.feature_columns(table, schema)
    rows = [dataset.input_record(table, schema, row) for row in range(40)]

    columns = validate_instances(rows, schema)

    assert columns[0].ravel().tolist() == trained[0][:40].tolist()
    missing = validate_instances([{**rows[0], "review": None}], schema)[0]
    assert missing.ravel().tolist() == [MISSING_CATEGORY]  # as training's empty cell
    with pytest.raises(InvalidInstances, match="feature 'review' must be a string or null"):
        validate_instances([{**rows[0], "review": 5}], schema)


def test_a_batch_chunk_of_raw_text_is_read_as_training_read_it():
    payload = reviews_csv(50, seed=3, numbers=True)
    schema, _ = _reviews(numbers=True)
    header, body = payload.split(b"\n", 1)
    table = dataset.read_table(payload)

    parsed = batch_chunks.parse_chunk(body, len(header) + 1, header.decode().split(","))
    columns = validate_inputs(batch_chunks.request_values(parsed.block_cells(0, parsed.rows), schema), schema)

    assert not parsed.errors and parsed.rows == 50  # quoted reviews with commas
    assert columns[0].ravel().tolist() == dataset.feature_columns(table, schema)[0].tolist()


def _categorical_table(rows: int = 900) -> dataset.Table:
    rng = np.random.default_rng(5)
    body = []
    for _ in range(rows):
        shop, size, x = rng.choice(list("abcdefghij")), rng.choice(["s", "m", "l"]), rng.normal()
        score = x + 1.5 * (shop in "abc") - (shop in "hij") + (size == "l") + rng.normal(0, 0.5)
        body.append([shop, size, f"{x:.3f}", "yes" if score > 0.5 else "no"])
    return table_from_rows(["shop", "size", "x", "label"], body)


def test_histogram_boosting_splits_on_native_categories_and_is_served_by_scikit_learn():
    schema, table = dataset.infer_schema(_categorical_table(), "label")
    model, features, _ = _fitted(schema, table, "hist_gradient_boosting", {"max_iter": 50})
    steps = model.named_steps["preprocess"].named_transformers_

    assert isinstance(steps["categorical"], OrdinalEncoder)
    assert not any(isinstance(step, OneHotEncoder) for step in steps.values())
    assert model.named_steps["model"].is_categorical_.tolist() == [False, True, True]  # x, then shop and size
    # an unseen category is read as missing, not refused
    unseen = features[:3].copy()
    unseen[:, schema.features.index(next(f for f in schema.features if f.name == "shop"))] = "zzz"
    assert model.predict_proba(unseen).shape == (3, 2)
    # skl2onnx does not convert HistGradientBoosting (one-hot or native): the version is served by scikit-learn
    with pytest.raises(conversion.ConversionUnsupported):
        conversion.convert_with_precision(model, schema)
    # other estimators keep one-hot columns
    forest, _, _ = _fitted(schema, table, "random_forest", {"n_estimators": 10})
    assert isinstance(forest.named_steps["preprocess"].named_transformers_["categorical"], OneHotEncoder)


def test_native_categories_do_not_lose_to_one_hot_on_a_categorical_signal(monkeypatch):
    schema, table = dataset.infer_schema(_categorical_table(1500), "label")
    features, target = dataset.feature_matrix(table, schema), dataset.target_vector(table, schema)
    params = {"max_iter": 100, "early_stopping": False}

    def holdout_accuracy() -> float:
        model, _ = estimators.fit_candidate(
            schema, "hist_gradient_boosting", params, seed=0, features=features[:1100], target=target[:1100]
        )
        return float(np.mean(model.predict(features[1100:]) == target[1100:]))

    native = holdout_accuracy()
    monkeypatch.setattr(estimators, "NATIVE_CATEGORICAL", frozenset())
    one_hot = holdout_accuracy()

    assert native >= one_hot - 0.01, (native, one_hot)
