"""An external model's run reads its string columns as written: free text goes to its own pipeline as the raw strings
and a many-valued category is not pooled; a run of the platform's own candidates makes the text a TF-IDF `text`
feature and pools the category."""

from __future__ import annotations

import io

import numpy as np

from mlops.data import dataset
from mlops.records.request import ColumnRoles


def table_csv(rows: int = 300) -> bytes:
    rng = np.random.default_rng(4)
    lines = ["note,city,label"]
    for i in range(rows):
        words = " ".join(rng.choice(["late", "on", "time", "box", "was", "fine", "torn"], 8))
        lines.append(f"{words} {i},city-{rng.integers(0, 120)},{rng.choice(['a', 'b'])}")
    return ("\n".join(lines) + "\n").encode()


def test_free_text_is_a_feature_and_nothing_is_pooled_only_for_an_external_model():
    table = dataset.read_table(io.BytesIO(table_csv()))

    own, _ = dataset.infer_schema(table, "label")
    external, external_table = dataset.infer_schema(table, "label", roles=ColumnRoles(strings_as_written=True))

    assert [(f.name, f.kind) for f in own.features] == [("note", "text"), ("city", "categorical")]
    assert own.features[1].categories is not None  # 120 cities: pooled to the most frequent
    assert [(f.name, f.kind, f.categories) for f in external.features] == [
        ("note", "categorical", None),
        ("city", "categorical", None),
    ]
    assert "passed as written" in external.columns["note"]["reason"]
    matrix = dataset.feature_matrix(external_table, external)
    assert matrix[0, 0] == table_csv().decode().splitlines()[1].split(",")[0]  # the text itself, not a pooled token
