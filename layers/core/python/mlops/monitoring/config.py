"""What a drift comparison and a scheduled check decide with: ``DriftConfig`` (the false-alarm controls of one
comparison) and ``MonitoringConfig`` (confirmation, cooldown, retraining and performance tolerances of a check).

Both are frozen and validated on construction (``InvalidMonitoringConfig``); every value is copied into each report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mlops.errors import InvalidMonitoringConfig

CORRECTIONS = ("holm", "bh", "bonferroni", "none")
RATE_PATTERN = re.compile(r"^rate\((?P<count>[1-9][0-9]{0,5}) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
RATE_UNIT_S = {"minute": 60, "hour": 3600, "day": 86_400}
MAX_RATE_S = 30 * 86_400  # a model checked less than monthly is not monitored in any useful sense


def rate_seconds(expression: str, *, field_name: str = "schedule.rate") -> int:
    """The interval of an EventBridge Scheduler rate expression, ``rate(6 hours)`` → 21600 (cron is refused: the
    scheduled checks fan out from one schedule whose ticks are counted in whole intervals)."""
    match = RATE_PATTERN.fullmatch(expression) if isinstance(expression, str) else None
    if match is None:
        raise InvalidMonitoringConfig(
            f"{field_name} must be an EventBridge rate expression such as 'rate(6 hours)' "
            f"(minute(s), hour(s) or day(s)), not {expression!r}"
        )
    seconds = int(match["count"]) * RATE_UNIT_S[match["unit"].rstrip("s")]
    if seconds > MAX_RATE_S:
        raise InvalidMonitoringConfig(f"{field_name} must be at most 30 days, not {expression!r}")
    return seconds


@dataclass(frozen=True)
class ScheduleConfig:
    """When a model's scheduled check runs. Every model with a production version is checked unless ``enabled`` is
    false (``DELETE /models/{name}/monitoring``); ``rate`` None means the stack's ``DriftCheckRate``."""

    enabled: bool = True
    rate: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise InvalidMonitoringConfig(f"schedule.enabled must be true or false, not {self.enabled!r}")
        if self.rate is not None:
            rate_seconds(self.rate)

    @classmethod
    def from_dict(cls, document: Any) -> ScheduleConfig:
        if not isinstance(document, Mapping):
            raise InvalidMonitoringConfig(
                f'schedule must be an object such as {{"rate": "rate(6 hours)"}}, not {document!r}'
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise InvalidMonitoringConfig(f"unknown schedule setting(s): {', '.join(unknown)}; known: {sorted(known)}")
        return cls(**document)


def feedback_rows_problem(document: Any) -> str | None:
    """Why ``retraining_feedback`` is not a valid training request ``feedback`` section (None if it is)."""
    from pydantic import ValidationError  # noqa: PLC0415 - only a config that sets it pays for the import

    from mlops.records.problems import in_words  # noqa: PLC0415
    from mlops.records.request import FeedbackRows  # noqa: PLC0415

    try:
        FeedbackRows.model_validate(document)
    except ValidationError as exc:
        return "; ".join(
            f"retraining_feedback{''.join('.' + str(p) for p in error['loc'])}: {in_words(error)}"
            for error in exc.errors()
        )
    return None


def non_finite(config: Any) -> list[str]:
    """The number fields of a config holding NaN or an infinity (every bound below would let an infinity through,
    and DynamoDB cannot store one): named, so the caller hears which."""
    return [
        f"{f.name} must be a finite number, not {value!r}"
        for f in fields(config)
        if isinstance(value := getattr(config, f.name), float) and not math.isfinite(value)
    ]


_TYPE_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text"}


def wrong_types(config: Any) -> list[str]:
    """The fields of a config holding a value of the wrong JSON type, in words (checked before any comparison, so
    a caller never hears a Python type error): an int field takes a whole number, a float field any number."""
    problems = []
    for f in fields(config):
        wanted, value = str(f.type), getattr(config, f.name)
        if wanted not in _TYPE_WORDS:
            continue
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
        }[wanted]
        if not ok:
            problems.append(f"{f.name} must be {_TYPE_WORDS[wanted]}, not {value!r}")
    return problems


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
        mistyped = wrong_types(self)
        if mistyped:
            raise InvalidMonitoringConfig("invalid drift settings: " + "; ".join(mistyped))
        problems = non_finite(self)
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
            if not isinstance(critical, list | tuple | None) or not all(isinstance(n, str) for n in critical or ()):
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
    retrain_on_estimated_performance: bool = True  # a label-free estimate beyond the tolerances retrains too
    min_estimated_rows: int = 100  # fewer rows with served probabilities (or predictions): no estimate
    min_labelled_rows: int = 100  # fewer labelled predictions: performance is not judged
    max_metric_drop: float = 0.05  # classification: live accuracy or F1 this far below the holdout is degraded
    max_error_increase: float = 0.25  # regression: live RMSE or MAE this much (relative) above the holdout
    performance_window_hours: float = 168.0  # labels and predictions joined over this period
    capture_settle_s: float = 300.0  # capture younger than this may still be in Firehose's buffer: next check
    max_window_hours: float = 168.0  # a window never reaches further back than this
    retraining_dataset_uri: str | None = None  # retrain on this data instead of the version's training data
    # retrain on the training data plus captured rows joined with their labels (the training request's `feedback`)
    retraining_feedback: dict[str, Any] | None = None
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def __post_init__(self) -> None:
        mistyped = wrong_types(self)
        if mistyped:
            raise InvalidMonitoringConfig("invalid monitoring settings: " + "; ".join(mistyped))
        problems = non_finite(self) + self._range_problems()
        uri = self.retraining_dataset_uri
        if uri is not None and not re.fullmatch(r"s3://[^/]+/.+", str(uri)):
            problems.append("retraining_dataset_uri must be an s3:// URI")
        if self.retraining_feedback is not None:
            problem = feedback_rows_problem(self.retraining_feedback)
            if problem:
                problems.append(problem)
        if problems:
            raise InvalidMonitoringConfig("invalid monitoring settings: " + "; ".join(problems))

    def _range_problems(self) -> list[str]:
        problems = [
            f"{name} must be an integer >= 1"
            for name in ("consecutive_windows", "min_labelled_rows", "min_estimated_rows")
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1)
        ]
        problems += [
            f"{name} must be >= 0"
            for name in ("cooldown_hours", "max_metric_drop", "max_error_increase", "capture_settle_s")
            if not getattr(self, name) >= 0
        ]
        return problems + [
            f"{name} must be > 0"
            for name in ("performance_window_hours", "max_window_hours")
            if not getattr(self, name) > 0
        ]

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
        if "schedule" in overrides:
            schedule = overrides.pop("schedule")
            if not isinstance(schedule, Mapping):
                ScheduleConfig.from_dict(schedule)  # raises, naming the field
            overrides["schedule"] = ScheduleConfig.from_dict({**asdict(base.schedule), **schedule})
        _check_types(overrides)
        try:
            return replace(base, drift=drift_config, **overrides)
        except TypeError as exc:
            raise InvalidMonitoringConfig(f"invalid monitoring settings: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["drift"] = self.drift.to_dict()
        document["schedule"] = asdict(self.schedule)
        return document


def _check_types(overrides: dict[str, Any]) -> None:
    """Refuse a value of the wrong JSON type naming its field (numbers become floats in place)."""
    for name in (
        "cooldown_hours",
        "max_metric_drop",
        "max_error_increase",
        "capture_settle_s",
        "performance_window_hours",
        "max_window_hours",
    ):
        if name not in overrides:
            continue
        if not isinstance(overrides[name], int | float) or isinstance(overrides[name], bool):
            raise InvalidMonitoringConfig(f"{name} must be a number, not {overrides[name]!r}")
        overrides[name] = float(overrides[name])
    for name in ("retrain_on_drift", "retrain_on_performance", "retrain_on_estimated_performance"):
        if name in overrides and not isinstance(overrides[name], bool):
            raise InvalidMonitoringConfig(f"{name} must be true or false, not {overrides[name]!r}")
    for name in ("consecutive_windows", "min_labelled_rows", "min_estimated_rows"):
        if name in overrides and (not isinstance(overrides[name], int) or isinstance(overrides[name], bool)):
            raise InvalidMonitoringConfig(f"{name} must be an integer, not {overrides[name]!r}")
    if "retraining_dataset_uri" in overrides and not isinstance(overrides["retraining_dataset_uri"], str | None):
        raise InvalidMonitoringConfig("retraining_dataset_uri must be an s3:// URI")
