"""A caller's own model: skops bytes loaded only when every type they name is one of scikit-learn's own classes."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sklearn.base
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OneHotEncoder, PolynomialFeatures

from mlops.data.dataset import Schema
from mlops.errors import ArtifactIntegrityError, InvalidTrainingRequest, LibraryVersionMismatch, UntrustedModelType
from mlops.records.schema import Feature
from mlops.storage.objects import sha256_hex
from mlops.training import external, model_types


def custom_pipeline(width: int = 3) -> Pipeline:
    """A caller's feature engineering: binned and polynomial numbers, one-hot categories, by column position."""
    rng = np.random.default_rng(0)
    features = np.empty((120, width), dtype=object)
    for column in range(width - 1):
        features[:, column] = rng.normal(size=120)
    features[:, width - 1] = rng.choice(["red", "blue"], 120)
    labels = np.where(features[:, 0].astype(float) > 0, "yes", "no")
    numbers = Pipeline(
        [
            ("bins", KBinsDiscretizer(n_bins=3, encode="onehot-dense", quantile_method="averaged_inverted_cdf")),
            ("poly", PolynomialFeatures(2)),
        ]
    )
    columns = ColumnTransformer(
        [("numbers", numbers, list(range(width - 1))), ("colour", OneHotEncoder(handle_unknown="ignore"), [width - 1])]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=500))]).fit(features, labels)


class WritesSentinel:
    """A crafted object: rebuilding it writes a file (what a hostile artifact would do on load)."""

    path = ""

    def __setstate__(self, state: dict) -> None:
        Path(state["path"]).write_text("ran")


def test_a_pipeline_of_scikit_learn_classes_loads_and_predicts_as_fitted():
    model = custom_pipeline()
    payload = skops.io.dumps(model)

    loaded = external.load(payload, sha256_hex(payload))

    rows = np.array([[0.5, -1.0, "red"], [-2.0, 0.3, "blue"]], dtype=object)
    assert loaded.predict(rows).tolist() == model.predict(rows).tolist()
    assert external.declared_libraries(payload)["skops"] == skops.__version__


def test_a_function_transformer_of_os_system_is_refused_with_its_types_named():
    payload = skops.io.dumps(Pipeline([("run", FunctionTransformer(os.system)), ("model", LogisticRegression())]))

    with pytest.raises(UntrustedModelType) as refused:
        external.load(payload, sha256_hex(payload))

    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" in str(refused.value)
    assert "posix.system" in str(refused.value)


def test_a_crafted_object_is_refused_before_it_is_built(tmp_path: Path):
    sentinel = tmp_path / "sentinel"
    hostile = WritesSentinel()
    hostile.path = str(sentinel)
    payload = skops.io.dumps({"model": hostile})
    crafted_type = f"{WritesSentinel.__module__}.WritesSentinel"

    with pytest.raises(UntrustedModelType, match=crafted_type):
        external.load(payload, sha256_hex(payload))
    assert not sentinel.exists()

    # the guard is what stops it: trusted, the same bytes do run the object's code
    skops.io.loads(payload, trusted=skops.io.get_untrusted_types(data=payload))
    assert sentinel.read_text() == "ran"


def test_a_type_hidden_deep_in_the_schema_is_found():
    payload = skops.io.dumps(custom_pipeline())
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["content"]["hidden"] = {"__class__": "system", "__module__": "os", "__loader__": "TypeNode"}
    members["schema.json"] = json.dumps(schema).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)

    with pytest.raises(UntrustedModelType, match=r"os\.system"):
        model_types.refuse_untrusted(buffer.getvalue())


def test_bytes_that_are_not_a_skops_file_are_refused():
    with pytest.raises(UntrustedModelType, match="not a skops file"):
        model_types.refuse_untrusted(b"\x80\x04not a zip")


def test_a_digest_mismatch_is_refused_before_the_types_are_read():
    payload = skops.io.dumps(custom_pipeline())
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        external.load(payload, "0" * 64)


def test_a_model_fitted_by_another_scikit_learn_is_refused(monkeypatch: pytest.MonkeyPatch):
    model = custom_pipeline()
    monkeypatch.setattr(sklearn.base, "__version__", "0.24.2")  # what each estimator's saved state records
    payload = skops.io.dumps(model)
    monkeypatch.undo()
    with pytest.raises(LibraryVersionMismatch, match="0.24.2"):
        external.load(payload, sha256_hex(payload))


def test_the_written_out_allow_list_is_what_the_pinned_scikit_learn_lists():
    from sklearn.utils import all_estimators  # noqa: PLC0415

    listed = {
        f"{cls.__module__}.{cls.__qualname__}"
        for name, cls in all_estimators()
        if name not in model_types.REFUSED_ESTIMATORS
    }
    written = {f"{module}.{name}" for module, names in model_types.ESTIMATOR_TYPES.items() for name in names}
    assert written == listed


def test_the_allow_list_has_scikit_learns_estimators_and_never_function_transformer():
    allowed = model_types.ALLOWED_TYPES
    assert "sklearn.pipeline.Pipeline" in allowed
    assert "sklearn.feature_extraction.text.TfidfVectorizer" in allowed
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" not in allowed
    assert not any(name.startswith(("os.", "posix.", "subprocess.", "builtins.eval")) for name in allowed)


def schema_of(names: list[str]) -> Schema:
    kinds = ["numeric"] * (len(names) - 1) + ["categorical"]
    return Schema([Feature(name, kind) for name, kind in zip(names, kinds, strict=True)], "label", "classification")


def test_the_model_must_take_the_datasets_features_in_order():
    model = custom_pipeline()
    external.check_features(model, schema_of(["a", "b", "colour"]))  # no names: the width is what counts

    with pytest.raises(InvalidTrainingRequest, match="takes 3 features"):
        external.check_features(model, schema_of(["a", "colour"]))
    model.steps[0][1].feature_names_in_ = np.array(["b", "a", "colour"], dtype=object)  # fitted on named columns
    with pytest.raises(InvalidTrainingRequest, match="same names, same order"):
        external.check_features(model, schema_of(["a", "b", "colour"]))


def test_a_passthrough_column_is_refused_because_scikit_learn_fits_it_as_a_function_transformer():
    columns = ColumnTransformer([("numbers", "passthrough", [0, 1]), ("colour", OneHotEncoder(), [2])])
    features = np.array([[0.1, 1.0, "red"], [0.2, 2.0, "blue"]], dtype=object)
    model = Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(features, ["no", "yes"])
    payload = skops.io.dumps(model)

    with pytest.raises(UntrustedModelType, match="FunctionTransformer"):
        external.load(payload, sha256_hex(payload))


def test_a_classifier_fitted_on_numeric_labels_answers_the_datasets_text_labels():
    # Given a model fitted on labels read as numbers (pandas reads a 0/1 column as integers) and the platform's
    # schema, whose classes are the same labels as text
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = Pipeline([("model", LogisticRegression())]).fit(features, [0, 0, 1, 1])
    schema = Schema([Feature("x", "numeric")], "label", "classification", classes=["0", "1"])
    # When its labels are aligned; Then it predicts the text labels the holdout holds, with the same decisions
    aligned = external.align_labels(model, schema)
    assert aligned.predict(features).tolist() == ["0", "0", "1", "1"]
    # And a model whose classes are not the dataset's is refused, both named
    other = Schema([Feature("x", "numeric")], "label", "classification", classes=["no", "yes"])
    with pytest.raises(InvalidTrainingRequest, match=r"classes are \['0', '1'\]; the dataset's are \['no', 'yes'\]"):
        external.align_labels(Pipeline([("model", LogisticRegression())]).fit(features, [0, 0, 1, 1]), other)
