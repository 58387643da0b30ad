"""Alerts that arrive: the alerts topic, its key, its policy and every alarm, read from template.yaml.

No AWS is reachable here, so the wiring is checked where it is written: CloudWatch alarms can publish to the topic
only if the topic's key lets the CloudWatch service use it (the AWS managed alias/aws/sns key does not) and the
topic policy lets CloudWatch publish for these alarms; each alarm must watch the metric it is named for and act on
the topic. The per-model predict alarms query metrics the predict handler really writes (checked by running it).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local.template import load_template, resources_of_type
from mlops.serving.http import (
    METRIC_DIMENSION_MODEL,
    METRIC_DIMENSION_SERVICE,
    PREDICT_ERRORS_METRIC,
    PREDICT_LATENCY_METRIC,
    RequestMetrics,
)

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
ALARMS = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
FUNCTIONS = sorted(resources_of_type(TEMPLATE, "AWS::Serverless::Function"))
STATE_MACHINES = sorted(resources_of_type(TEMPLATE, "AWS::Serverless::StateMachine"))
TOPIC = "DriftAlertsTopic"
NAMESPACE = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def topic_key() -> str:
    """The logical id of the key the alerts topic is encrypted with (it must be one of this template's keys)."""
    key = RESOURCES[TOPIC]["Properties"]["KmsMasterKeyId"]
    assert isinstance(key, dict), f"the topic is encrypted with {key!r}, not a key of this template"
    (function, argument), *_ = key.items()
    logical_id = argument[0] if function == "Fn::GetAtt" else argument
    assert RESOURCES[logical_id]["Type"] == "AWS::KMS::Key"
    return logical_id


def test_no_topic_uses_the_aws_managed_sns_key():
    for logical_id, topic in resources_of_type(TEMPLATE, "AWS::SNS::Topic").items():
        assert "alias/aws/sns" not in json.dumps(topic), logical_id


def test_the_topic_key_lets_cloudwatch_encrypt_for_this_accounts_alarms_only():
    key = RESOURCES[topic_key()]["Properties"]
    assert key["EnableKeyRotation"] is True
    granted = statements(key["KeyPolicy"])
    cloudwatch = [s for s in granted.values() if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    (statement,) = cloudwatch
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    }
    # Every other grant is the account's own administration; no other service and no "*" principal.
    others = [s for s in granted.values() if s is not statement]
    assert [s["Principal"] for s in others] == [
        {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    ]


def test_the_topic_policy_lets_cloudwatch_publish_for_exactly_this_templates_alarms():
    policies = [
        p
        for p in resources_of_type(TEMPLATE, "AWS::SNS::TopicPolicy").values()
        if {"Ref": TOPIC} in p["Properties"]["Topics"]
    ]
    assert len(policies) == 1
    granted = statements(policies[0]["Properties"]["PolicyDocument"])
    publish = granted["CloudWatchAlarmsPublish"]
    assert publish["Effect"] == "Allow"
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert as_list(publish["Action"]) == ["sns:Publish"]
    assert publish["Resource"] == {"Ref": TOPIC}
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arns = publish["Condition"]["ArnEquals"]["aws:SourceArn"]
    listed = sorted(arn["Fn::GetAtt"][0] for arn in source_arns)
    assert all(arn["Fn::GetAtt"][1] == "Arn" for arn in source_arns)
    assert listed == sorted(ALARMS)  # every alarm, and nothing that is not an alarm of this template
    allowed = [s for s in granted.values() if s["Effect"] == "Allow"]
    assert allowed == [publish]  # no other principal may publish through the resource policy


def test_every_alarm_acts_on_the_alerts_topic():
    for logical_id, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": TOPIC}], logical_id


def test_the_drift_check_may_publish_to_the_encrypted_topic():
    policies = json.dumps(RESOURCES["DriftCheck"]["Properties"]["Policies"])
    assert '"kms:GenerateDataKey*"' in policies
    assert json.dumps({"Fn::GetAtt": [topic_key(), "Arn"]}) in policies


def watched(alarm: dict[str, Any]) -> tuple[str, str, dict[str, Any], str]:
    properties = alarm["Properties"]
    (dimension,) = properties["Dimensions"]
    return (
        properties["Namespace"],
        properties["MetricName"],
        {dimension["Name"]: dimension["Value"]},
        properties["Statistic"],
    )


def alarms_on(namespace: str, metric: str, dimension: str, value: Any) -> list[str]:
    return [
        logical_id
        for logical_id, alarm in ALARMS.items()
        if "MetricName" in alarm["Properties"] and watched(alarm)[:3] == (namespace, metric, {dimension: value})
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(function, metric):
    (logical_id,) = alarms_on("AWS/Lambda", metric, "FunctionName", {"Ref": function})
    properties = ALARMS[logical_id]["Properties"]
    assert properties["Statistic"] == "Sum"
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


# Every state machine's failed executions alarm (the Rollout's: a step failed; a rollback is the pipeline's
# RolledBack), and training runs that time out.
@pytest.mark.parametrize(
    ("state_machine", "metric"),
    [*((name, "ExecutionsFailed") for name in STATE_MACHINES), ("TrainingPipeline", "ExecutionsTimedOut")],
)
def test_state_machine_executions_that_fail_or_time_out_alarm(state_machine, metric):
    (logical_id,) = alarms_on("AWS/States", metric, "StateMachineArn", {"Ref": state_machine})
    properties = ALARMS[logical_id]["Properties"]
    assert (properties["Statistic"], properties["Threshold"]) == ("Sum", 1)
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_capture_delivery_failures_and_delays_alarm():
    stream = {"Ref": "CaptureDeliveryStream"}
    (failed,) = alarms_on("AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", stream)
    assert watched(ALARMS[failed])[3] == "Minimum"
    assert ALARMS[failed]["Properties"]["ComparisonOperator"] == "LessThanThreshold"
    assert ALARMS[failed]["Properties"]["Threshold"] == 1
    (late,) = alarms_on("AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", stream)
    assert ALARMS[late]["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert ALARMS[late]["Properties"]["Threshold"] == 900  # Firehose's advice: above the longest buffering


QUERY = re.compile(
    r"^SELECT (?P<function>[A-Z]+)\((?P<metric>\w+)\) FROM SCHEMA\((?P<namespace>\w+), (?P<dimensions>[\w, ]+)\)"
    r" GROUP BY (?P<group>\w+)$"
)


def insights_query(logical_id: str) -> re.Match[str]:
    (query,) = ALARMS[logical_id]["Properties"]["Metrics"]
    assert query["ReturnData"] is True
    match = QUERY.match(query["Expression"])
    assert match, query["Expression"]
    return match


@pytest.mark.parametrize(
    ("logical_id", "function", "metric"),
    [("PredictErrorsAlarm", "SUM", PREDICT_ERRORS_METRIC), ("PredictLatencyAlarm", "AVG", PREDICT_LATENCY_METRIC)],
)
def test_predict_alarms_have_one_contributor_per_model_on_what_the_handler_writes(logical_id, function, metric):
    query = insights_query(logical_id)
    assert query["function"] == function
    assert query["metric"] == metric
    assert query["group"] == METRIC_DIMENSION_MODEL  # GROUP BY model: each model is a contributor of the alarm
    # The handler's embedded-metric line: the same namespace, metric and exact dimension set as the SCHEMA.
    line = json.loads(RequestMetrics(NAMESPACE, SERVICE).line("churn", 12.5, 1))
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert query["namespace"] == directive["Namespace"] == NAMESPACE
    assert set(query["dimensions"].split(", ")) == set(directive["Dimensions"][0])
    assert set(directive["Dimensions"][0]) == {METRIC_DIMENSION_MODEL, METRIC_DIMENSION_SERVICE}
    assert metric in {m["Name"] for m in directive["Metrics"]}
    assert line[METRIC_DIMENSION_MODEL] == "churn"
    assert line[metric] == (1 if metric == PREDICT_ERRORS_METRIC else 12.5)


def test_a_served_request_is_also_published_per_version_on_the_same_line():
    # Given a request that v3 served; Then the model's series (the alarms') and v3's own come from one line
    line = json.loads(RequestMetrics(NAMESPACE, SERVICE).line("churn", 8.25, 0, 3))
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [
        [METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_MODEL],
        [METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_MODEL, "version"],
    ]
    keys = ("service", "model_name", "version", PREDICT_LATENCY_METRIC, PREDICT_ERRORS_METRIC)
    assert [line[k] for k in keys] == [SERVICE, "churn", "3", 8.25, 0]
    # And a request no version served (e.g. its artifact failed to load) has the model's series only
    unserved = json.loads(RequestMetrics(NAMESPACE, SERVICE).line("churn", 1.0, 1))
    assert unserved["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        [METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_MODEL]
    ]
    assert "version" not in unserved


def test_predict_latency_alarm_threshold_is_the_stack_parameter():
    properties = ALARMS["PredictLatencyAlarm"]["Properties"]
    assert properties["Threshold"] == {"Ref": "PredictLatencyAlarmMilliseconds"}
    assert TEMPLATE["Parameters"]["PredictLatencyAlarmMilliseconds"]["Type"] == "Number"


@pytest.mark.parametrize(
    ("logical_id", "metric"),
    [
        ("DriftConfirmedAlarm", "DriftConfirmed"),
        ("PerformanceDegradedAlarm", "PerformanceDegraded"),
        ("EstimatedPerformanceDegradedAlarm", "EstimatedPerformanceDegraded"),
    ],
)
def test_drift_alarms_have_one_contributor_per_model_on_what_the_drift_function_writes(
    logical_id, metric, capsys, monkeypatch
):
    from functions.drift import app as drift_app  # noqa: PLC0415 - imports the drift handler's Powertools objects

    query = insights_query(logical_id)
    assert (query["function"], query["metric"], query["group"]) == ("MAX", metric, METRIC_DIMENSION_MODEL)
    # When the drift function publishes a check's metrics (drift confirmed, realised and estimated performance
    # degraded for churn)
    report = {
        "model_name": "churn",
        "monitoring": {"drift_confirmed": True, "performance_degraded": True},
        "estimated_performance": {"degraded": True, "metrics": {"accuracy": {"value": 0.7}}},
        "dataset_drift": True,
        "data_quality": {"violations": []},
        "rows": 10,
        "drift_share": 0.5,
        "features": {},
    }
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)  # the template's, not the tests'
    capsys.readouterr()
    drift_app.publish_metrics(report)
    drift_app.metrics.clear_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    # Then one line carries the metric with exactly the query's dimensions, for that model
    carrying = [
        line
        for line in lines
        if metric in {m["Name"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
        and line.get(METRIC_DIMENSION_MODEL) == "churn"
    ]
    (line,) = carrying
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert query["namespace"] == directive["Namespace"] == NAMESPACE
    assert set(query["dimensions"].split(", ")) == set(directive["Dimensions"][0])
    assert line[metric] in (1, [1.0])  # Powertools writes a list of values
