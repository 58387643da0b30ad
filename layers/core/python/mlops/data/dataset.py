"""Tabular datasets: CSV parsing, schema inference, fingerprints, seeded splits and model matrices.

Parsed with the standard library's csv module and numpy rather than pandas: pandas would add ~70 MiB to
every Lambda package and nothing here needs it.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from mlops.errors import InvalidDataset

Task = Literal["classification", "regression"]
FeatureKind = Literal["numeric", "categorical"]

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# Missing categories become a category of their own: a string the encoder and ONNX converters accept.
MISSING_CATEGORY = "__missing__"
MIN_ROWS = 20
MIN_ROWS_PER_CLASS = 5
# A numeric target with at most this many distinct integer values is taken as class labels.
MAX_CLASSES_FOR_INFERRED_CLASSIFICATION = 20


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        if name not in self.columns:  # a schema from another dataset than this table's: a wiring bug, named
            raise InvalidDataset(f"the table has no column {name!r}; it has {len(self.columns)} others")
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def take(self, indices: np.ndarray) -> Table:
        return Table(self.columns, [self.rows[i] for i in indices])


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind


@dataclass(frozen=True)
class Schema:
    features: list[Feature]
    target: str
    task: Task
    classes: list[str] | None = None
    positive_class: str | None = None
    dropped_rows_missing_target: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def numeric_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.kind == "numeric"]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.kind == "categorical"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> Schema:
        features = [Feature(**f) for f in document["features"]]
        return cls(**{**document, "features": features})


def is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_TOKENS


def parse_float(value: str) -> float:
    """Parse a cell as a finite float; missing or non-finite cells are NaN."""
    if is_missing(value):
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _check_header(record: list[str]) -> list[str]:
    header = [name.strip() for name in record]
    if len(header) < 2:
        raise InvalidDataset(
            "the dataset needs a header with at least two columns (features and a target); "
            f"found {len(header)} — is it comma-separated?"
        )
    if any(not name for name in header):
        raise InvalidDataset(f"column {header.index('') + 1} of the header has no name")
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise InvalidDataset(f"duplicate column names: {', '.join(duplicates)}")
    return header


def parse_csv(payload: bytes) -> Table:
    if not payload.strip():
        raise InvalidDataset("the dataset is empty")
    if b"\x00" in payload:  # anywhere: a NUL kept in a cell would break the splits written from it
        raise InvalidDataset("the dataset is not a text CSV file (it contains NUL bytes)")
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDataset(f"the dataset is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    numbered: list[tuple[int, list[str]]] = []  # (line of the file where the record ends, record)
    try:
        for record in reader:
            if record and any(cell.strip() for cell in record):
                numbered.append((reader.line_num, record))
    except csv.Error as exc:
        raise InvalidDataset(f"the dataset is not valid CSV: {exc}") from exc
    if not numbered:
        raise InvalidDataset("the dataset is empty")
    header = _check_header(numbered[0][1])
    rows = [record for _, record in numbered[1:]]
    for line_number, row in numbered[1:]:
        if len(row) != len(header):
            raise InvalidDataset(f"line {line_number} has {len(row)} fields; the header has {len(header)}")
    if not rows:
        raise InvalidDataset("the dataset has a header but no rows")
    return Table(header, rows)


def _looks_numeric(values: list[str]) -> bool:
    present = [v for v in values if not is_missing(v)]
    if not present:
        return True  # an all-missing column carries no information either way; the imputer drops it
    try:
        for value in present:
            float(value)
    except ValueError:
        return False
    return True


def infer_schema(
    table: Table, target: str, task: Task | None = None, positive_class: str | None = None
) -> tuple[Schema, Table]:
    """Infer feature kinds and the task; return the schema and the table without missing-target rows."""
    if target not in table.columns:
        raise InvalidDataset(f"target column {target!r} is not in the dataset; columns: {', '.join(table.columns)}")
    target_index = table.columns.index(target)
    kept = [row for row in table.rows if not is_missing(row[target_index])]
    dropped = len(table.rows) - len(kept)
    if len(kept) < MIN_ROWS:
        raise InvalidDataset(f"the dataset has {len(kept)} rows with a target value; at least {MIN_ROWS} are needed")
    table = Table(table.columns, kept)
    labels = [row[target_index].strip() for row in kept]

    if task is None:
        task = _infer_task(labels)
    notes: list[str] = []
    if dropped:
        notes.append(f"{dropped} rows without a target value were dropped")

    classes = None
    if task == "classification":
        labels = _normalise_labels(labels)
        if positive_class is not None:
            positive_class = _normalise_labels([positive_class])[0]
        classes, positive_class = _check_classes(labels, target, positive_class)
        table = Table(
            table.columns,
            [[*row[:target_index], label, *row[target_index + 1 :]] for row, label in zip(kept, labels, strict=True)],
        )
    else:
        _check_regression_target(labels, target)

    features = []
    for index, name in enumerate(table.columns):
        if index == target_index:
            continue
        column = [row[index] for row in table.rows]
        features.append(Feature(name, "numeric" if _looks_numeric(column) else "categorical"))
    schema = Schema(features, target, task, classes, positive_class, dropped, notes)
    return schema, table


def _check_classes(labels: list[str], target: str, positive_class: str | None) -> tuple[list[str], str | None]:
    counts = Counter(labels)
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
        positive_class = classes[1]
    return classes, positive_class


def _check_regression_target(labels: list[str], target: str) -> None:
    try:
        values = np.array([float(v) for v in labels])
    except ValueError as exc:
        raise InvalidDataset(f"target {target!r} is not numeric, so it cannot be regressed on: {exc}") from exc
    if not np.all(np.isfinite(values)):
        raise InvalidDataset(f"target {target!r} has non-finite values")
    if np.ptp(values) == 0:
        raise InvalidDataset(f"target {target!r} is constant; nothing to learn")


def _infer_task(labels: list[str]) -> Task:
    try:
        values = [float(v) for v in labels]
    except ValueError:
        return "classification"
    distinct = set(values)
    integral = all(v.is_integer() for v in distinct)
    return "classification" if integral and len(distinct) <= MAX_CLASSES_FOR_INFERRED_CLASSIFICATION else "regression"


def _normalise_labels(labels: list[str]) -> list[str]:
    """'1', '1.0' and ' 1' are one class: integral numeric labels are written without a fraction."""
    try:
        values = [float(v) for v in labels]
    except ValueError:
        return labels
    if all(v.is_integer() for v in values):
        return [str(int(v)) for v in values]
    return labels


def feature_matrix(table: Table, schema: Schema) -> np.ndarray:
    """An object matrix in schema order: floats (NaN for missing) and strings (MISSING_CATEGORY)."""
    matrix = np.empty((len(table.rows), len(schema.features)), dtype=object)
    for position, feature in enumerate(schema.features):
        column = table.column(feature.name)
        if feature.kind == "numeric":
            matrix[:, position] = [parse_float(v) for v in column]
        else:
            matrix[:, position] = [MISSING_CATEGORY if is_missing(v) else v.strip() for v in column]
    return matrix


def target_vector(table: Table, schema: Schema) -> np.ndarray:
    column = table.column(schema.target)
    if schema.task == "classification":
        return np.array([v.strip() for v in column], dtype=object)
    return np.array([float(v) for v in column], dtype=float)


def split(
    table: Table, schema: Schema, seed: int, validation_fraction: float, test_fraction: float
) -> dict[str, Table]:
    """Deterministic seeded split into train/validation/test, stratified on the class for classification."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - schema code must not need scikit-learn

    indices = np.arange(len(table.rows))
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
    return {
        "train": table.take(np.sort(train)),
        "validation": table.take(np.sort(validation)),
        "test": table.take(np.sort(test)),
    }


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buffer.getvalue().encode()
