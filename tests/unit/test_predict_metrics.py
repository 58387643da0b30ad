"""The predict route's metric line: the model's series (the alarms') and, once a version served, that version's."""

from __future__ import annotations

import json
from types import SimpleNamespace

from mlops.data.dataset import Schema
from mlops.serving.http import RequestMetrics, handle_predict
from mlops.serving.runtime import ModelNotServable

SCHEMA = Schema.from_dict({"features": [{"name": "x", "kind": "numeric"}], "target": "y", "task": "regression"})


class Cache:
    def __init__(self, version: int | None) -> None:
        self.version = version
        self.asked: list[tuple[str, str]] = []

    def choose(self, model_name, draw, alias="production"):
        self.asked.append((model_name, alias))
        if self.version is None:
            raise ModelNotServable("its artifact cannot be served")
        model = SimpleNamespace(runtime="onnx", predict=lambda c: SimpleNamespace(labels=[2.5], probabilities=None))
        return SimpleNamespace(version=self.version, schema=SCHEMA, model=model)


def _metric_lines(cache: Cache, query: dict | None = None) -> tuple[int, list[dict]]:
    lines: list[str] = []
    event = {
        "pathParameters": {"name": "m"},
        "queryStringParameters": query,
        "body": json.dumps({"instances": [{"x": 1.0}]}),
    }
    answer = handle_predict(
        event, "req", cache, capture_sample_rate=0.0, write_line=lines.append, metrics=RequestMetrics("ns", "svc")
    )
    return answer["statusCode"], [json.loads(line) for line in lines if "_aws" in line]


def test_a_served_request_is_counted_for_its_model_and_its_version():
    cache = Cache(version=4)
    status, (line,) = _metric_lines(cache, {"alias": "staging"})
    assert status == 200 and cache.asked == [("m", "staging")]
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["service", "model_name"],
        ["service", "model_name", "version"],
    ]
    assert (line["model_name"], line["version"], line["PredictErrors"]) == ("m", "4", 0)


def test_a_request_no_version_served_is_counted_for_the_model_only():
    status, (line,) = _metric_lines(Cache(version=None))
    assert status == 503 and line["PredictErrors"] == 1 and "version" not in line
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "model_name"]]
