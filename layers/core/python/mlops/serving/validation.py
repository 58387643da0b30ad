"""Serving's validation: a request's rows (``validate_instances``), its columns (``validate_inputs``) or batch
scoring's typed columns (``typed_columns``, ``validate_each_row``) checked against a version's schema and turned into
the model's columns.

One column-wise pass takes the common case: each feature's values taken from the rows at once, typed by numpy and
checked as whole columns. A request it does not accept goes through the row-wise pass, the reference behaviour,
which names the first offending row and feature. numpy and the standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from mlops.data import columns as column_roles
from mlops.data import formats
from mlops.data.dataset import MISSING_CATEGORY, Feature, Schema
from mlops.errors import MlopsError

MAX_INSTANCES = 1000


class InvalidInstances(MlopsError):
    """The request's instances do not match the model's schema (a 4xx for the caller)."""


def _check_shape(instances: Any, max_rows: int) -> None:
    if not isinstance(instances, list):
        raise InvalidInstances("'instances' must be a list of objects, one per row")
    if not instances:
        raise InvalidInstances("'instances' is empty; send 1 to 1000 rows")
    if len(instances) > max_rows:
        raise InvalidInstances(f"'instances' has {len(instances)} rows; at most {max_rows} per request")


def _check_keys(row_number: int, row: Any, expected: set[str], ignored: frozenset[str] = frozenset()) -> None:
    if not isinstance(row, dict):
        raise InvalidInstances(f"row {row_number} is not an object of feature values")
    if row.keys() != expected:
        problems = []
        missing = sorted(expected - row.keys())
        extra = sorted(row.keys() - expected - ignored)
        if not missing and not extra:
            return
        if missing:
            problems.append(f"missing feature(s) {', '.join(map(repr, missing))}")
        if extra:
            problems.append(f"unknown feature(s) {', '.join(map(repr, extra))}")
        raise InvalidInstances(f"row {row_number}: {'; '.join(problems)}")


def _numeric_value(row_number: int, name: str, value: Any) -> float:
    if value is None:
        return math.nan
    if type(value) not in (int, float):  # bool is an int subclass: refused on purpose
        raise InvalidInstances(
            f"row {row_number}: feature {name!r} must be a number or null, not {type(value).__name__}"
        )
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond float64's range
        finite = False
    if not finite:
        raise InvalidInstances(f"row {row_number}: feature {name!r} must be finite")
    return value


def _categorical_value(row_number: int, name: str, value: Any) -> str:
    if value is None:
        return MISSING_CATEGORY
    if not isinstance(value, str):
        raise InvalidInstances(
            f"row {row_number}: feature {name!r} must be a string or null, not {type(value).__name__}"
        )
    return value


def _datetime_value(row_number: int, name: str, value: Any, date_format: str | None = None) -> datetime | None:
    """A raw date in the form training read it (``formats``; ISO for versions that recorded none)."""
    if value is None:
        return None
    written = formats.DATE_WRITTEN.get(date_format or "iso", "a date")
    epoch = date_format == "epoch_s" and type(value) in _NUMBER_TYPES
    if not isinstance(value, str) and not epoch:
        raise InvalidInstances(
            f"row {row_number}: feature {name!r} must be {written} or null, not {type(value).__name__}"
        )
    if isinstance(value, str) and column_roles.is_missing(value) and date_format not in (None, "iso"):
        return None  # a missing token, as the training file had them
    moment = column_roles.parse_datetime(value, date_format)
    if moment is None:
        raise InvalidInstances(f"row {row_number}: feature {name!r} is not {written}: {str(value)[:40]!r}")
    return moment


def column_format(schema: Schema, name: str) -> str | None:
    """How training read a plain numeric input column's cells (``formats.NUMBER_FORMAT``, ``BOOLEAN_FORMAT``), or
    None when they were plain numbers."""
    return schema.columns.get(name, {}).get("format")


def _formatted_value(row_number: int, name: str, value: Any, number_format: str) -> float:
    """A numeric feature training read from written numbers (``$1,200``, ``12.5%``) or yes/no words: the same text,
    a JSON number (0 or 1, or a boolean, for yes/no) or null."""
    boolean = number_format == formats.BOOLEAN_FORMAT
    if isinstance(value, bool) and boolean:
        return float(value)
    if isinstance(value, str):
        parsed = formats.parse_formatted(value, number_format)
        if parsed is not None:
            return parsed
    elif value is None or (type(value) in _NUMBER_TYPES and (not boolean or value in (0, 1))):
        return _numeric_value(row_number, name, value)
    written = (
        "yes/no, true/false, y/n, 1/0" if boolean else "a number (written as in training, like '$1,200' or '12.5%')"
    )
    shown = repr(value[:40]) if isinstance(value, str) else type(value).__name__
    raise InvalidInstances(f"row {row_number}: feature {name!r} must be {written} or null, not {shown}")


def _feature_reader(feature: Feature, schema: Schema) -> Callable[[int, dict[str, Any]], Any]:
    """How one feature's value is read from a raw record, as training read it from the CSV."""
    if feature.source is not None:
        epoch, part, source = schema.columns[feature.source]["epoch"], feature.part, feature.source
        date_format = schema.columns[feature.source].get("format")

        def derived(row_number: int, row: dict[str, Any]) -> float:
            moment = _datetime_value(row_number, source, row[source], date_format)
            return math.nan if moment is None else column_roles.datetime_part(moment, part, epoch)

        return derived
    name = feature.name
    number_format = column_format(schema, name) if feature.kind == "numeric" else None
    if number_format is not None:
        return lambda row_number, row: _formatted_value(row_number, name, row[name], number_format)
    if feature.kind == "numeric":
        return lambda row_number, row: _numeric_value(row_number, name, row[name])
    kept = frozenset(feature.categories) if feature.categories is not None else None
    return lambda row_number, row: column_roles.pool_category(
        _categorical_value(row_number, name, row[name]), kept, MISSING_CATEGORY
    )


def validate_instances(instances: Any, schema: Schema, max_rows: int = MAX_INSTANCES) -> list[np.ndarray]:
    """Check every row against the schema and return one (n, 1) column per feature.

    Numbers must be JSON numbers (not booleans, not strings) and finite; categories strings; datetimes ISO
    strings (their parts are derived here, as at training); null means missing. A row may carry the columns
    the model does not use (identifiers, excluded columns, the target): they are ignored. Errors name the row
    and the feature, so a caller can fix the request.

    The work is column-wise: each feature's values are taken from the rows at once, typed by numpy and checked
    as whole columns. Only a request the column-wise pass does not accept goes through the rows one by one
    (``_validate_rows``), which names the first offending row and feature exactly as it always has.
    """
    _check_shape(instances, max_rows)
    columns = _validate_columns(instances, schema)
    if columns is None:
        columns = _validate_rows(instances, schema)
    return columns


def validate_inputs(inputs: Any, schema: Schema, max_rows: int = MAX_INSTANCES) -> list[np.ndarray]:
    """The columnar request's validation (``{"inputs": {feature: [value, ...], ...}}``, TF Serving's columnar
    format): the same rules and the same columns as ``validate_instances`` for the same rows, without a dict per row.

    Every input column must be there, as a list, all of one length (1 to ``max_rows``); columns the schema knows but
    the model does not use (identifiers, the target) may come along and are ignored; others are refused. A value the
    column-wise pass does not accept is worded by the row-wise pass, so the caller reads the row and the feature.
    """
    _check_input_columns(inputs, schema, max_rows)
    columns = _columns_of(_ColumnValues(inputs), schema)
    if columns is None:
        return _validate_rows(_rows_of(inputs), schema)  # names the first bad row and feature
    return columns


def typed_columns(inputs: dict[str, Any], schema: Schema) -> list[np.ndarray] | None:
    """Columns of typed values (numeric features as float64 arrays whose NaN is a missing value, or lists of JSON
    values; categories and dates as lists of strings or None), one value per row, every input column present and of
    one length: the model's columns, or None when a value is not valid (the caller's row-wise pass then names it).
    Batch scoring's block path: CSV cells parsed column by column, never a dict per row."""
    return _columns_of(_ColumnValues(inputs), schema)


def _check_input_columns(inputs: Any, schema: Schema, max_rows: int) -> int:
    if not isinstance(inputs, dict):
        raise InvalidInstances("'inputs' must be an object of feature columns: {feature: [value, ...], ...}")
    missing = [name for name in schema.input_columns if name not in inputs]
    if missing:
        raise InvalidInstances(f"'inputs' lacks feature(s) {', '.join(map(repr, missing))}")
    unknown = sorted(name for name in inputs if name not in schema.columns and name not in schema.input_columns)
    if unknown:
        raise InvalidInstances(f"'inputs' has unknown feature(s) {', '.join(map(repr, unknown))}")
    lengths = {}
    for name, values in inputs.items():
        if not isinstance(values, list):
            raise InvalidInstances(f"'inputs' column {name!r} must be a list of values, one per row")
        lengths[name] = len(values)
    counts = set(lengths.values())
    if len(counts) > 1:
        (short, shortest), (long, longest) = (
            min(lengths.items(), key=itemgetter(1)),
            max(lengths.items(), key=itemgetter(1)),
        )
        raise InvalidInstances(
            f"'inputs' columns differ in length: {short!r} has {shortest} values, {long!r} has {longest}"
        )
    rows = counts.pop() if counts else 0
    if rows == 0:
        raise InvalidInstances(f"'inputs' has no rows; send 1 to {max_rows} values per column")
    if rows > max_rows:
        raise InvalidInstances(f"'inputs' has {rows} rows; at most {max_rows} per request")
    return rows


def _rows_of(inputs: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(inputs)
    return [dict(zip(names, values, strict=True)) for values in zip(*inputs.values(), strict=True)]


def validate_each_row(
    instances: list[Any], schema: Schema, first_row: int = 0
) -> tuple[list[np.ndarray] | None, list[int], list[str]]:
    """The batch path's validation: the endpoint's, but a bad row is set aside with its reason instead of refusing
    the rows around it. Returns the columns of the valid rows (None when no row is valid), the positions of the
    valid rows in ``instances`` and, for the others, one reason each (``row <position>: ...``, worded by the same
    row-wise pass as the endpoint's 422; rows numbered from ``first_row``). The column-wise pass takes the common
    case, a block with no bad row."""
    if not instances:
        return None, [], []
    columns = _validate_columns(instances, schema)
    if columns is not None:
        return columns, list(range(len(instances))), []
    valid: list[int] = []
    reasons: list[str] = []
    for position, row in enumerate(instances):
        try:
            _validate_rows([row], schema, first_row=first_row + position)
        except InvalidInstances as exc:
            reasons.append(str(exc))
        else:
            valid.append(position)
    if not valid:
        return None, valid, reasons
    kept = [instances[position] for position in valid]
    columns = _validate_columns(kept, schema)
    return (columns if columns is not None else _validate_rows(kept, schema)), valid, reasons


def _validate_rows(instances: list[Any], schema: Schema, first_row: int = 0) -> list[np.ndarray]:
    """Value by value, row by row: the reference behaviour, and the one that words the error (rows numbered from
    ``first_row``)."""
    expected = set(schema.input_columns)
    ignored = frozenset(schema.columns) - expected
    readers = [_feature_reader(f, schema) for f in schema.features]
    columns: list[list[Any]] = [[] for _ in schema.features]
    for row_number, row in enumerate(instances, start=first_row):
        _check_keys(row_number, row, expected, ignored)
        for position, read in enumerate(readers):
            columns[position].append(read(row_number, row))
    return [
        np.array(values, dtype=np.float64 if f.kind == "numeric" else object).reshape(-1, 1)
        for f, values in zip(schema.features, columns, strict=True)
    ]


_NUMBER_TYPES = frozenset({int, float})
_NUMBER_OR_NULL_TYPES = frozenset({int, float, type(None)})
_TEXT_OR_NULL_TYPES = frozenset({str, type(None)})


def _rows_have_the_schema_keys(instances: list[Any], expected: frozenset[str], allowed: frozenset[str]) -> bool:
    """Every row a dict whose keys may be the schema's: as many keys as the schema's input columns (each taken
    by name below: a missing one raises KeyError there), or the input columns plus ignored ones."""
    if set(map(type, instances)) != {dict}:
        return False
    width = len(expected)
    if set(map(len, instances)) == {width}:
        return True
    return all(len(row) == width or expected <= row.keys() <= allowed for row in instances)


def _finite_or_null(matrix: np.ndarray, kinds: set[type], value_at: Callable[[int, int], Any]) -> bool:
    """Every non-finite entry of the 2-d ``matrix`` is a JSON null where it came from (``value_at(i, j)``)."""
    finite = np.isfinite(matrix)
    if finite.all():
        return True
    if not kinds - _NUMBER_TYPES:  # no null at all: a NaN or an infinity was sent
        return False
    return all(value_at(i, j) is None for i, j in np.argwhere(~finite).tolist())


class _RowValues:
    """A row request's values, taken feature by feature (``instances``: one dict per row)."""

    def __init__(self, instances: list[dict[str, Any]]) -> None:
        self.instances = instances

    def values(self, name: str) -> list[Any]:
        return list(map(itemgetter(name), self.instances))

    def numeric_block(self, names: list[str]) -> np.ndarray | None:
        """The named features as one contiguous float64 (k, n) block (a row per feature), or None when a value is
        not a finite JSON number or null (the row-wise pass then names it)."""
        take = itemgetter(*names)
        table = list(map(take, self.instances))
        values = list(chain.from_iterable(table)) if len(names) > 1 else table
        kinds = set(map(type, values))
        if not kinds <= _NUMBER_OR_NULL_TYPES:
            return None
        width = len(names)
        try:  # a flat list converts several times faster than the list of row tuples
            matrix = np.array(values, dtype=np.float64).reshape(len(self.instances), width)
        except OverflowError:  # an integer beyond float64
            return None
        if not _finite_or_null(matrix, kinds, lambda row, column: values[row * width + column]):
            return None
        return np.ascontiguousarray(matrix.T)


class _ColumnValues:
    """A columnar request's values (``inputs``: one list per feature, already checked to be of one length)."""

    def __init__(self, inputs: dict[str, Any]) -> None:
        self.inputs = inputs

    def values(self, name: str) -> list[Any]:
        return self.inputs[name]

    def numeric_block(self, names: list[str]) -> np.ndarray | None:
        lists = [self.inputs[name] for name in names]
        if all(isinstance(values, np.ndarray) for values in lists):  # typed already: NaN is a missing value
            matrix = np.vstack(lists).astype(np.float64, copy=False)
            return None if np.isinf(matrix).any() else matrix
        kinds = set(map(type, chain.from_iterable(lists)))
        if not kinds <= _NUMBER_OR_NULL_TYPES:
            return None
        try:
            matrix = np.array(lists, dtype=np.float64)  # None becomes NaN; checked against the nulls below
        except OverflowError:
            return None
        if not _finite_or_null(matrix, kinds, lambda feature, row: lists[feature][row]):
            return None
        return matrix


def _categorical_column(values: list[Any], feature: Feature) -> np.ndarray | None:
    kinds = set(map(type, values))
    if not kinds <= _TEXT_OR_NULL_TYPES:
        return None
    column = np.array(values, dtype=object)
    if type(None) in kinds:
        column[np.equal(column, None)] = MISSING_CATEGORY
    if feature.categories is not None:
        known = np.isin(column, np.array([*feature.categories, MISSING_CATEGORY], dtype=object))
        if not known.all():
            column[~known] = column_roles.OTHER_CATEGORY
    return column.reshape(-1, 1)


def _derived_column(values: list[Any], feature: Feature, schema: Schema) -> np.ndarray | None:
    """A part of a date, parsed value by value as at training; None when a value is not a date of the training
    file's form or null."""
    epoch, part, source = schema.columns[feature.source]["epoch"], feature.part, feature.source
    date_format = schema.columns[feature.source].get("format")
    try:
        moments = [_datetime_value(row_number, source, value, date_format) for row_number, value in enumerate(values)]
    except InvalidInstances:
        return None
    derived = [math.nan if moment is None else column_roles.datetime_part(moment, part, epoch) for moment in moments]
    return np.array(derived, dtype=np.float64).reshape(-1, 1)


def _validate_columns(instances: list[Any], schema: Schema) -> list[np.ndarray] | None:
    """The column-wise pass over rows; None when anything in the request needs the row-wise pass to be named."""
    expected = frozenset(schema.input_columns)
    if not _rows_have_the_schema_keys(instances, expected, expected | frozenset(schema.columns)):
        return None
    try:
        return _columns_of(_RowValues(instances), schema)
    except KeyError:  # a row lacks one of the schema's input columns
        return None


def _formatted_column(values: list[Any], feature: Feature, number_format: str) -> np.ndarray | None:
    """Written numbers or yes/no words read as at training; None when a value is not one (the row-wise pass words
    it)."""
    try:
        parsed = [_formatted_value(0, feature.name, value, number_format) for value in values]
    except InvalidInstances:
        return None
    return np.array(parsed, dtype=np.float64).reshape(-1, 1)


def plain_numeric(schema: Schema) -> list[int]:
    """The positions of the numeric features read as plain numbers (not date parts, not written numbers)."""
    return [
        i
        for i, f in enumerate(schema.features)
        if f.kind == "numeric" and f.source is None and column_format(schema, f.name) is None
    ]


def _columns_of(source: _RowValues | _ColumnValues, schema: Schema) -> list[np.ndarray] | None:
    features = schema.features
    plain_numeric_positions = plain_numeric(schema)
    columns: list[np.ndarray | None] = [None] * len(features)
    if plain_numeric_positions:
        by_feature = source.numeric_block([features[i].name for i in plain_numeric_positions])
        if by_feature is None:
            return None
        for offset, position in enumerate(plain_numeric_positions):  # each column a view of the block's row
            columns[position] = by_feature[offset].reshape(-1, 1)
    for position, feature in enumerate(features):
        if columns[position] is not None:
            continue
        if feature.source is not None:
            column = _derived_column(source.values(feature.source), feature, schema)
        elif feature.kind == "numeric":  # a formatted number (plain ones are in the block)
            column = _formatted_column(source.values(feature.name), feature, column_format(schema, feature.name) or "")
        else:
            column = _categorical_column(source.values(feature.name), feature)
        if column is None:
            return None
        columns[position] = column
    return columns  # type: ignore[return-value] - every position is filled above
