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

from mlops_client.errors import MlopsError

NUMERIC, CATEGORICAL, DATETIME = "numeric", "categorical", "datetime"


class InvalidInput(MlopsError, ValueError):
    """The data cannot be sent to the model: an input column missing, or a cell its kind cannot read (checked on the
    client, before any request)."""


@dataclass(frozen=True)
class InputSchema:
    """What a version reads from a raw table: each input column with its kind, in the schema's order."""

    version: int | None
    kinds: dict[str, str]
    known: frozenset[str]  # every column the version's training table had (inputs, identifiers, target, excluded)

    @classmethod
    def from_document(cls, schema: Mapping[str, Any] | None, version: int | None = None) -> InputSchema:
        kinds: dict[str, str] = {}
        for feature in (schema or {}).get("features") or []:
            if feature.get("source"):  # a part derived from a datetime column: the raw column goes in
                kinds.setdefault(feature["source"], DATETIME)
            else:
                kinds.setdefault(feature["name"], feature.get("kind") or NUMERIC)
        known = frozenset((schema or {}).get("columns") or {}) | frozenset(kinds)
        return cls(version, kinds, known)

    def describe(self, column: str) -> str:
        kind = self.kinds[column]
        return f"{column} (a date)" if kind == DATETIME else f"{column} ({kind})"


def prepare_columns(
    columns: Mapping[str, Sequence[Any]], schema: InputSchema, *, id_column: str | None = None
) -> tuple[dict[str, list[Any]], list[str]]:
    """``columns`` (name -> values, one per row) as the model's input columns, and the names left out (in the given
    order). InvalidInput names a missing input column, or the first cell that is not of its column's kind."""
    if id_column is not None and id_column not in columns:
        raise InvalidInput(f"no id column {id_column!r} in the data (columns: {', '.join(map(str, columns))})")
    missing = [schema.describe(name) for name in schema.kinds if name not in columns]
    if missing:
        raise InvalidInput(f"the data lacks the model's input column(s): {', '.join(missing)}")
    prepared = {
        name: [_cell(value, kind, name, row) for row, value in enumerate(columns[name])]
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
            raise InvalidInput(f"row {number} lacks the model's input column(s): {', '.join(missing)}")
        instances.append({name: _cell(row[name], kind, name, number) for name, kind in schema.kinds.items()})
        left_out.update(dict.fromkeys(str(k) for k in row if k not in schema.kinds))
    return instances, list(left_out)


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value)) or str(value) == "NaT"


def _cell(value: Any, kind: str, column: str, row: int) -> Any:
    if _missing(value):
        return None
    if kind == NUMERIC:
        if isinstance(value, bool):
            raise InvalidInput(f"row {row}: {column!r} must be a number, not a boolean")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise InvalidInput(f"row {row}: {column!r} must be a number, not {str(value)[:40]!r}") from None
        if not math.isfinite(number):
            raise InvalidInput(f"row {row}: {column!r} must be finite, not {value!r}")
        return number
    if kind == DATETIME:
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    if isinstance(value, float) and value.is_integer():  # a category read as a number (pandas: ints with a gap)
        return str(int(value))
    return value if isinstance(value, str) else str(value)
