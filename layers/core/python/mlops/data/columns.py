"""Column roles: which input columns a model learns from, which it ignores, and why.

Pure functions over the cells of a table (numpy and the standard library only: serving imports this module to
derive datetime parts, and it must not pull in scikit-learn or scipy). Every decision carries its reason, so
the version record says why a column was used, transformed or left out.

Policy, when the request does not name the columns itself:

- identifiers are excluded: strings or integers unique per row, and integer columns monotonic in file order
  with mostly distinct values (a row index, possibly sorted by the target: a leak);
- free text becomes a ``text`` feature (kind ``text``), vectorised by the model pipeline (TF-IDF over a bounded
  vocabulary): a string column, at least ``MIN_ROWS_FOR_UNIQUENESS`` values, at least ``TEXT_MIN_DISTINCT_SHARE`` of
  them distinct, a mean length of ``TEXT_MIN_MEAN_LENGTH`` characters or more and at least
  ``FREE_TEXT_MIN_SPACE_SHARE`` of the values holding a space (several words); the request's ``text_columns`` name
  text columns whatever their profile;
- dates and timestamps become numeric parts (year, month, day of week, hour when there is a time, and
  days elapsed since an epoch recorded in the schema): ISO, or a form ``formats`` names (``2018/03/01``,
  ``01.03.2018``, ``03/01/2018`` with the day/month order decided and an ambiguity noted, ``Mar-2018``, epoch
  seconds where the name and range say so), the form recorded so serving reads a request's value the same way;
- numbers written with thousands separators, currency or percent signs are numeric features, and yes/no words a
  binary one (``formats``' ``number`` and ``boolean`` forms, recorded in the schema);
- constant and all-missing columns are kept as features: they carry no information but cost nothing, and
  keeping them keeps the input contract and the ONNX model's width stable (the numeric imputer keeps empty
  features for that reason);
- categoricals with more than ``MAX_CATEGORIES`` values keep their most frequent ones; the rest are pooled
  into ``OTHER_CATEGORY`` at training and at serving time (skl2onnx 1.20 cannot convert a OneHotEncoder with
  infrequent categories, so the pooling is done here, in the schema, rather than by the encoder).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from mlops.data import formats
from mlops.records.request import ColumnRoles

Role = Literal["feature", "excluded", "target", "id", "datetime"]
ColumnKind = Literal["numeric", "categorical", "datetime", "text", "identifier", "constant", "empty", "boolean"]

MISSING_TOKENS = formats.MISSING_TOKENS
OTHER_CATEGORY = "__other__"
MAX_CATEGORIES = 50  # kept per categorical column; the rest are pooled
MIN_CATEGORY_COUNT = 2  # a category seen once is pooled whenever pooling happens
MIN_ROWS_FOR_UNIQUENESS = 20  # below this, "unique per row" says nothing
NEAR_UNIQUE_SHARE = 0.9
MONOTONIC_DISTINCT_SHARE = 0.5
FREE_TEXT_MIN_SPACE_SHARE = 0.5
TEXT_MIN_MEAN_LENGTH = 20
TEXT_MIN_DISTINCT_SHARE = 0.5
DATETIME_MIN_SHARE = formats.DETECTED_MIN_SHARE  # of the present values that must parse as dates of one form
NUMERIC_LOOKING_SHARE = 0.8  # an excluded column this much numbers is warned about
DATETIME_PARTS_DATE = ("year", "month", "day_of_week", "elapsed_days")
DATETIME_PARTS_TIME = ("year", "month", "day_of_week", "hour", "elapsed_days")


@dataclass(frozen=True)
class ColumnDecision:
    """One input column's role, kind and the reason for them."""

    name: str
    role: Role
    kind: ColumnKind
    reason: str
    categories: tuple[str, ...] | None = None  # when pooled: the categories kept, the rest → OTHER_CATEGORY
    epoch: str | None = None  # datetime columns: the ISO date elapsed days count from
    parts: tuple[str, ...] | None = None  # datetime columns: the derived numeric features
    format: str | None = None  # how the cells are written (formats.DATE_FORMATS, "number", "boolean"); None: plain
    format_note: str | None = None  # e.g. a day/month order that no value decided
    warning: str | None = None  # said to the user: an excluded column that looks numeric

    def to_dict(self) -> dict:
        document: dict = {"role": self.role, "kind": self.kind, "reason": self.reason}
        for key in ("format", "format_note", "warning"):
            if getattr(self, key) is not None:
                document[key] = getattr(self, key)
        if self.categories is not None:
            document["categories"] = list(self.categories)
        if self.epoch is not None:
            document["epoch"] = self.epoch
        if self.parts is not None:
            document["parts"] = list(self.parts)
        return document


@dataclass(frozen=True)
class ColumnProfile:
    """What the role decision looks at, computed once per column."""

    name: str
    rows: int
    present: int
    distinct: int
    numeric: bool
    integral: bool
    monotonic: bool
    datetime_share: float
    has_time: bool
    mean_length: float
    space_share: float
    top: tuple[tuple[str, int], ...]  # (value, count) by count, then value; up to MAX_CATEGORIES + 1
    date_format: str | None = None  # the form datetime_share counts (formats.detect_date_format, is_epoch_seconds)
    date_note: str | None = None
    number_format: str | None = None  # formats.detect_number_format's form of a string column
    number_share: float = 0.0  # of a string column's sampled values that read as (decorated) numbers


is_missing = formats.is_missing


def parse_datetime(value: Any, date_format: str | None = None) -> datetime | None:
    """A date or timestamp in the named form (ISO when None) as a naive UTC datetime; None if it is not one."""
    return formats.parse_date(value, date_format)


def datetime_part(moment: datetime, part: str, epoch: str) -> float:
    if part == "year":
        return float(moment.year)
    if part == "month":
        return float(moment.month)
    if part == "day_of_week":
        return float(moment.weekday())
    if part == "hour":
        return float(moment.hour)
    if part == "elapsed_days":
        return (moment - datetime.fromisoformat(epoch)).total_seconds() / 86400.0
    raise ValueError(f"unknown datetime part {part!r}")


def datetime_parts(
    values: Sequence[str | None], parts: Sequence[str], epoch: str, date_format: str | None = None
) -> np.ndarray:
    """An (n, len(parts)) float64 matrix; missing or unparseable values are NaN."""
    matrix = np.full((len(values), len(parts)), np.nan)
    for row, value in enumerate(values):
        moment = parse_datetime(value, date_format) if value is not None and not is_missing(value) else None
        if moment is not None:
            matrix[row] = [datetime_part(moment, part, epoch) for part in parts]
    return matrix


def derived_name(column: str, part: str) -> str:
    return f"{column}__{part}"


def _datetime_decision(profile: ColumnProfile, reason: str, epoch: str) -> ColumnDecision:
    parts = DATETIME_PARTS_TIME if profile.has_time else DATETIME_PARTS_DATE
    date_format = profile.date_format or "iso"
    return ColumnDecision(
        profile.name,
        "datetime",
        "datetime",
        reason,
        epoch=epoch,
        parts=parts,
        format=date_format,
        format_note=profile.date_note,
    )


def _dates_reason(profile: ColumnProfile) -> str:
    date_format = profile.date_format or "iso"
    written = {"iso": "ISO dates", "epoch_s": "epoch seconds"}.get(date_format)
    example = formats.DATE_EXAMPLES.get(date_format)
    return f"{written or f'dates written like {example} ({date_format})'}: derived numeric parts"


def _formatted_number_role(profile: ColumnProfile) -> ColumnDecision | None:
    """A string column whose values are yes/no words, or numbers with separators, currency or percent signs: a
    numeric feature read in that form (None otherwise)."""
    if profile.number_format == formats.BOOLEAN_FORMAT:
        return ColumnDecision(
            profile.name, "feature", "boolean", "yes/no values: a binary feature (1/0)", format=formats.BOOLEAN_FORMAT
        )
    if profile.number_format == formats.NUMBER_FORMAT:
        return ColumnDecision(
            profile.name,
            "feature",
            "numeric",
            f"numbers with separators, currency or percent signs ({profile.number_share:.0%} of the sample)",
            format=formats.NUMBER_FORMAT,
        )
    return None


def _with_numeric_warning(decision: ColumnDecision, profile: ColumnProfile) -> ColumnDecision:
    """An excluded column that looks numeric carries a warning the run's output shows."""
    if decision.role not in ("id", "excluded"):
        return decision
    if profile.numeric:
        looks = "its values are numbers"
    elif profile.number_share >= NUMERIC_LOOKING_SHARE:
        looks = f"{profile.number_share:.0%} of its sampled values read as numbers"
    else:
        return decision
    warning = f"looks numeric ({looks}) but is excluded; name it in `features` to learn from it"
    return ColumnDecision(decision.name, decision.role, decision.kind, decision.reason, warning=warning)


def _categorical_decision(profile: ColumnProfile, reason: str) -> ColumnDecision:
    if profile.distinct <= MAX_CATEGORIES:
        return ColumnDecision(profile.name, "feature", "categorical", reason)
    kept = tuple(value for value, count in profile.top[:MAX_CATEGORIES] if count >= MIN_CATEGORY_COUNT)
    return ColumnDecision(
        profile.name,
        "feature",
        "categorical",
        f"{reason}; {profile.distinct} distinct values: the {len(kept)} most frequent kept, "
        f"the rest pooled as {OTHER_CATEGORY!r}",
        categories=kept,
    )


def looks_like_text(profile: ColumnProfile) -> bool:
    """Free text: enough values, mostly distinct, long on average and mostly several words."""
    return (
        profile.present >= MIN_ROWS_FOR_UNIQUENESS
        and profile.distinct >= TEXT_MIN_DISTINCT_SHARE * profile.present
        and profile.mean_length >= TEXT_MIN_MEAN_LENGTH
        and profile.space_share >= FREE_TEXT_MIN_SPACE_SHARE
    )


def _text_decision(profile: ColumnProfile, reason: str) -> ColumnDecision:
    return ColumnDecision(profile.name, "feature", "text", f"{reason}: TF-IDF features over a bounded vocabulary")


def _numeric_role(profile: ColumnProfile, epoch: str | None) -> ColumnDecision:
    if profile.date_format == "epoch_s" and epoch is not None and formats.epoch_named(profile.name):  # and in range
        return _datetime_decision(profile, _dates_reason(profile), epoch)
    enough_rows = profile.present >= MIN_ROWS_FOR_UNIQUENESS
    if profile.integral and enough_rows and profile.distinct == profile.present:
        return ColumnDecision(profile.name, "id", "identifier", "integer unique per row: an identifier, excluded")
    if (
        profile.integral
        and enough_rows
        and profile.monotonic
        and profile.distinct >= MONOTONIC_DISTINCT_SHARE * profile.present
    ):
        return ColumnDecision(
            profile.name, "id", "identifier", "integer monotonic in file order: a row index (a leak risk), excluded"
        )
    return ColumnDecision(profile.name, "feature", "numeric", "numeric")


def _string_role(profile: ColumnProfile, epoch: str | None) -> ColumnDecision:
    if profile.datetime_share >= DATETIME_MIN_SHARE and epoch is not None:
        return _datetime_decision(profile, _dates_reason(profile), epoch)
    formatted = _formatted_number_role(profile)
    if formatted is not None:
        return formatted
    if looks_like_text(profile):
        return _text_decision(
            profile, f"free text ({profile.distinct} distinct values, mean length {profile.mean_length:.0f})"
        )
    near_unique = profile.present >= MIN_ROWS_FOR_UNIQUENESS and profile.distinct >= NEAR_UNIQUE_SHARE * profile.present
    if not near_unique:
        return _categorical_decision(profile, "categorical")
    share = profile.distinct / profile.present
    return ColumnDecision(
        profile.name, "id", "identifier", f"string {share:.0%} unique per row: an identifier, excluded"
    )


def infer_role(profile: ColumnProfile, epoch: str | None) -> ColumnDecision:
    """The role of a column the request says nothing about."""
    if profile.present == 0:
        return ColumnDecision(
            profile.name,
            "feature",
            "empty",
            "all values missing: kept (imputed as a constant) for a stable input width",
        )
    if profile.distinct == 1:
        return ColumnDecision(
            profile.name,
            "feature",
            "numeric" if profile.numeric else "categorical",
            "constant: kept (carries no information) for a stable input width",
        )
    decision = _numeric_role(profile, epoch) if profile.numeric else _string_role(profile, epoch)
    return _with_numeric_warning(decision, profile)


def _settled_by_request(name: str, target: str, requested: ColumnRoles) -> ColumnDecision | None:
    if name == target:
        return ColumnDecision(name, "target", "numeric", "the target")
    if name in requested.id_columns:
        return ColumnDecision(name, "id", "identifier", "named an identifier by the request")
    if name in requested.exclude:
        return ColumnDecision(name, "excluded", "categorical", "excluded by the request")
    if requested.features is not None and name not in requested.features:
        return ColumnDecision(name, "excluded", "categorical", "not in the request's features")
    return None


def decide_column(
    name: str, profiled: Callable[[], tuple[ColumnProfile, str | None]], target: str, requested: ColumnRoles
) -> ColumnDecision:
    """A column's decision: what the request says, else what its profile (and datetime epoch) suggest.
    ``profiled`` is only called for the columns the request leaves open."""
    settled = _settled_by_request(name, target, requested)
    if settled is not None:
        return settled
    profile, epoch = profiled()
    if name in requested.datetime_columns:
        if profile.datetime_share < DATETIME_MIN_SHARE or epoch is None:
            raise ValueError(
                f"column {name!r} is named a datetime column but only {profile.datetime_share:.0%} of its "
                "values are dates or timestamps of one known form (ISO, 2018/03/01, 01.03.2018, 03/01/2018, "
                "Mar-2018, or epoch seconds)"
            )
        return _datetime_decision(profile, "named a datetime column by the request: derived parts", epoch)
    if name in requested.text_columns:
        return _text_decision(profile, "named a text column by the request")
    decision = infer_role(profile, epoch)
    if requested.strings_as_written and not profile.numeric:
        decision = _as_written(decision)
    if requested.features is not None and decision.role in ("id", "excluded"):
        if not profile.numeric:
            return _categorical_decision(profile, f"in the request's features (would be: {decision.reason})")
        return ColumnDecision(name, "feature", "numeric", f"in the request's features ({decision.reason})")
    return decision


def _as_written(decision: ColumnDecision) -> ColumnDecision:
    """A string column for a caller's own model, whose pipeline encodes it (a TfidfVectorizer on free text, its own
    encoder on a many-valued category): free text becomes a feature and nothing is pooled."""
    if decision.kind == "text":
        reason = f"{decision.reason.split(': ')[0]}: passed as written to the caller's model"
        return ColumnDecision(decision.name, "feature", "categorical", reason)
    if decision.categories is not None:
        reason = "categorical: passed as written to the caller's model (no value pooled)"
        return ColumnDecision(decision.name, decision.role, decision.kind, reason)
    return decision


def pool_category(value: str, categories: frozenset[str] | None, missing_token: str) -> str:
    """A category as the encoder sees it: kept, missing, or pooled."""
    if categories is None or value == missing_token or value in categories:
        return value
    return OTHER_CATEGORY
