"""Tabular datasets: reading, schema inference, seeded splits and model matrices, on typed columns.

A table is ``typed_table.TypedTable``: float64 columns and int32-coded categoricals, never a Python string per cell,
so memory follows the typed size of the data. pandas would add ~70 MiB to every Lambda package and nothing here
needs it.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from mlops.data import columns as column_roles
from mlops.data import formats, reader, typed_table
from mlops.data.typed_table import MISSING_CODE, CategoricalColumn, Column, NumericColumn
from mlops.errors import InvalidDataset, InvalidTrainingRequest
from mlops.records.request import ColumnRoles
from mlops.records.schema import Feature, FeatureKind, Schema, Task

MISSING_TOKENS = column_roles.MISSING_TOKENS
# Missing categories become a category of their own: a string the encoder and ONNX converters accept.
MISSING_CATEGORY = "__missing__"
MIN_ROWS = 20
MIN_ROWS_PER_CLASS = 5
# A numeric target with at most this many distinct integer values is taken as class labels.
MAX_CLASSES_FOR_INFERRED_CLASSIFICATION = 20

Table = typed_table.TypedTable


is_missing = column_roles.is_missing


def read_table(source: bytes | str | Path | BinaryIO) -> Table:
    """A dataset (CSV, gzip CSV, or Parquet where pyarrow is installed; detected by content) as typed columns."""
    return reader.read_dataset(source)


def infer_schema(
    table: Table,
    target: str,
    task: Task | None = None,
    positive_class: str | None = None,
    roles: ColumnRoles | None = None,
) -> tuple[Schema, Table]:
    """Infer column roles, feature kinds and the task; return the schema and the table without missing-target
    rows, its target column canonical (class labels as categories, a regression target as numbers)."""
    if target not in table.names:
        raise InvalidDataset(f"target column {target!r} is not in the dataset; columns: {', '.join(table.names)}")
    roles = roles or ColumnRoles()
    check_roles(roles, table.names, target)
    column = table.column(target)
    present = ~np.isnan(column.values) if isinstance(column, NumericColumn) else column.codes != MISSING_CODE
    kept = int(np.count_nonzero(present))
    dropped = table.rows - kept
    if kept < MIN_ROWS:
        raise InvalidDataset(f"the dataset has {kept} rows with a target value; at least {MIN_ROWS} are needed")
    if dropped:
        table = table.take(np.flatnonzero(present))
        column = table.column(target)

    if task is None:
        task = _infer_task(column)
    notes: list[str] = []
    if dropped:
        notes.append(f"{dropped} rows without a target value were dropped")

    classes = None
    if task == "classification":
        labels = _label_column(column)
        if positive_class is not None:
            positive_class = _normalise_label(positive_class.strip())
        classes, positive_class = _check_classes(labels, target, positive_class)
    else:
        labels = _regression_column(column, target)
    table = Table([labels if c.name == target else c for c in table.columns], table.rows, table.read_as)

    try:
        decisions = reader.decide_roles(table, target, roles)
    except ValueError as exc:
        raise InvalidDataset(str(exc)) from exc
    features, columns = _features_of(decisions, task)
    if not features:
        reasons = "; ".join(f"{name}: {c['reason']}" for name, c in columns.items() if c["role"] != "target")
        raise InvalidDataset(f"no column is left to learn from ({reasons})")
    schema = Schema(features, target, task, classes, positive_class, dropped, notes, columns, dict(table.read_as))
    return schema, table


def _features_of(decisions: list[column_roles.ColumnDecision], task: Task) -> tuple[list[Feature], dict[str, dict]]:
    """The model's features (datetime columns expanded into their parts) and the record of every column."""
    features: list[Feature] = []
    columns: dict[str, dict] = {}
    for decision in decisions:
        document = decision.to_dict()
        document.pop("categories", None)  # kept once, on the feature: the schema travels in the state (256 KiB)
        if decision.role == "target":
            document["kind"] = "categorical" if task == "classification" else "numeric"
        columns[decision.name] = document
        if decision.role == "feature":
            kind: FeatureKind = decision.kind if decision.kind in ("categorical", "text") else "numeric"  # type: ignore[assignment]
            categories = list(decision.categories) if decision.categories is not None else None
            features.append(Feature(decision.name, kind, categories=categories))
        elif decision.role == "datetime":
            features.extend(
                Feature(column_roles.derived_name(decision.name, part), "numeric", source=decision.name, part=part)
                for part in decision.parts or ()
            )
    return features, columns


def check_roles(roles: ColumnRoles, header: list[str], target: str) -> None:
    """Column names in the request must be in the header, and the target cannot be an input."""
    known = set(header)
    named = {
        "features": list(roles.features or ()),
        "exclude": list(roles.exclude),
        "id_columns": list(roles.id_columns),
        "datetime_columns": list(roles.datetime_columns),
        "text_columns": list(roles.text_columns),
    }
    problems = []
    for field_name, names in named.items():
        unknown = [name for name in names if name not in known]
        if unknown:
            problems.append(f"{field_name} names unknown column(s) {', '.join(map(repr, unknown))}")
        if target in names and field_name != "exclude":
            problems.append(f"{field_name} names the target {target!r}")
    if problems:
        raise InvalidTrainingRequest(f"invalid training request: {'; '.join(problems)}")


def _check_classes(labels: CategoricalColumn, target: str, positive_class: str | None) -> tuple[list[str], str | None]:
    frequencies = np.bincount(labels.codes, minlength=len(labels.categories)).tolist()
    counts = dict(zip(labels.categories, frequencies, strict=True))
    if len(counts) < 2:
        raise InvalidDataset(f"target {target!r} has a single class ({next(iter(counts))!r}); nothing to learn")
    rare = {label: n for label, n in sorted(counts.items()) if n < MIN_ROWS_PER_CLASS}
    if rare:
        listed = ", ".join(f"{label!r}: {n}" for label, n in rare.items())
        raise InvalidDataset(
            f"target {target!r} has classes with fewer than {MIN_ROWS_PER_CLASS} rows ({listed}); "
            "a stratified train/validation/test split needs more — merge or drop them"
        )
    classes = sorted(counts)
    if positive_class is not None and positive_class not in counts:
        raise InvalidDataset(f"positive class {positive_class!r} is not a value of {target!r}: {classes}")
    if len(classes) == 2 and positive_class is None:
        positive_class = default_positive_class(counts)
    return classes, positive_class


# the label a binary target's conventional pair names the event (1 of 0/1, yes of no/yes, ...), lower-cased
_CONVENTIONAL_POSITIVE = {
    frozenset({"0", "1"}): "1",
    frozenset({"no", "yes"}): "yes",
    frozenset({"n", "y"}): "y",
    frozenset({"false", "true"}): "true",
    frozenset({"f", "t"}): "t",
    frozenset({"negative", "positive"}): "positive",
}


def default_positive_class(counts: dict[str, int]) -> str:
    """A binary target's positive class when the request names none: the event of a conventional pair (1, yes, true,
    positive), else the rarer class — the one F1 and average precision should be about (``churned`` of 5 %
    ``churned`` / 95 % ``stayed``, not the later sorted label); on a tie, the later sorted label."""
    by_word = {label.lower(): label for label in counts}
    conventional = _CONVENTIONAL_POSITIVE.get(frozenset(by_word))
    if conventional is not None:
        return by_word[conventional]
    first, second = sorted(counts)
    return first if counts[first] < counts[second] else second


def _regression_column(column: Column, target: str) -> NumericColumn:
    if isinstance(column, CategoricalColumn):
        text = next(c for c in column.categories if _as_float(c) is None)
        raise InvalidDataset(f"target {target!r} is not numeric, so it cannot be regressed on: a value is {text!r}")
    if np.ptp(column.values) == 0:
        raise InvalidDataset(f"target {target!r} is constant; nothing to learn")
    return column


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _infer_task(column: Column) -> Task:
    if isinstance(column, CategoricalColumn):
        return "classification"
    distinct = np.unique(column.values)
    integral = bool(np.all(distinct == np.floor(distinct)))
    return "classification" if integral and distinct.size <= MAX_CLASSES_FOR_INFERRED_CLASSIFICATION else "regression"


def _normalise_label(label: str) -> str:
    """'1', '1.0' and ' 1' are one class: integral numeric labels are written without a fraction."""
    number = _as_float(label)
    if number is not None and math.isfinite(number) and number.is_integer():
        return str(int(number))
    return label


def _label_column(column: Column) -> CategoricalColumn:
    """Class labels as a categorical column of normalised label strings (numbers read as labels: '1', not '1.0')."""
    if isinstance(column, NumericColumn):
        distinct, codes = np.unique(column.values, return_inverse=True)
        texts = [reader.number_text(v) for v in distinct.tolist()]
        return CategoricalColumn(column.name, codes.astype(np.int32), texts)
    normalised = [_normalise_label(c) for c in column.categories]
    numbers = [_as_float(c) for c in column.categories]
    all_numeric_integral = all(n is not None and n.is_integer() for n in numbers)
    labels = normalised if all_numeric_integral else column.categories
    merged: dict[str, int] = {}
    remap = np.array([merged.setdefault(label, len(merged)) for label in labels], dtype=np.int32)
    return CategoricalColumn(column.name, remap[column.codes], list(merged))


# ---- model matrices -------------------------------------------------------------------------------------------
def _category_lookup(column: Column, feature: Feature) -> tuple[np.ndarray, np.ndarray]:
    """(codes, lookup): a categorical feature's value per row is lookup[codes], the last entry being missing.
    Pooled categories become OTHER_CATEGORY; a column read as numbers gives their text."""
    if isinstance(column, NumericColumn):
        distinct, codes = np.unique(column.values, return_inverse=True)
        texts = [reader.number_text(v) for v in distinct.tolist()]
        codes = np.where(np.isnan(column.values), len(texts), codes)
    else:
        texts, codes = column.categories, column.codes
    kept = frozenset(feature.categories) if feature.categories is not None else None
    lookup = np.array(
        [column_roles.pool_category(t or MISSING_CATEGORY, kept, MISSING_CATEGORY) for t in texts] + [MISSING_CATEGORY],
        dtype=object,
    )
    return codes, lookup


def _numbers_of(column: Column, number_format: str | None = None) -> np.ndarray:
    """A numeric feature's values; a string column in a named form (``formats``: ``number``, ``boolean``) read in it,
    each distinct value once."""
    if isinstance(column, NumericColumn):
        return column.values
    if number_format is not None:
        return formats.parse_categories(column.categories, number_format)[column.codes]
    parsed = np.array([_as_float(c) for c in column.categories] + [None], dtype=np.float64)  # None → NaN
    return parsed[column.codes]


def _datetime_parts(column: Column, parts: list[str], epoch: str, date_format: str | None = None) -> np.ndarray:
    """(rows, parts) float64: each distinct value parsed once, then spread to its rows; missing rows NaN. Epoch
    seconds are read from a numeric column, vectorised."""
    if isinstance(column, NumericColumn):
        if date_format == "epoch_s":
            return formats.epoch_parts(column.values, parts, epoch)
        return np.full((column.values.size, len(parts)), np.nan)
    per_category = column_roles.datetime_parts([*column.categories, None], parts, epoch, date_format)
    return per_category[column.codes]


def feature_values(table: Table, schema: Schema) -> list[np.ndarray | tuple[np.ndarray, np.ndarray]]:
    """Each feature in schema order, without a Python object per cell: float64 values for a numeric feature (NaN
    for missing; datetime parts derived from their source column), ``(codes, lookup)`` for a categorical or text one
    (its value per row is ``lookup[codes]``: see _category_lookup)."""
    if missing := [name for name in schema.input_columns if name not in table.names]:
        raise InvalidDataset(f"the table has no column {missing[0]!r}; it has {len(table.names)} others")
    values: list[np.ndarray | tuple[np.ndarray, np.ndarray]] = []
    derived: dict[str, np.ndarray] = {}
    for feature in schema.features:
        column = table.column(feature.input_column)
        if feature.source is not None:
            source = schema.columns[feature.source]
            if feature.source not in derived:
                derived[feature.source] = _datetime_parts(
                    column, source["parts"], source["epoch"], source.get("format")
                )
            values.append(derived[feature.source][:, source["parts"].index(feature.part)])
        elif feature.kind == "numeric":
            values.append(_numbers_of(column, schema.columns.get(feature.name, {}).get("format")))
        else:
            values.append(_category_lookup(column, feature))
    return values


def feature_columns(table: Table, schema: Schema) -> list[np.ndarray]:
    """Each feature's values in schema order: float64 for numeric features (NaN for missing), an object array of
    strings for categorical ones (MISSING_CATEGORY; pooled categories as columns.OTHER_CATEGORY); datetime parts
    derived from their source column."""
    return [v if isinstance(v, np.ndarray) else v[1][v[0]] for v in feature_values(table, schema)]


def feature_matrix(table: Table, schema: Schema) -> np.ndarray:
    """An object matrix in schema order (what the model pipelines take): see feature_columns."""
    matrix = np.empty((table.rows, len(schema.features)), dtype=object)
    for position, values in enumerate(feature_columns(table, schema)):
        matrix[:, position] = values
    return matrix


def target_vector(table: Table, schema: Schema) -> np.ndarray:
    """Class labels as an object array of strings, or a regression target as float64 (of a table infer_schema
    returned)."""
    column = table.column(schema.target)
    if schema.task == "classification":
        labels = column if isinstance(column, CategoricalColumn) else _label_column(column)
        return labels.strings()
    return _numbers_of(column)


def split_rows(
    table: Table, schema: Schema, seed: int, validation_fraction: float, test_fraction: float
) -> dict[str, np.ndarray]:
    """The rows of a deterministic seeded train/validation/test split (sorted), stratified on the class for
    classification."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - schema code must not need scikit-learn

    indices = np.arange(table.rows)
    # stratified on the label strings (classes in sorted order, as scikit-learn sees them), not on their codes
    labels = target_vector(table, schema) if schema.task == "classification" else None
    holdout_fraction = validation_fraction + test_fraction
    try:
        train, holdout = train_test_split(indices, test_size=holdout_fraction, random_state=seed, stratify=labels)
        holdout_labels = labels[holdout] if labels is not None else None
        validation, test = train_test_split(
            holdout, test_size=test_fraction / holdout_fraction, random_state=seed, stratify=holdout_labels
        )
    except ValueError as exc:
        raise InvalidDataset(f"cannot split {len(indices)} rows into train/validation/test: {exc}") from exc
    return {"train": np.sort(train), "validation": np.sort(validation), "test": np.sort(test)}


def split(
    table: Table, schema: Schema, seed: int, validation_fraction: float, test_fraction: float
) -> dict[str, Table]:
    """The split_rows split as tables."""
    rows = split_rows(table, schema, seed, validation_fraction, test_fraction)
    return {name: table.take(indices) for name, indices in rows.items()}


def input_record(table: Table, schema: Schema, row: int) -> dict[str, Any]:
    """One row as a caller would send it: every input column but the target (excluded ones too: the predict route
    ignores them), numbers for numeric columns, strings otherwise, null for missing."""
    kinds = {f.name: f.kind for f in schema.features}
    record: dict[str, Any] = {}
    for column in table.columns:
        if column.name == schema.target or (column.name not in schema.columns and column.name not in kinds):
            continue
        if isinstance(column, NumericColumn):
            value = float(column.values[row])
            record[column.name] = None if math.isnan(value) else value
        else:
            code = int(column.codes[row])
            record[column.name] = None if code == MISSING_CODE else column.categories[code]
    return record


def to_csv(table: Table) -> bytes:
    """A table as CSV (numbers as read back identically, missing as empty cells)."""
    cells = [
        ["" if math.isnan(v) else reader.number_text(v) for v in c.values.tolist()]
        if isinstance(c, NumericColumn)
        else c.strings("").tolist()
        for c in table.columns
    ]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.names)
    writer.writerows(zip(*cells, strict=True))
    return buffer.getvalue().encode()
