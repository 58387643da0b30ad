"""The rollout's traffic steps and the bake's judgement, and the local stack's EMF and percentile emulation."""

from __future__ import annotations

import pytest

from local.emulated.emf import metric_data, percentile
from mlops.records.request import Deployment, settle_deployment
from mlops.serving.bake_metrics import ServingObservation, _period_s
from mlops.serving.http import RequestMetrics
from mlops.serving.rollout import breaches, traffic_steps


def _settled(**fields):
    return settle_deployment(Deployment(**fields), "all_at_once", 600)


@pytest.mark.parametrize(
    ("fields", "weights"),
    [
        ({"strategy": "canary"}, [0.1]),
        ({"strategy": "canary", "canary_weight": 0.3}, [0.3]),
        ({"strategy": "linear"}, [0.25, 0.5, 0.75]),
        ({"strategy": "linear", "linear_step": 0.34}, [0.34, 0.68]),
        ({"strategy": "linear", "linear_step": 0.5}, [0.5]),
        ({"strategy": "linear", "linear_step": 0.9}, [0.9]),
        ({"strategy": "shadow"}, [0.0]),
    ],
)
def test_traffic_steps_stay_below_all_of_production(fields, weights):
    assert traffic_steps(_settled(**fields)) == weights


def test_the_stack_decides_what_the_request_leaves_out():
    settled = settle_deployment(Deployment(), "canary", 120)
    assert (settled.strategy, settled.bake_s, settled.canary_weight) == ("canary", 120, 0.1)
    assert settle_deployment(Deployment(bake_s=0), "linear", 120).bake_s == 0  # zero is an answer, not a gap


def test_each_breached_threshold_is_named_and_a_clean_bake_has_none():
    thresholds = _settled(
        strategy="shadow",
        thresholds={"max_error_rate": 0.1, "max_p99_latency_ms": 50.0, "max_disagreement": 0.2, "min_requests": 10},
    ).thresholds
    clean = ServingObservation(requests=20, errors=2, p99_latency_ms=50.0, disagreement=0.2)
    assert breaches(clean, thresholds, "shadow") == []  # at the thresholds: passes
    bad = ServingObservation(requests=5, errors=1, p99_latency_ms=51.0, disagreement=0.25)
    found = breaches(bad, thresholds, "shadow")
    assert [text.split(" ")[0] for text in found] == ["only", "error", "p99", "disagreement"]
    assert breaches(bad, thresholds, "canary")[-1].startswith("p99")  # disagreement is a shadow's only


def test_no_traffic_passes_unless_requests_are_required():
    quiet = ServingObservation(requests=0, errors=0, p99_latency_ms=None)
    assert breaches(quiet, _settled(strategy="canary").thresholds, "canary") == []
    strict = _settled(strategy="canary", thresholds={"min_requests": 1}).thresholds
    assert breaches(quiet, strict, "canary") == ["only 0 requests in the bake (min_requests 1)"]


def test_the_metrics_window_is_one_period_of_whole_minutes():
    assert _period_s(0, 1) == 60
    assert _period_s(0, 61) == 120
    assert _period_s(100, 700) == 600


def test_an_emf_line_becomes_one_datum_per_metric_and_dimension_set():
    line = RequestMetrics("NS", "svc").line("churn", 12.5, 1, version=3)
    import json

    data = metric_data(json.loads(line))
    by_dimensions = {
        (namespace, datum["MetricName"], tuple(d["Value"] for d in datum["Dimensions"])): datum["Value"]
        for namespace, datum in data
    }
    assert by_dimensions == {
        ("NS", "PredictLatency", ("svc", "churn")): 12.5,
        ("NS", "PredictErrors", ("svc", "churn")): 1.0,
        ("NS", "PredictLatency", ("svc", "churn", "3")): 12.5,
        ("NS", "PredictErrors", ("svc", "churn", "3")): 1.0,
    }
    assert metric_data({"message": "not emf"}) == []


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 99) is None
