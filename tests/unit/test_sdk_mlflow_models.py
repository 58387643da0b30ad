"""An MLflow model directory read by the SDK: its MLmodel, signature and input example, the signature checked against
a dataset's header and first rows (every mismatched column named), and a pickle never read unless asked."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pytest

from mlops_client import ConfigurationError, SchemaMismatch
from mlops_client.mlflow_models import SAMPLE_BYTES, check_signature, dataset_sample, read_directory, skops_payload

SIGNED = [("age", "long"), ("income", "double"), ("plan", "string"), ("active", "boolean")]
HEADER = ["age", "income", "plan", "active", "churned"]
ROWS = [["31", "52000.5", "basic", "true", "no"], ["", "61000", "plus", "0", "yes"]]


def write_directory(path: Path, serialization_format: str = "skops", model_file: str = "model.skops") -> Path:
    """An MLflow sklearn directory as MLflow's format documents it (MLmodel YAML, a split-orient input example)."""
    path.mkdir()
    inputs = json.dumps([{"type": kind, "name": name, "required": True} for name, kind in SIGNED])
    (path / "MLmodel").write_text(
        "flavors:\n"
        "  sklearn:\n"
        f"    pickled_model: {model_file}\n"
        f"    serialization_format: {serialization_format}\n"
        "    sklearn_version: 1.9.1\n"
        "mlflow_version: 3.18.0\n"
        "saved_input_example_info:\n"
        "  artifact_path: input_example.json\n"
        "  pandas_orient: split\n"
        "  type: dataframe\n"
        "signature:\n"
        f"  inputs: '{inputs}'\n"
    )
    example = {"columns": [name for name, _ in SIGNED], "data": [[31, 52000.5, "basic", True]]}
    (path / "input_example.json").write_text(json.dumps(example))
    (path / model_file).write_bytes(b"PK-skops-bytes" if serialization_format == "skops" else pickle.dumps({"a": 1}))
    return path


def test_the_directory_is_read_without_loading_the_model(tmp_path):
    model = read_directory(write_directory(tmp_path / "m"))

    assert model.inputs == SIGNED and model.serialization_format == "skops"
    assert model.example_rows == [{"age": 31, "income": 52000.5, "plan": "basic", "active": True}]
    assert skops_payload(model) == b"PK-skops-bytes"  # sent as it is


def test_a_pickled_model_is_read_only_when_the_caller_allows_it(tmp_path):
    model = read_directory(write_directory(tmp_path / "m", "cloudpickle", "model.pkl"))

    with pytest.raises(ConfigurationError, match="allow_pickle=True"):
        skops_payload(model)
    assert skops_payload(model, allow_pickle=True)[:2] == b"PK"  # re-serialised as a skops zip


def test_a_directory_without_mlmodel_or_signature_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="no MLmodel"):
        read_directory(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors:\n  sklearn:\n    pickled_model: model.skops\n")
    with pytest.raises(ConfigurationError, match="no signature"):
        read_directory(tmp_path)


def test_a_matching_signature_passes():
    check_signature(SIGNED, HEADER, ROWS, "churned")


def test_every_mismatched_column_is_named():
    header = ["age", "salary", "plan", "active", "churned"]
    rows = [["31", "52000", "7", "maybe", "no"], ["forty", "61000", "3", "1", "yes"]]

    with pytest.raises(SchemaMismatch) as refused:
        check_signature(SIGNED, header, rows, "churned")

    columns = refused.value.columns
    assert set(columns) == {"age", "income", "salary", "plan", "active"}
    assert "'forty'" in columns["age"] and "not in the dataset" in columns["income"]
    assert "not in the model's signature" in columns["salary"] and "numbers" in columns["plan"]
    assert "'maybe'" in columns["active"]


def test_the_same_columns_in_another_order_are_refused():
    with pytest.raises(SchemaMismatch, match="order"):
        check_signature(list(reversed(SIGNED)), HEADER, ROWS, "churned")


def test_a_target_the_dataset_lacks_is_refused():
    with pytest.raises(SchemaMismatch, match="'label' is not a column"):
        check_signature(SIGNED, HEADER, ROWS, "label")


def test_the_sample_drops_a_cut_last_line_and_reads_gzip():
    lines = "a,b\n" + "".join(f"{i},text {i}\n" for i in range(40_000))
    head = lines.encode()[:SAMPLE_BYTES]

    header, rows = dataset_sample(head)
    assert header == ["a", "b"] and all(len(row) == 2 for row in rows)
    assert rows[-1] == lines.splitlines()[len(rows)].split(",")  # the last complete line, not a cut one
    assert dataset_sample(gzip.compress(b"x,y\n1,2\n")) == (["x", "y"], [["1", "2"]])
