"""What a drift comparison and a scheduled check decide with: ``DriftConfig`` (the false-alarm controls of one
comparison) and ``MonitoringConfig`` (confirmation, cooldown, retraining and performance tolerances of a check).

Both are frozen and validated on construction (``InvalidMonitoringConfig``); every value is copied into each report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mlops.errors import InvalidMonitoringConfig

CORRECTIONS = ("holm", "bh", "bonferroni", "none")


@dataclass(frozen=True)
class DriftConfig:
    """The false-alarm controls of one comparison. Every value is reported with the result it produced."""

    min_rows: int = 100  # below this a window is insufficient_data
    alpha: float = 0.05  # significance level after the correction
    correction: str = "holm"  # holm (family-wise error), bh (false discovery rate), bonferroni or none
    psi_threshold: float = 0.1  # effect-size floor: a significant shift with a smaller PSI is not drift
    drift_share: float = 0.3  # the dataset drifts when at least this share of features drift ...
    critical_features: tuple[str, ...] = ()  # ... or any of these does
    prediction_is_critical: bool = False  # prediction drift alone makes dataset drift
    missing_share_increase: float = 0.05  # data quality: a significant rise of the missing share by at least this
    new_category_share: float = 0.01  # data quality: categories never seen in training, at least this share
    chunk_rows: int = 65_536  # rows reduced at a time (bounds the memory of a check)

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.min_rows, int) and self.min_rows >= 1):
            problems.append("min_rows must be an integer >= 1")
        if not 0 < self.alpha < 1:
            problems.append("alpha must be within (0, 1)")
        if self.correction not in CORRECTIONS:
            problems.append(f"correction must be one of {', '.join(CORRECTIONS)}")
        if not self.psi_threshold >= 0:
            problems.append("psi_threshold must be >= 0")
        if not 0 < self.drift_share <= 1:
            problems.append("drift_share must be within (0, 1]")
        if not 0 <= self.missing_share_increase <= 1 or not 0 <= self.new_category_share <= 1:
            problems.append("missing_share_increase and new_category_share must be within [0, 1]")
        if not (isinstance(self.chunk_rows, int) and self.chunk_rows >= 1):
            problems.append("chunk_rows must be an integer >= 1")
        if problems:
            raise InvalidMonitoringConfig("invalid drift settings: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, document: Mapping[str, Any] | None) -> DriftConfig:
        document = dict(document or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise InvalidMonitoringConfig(f"unknown drift setting(s): {', '.join(unknown)}; known: {sorted(known)}")
        if "critical_features" in document:
            critical = document["critical_features"]
            if isinstance(critical, str) or not all(isinstance(name, str) for name in critical or ()):
                raise InvalidMonitoringConfig("critical_features must be a list of feature names")
            document["critical_features"] = tuple(critical or ())
        try:
            return cls(**document)
        except TypeError as exc:
            raise InvalidMonitoringConfig(f"invalid drift settings: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["critical_features"] = list(self.critical_features)
        return document


@dataclass(frozen=True)
class MonitoringConfig:
    """What a check decides with. Defaults come from the stack (MonitoringSettings); a model's stored config and
    the check's input override them, in that order. Every value is copied into each report."""

    drift: DriftConfig = field(default_factory=DriftConfig)
    consecutive_windows: int = 2  # drift is confirmed after this many drifted windows in a row
    cooldown_hours: float = 24.0  # no second retraining within this time of the last one
    retrain_on_drift: bool = True
    retrain_on_performance: bool = True
    min_labelled_rows: int = 100  # fewer labelled predictions: performance is not judged
    max_metric_drop: float = 0.05  # classification: live accuracy or F1 this far below the holdout is degraded
    max_error_increase: float = 0.25  # regression: live RMSE or MAE this much (relative) above the holdout
    performance_window_hours: float = 168.0  # labels and predictions joined over this period
    capture_settle_s: float = 300.0  # capture younger than this may still be in Firehose's buffer: next check
    max_window_hours: float = 168.0  # a window never reaches further back than this
    retraining_dataset_uri: str | None = None  # retrain on this data instead of the version's training data

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.consecutive_windows, int) and self.consecutive_windows >= 1):
            problems.append("consecutive_windows must be an integer >= 1")
        if not (isinstance(self.min_labelled_rows, int) and self.min_labelled_rows >= 1):
            problems.append("min_labelled_rows must be an integer >= 1")
        for name in ("cooldown_hours", "max_metric_drop", "max_error_increase", "capture_settle_s"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must be >= 0")
        for name in ("performance_window_hours", "max_window_hours"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        uri = self.retraining_dataset_uri
        if uri is not None and not re.match(r"^s3://[^/]+/.+", str(uri)):
            problems.append("retraining_dataset_uri must be an s3:// URI")
        if problems:
            raise InvalidMonitoringConfig("invalid monitoring settings: " + "; ".join(problems))

    @classmethod
    def merged(cls, base: MonitoringConfig, overrides: Mapping[str, Any] | None) -> MonitoringConfig:
        overrides = dict(overrides or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidMonitoringConfig(
                f"unknown monitoring setting(s): {', '.join(unknown)}; known: {sorted(known)}"
            )
        drift_overrides = overrides.pop("drift", None) or {}
        if not isinstance(drift_overrides, Mapping):
            raise InvalidMonitoringConfig("drift settings must be an object")
        drift_config = DriftConfig.from_dict({**base.drift.to_dict(), **drift_overrides})
        for name in (
            "cooldown_hours",
            "max_metric_drop",
            "max_error_increase",
            "capture_settle_s",
            "performance_window_hours",
            "max_window_hours",
        ):
            if name in overrides and isinstance(overrides[name], int | float) and not isinstance(overrides[name], bool):
                overrides[name] = float(overrides[name])
        try:
            return replace(base, drift=drift_config, **overrides)
        except TypeError as exc:
            raise InvalidMonitoringConfig(f"invalid monitoring settings: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["drift"] = self.drift.to_dict()
        return document
