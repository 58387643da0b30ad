"""Drift of a window of current data against a registered baseline: numpy only, streaming, vectorised.

The comparison lives in rooms by concern, and this module names their public parts in one place for callers that
want all of them (the local CLI, notebooks):

* ``mlops.monitoring.config``      ``DriftConfig`` (the false-alarm controls), ``MonitoringConfig``;
* ``mlops.monitoring.statistics``  p-values, multiple-testing corrections, PSI, Jensen–Shannon, chi-square;
* ``mlops.monitoring.reference``   ``Reference`` (numeric and categorical) from a baseline document;
* ``mlops.monitoring.window``      ``Window`` (fixed-size counts) and ``WindowFeeder``, the one way values reach it;
* ``mlops.monitoring.decision``    per-feature results, the dataset's verdict, data quality, ``evaluate``/``compare``.
"""

from __future__ import annotations

from mlops.monitoring.config import CORRECTIONS, DriftConfig
from mlops.monitoring.decision import (
    HISTOGRAM_CATEGORIES,
    REPORT_SCHEMA,
    STATUS_DRIFT,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    compare,
    drifted_names,
    evaluate,
    ks_statistic,
)
from mlops.monitoring.reference import (
    UNSEEN_CATEGORY,
    CategoricalReference,
    FeatureReference,
    GridLookup,
    NumericReference,
    Reference,
    baseline_of_columns,
)
from mlops.monitoring.statistics import (
    MIN_EXPECTED_COUNT,
    PSI_EPSILON,
    adjust_p_values,
    chi2_homogeneity,
    chi2_sf,
    js_distance,
    kolmogorov_sf,
    ks_p_value,
    normal_sf,
    psi_rows,
)
from mlops.monitoring.window import (
    MAX_TRACKED_CATEGORIES,
    CategoricalCounts,
    NumericCounts,
    Window,
    WindowFeeder,
    add_columns,
    iter_chunks,
)

__all__ = [
    "CORRECTIONS",
    "HISTOGRAM_CATEGORIES",
    "MAX_TRACKED_CATEGORIES",
    "MIN_EXPECTED_COUNT",
    "PSI_EPSILON",
    "REPORT_SCHEMA",
    "STATUS_DRIFT",
    "STATUS_INSUFFICIENT",
    "STATUS_OK",
    "UNSEEN_CATEGORY",
    "CategoricalCounts",
    "CategoricalReference",
    "DriftConfig",
    "FeatureReference",
    "GridLookup",
    "NumericCounts",
    "NumericReference",
    "Reference",
    "Window",
    "WindowFeeder",
    "add_columns",
    "adjust_p_values",
    "baseline_of_columns",
    "chi2_homogeneity",
    "chi2_sf",
    "compare",
    "drifted_names",
    "evaluate",
    "iter_chunks",
    "js_distance",
    "kolmogorov_sf",
    "ks_p_value",
    "ks_statistic",
    "normal_sf",
    "psi_rows",
]
