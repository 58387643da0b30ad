"""Instance validation, the ONNX and scikit-learn serving models, and the parity check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlops.data import dataset
from mlops.data.dataset import MISSING_CATEGORY, Feature, Schema
from mlops.serving.runtime import OnnxModel, SklearnModel, holdout_columns, parity_report
from mlops.serving.validation import InvalidInstances, validate_instances
from mlops.training import conversion, estimators
from tests.factories import table_from_rows

SCHEMA = Schema(
    [Feature("age", "numeric"), Feature("plan", "categorical")], "churned", "classification", ["no", "yes"], "yes"
)


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ({"age": 1}, "must be a list"),
        ([], "is empty"),
        ([{"age": 1, "plan": "a"}] * 1001, "at most 1000"),
        (["row"], "row 0 is not an object"),
        ([{"age": 1}], "missing feature\\(s\\) 'plan'"),
        ([{"age": 1, "plan": "a", "zip": "x"}], "unknown feature\\(s\\) 'zip'"),
        ([{"age": "41", "plan": "a"}], "'age' must be a number or null, not str"),
        ([{"age": True, "plan": "a"}], "'age' must be a number or null, not bool"),
        ([{"age": math.nan, "plan": "a"}], "'age' must be finite"),
        ([{"age": math.inf, "plan": "a"}], "'age' must be finite"),
        ([{"age": 1, "plan": 3}], "'plan' must be a string or null, not int"),
        ([{"age": 1, "plan": {"x": 1}}], "'plan' must be a string or null, not dict"),
        ([{"age": 1, "plan": "a"}, {"age": 2}], "row 1: missing"),
    ],
)
def test_invalid_instances_are_named(instances, message):
    with pytest.raises(InvalidInstances, match=message):
        validate_instances(instances, SCHEMA)


def test_valid_instances_become_typed_columns_with_missing_values():
    columns = validate_instances([{"age": 41, "plan": "basic"}, {"age": None, "plan": None}], SCHEMA)

    assert columns[0].dtype == np.float64
    assert columns[0].shape == (2, 1)
    assert columns[0][0, 0] == 41.0
    assert math.isnan(columns[0][1, 0])
    assert columns[1].ravel().tolist() == ["basic", MISSING_CATEGORY]


@pytest.fixture(scope="module")
def mixed_data():
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(300):
        age = rng.normal(40, 10)
        plan = rng.choice(["basic", "plus", "premium"])
        churned = "yes" if (age < 38) ^ (plan == "basic") ^ (rng.random() < 0.1) else "no"
        rows.append([f"{age:.1f}" if rng.random() > 0.05 else "", plan if rng.random() > 0.05 else "", churned])
    table = table_from_rows(["age", "plan", "churned"], rows)
    schema, table = dataset.infer_schema(table, "churned")
    return schema, dataset.feature_matrix(table, schema), dataset.target_vector(table, schema)


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest", "k_neighbors"])
def test_onnx_model_reproduces_scikit_learn_within_the_parity_tolerance(mixed_data, estimator):
    schema, features, target = mixed_data
    model, _ = estimators.fit_candidate(schema, estimator, {}, seed=1, features=features, target=target)
    onnx_model = OnnxModel(conversion.convert_with_precision(model, schema)[0], schema)
    columns = holdout_columns(features, schema)

    report = parity_report(onnx_model, columns, conversion.reference_outputs(model, features, schema))

    assert report["passed"], report
    assert report["rows"] == len(target)
    # and independently of the report: labels agree with scikit-learn's on (nearly) every row
    agreement = np.mean(np.array(onnx_model.predict(columns).labels) == model.predict(features))
    assert agreement >= 0.99


def test_parity_fails_when_outputs_differ(mixed_data):
    schema, features, target = mixed_data
    model, _ = estimators.fit_candidate(schema, "logistic_regression", {}, seed=1, features=features, target=target)
    onnx_model = OnnxModel(conversion.convert_with_precision(model, schema)[0], schema)
    reference = conversion.reference_outputs(model, features, schema)
    # Given a reference whose labels are flipped on a tenth of the rows
    flipped = {"no": "yes", "yes": "no"}
    reference["labels"] = [flipped[v] if i % 10 == 0 else v for i, v in enumerate(reference["labels"])]

    report = parity_report(onnx_model, holdout_columns(features, schema), reference)

    assert report["passed"] is False
    assert report["label_agreement"] == pytest.approx(0.9, abs=0.01)


def test_regression_parity(mixed_data):
    schema, features, _ = mixed_data
    regression = Schema(schema.features, "y", "regression")
    target = np.where(features[:, 1] == "basic", 3.0, 1.0) + np.nan_to_num(features[:, 0].astype(float)) / 10
    model, _ = estimators.fit_candidate(regression, "ridge", {}, seed=1, features=features, target=target)
    onnx_model = OnnxModel(conversion.convert_with_precision(model, regression)[0], regression)
    reference = conversion.reference_outputs(model, features, regression)

    assert parity_report(onnx_model, holdout_columns(features, regression), reference)["passed"]
    reference["predictions"] = [v + 1.0 for v in reference["predictions"]]
    assert not parity_report(onnx_model, holdout_columns(features, regression), reference)["passed"]


def test_sklearn_fallback_serves_the_pipeline_itself(mixed_data):
    from mlops.storage import objects  # noqa: PLC0415

    schema, features, target = mixed_data
    model, _ = estimators.fit_candidate(
        schema, "random_forest", {"n_estimators": 20}, seed=1, features=features, target=target
    )
    served = SklearnModel(objects.dump_model(model), schema)
    predicted = served.predict(
        validate_instances([{"age": 30.0, "plan": "basic"}, {"age": None, "plan": None}], schema)
    )

    expected = model.predict_proba(np.array([[30.0, "basic"], [math.nan, MISSING_CATEGORY]], dtype=object))
    assert np.allclose(predicted.probabilities, expected)
    assert predicted.classes == ["no", "yes"]


def test_a_multiclass_hist_gradient_boosting_is_reported_unsupported():
    rng = np.random.default_rng(0)
    rows = [[f"{rng.normal():.3f}", f"{rng.normal():.3f}", str(i % 3)] for i in range(90)]
    schema, table = dataset.infer_schema(table_from_rows(["a", "b", "y"], rows), "y")
    features, target = dataset.feature_matrix(table, schema), dataset.target_vector(table, schema)
    model, _ = estimators.fit_candidate(
        schema, "hist_gradient_boosting", {"max_iter": 5}, seed=1, features=features, target=target
    )
    try:
        conversion.convert_with_precision(model, schema)[0]
    except conversion.ConversionUnsupported as exc:
        assert str(exc)  # the reason is recorded on the version
    else:
        pytest.skip("this skl2onnx converts multiclass HistGradientBoosting; the fallback path is tested elsewhere")
