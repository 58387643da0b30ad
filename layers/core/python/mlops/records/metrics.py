"""The predict route's metric names and dimensions: written by serving, read by the dashboard, the bake and the
template's alarms. Here, numpy-free: the API function (which has no numpy) reads the series the dashboard plots."""

from __future__ import annotations

PREDICT_LATENCY_METRIC = "PredictLatency"
PREDICT_ERRORS_METRIC = "PredictErrors"
METRIC_DIMENSION_SERVICE = "service"
METRIC_DIMENSION_MODEL = "model_name"
METRIC_DIMENSION_VERSION = "version"  # the per-version series: what a canary's or a shadow's bake is judged on
