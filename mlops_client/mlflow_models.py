"""An MLflow model directory (what ``mlflow.sklearn.log_model``/``save_model`` writes), read in the caller's own
process and checked against the dataset before anything is uploaded.

The directory's ``MLmodel`` file (YAML) names the ``sklearn`` flavor's file and its ``serialization_format``,
the ``signature`` (input columns with their MLflow types) and the saved input example. MLflow's default format
outside Databricks is ``skops`` (MLflow 3): its ``model.skops`` is sent as it is, never loaded here or on the
platform by anything but skops with the platform's allow-list. A ``pickle`` or ``cloudpickle`` model can only be
read by unpickling it, which runs whatever code the file holds; that happens only in this process, only with
``allow_pickle=True`` (for a directory you logged yourself), and the model is then sent as skops. Nothing of the
directory is ever executed on the platform.

The signature is compared with the dataset's columns as the platform reads them (its header and the first rows
of the file, fetched by a ranged presigned GET): the platform passes every column but the target to the model,
in file order, numbers as numbers and text as text. Any difference is a ``SchemaMismatch`` naming the columns,
raised before the upload, so a model that could not take the dataset never starts a run.
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_client.errors import ConfigurationError, SchemaMismatch

NUMERIC_TYPES = frozenset({"double", "float", "long", "integer"})
SIGNATURE_TYPES = NUMERIC_TYPES | {"string", "boolean"}
PICKLE_FORMATS = frozenset({"pickle", "cloudpickle"})
SAMPLE_BYTES = 256 * 1024  # the start of the dataset read for its header and sample rows
MISSING = frozenset({"", "na", "nan", "null", "none", "n/a"})
BOOLEAN_VALUES = frozenset({"true", "false", "0", "1"})


@dataclass(frozen=True)
class MlflowModel:
    """What the directory says: the model file and format, the signature's inputs, the input example's rows."""

    path: Path
    model_file: Path
    serialization_format: str
    inputs: list[tuple[str, str]]  # (column, MLflow type), in the signature's order
    example_rows: list[dict[str, Any]] = field(default_factory=list)
    mlflow_version: str | None = None
    sklearn_version: str | None = None


def read_directory(path: str | Path) -> MlflowModel:
    """Read an MLflow model directory's ``MLmodel``, signature and input example (nothing is loaded)."""
    try:
        import yaml  # noqa: PLC0415 - optional: only an MLflow directory needs it (MLflow itself depends on it)
    except ImportError as exc:
        raise ConfigurationError("reading an MLflow model directory needs PyYAML (pip install pyyaml)") from exc
    directory = Path(path)
    mlmodel_file = directory / "MLmodel"
    if not mlmodel_file.is_file():
        raise ConfigurationError(f"{directory} is not an MLflow model directory: it has no MLmodel file")
    mlmodel = yaml.safe_load(mlmodel_file.read_text()) or {}
    flavor = (mlmodel.get("flavors") or {}).get("sklearn")
    if not isinstance(flavor, dict):
        flavors = sorted((mlmodel.get("flavors") or {}).keys())
        raise ConfigurationError(f"{directory}'s MLmodel has no sklearn flavor (flavors: {', '.join(flavors)})")
    signature = mlmodel.get("signature") or {}
    if not signature.get("inputs"):
        raise ConfigurationError(f"{directory}'s MLmodel has no signature: log the model with signature=...")
    inputs = [(str(spec.get("name")), str(spec.get("type"))) for spec in json.loads(signature["inputs"])]
    return MlflowModel(
        path=directory,
        model_file=directory / str(flavor.get("pickled_model", "model.pkl")),
        serialization_format=str(flavor.get("serialization_format", "cloudpickle")),
        inputs=inputs,
        example_rows=_example_rows(directory, mlmodel.get("saved_input_example_info") or {}),
        mlflow_version=mlmodel.get("mlflow_version"),
        sklearn_version=flavor.get("sklearn_version"),
    )


def _example_rows(directory: Path, info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The saved input example as rows by column (MLflow writes a DataFrame as ``split`` or ``records`` JSON)."""
    example_file = directory / str(info.get("artifact_path", ""))
    if not info.get("artifact_path") or not example_file.is_file() or info.get("type") != "dataframe":
        return []
    document = json.loads(example_file.read_text())
    if isinstance(document, dict) and "columns" in document and "data" in document:
        return [dict(zip(document["columns"], row, strict=True)) for row in document["data"]]
    if isinstance(document, list) and all(isinstance(row, dict) for row in document):
        return document
    return []


def skops_payload(model: MlflowModel, *, allow_pickle: bool = False) -> bytes:
    """The model as skops bytes: the directory's own skops file, or a pickle read here (``allow_pickle``) and
    written as skops."""
    if model.serialization_format == "skops":
        return model.model_file.read_bytes()
    if model.serialization_format not in PICKLE_FORMATS:
        raise ConfigurationError(f"the MLflow model's serialization format {model.serialization_format!r} is unknown")
    if not allow_pickle:
        raise ConfigurationError(
            f"{model.path} holds a {model.serialization_format} model: reading it runs the code the file holds, in "
            "this process. Pass allow_pickle=True only for a directory you logged yourself, or log it with "
            "serialization_format='skops'"
        )
    import pickle  # noqa: PLC0415 - the caller's own file, read in the caller's own process, at the caller's request

    with model.model_file.open("rb") as source:
        fitted = pickle.load(source)  # noqa: S301 - see the docstring: only with allow_pickle, never on the platform
    import skops.io  # noqa: PLC0415

    return skops.io.dumps(fitted)


# ---- the signature against the dataset ------------------------------------------------------------------------------
def dataset_sample(head: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the complete rows of the first bytes of a CSV (gzip or not)."""
    if head[:2] == b"\x1f\x8b":
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
    text = head.decode("utf-8-sig", "replace")
    if len(head) >= SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n")]  # the last line may be cut
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SchemaMismatch("the dataset is empty: no header to compare the signature with", {})
    return [name.strip() for name in rows[0]], [row for row in rows[1:] if row]


def check_signature(inputs: list[tuple[str, str]], header: list[str], rows: list[list[str]], target: str) -> None:
    """SchemaMismatch naming every column where the signature and the dataset differ."""
    if target not in header:
        raise SchemaMismatch(f"the target {target!r} is not a column of the dataset ({', '.join(header)})", {})
    features = [name for name in header if name != target]
    problems: dict[str, str] = {}
    for name, kind in inputs:
        if kind not in SIGNATURE_TYPES:
            problems[name] = f"the signature's type {kind!r} is not a tabular column type"
        elif name not in header:
            problems[name] = "in the model's signature, not in the dataset"
        elif name == target:
            problems[name] = "the model takes the dataset's target as an input"
        else:
            found = _value_problem(kind, [row[header.index(name)] for row in rows if len(row) == len(header)])
            if found:
                problems[name] = found
    signed = {name for name, _ in inputs}
    for name in features:
        if name not in signed:
            problems[name] = "in the dataset, not in the model's signature (the platform passes every feature column)"
    if not problems and [name for name, _ in inputs] != features:
        problems = {"(order)": f"the signature's columns are {[n for n, _ in inputs]}; the dataset's are {features}"}
    if problems:
        listed = "; ".join(f"{name}: {why}" for name, why in problems.items())
        raise SchemaMismatch(f"the model's signature does not match the dataset: {listed}", problems)


def _value_problem(kind: str, values: list[str]) -> str | None:
    present = [value for value in values if value.strip().lower() not in MISSING]
    if not present:
        return None
    if kind in NUMERIC_TYPES:
        text = [value for value in present if not _is_number(value)]
        return f"the signature says {kind}; the dataset holds text (e.g. {text[0]!r})" if text else None
    if kind == "boolean":
        other = [value for value in present if value.strip().lower() not in BOOLEAN_VALUES]
        return f"the signature says boolean; the dataset holds {other[0]!r}" if other else None
    if all(_is_number(value) for value in present):
        return f"the signature says string; the dataset's values are numbers (e.g. {present[0]!r}), read as numbers"
    return None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
