"""The training request (defaults and readable refusals) and the lineage a version records."""

from __future__ import annotations

import platform

import numpy
import pytest
import sklearn

import mlops
from mlops.errors import InvalidTrainingRequest
from mlops.records import lineage
from mlops.records.request import TrainingRequest, parse_training_request

MINIMAL = {"model_name": "churn", "dataset_uri": "s3://datasets-bucket/churn/2024.csv", "target": "churned"}


def with_fields(**fields) -> dict:
    return {**MINIMAL, **fields}


# ---- parse_training_request: what it accepts --------------------------------------------------------------
def test_a_minimal_request_is_accepted_with_the_documented_defaults():
    request = parse_training_request(MINIMAL)

    assert isinstance(request, TrainingRequest)
    assert (request.model_name, request.dataset_uri, request.target) == (
        "churn",
        "s3://datasets-bucket/churn/2024.csv",
        "churned",
    )
    assert request.task is None
    assert request.positive_class is None
    assert request.candidates is None
    assert (request.gate.metric, request.gate.min_score, request.gate.min_improvement) == (
        None,
        None,
        None,
    )  # the stack's GateMinImprovement
    assert (request.split.seed, request.split.validation_fraction, request.split.test_fraction) == (42, 0.2, 0.2)
    assert (request.requested_by, request.description) == ("unknown", "")


def test_a_full_request_keeps_every_field():
    document = with_fields(
        task="classification",
        positive_class="yes",
        candidates=[{"estimator": "random_forest", "params": {"n_estimators": 50}}, {"estimator": "k_neighbors"}],
        gate={
            "metric": "roc_auc",
            "min_score": 0.8,
            "min_improvement": 0.0,
            "block_on_leakage": True,
            "bootstrap": {"resamples": 500, "seed": 3, "confidence": 0.9, "require": False},
        },
        split={"seed": 7, "validation_fraction": 0.1, "test_fraction": 0.3},
        features=None,
        exclude=["customer_name"],
        id_columns=["customer_id"],
        datetime_columns=["signed_up"],
        text_columns=["notes"],
        class_weight="balanced",
        requested_by="alice",
        description="weekly retrain",
        intended_use="triage support",
        limitations="adults only",
        approval={"required": True, "timeout_s": 3600},
        search=None,
        feedback=None,
        deployment={
            "strategy": "linear",
            "canary_weight": None,
            "linear_step": 0.2,
            "bake_s": 300,
            "thresholds": {
                "max_error_rate": 0.02,
                "max_p99_latency_ms": 250.0,
                "max_disagreement": None,
                "min_requests": 50,
            },
        },
        compute="sagemaker",
        sagemaker={"instance_type": "ml.m5.xlarge", "max_runtime_s": 3600},
        external=None,
    )

    request = parse_training_request(document)

    assert request.model_dump() == {
        **document,
        "candidates": [document["candidates"][0], {**document["candidates"][1], "params": {}}],
    }


@pytest.mark.parametrize("model_name", ["a", "Churn.v2_eu-west", "7" * 64])
def test_model_names_within_the_pattern_are_accepted(model_name):
    assert parse_training_request(with_fields(model_name=model_name)).model_name == model_name


def test_twenty_candidates_are_accepted():
    candidates = [{"estimator": "ridge", "params": {"alpha": float(i)}} for i in range(20)]

    assert len(parse_training_request(with_fields(candidates=candidates)).candidates) == 20


# ---- parse_training_request: refusals name the field ------------------------------------------------------
def refusal(document) -> str:
    with pytest.raises(InvalidTrainingRequest, match="^invalid training request: ") as raised:
        parse_training_request(document)
    return str(raised.value)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (with_fields(colour="red"), "colour"),
        (with_fields(gate={"threshold": 0.9}), "gate.threshold"),
        (with_fields(split={"shuffle": False}), "split.shuffle"),
        (with_fields(candidates=[{"estimator": "ridge", "hyper": {}}]), "candidates.0.hyper"),
    ],
)
def test_extra_fields_are_refused_by_their_path(document, field):
    assert f"{field}: Extra inputs are not permitted" in refusal(document)


@pytest.mark.parametrize("model_name", ["", "-churn", ".churn", "churn model", "churn/v1", "churn:v1", "é", "7" * 65])
def test_model_names_outside_the_pattern_are_refused(model_name):
    message = refusal(with_fields(model_name=model_name))
    # in words, not as the regular expression
    assert "model_name: a model name is 1 to 64 characters" in message and "^[" not in message, message


@pytest.mark.parametrize(
    "dataset_uri",
    [
        "https://datasets-bucket.s3.amazonaws.com/churn.csv",
        "/data/churn.csv",
        "S3://datasets-bucket/churn.csv",
        "s3://datasets-bucket",
        "s3://datasets-bucket/",
        "s3:///churn.csv",
        " s3://datasets-bucket/churn.csv",
    ],
)
def test_dataset_uris_that_are_not_s3_objects_are_refused(dataset_uri):
    assert "dataset_uri: must be the s3:// URI of an object" in refusal(with_fields(dataset_uri=dataset_uri))


@pytest.mark.parametrize("missing", ["model_name", "dataset_uri", "target"])
def test_required_fields_are_named_when_absent(missing):
    document = {name: value for name, value in MINIMAL.items() if name != missing}

    assert f"{missing}: Field required" in refusal(document)


def test_every_problem_is_reported_at_once():
    message = refusal({"model_name": "bad name", "dataset_uri": "http://x/y", "target": ""})

    for field in ("model_name", "dataset_uri", "target"):
        assert f"{field}: " in message


def test_more_than_twenty_candidates_are_refused():
    candidates = [{"estimator": "ridge"}] * 21

    assert "candidates: List should have at most 20 items" in refusal(with_fields(candidates=candidates))


def test_an_empty_candidate_list_is_refused():
    assert "candidates: List should have at least 1 item" in refusal(with_fields(candidates=[]))


@pytest.mark.parametrize(
    ("split", "field"),
    [
        ({"validation_fraction": 0.5}, "split.validation_fraction"),
        ({"validation_fraction": 0}, "split.validation_fraction"),
        ({"test_fraction": -0.1}, "split.test_fraction"),
        ({"test_fraction": 0.6}, "split.test_fraction"),
        ({"seed": -1}, "split.seed"),
        ({"seed": 2**32}, "split.seed"),
    ],
)
def test_split_settings_out_of_range_are_refused_by_field(split, field):
    assert f"{field}: " in refusal(with_fields(split=split))


@pytest.mark.parametrize(("validation_fraction", "test_fraction"), [(0.45, 0.45), (0.49, 0.32), (0.41, 0.4)])
def test_fractions_leaving_under_20_percent_for_training_are_refused(validation_fraction, test_fraction):
    assert 1 - validation_fraction - test_fraction < 0.2

    message = refusal(with_fields(split={"validation_fraction": validation_fraction, "test_fraction": test_fraction}))

    assert "validation_fraction + test_fraction must leave at least 20% of rows to train on" in message


def test_fractions_leaving_over_20_percent_for_training_are_accepted():
    request = parse_training_request(with_fields(split={"validation_fraction": 0.4, "test_fraction": 0.39}))

    assert request.split.validation_fraction + request.split.test_fraction < 0.8


def test_fractions_leaving_exactly_20_percent_for_training_are_accepted():
    parse_training_request(with_fields(split={"validation_fraction": 0.4, "test_fraction": 0.4}))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"target": ""}, "target"),
        ({"task": "clustering"}, "task"),
        ({"gate": {"min_improvement": -0.01}}, "gate.min_improvement"),
        ({"gate": {"min_score": "high"}}, "gate.min_score"),
        ({"candidates": [{"params": {}}]}, "candidates.0.estimator"),
        ({"candidates": [{"estimator": "ridge", "params": [1, 2]}]}, "candidates.0.params"),
    ],
)
def test_other_bad_fields_are_refused_by_their_path(fields, field):
    assert f"{field}: " in refusal(with_fields(**fields))


@pytest.mark.parametrize("document", [None, "s3://datasets-bucket/churn.csv", ["churn"], 42])
def test_a_document_that_is_not_an_object_is_refused_as_the_request(document):
    assert "request: " in refusal(document)


# ---- lineage ----------------------------------------------------------------------------------------------
def test_library_versions_record_python_the_package_and_the_tracked_libraries():
    versions = lineage.library_versions()

    assert set(versions) == {"python", "mlops", *lineage.TRACKED_LIBRARIES}
    assert versions["python"] == platform.python_version()
    assert versions["mlops"] == mlops.__version__
    assert versions["scikit-learn"] == sklearn.__version__
    assert versions["numpy"] == numpy.__version__


def test_a_library_that_is_not_installed_is_recorded_as_absent():
    versions = lineage.library_versions(("numpy", "no-such-distribution-for-mlops-tests"))

    assert versions["no-such-distribution-for-mlops-tests"] == "absent"
    assert versions["numpy"] == numpy.__version__


@pytest.mark.parametrize(
    ("execution_arn", "run_id"),
    [
        ("arn:aws:states:us-east-1:123456789012:execution:TrainingPipeline-abc:run-2024-06-01", "run-2024-06-01"),
        (
            "arn:aws:states:eu-west-1:123456789012:execution:pipeline:5f0c7a3e-1d2b-4c9a-9e1f-0a1b2c3d4e5f",
            "5f0c7a3e-1d2b-4c9a-9e1f-0a1b2c3d4e5f",
        ),
        ("local-run", "local-run"),
    ],
)
def test_the_run_id_is_the_execution_name(execution_arn, run_id):
    assert lineage.run_id_of(execution_arn) == run_id


EXTERNAL = {"artifact_uri": "s3://bucket/datasets/model.skops", "artifact_sha256": "a" * 64}


def test_an_external_model_is_the_runs_only_candidate():
    request = parse_training_request(with_fields(external=EXTERNAL))
    assert request.external is not None and request.external.format == "skops"

    with pytest.raises(InvalidTrainingRequest, match="only candidate"):
        parse_training_request(with_fields(external=EXTERNAL, candidates=[{"estimator": "ridge"}]))
    with pytest.raises(InvalidTrainingRequest, match="artifact_sha256"):
        parse_training_request(with_fields(external={**EXTERNAL, "artifact_sha256": "not-a-digest"}))
    with pytest.raises(InvalidTrainingRequest, match="format"):
        parse_training_request(with_fields(external={**EXTERNAL, "format": "pickle"}))
