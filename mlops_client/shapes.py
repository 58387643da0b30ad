"""The three shapes `Client.predict` takes and gives back: rows (a list of records), columns (a dict of lists) and a
pandas DataFrame. pandas is never imported here: a DataFrame is recognised by its type's module, and only its own
methods are called."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

ROWS, COLUMNS, FRAME = "rows", "columns", "frame"


def shape_of(data: Any) -> str:
    """Which of the three shapes ``data`` is; TypeError for anything else."""
    if type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "columns") and hasattr(data, "to_dict"):
        return FRAME
    if isinstance(data, Mapping):
        return COLUMNS
    if isinstance(data, Sequence) and not isinstance(data, str | bytes) and all(isinstance(r, Mapping) for r in data):
        return ROWS
    raise TypeError(
        f"predict takes a pandas DataFrame, a list of records or a dict of columns, not {type(data).__name__}"
    )


def plain(value: Any) -> Any:
    """A cell as JSON can carry it: numpy scalars as Python's, NaN/NaT/None as null (missing), datetimes as ISO text."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        if str(value) == "NaT":
            return None
        return value.isoformat()
    return value


_JSON_CELLS = frozenset({int, float, str, bool, type(None)})


def column_values(values: Any) -> list[Any]:
    """One column as a list of plain cells (a list, a tuple, a numpy array or a pandas Series)."""
    cells = values.tolist() if hasattr(values, "tolist") else list(values)
    if all(type(cell) in _JSON_CELLS for cell in cells):  # the usual column: only NaN (the one cell != itself) to map
        return [None if cell != cell else cell for cell in cells]  # noqa: PLR0124 - NaN is the cell unequal to itself
    return [plain(cell) for cell in cells]


def frame_columns(frame: Any) -> dict[str, list[Any]]:
    """A DataFrame's columns as lists (the columnar request: each feature's name once)."""
    return {str(name): column_values(frame[name]) for name in frame.columns}


def rows_count(columns: Mapping[str, Sequence[Any]]) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def slice_columns(columns: Mapping[str, list[Any]], start: int, stop: int) -> dict[str, list[Any]]:
    return {name: values[start:stop] for name, values in columns.items()}


def rows_of_outputs(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A columnar answer as one prediction per row (the shape a row request gets back)."""
    outputs = answer["outputs"]
    by_class = outputs.get("probabilities") or {}
    rows = []
    answered = zip(outputs["inference_id"], outputs["prediction"], strict=True)
    for index, (inference_id, prediction) in enumerate(answered):
        row = {"inference_id": inference_id, "version": answer["version"], "prediction": prediction}
        if by_class:
            row["probabilities"] = {label: values[index] for label, values in by_class.items()}
        rows.append(row)
    return rows


def columns_of_outputs(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Columnar answers (one per request of at most 1,000 rows) as one dict of columns: inference_id, version,
    prediction and, for classifiers, probabilities (class -> list)."""
    merged: dict[str, Any] = {"inference_id": [], "version": [], "prediction": []}
    by_class: dict[str, list[Any]] = {}
    for answer in answers:
        outputs = answer["outputs"]
        merged["inference_id"].extend(outputs["inference_id"])
        merged["prediction"].extend(outputs["prediction"])
        merged["version"].extend([answer["version"]] * len(outputs["prediction"]))
        for label, values in (outputs.get("probabilities") or {}).items():
            by_class.setdefault(str(label), []).extend(values)
    if by_class:
        merged["probabilities"] = by_class
    return merged


def frame_of_outputs(columns: dict[str, Any], index: Any) -> Any:
    """The answer as a DataFrame on the input's index: prediction, probability_<class> per class, version and
    inference_id."""
    import pandas  # noqa: PLC0415 - only a DataFrame argument gets here, so pandas is already imported

    data: dict[str, Any] = {
        key: values
        for key, values in columns.items()
        if key not in ("prediction", "probabilities", "version", "inference_id")
    }  # the id column, first
    data["prediction"] = columns["prediction"]
    for label, values in sorted((columns.get("probabilities") or {}).items()):
        data[f"probability_{label}"] = values
    data["version"] = columns["version"]
    data["inference_id"] = columns["inference_id"]
    return pandas.DataFrame(data, index=index)
