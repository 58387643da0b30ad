"""A table's raw columns made into what a version's predict route accepts, by its schema: the columns the model reads
(dates as ISO text, from which the endpoint derives its parts; categories as text; numbers as numbers), every other
column left out (identifiers, excluded columns, the target: the endpoint ignores those the schema knows), the id
column kept aside to be carried to the output. Cells read from a CSV (all text) are parsed by the column's kind.

Standard library only: the same rules for a DataFrame, a dict of columns, rows and the `mlops predict` CSV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlops_client.errors import InvalidInput

__all__ = ["InputSchema", "InvalidInput", "prepare_columns", "prepare_rows"]

NUMERIC, CATEGORICAL, DATETIME = "numeric", "categorical", "datetime"
AS_WRITTEN = "as written"  # a column read in a named form: its cells go as they are (missing ones as null)


@dataclass(frozen=True)
class InputSchema:
    """What a version reads from a raw table: each input column with its kind, in the schema's order."""

    version: int | None
    kinds: dict[str, str]
    known: frozenset[str]  # every column the version's training table had (inputs, identifiers, target, excluded)
    # input columns training read in a named form (dates like 2018/03/01, written numbers, yes/no): sent as written,
    # for the endpoint to read the same way (a "1.234" of a column written with thousands dots is not 1.234)
    as_written: frozenset[str] = frozenset()

    @classmethod
    def from_document(cls, schema: Mapping[str, Any] | None, version: int | None = None) -> InputSchema:
        kinds: dict[str, str] = {}
        for feature in (schema or {}).get("features") or []:
            if feature.get("source"):  # a part derived from a datetime column: the raw column goes in
                kinds.setdefault(feature["source"], DATETIME)
            else:
                kinds.setdefault(feature["name"], feature.get("kind") or NUMERIC)
        columns = (schema or {}).get("columns") or {}
        known = frozenset(columns) | frozenset(kinds)
        as_written = frozenset(
            name for name, column in columns.items() if name in kinds and column.get("format") not in (None, "iso")
        )
        return cls(version, kinds, known, as_written)

    def describe(self, column: str) -> str:
        kind = self.kinds[column]
        return f"{column} (a date)" if kind == DATETIME else f"{column} ({kind})"


def prepare_columns(
    columns: Mapping[str, Sequence[Any]], schema: InputSchema, *, id_column: str | None = None
) -> tuple[dict[str, list[Any]], list[str]]:
    """``columns`` (name -> values, one per row) as the model's input columns, and the names left out (in the given
    order). InvalidInput names a missing input column."""
    if id_column is not None and id_column not in columns:
        raise InvalidInput(f"no id column {id_column!r} in the data (columns: {', '.join(map(str, columns))})")
    missing = [schema.describe(name) for name in schema.kinds if name not in columns]
    if missing:
        raise InvalidInput(f"the data lacks the model's input column(s): {_listed(missing)}")
    prepared = {
        name: _column(columns[name], AS_WRITTEN if name in schema.as_written else kind)
        for name, kind in schema.kinds.items()
    }
    left_out = [name for name in columns if name not in schema.kinds and name != id_column]
    return prepared, left_out


def prepare_rows(rows: Sequence[Mapping[str, Any]], schema: InputSchema) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (one mapping per row) as instances of the model's input columns, and the names left out."""
    left_out: dict[str, None] = {}
    instances = []
    for number, row in enumerate(rows):
        missing = [schema.describe(name) for name in schema.kinds if name not in row]
        if missing:
            raise InvalidInput(f"row {number} lacks the model's input column(s): {_listed(missing)}")
        instances.append(
            {
                name: _cell(row[name], AS_WRITTEN if name in schema.as_written else kind)
                for name, kind in schema.kinds.items()
            }
        )
        left_out.update(dict.fromkeys(str(k) for k in row if k not in schema.kinds))
    return instances, list(left_out)


def _listed(names: list[str], at_most: int = 8) -> str:
    shown = ", ".join(names[:at_most])
    return shown if len(names) <= at_most else f"{shown} and {len(names) - at_most} more"


_NUMBERS = frozenset({int, float, type(None)})
_TEXTS = frozenset({str, type(None)})


def _column(values: Sequence[Any], kind: str) -> list[Any]:
    """One column as the endpoint reads it; the usual column (numbers, or text without empty cells) as it is."""
    values = list(values)
    kinds = set(map(type, values))
    if kind == NUMERIC and kinds <= _NUMBERS:
        return values
    if kind != NUMERIC and kinds <= _TEXTS and "" not in values:
        return values
    return [_cell(value, kind) for value in values]


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value)) or str(value) == "NaT"


def _number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        number = float(value.strip())
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _category(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return (
        str(int(value)) if float(value).is_integer() else str(value)
    )  # pandas reads an int column with a gap as floats


def _cell(value: Any, kind: str) -> Any:
    """A cell by its column's kind: empty is missing, a number's text parsed, a category's number as text, a date as
    ISO text. What it cannot read stays as it is, for the endpoint to refuse in its own words (row and feature)."""
    if _missing(value):
        return None
    if kind == NUMERIC:
        return _number(value)
    if kind == DATETIME:
        return value.isoformat() if hasattr(value, "isoformat") else value
    if kind == AS_WRITTEN:
        return value
    return _category(value)
