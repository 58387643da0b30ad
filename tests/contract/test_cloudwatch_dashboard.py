"""The CloudWatch dashboard, read from template.yaml: its body is valid JSON once CloudFormation's !Sub has run, and its
panels query the metrics the code really emits (namespace, names, dimensions: checked by running the predict metrics
line and the drift function's publisher), by metric search, so a new model appears without a stack change."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from functions.drift import app as drift_app
from local.template import load_template, resources_of_type
from mlops.serving.http import RequestMetrics

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
VARIABLES = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE = VARIABLES["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = VARIABLES["POWERTOOLS_SERVICE_NAME"]
PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\}(?P<terms>[^']*)',\s*'(?P<stat>[^']+)',\s*(?P<period>\d+)\)")
INSIGHTS = re.compile(r"FROM SCHEMA\((?P<schema>[^)]*)\)")


def dashboard_resource() -> dict[str, Any]:
    (resource,) = resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    return resource


def rendered_body() -> tuple[dict[str, Any], set[str]]:
    """The body as CloudFormation's Fn::Sub renders it (each ${X} resolved, ${!X} left as ${X}); and the names used."""
    text = dashboard_resource()["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str), "DashboardBody is a single !Sub string (no variable map)"
    names = set(re.findall(r"\$\{(?!!)([^}]+)\}", text))

    def resolve(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PSEUDO:
            return PSEUDO[name]
        logical_id, _, attribute = name.partition(".")
        return f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{logical_id}" if attribute else logical_id

    rendered = re.sub(r"\$\{(?!!)([^}]+)\}", resolve, text).replace("${!", "${")
    return json.loads(rendered), names


BODY, SUBSTITUTED = rendered_body()
METRIC_WIDGETS = [w for w in BODY["widgets"] if w["type"] == "metric"]
(MODEL_VARIABLE,) = BODY["variables"]
MODEL_TOKEN = MODEL_VARIABLE["pattern"]


def expressions(widget: dict[str, Any]) -> list[str]:
    return [item["expression"] for row in widget["properties"]["metrics"] for item in row if "expression" in item]


def searched(widget: dict[str, Any]) -> list[tuple[list[str], dict[str, str], str]]:
    """(schema, exact terms, statistic) of each SEARCH of a widget."""
    found = []
    for expression in expressions(widget):
        for match in SEARCH.finditer(expression):
            schema = [part.strip() for part in match.group("schema").split(",")]
            terms = dict(re.findall(r'(\w+)="([^"]*)"', match.group("terms")))
            names = re.findall(r'MetricName="([^"]+)"', match.group("terms"))
            found += [(schema, {**terms, "MetricName": name}, match.group("stat")) for name in names]
    return found


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> dict[str, set[str]]:
    """Metric name -> its dimension names, from the EMF lines the predict path and the drift publisher print."""
    capsys.readouterr()
    print(RequestMetrics(NAMESPACE, SERVICE).line("churn", 12.5, 1))
    report = {
        "model_name": "churn",
        "rows": 500,
        "dataset_drift": True,
        "drift_share": 0.25,
        "features": {"age": {"score": 0.4}, "plan": {"score": 0.1}},
        "prediction": {"score": 0.2},
        "performance": {"live": {"accuracy": 0.9, "f1": 0.8, "rmse": 1.0, "mae": 0.5}},
        "data_quality": {"violations": []},
        "monitoring": {"drift_confirmed": False, "performance_degraded": False},
    }
    drift_app.publish_metrics(report)
    drift_app.metrics.clear_metrics()
    found: dict[str, set[str]] = {}
    for text in capsys.readouterr().out.splitlines():
        document = json.loads(text)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            # the drift function's namespace is its environment's (the template's Globals; the tests' own here)
            assert directive["Namespace"] in (NAMESPACE, os.environ["POWERTOOLS_METRICS_NAMESPACE"])
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    found.setdefault(metric["Name"], set()).update(dimensions)
    return found


def test_the_body_is_valid_json_and_names_only_resources_of_the_template():
    assert BODY["widgets"], "a dashboard with widgets"
    for name in SUBSTITUTED:
        logical_id = name.split(".")[0]
        assert name in PSEUDO or logical_id in RESOURCES, name
    alarms = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
    (alarm_widget,) = [w for w in BODY["widgets"] if w["type"] == "alarm"]
    assert alarm_widget["properties"]["alarms"]
    assert all(arn.rsplit(":", 1)[-1] in alarms for arn in alarm_widget["properties"]["alarms"])


def test_widgets_fit_the_grid_without_overlapping():
    taken: set[tuple[int, int]] = set()
    for widget in BODY["widgets"]:
        assert widget["x"] + widget["width"] <= 24, widget
        cells = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & taken, f"{widget.get('properties', {}).get('title')} overlaps another widget"
        taken |= cells
    for widget in METRIC_WIDGETS:
        assert widget["properties"]["region"] == PSEUDO["AWS::Region"]


def test_every_panel_queries_metrics_the_code_emits_with_their_dimensions(capsys):
    emitted = emitted_metrics(capsys)
    queried = 0
    for widget in METRIC_WIDGETS:
        for schema, terms, _ in searched(widget):
            assert schema[0] == NAMESPACE
            name = terms["MetricName"]
            assert name in emitted, f"{widget['properties']['title']}: {name} is not a metric the code emits"
            assert set(schema[1:]) == emitted[name], f"{name}: schema {schema[1:]} vs emitted {emitted[name]}"
            queried += 1
        for expression in expressions(widget):
            for match in INSIGHTS.finditer(expression):
                namespace, *dimensions = (part.strip() for part in match.group("schema").split(","))
                metric = re.search(r"SELECT \w+\((\w+)\)", expression).group(1)
                assert namespace == NAMESPACE and set(dimensions) == emitted[metric]
                queried += 1
    # requests, latency, errors, drift share, prediction drift, feature drift, rows and the four live metrics
    assert queried >= 15
    wanted = {"PredictLatency", "PredictErrors", "DriftedFeatureShare", "PredictionDriftScore", "FeatureDriftScore"}
    wanted |= {"LiveAccuracy", "LiveF1", "LiveRmse", "LiveMae", "DatasetDrift", "DriftWindowRows"}
    names = {terms["MetricName"] for widget in METRIC_WIDGETS for _, terms, _ in searched(widget)}
    insights = " ".join(e for widget in METRIC_WIDGETS for e in expressions(widget))
    assert wanted <= names | set(re.findall(r"SELECT \w+\((\w+)\)", insights))


def test_overview_panels_cover_every_model_and_model_panels_follow_the_variable():
    overview = [w for w in METRIC_WIDGETS if MODEL_TOKEN not in json.dumps(w)]
    per_model = [w for w in METRIC_WIDGETS if MODEL_TOKEN in json.dumps(w)]
    assert len(overview) >= 6 and len(per_model) >= 6
    for widget in overview:  # every model at once: no model named, one line per model_name
        for _, terms, _ in searched(widget):
            assert "model_name" not in terms
    for widget in per_model:  # one model: the variable's token stands for it in every search
        for _, terms, _ in searched(widget):
            assert terms.get("model_name") == MODEL_TOKEN, widget["properties"]["title"]
    # the variable's choices come from a search too, so a model that starts serving appears without a stack change
    assert MODEL_VARIABLE["type"] == "pattern" and MODEL_VARIABLE["inputType"] == "select"
    assert MODEL_VARIABLE["populateFrom"] == "model_name"
    assert MODEL_VARIABLE["search"].startswith("{" + NAMESPACE + ",model_name,service}")
    assert MODEL_TOKEN not in MODEL_VARIABLE["search"]


def test_the_dashboard_url_is_an_output():
    output = TEMPLATE["Outputs"]["CloudWatchDashboardUrl"]["Value"]["Fn::Sub"]
    assert "dashboards:name=${MlopsDashboard}" in output
