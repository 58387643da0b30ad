"""Tabular datasets: CSV parsing, schema inference, fingerprints, seeded splits and model matrices.

Parsed with the standard library's csv module and numpy rather than pandas: pandas would add ~70 MiB to
every Lambda package and nothing here needs it.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from mlops.data import columns as column_roles
from mlops.data.schema import Feature, FeatureKind, Schema, Task
from mlops.errors import InvalidDataset, InvalidTrainingRequest

MISSING_TOKENS = column_roles.MISSING_TOKENS
# Missing categories become a category of their own: a string the encoder and ONNX converters accept.
MISSING_CATEGORY = "__missing__"
MIN_ROWS = 20
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
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


def is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_TOKENS


def parse_float(value: str) -> float:
    """Parse a cell as a finite float; missing or non-finite cells are NaN."""
    if is_missing(value):
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _parquet_table(payload: bytes) -> Table:
    from mlops.data import reader  # noqa: PLC0415 - Parquet only

    typed = reader.read_dataset(payload)
    cells = []
    for column in typed.columns:
        if isinstance(column, reader.NumericColumn):
            cells.append(["" if np.isnan(v) else repr(v) for v in column.values.tolist()])
        else:
            cells.append(column.strings("").tolist())
    return Table(_check_header(typed.names), [list(row) for row in zip(*cells, strict=True)])


UNNAMED_INDEX = "Unnamed: 0"


def _check_header(record: list[str]) -> list[str]:
    header = [name.strip() for name in record]
    if len(header) < 2:
        raise InvalidDataset(
            "the dataset needs a header with at least two columns (features and a target); "
            f"found {len(header)} — is it comma-separated?"
        )
    if not header[0] and UNNAMED_INDEX not in header:
        # pandas' DataFrame.to_csv() writes the index as a first column without a name; name it as pandas reads it
        # back, and let the column roles decide (a row index is excluded as an identifier).
        header[0] = UNNAMED_INDEX
    if any(not name for name in header):
        raise InvalidDataset(f"column {header.index('') + 1} of the header has no name")
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise InvalidDataset(f"duplicate column names: {', '.join(duplicates)}")
    return header


def _decompressed(payload: bytes) -> bytes:
    if payload[:2] != GZIP_MAGIC:
        return payload
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError) as exc:
        raise InvalidDataset(f"the dataset looks gzip-compressed but cannot be decompressed: {exc}") from exc


def parse_csv(payload: bytes) -> Table:
    """A CSV object (plain, or gzip detected by its magic bytes; Parquet where pyarrow is installed) as a Table."""
    payload = _decompressed(payload)
    if payload[:4] == PARQUET_MAGIC:
        return _parquet_table(payload)
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


def infer_schema(
    table: Table,
    target: str,
    task: Task | None = None,
    positive_class: str | None = None,
    roles: column_roles.ColumnRoles | None = None,
) -> tuple[Schema, Table]:
    """Infer column roles, feature kinds and the task; return the schema and the table without
    missing-target rows."""
    if target not in table.columns:
        raise InvalidDataset(f"target column {target!r} is not in the dataset; columns: {', '.join(table.columns)}")
    roles = roles or column_roles.ColumnRoles()
    check_roles(roles, table.columns, target)
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

    try:
        decisions = column_roles.decide_roles(
            table.columns, [table.column(name) for name in table.columns], target, roles
        )
    except ValueError as exc:
        raise InvalidDataset(str(exc)) from exc
    features, columns = _features_of(decisions, task)
    if not features:
        reasons = "; ".join(f"{name}: {c['reason']}" for name, c in columns.items() if c["role"] != "target")
        raise InvalidDataset(f"no column is left to learn from ({reasons})")
    schema = Schema(features, target, task, classes, positive_class, dropped, notes, columns)
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
            kind: FeatureKind = "categorical" if decision.kind == "categorical" else "numeric"
            categories = list(decision.categories) if decision.categories is not None else None
            features.append(Feature(decision.name, kind, categories=categories))
        elif decision.role == "datetime":
            features.extend(
                Feature(column_roles.derived_name(decision.name, part), "numeric", source=decision.name, part=part)
                for part in decision.parts or ()
            )
    return features, columns


def check_roles(roles: column_roles.ColumnRoles, header: list[str], target: str) -> None:
    """Column names in the request must be in the header, and the target cannot be an input."""
    known = set(header)
    named = {
        "features": list(roles.features or ()),
        "exclude": list(roles.exclude),
        "id_columns": list(roles.id_columns),
        "datetime_columns": list(roles.datetime_columns),
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
    """An object matrix in schema order: floats (NaN for missing) and strings (MISSING_CATEGORY; pooled
    categories as columns.OTHER_CATEGORY); datetime parts derived from their source column."""
    matrix = np.empty((len(table.rows), len(schema.features)), dtype=object)
    derived: dict[str, np.ndarray] = {}
    for position, feature in enumerate(schema.features):
        if feature.source is not None:
            source = schema.columns[feature.source]
            if feature.source not in derived:
                derived[feature.source] = column_roles.datetime_parts(
                    table.column(feature.source), source["parts"], source["epoch"]
                )
            matrix[:, position] = derived[feature.source][:, source["parts"].index(feature.part)]
            continue
        column = table.column(feature.name)
        if feature.kind == "numeric":
            matrix[:, position] = [parse_float(v) for v in column]
        else:
            kept = frozenset(feature.categories) if feature.categories is not None else None
            matrix[:, position] = [
                column_roles.pool_category(MISSING_CATEGORY if is_missing(v) else v.strip(), kept, MISSING_CATEGORY)
                for v in column
            ]
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


def matrices_npz(table: Table, schema: Schema) -> bytes:
    """A split as typed arrays (features f<i> in schema order, then the target), so the steps after Prepare load
    it without parsing CSV. No pickles: numbers are float64, categories and labels unicode arrays."""
    features = feature_matrix(table, schema)
    arrays = {
        f"f{i}": features[:, i].astype(np.float64 if feature.kind == "numeric" else np.str_)
        for i, feature in enumerate(schema.features)
    }
    target = target_vector(table, schema)
    arrays["target"] = target.astype(np.str_) if schema.task == "classification" else target
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_matrices(payload: bytes, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    """The (object feature matrix, target) matrices_npz wrote: the same values feature_matrix gives."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
        target = arrays["target"]
        matrix = np.empty((len(target), len(schema.features)), dtype=object)
        for i in range(len(schema.features)):
            matrix[:, i] = arrays[f"f{i}"].tolist()
        labels = np.array(target.tolist(), dtype=object) if schema.task == "classification" else target
    return matrix, labels
