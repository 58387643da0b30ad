"""Refused at the door, named, never a 5xx later: names that end in a newline, non-finite numbers in the settings a
caller sends, a batch request of the wrong types."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

from local.gateway import LocalGateway
from mlops.errors import InvalidMonitoringConfig, InvalidTag
from mlops.monitoring.config import MonitoringConfig
from mlops.records.batch import BatchJobRequest
from mlops.records.registry import is_alias_name
from mlops.records.request import TrainingRequest
from mlops.registry.tags import checked_tag
from mlops.serving.http import HttpError, parse_request, requested_alias

NON_FINITE = (math.nan, math.inf, -math.inf)


def test_a_name_with_a_trailing_newline_is_no_name():
    # Python's `$` matches before a trailing newline: every name check matches the whole string
    assert is_alias_name("production") and not is_alias_name("production\n")
    with pytest.raises(HttpError) as refused:
        requested_alias({"queryStringParameters": {"alias": "production\n"}})
    assert refused.value.status == 400
    with pytest.raises(InvalidTag):
        checked_tag("stage\n", "prod")
    with pytest.raises(HttpError) as unknown:
        parse_request({"pathParameters": {"name": "m\n"}, "body": '{"instances": []}'})
    assert unknown.value.status == 404


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_non_finite_gate_score_is_refused_by_the_request_model(value):
    with pytest.raises(ValidationError, match="min_score"):
        TrainingRequest.model_validate(
            {"model_name": "m", "dataset_uri": "s3://b/k.csv", "target": "y", "gate": {"min_score": value}}
        )


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize(
    "settings",
    [
        lambda v: {"cooldown_hours": v},
        lambda v: {"max_metric_drop": v},
        lambda v: {"max_window_hours": v},
        lambda v: {"drift": {"psi_threshold": v}},
        lambda v: {"drift": {"alpha": v}},
    ],
)
def test_non_finite_monitoring_settings_are_refused_naming_the_field(settings, value):
    with pytest.raises(InvalidMonitoringConfig, match="finite"):
        MonitoringConfig.merged(MonitoringConfig(), settings(value))


@pytest.mark.parametrize(
    "fields",
    [
        {"chunk_bytes": "1048576"},
        {"chunk_bytes": 1048576.0},
        {"capture": "false"},
        {"capture": 0},
        {"alias": 1},
        {"input_uri": "s3://bucket/k.csv", "unknown": 1},
    ],
)
def test_the_batch_request_takes_its_fields_as_declared_and_nothing_else(fields):
    with pytest.raises(ValidationError):
        BatchJobRequest.model_validate({"input_uri": "s3://bucket/k.csv", **fields})


# ---- through the HTTP API -------------------------------------------------------------------------------------------
def _send(gateway: LocalGateway, method: str, path: str, text: str) -> tuple[int, dict]:
    status, _, payload = gateway.dispatch(method, path, {"content-type": "application/json"}, text.encode())
    return status, json.loads(payload)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("PUT", "/models/m/monitoring", '{"drift": {"psi_threshold": %s}}'),
        ("PUT", "/models/m/monitoring", '{"cooldown_hours": %s}'),
        (
            "POST",
            "/pipelines/training",
            '{"model_name": "m", "dataset_uri": "s3://b/datasets/x.csv", "target": "y", "client_token": "t",'
            ' "gate": {"min_score": %s}}',
        ),
    ],
)
def test_non_finite_numbers_are_refused_at_the_door(stack, method, path, template, number):
    gateway = LocalGateway(stack, port=0)

    status, answer = _send(gateway, method, path, template % number)

    assert (status, answer["error"]) == (422, "NonFiniteNumber"), answer
    assert (
        stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"] == []
    )


@pytest.mark.parametrize(("method", "path"), [("PUT", "/models/m/monitoring"), ("POST", "/pipelines/training")])
def test_a_body_nested_deeper_than_the_parser_reads_is_a_bad_request(stack, method, path):
    status, answer = _send(LocalGateway(stack, port=0), method, path, '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")

    assert (status, answer["error"]) == (400, "BadRequest"), answer
