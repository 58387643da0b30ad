"""How a cell is written: dates in common non-ISO forms, numbers with thousands separators, currency signs or a
percent sign, yes/no booleans; each form detected from a sample of a column's values and named, so the name goes into
the schema and serving reads a request's raw value the way training read the file's. numpy and the standard library
only (serving imports this module).

Date forms (``DATE_FORMATS``): ``iso`` (``2018-03-01``, ``2018-03-01T10:30:00Z``), ``ymd_slash`` (``2018/03/01``),
``dmy_dot`` (``01.03.2018``), ``mdy_slash`` (``03/01/2018``) and ``dmy_slash`` (``01/03/2018``), each with an optional
`` HH:MM[:SS]``; ``mon_year`` (``Mar-2018``, ``March 2018``: the first of the month); ``epoch_s`` (integer seconds
since 1970-01-01 UTC, only where ``is_epoch_seconds`` says so). Slashed day/month order is decided by a value above 12
in either place; when none is, the column is read month first and the schema says it was ambiguous.

Number forms: ``number`` (``2,276.71``, ``$1,200``, ``-€3.50``, ``12 £``, ``12.5%`` read as 0.125) and ``boolean``
(yes/no, true/false, y/n in any case, read as 1 and 0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
DATE_FORMATS = ("iso", "ymd_slash", "dmy_dot", "mdy_slash", "dmy_slash", "mon_year", "epoch_s")
DATE_WRITTEN = {  # each form as an error message names it
    "iso": "an ISO date or timestamp",
    "ymd_slash": "a date written like 2018/03/01",
    "dmy_dot": "a date written like 01.03.2018",
    "mdy_slash": "a date written month first, like 03/31/2018",
    "dmy_slash": "a date written day first, like 31/03/2018",
    "mon_year": "a month written like Mar-2018",
    "epoch_s": "a time in epoch seconds",
}
DATE_EXAMPLES = {
    "ymd_slash": "2018/03/31",
    "dmy_dot": "31.03.2018",
    "mdy_slash": "03/31/2018",
    "dmy_slash": "31/03/2018",
    "mon_year": "Mar-2018",
}
NUMBER_FORMAT = "number"
BOOLEAN_FORMAT = "boolean"
DETECTED_MIN_SHARE = 0.95  # of a sample's present values that must read in one form

_TIME = r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_YMD_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME + "$")
_DMY_DOT = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME + "$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME + "$")
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}  # fmt: skip
_MONTH_NAMES = {**_MONTHS, "sept": 9, **{
    name: number for number, name in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
         "november", "december"), start=1)}}  # fmt: skip
_MON_YEAR = re.compile(r"^([A-Za-z]{3,9})[-/ ]?(\d{4})$")
_NUMBER = re.compile(
    r"^(?P<sign>[-+])?\s*(?P<pre>[$€£¥])?\s*(?P<sign2>[-+])?"
    r"(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)\s*(?P<post>[$€£¥%])?$"
)
_PLAIN = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")
_TRUE = frozenset({"yes", "y", "true"})
_FALSE = frozenset({"no", "n", "false"})
EPOCH_MIN_S = 315_532_800  # 1980-01-01 UTC
EPOCH_MAX_S = 4_102_444_800  # 2100-01-01 UTC
_EPOCH_NAME_WORDS = frozenset({"time", "timestamp", "epoch", "ts", "unix", "date", "datetime", "created", "updated"})


def is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_TOKENS


# ---- dates --------------------------------------------------------------------------------------------------------
def _iso(text: str) -> datetime | None:
    if not _ISO_DATE.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _moment(year: str, month: str, day: str, clock: tuple[str | None, ...]) -> datetime | None:
    hour, minute, second = clock
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:  # 31.02.2018, 13/13/2018, 25:00
        return None


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
        return None
    if not EPOCH_MIN_S <= value < EPOCH_MAX_S:
        return None
    return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)


def _mon_year(text: str) -> datetime | None:
    match = _MON_YEAR.match(text)
    month = _MONTH_NAMES.get(match[1].lower()) if match else None
    return datetime(int(match[2]), month, 1) if match and month else None


def _ymd_slash(text: str) -> datetime | None:
    match = _YMD_SLASH.match(text)
    return _moment(match[1], match[2], match[3], match.groups()[3:]) if match else None


def _dmy_dot(text: str) -> datetime | None:
    match = _DMY_DOT.match(text)
    return _moment(match[3], match[2], match[1], match.groups()[3:]) if match else None


def _mdy_slash(text: str) -> datetime | None:
    match = _SLASHED.match(text)
    return _moment(match[3], match[1], match[2], match.groups()[3:]) if match else None


def _dmy_slash(text: str) -> datetime | None:
    match = _SLASHED.match(text)
    return _moment(match[3], match[2], match[1], match.groups()[3:]) if match else None


_TEXT_DATES = {
    "iso": _iso,
    "ymd_slash": _ymd_slash,
    "dmy_dot": _dmy_dot,
    "mdy_slash": _mdy_slash,
    "dmy_slash": _dmy_slash,
    "mon_year": _mon_year,
}


def parse_date(value: Any, date_format: str | None) -> datetime | None:
    """A cell (or a request's value) in the named date form as a naive UTC datetime; None if it is not one.
    ``None`` as the form means ISO, as versions trained before the forms were named read it."""
    if date_format == "epoch_s":
        return _epoch(value)
    parse = _TEXT_DATES.get(date_format or "iso")
    if parse is None:
        raise ValueError(f"unknown date format {date_format!r}")
    return parse(value.strip()) if isinstance(value, str) else None


def _slashed_order(values: Iterable[str]) -> tuple[str | None, str | None]:
    """(the slashed form, a note when ambiguous) from the values' parts above 12; (None, None) if both parts exceed
    12 somewhere (not one form)."""
    first_high = second_high = False
    for value in values:
        match = _SLASHED.match(value.strip())
        if match:
            first_high |= int(match[1]) > 12
            second_high |= int(match[2]) > 12
    if first_high and second_high:
        return None, None
    if first_high:
        return "dmy_slash", None
    if second_high:
        return "mdy_slash", None
    return "mdy_slash", "ambiguous: no value has a day above 12, read as month/day/year"


def detect_date_format(sample: Sequence[str], distinct: Iterable[str] = ()) -> tuple[str | None, float, str | None]:
    """(the date form most of ``sample``'s values are written in, the share that read in it, a note), or
    (None, best share, None). Day/month order is decided over ``distinct`` (every value of the column, each once)
    when given, else over the sample."""
    present = [value for value in sample if not is_missing(value)]
    if not present:
        return None, 0.0, None
    best: tuple[str | None, float] = (None, 0.0)
    for date_format in ("iso", "ymd_slash", "dmy_dot", "mdy_slash", "mon_year"):
        share = sum(parse_date(value, date_format) is not None for value in present) / len(present)
        if date_format == "mdy_slash":  # as slashed d/m or m/d, whichever parses: the order is decided below
            share = sum(_SLASHED.match(value.strip()) is not None for value in present) / len(present)
        if share > best[1]:
            best = (date_format, share)
    date_format, share = best
    if date_format != "mdy_slash" or share < DETECTED_MIN_SHARE:
        return (date_format, share, None) if share >= DETECTED_MIN_SHARE else (None, share, None)
    order, note = _slashed_order(distinct or present)
    if order is None:
        return None, share, None
    return order, sum(parse_date(v, order) is not None for v in present) / len(present), note


def _name_words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return set(re.split(r"[^a-z0-9]+", spaced.lower()))


def epoch_named(name: str) -> bool:
    """The column's name says time: a word such as ``time``, ``timestamp``, ``epoch``, ``ts``, ``unix``, ``date``,
    ``created``, ``updated``, or a name ending ``_at``/``At``."""
    return bool(_name_words(name) & _EPOCH_NAME_WORDS) or name.endswith(("_at", "At"))


def epoch_range(present: np.ndarray) -> bool:
    """Every present value an integer from 1980-01-01 to 2100-01-01 in seconds, at least two distinct."""
    if present.size < 2 or np.ptp(present) == 0:
        return False
    integral = bool(np.all(present == np.floor(present)))
    return integral and bool(present.min() >= EPOCH_MIN_S) and bool(present.max() < EPOCH_MAX_S)


def is_epoch_seconds(name: str, present: np.ndarray) -> bool:
    """The rule for integer seconds since 1970 when the request does not name the column a datetime one: its name
    says time (``epoch_named``) and its values are in range (``epoch_range``). A range alone is never enough: a
    ten-digit identifier lies in it too; a column the request names a datetime needs only the range."""
    return epoch_named(name) and epoch_range(present)


def epoch_parts(values: np.ndarray, parts: Sequence[str], epoch: str) -> np.ndarray:
    """Epoch seconds (NaN for missing) as an (n, len(parts)) float64 matrix of date parts, vectorised (the same
    values ``columns.datetime_part`` gives for ``parse_date(v, "epoch_s")``)."""
    matrix = np.full((values.size, len(parts)), np.nan)
    present = np.isfinite(values)
    seconds = values[present].astype(np.int64)
    moments = seconds.astype("datetime64[s]")
    days = moments.astype("datetime64[D]").astype(np.int64)
    start = datetime.fromisoformat(epoch).replace(tzinfo=UTC).timestamp()
    derived = {
        "year": moments.astype("datetime64[Y]").astype(np.int64) + 1970,
        "month": moments.astype("datetime64[M]").astype(np.int64) % 12 + 1,
        "day_of_week": (days + 3) % 7,  # 1970-01-01 was a Thursday (weekday 3)
        "hour": (seconds // 3600) % 24,
        "elapsed_days": (seconds - start) / 86400.0,
    }
    for position, part in enumerate(parts):
        matrix[present, position] = derived[part]
    return matrix


# ---- numbers and booleans ----------------------------------------------------------------------------------------
def parse_number(value: str) -> float | None:
    """``2,276.71``, ``$1,200``, ``-€3.50``, ``12 £``, ``12.5%`` (0.125) as a float; None if it is none of them."""
    match = _NUMBER.match(value.strip())
    if match is None or (match["sign"] and match["sign2"]) or (match["pre"] and match["post"] == "%"):
        return None
    number = float(match["digits"].replace(",", ""))
    if "-" in (match["sign"], match["sign2"]):
        number = -number
    return number / 100.0 if match["post"] == "%" else number


def parse_boolean(value: str) -> float | None:
    word = value.strip().lower()
    if word in _TRUE:
        return 1.0
    if word in _FALSE:
        return 0.0
    return None


def parse_formatted(value: str, number_format: str) -> float | None:
    """A cell in the named number form as a float; NaN for a missing token; None if it is not in the form."""
    if is_missing(value):
        return math.nan
    if number_format == BOOLEAN_FORMAT:
        return parse_boolean(value)
    if number_format == NUMBER_FORMAT:
        return parse_number(value)
    raise ValueError(f"unknown number format {number_format!r}")


def detect_number_format(sample: Sequence[str], distinct: Sequence[str]) -> tuple[str | None, float]:
    """(``boolean`` when every distinct value is a yes/no word, else ``number`` when most of the sample reads as a
    decorated number (at least one with a separator, a currency or a percent sign), else None; the share of the
    sample that reads as a number)."""
    present = [value for value in sample if not is_missing(value)]
    if not present:
        return None, 0.0
    words = [value for value in distinct if not is_missing(value)]
    if words and len(words) <= 6 and all(parse_boolean(value) is not None for value in words):
        return BOOLEAN_FORMAT, 1.0
    numbers = [value for value in present if parse_number(value) is not None]
    share = len(numbers) / len(present)
    decorated = any(not _PLAIN.match(value.strip()) for value in numbers)  # else float() read them, or they are text
    return (NUMBER_FORMAT if share >= DETECTED_MIN_SHARE and decorated else None), share


def parse_categories(categories: Sequence[str], number_format: str) -> np.ndarray:
    """Each distinct value once, as float64 (NaN where missing or not in the form), plus a trailing NaN for the
    missing code: index it with a column's codes."""
    parsed = [parse_formatted(category, number_format) for category in categories]
    return np.array([math.nan if value is None else value for value in parsed] + [math.nan], dtype=np.float64)
