"""Column roles on generated tables with the traits real tables have: names, row indexes, dates, free text."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mlops.data import columns, dataset, reader, typed_table
from mlops.data.columns import OTHER_CATEGORY, ColumnRoles
from mlops.data.dataset import Table
from mlops.errors import InvalidDataset, InvalidTrainingRequest
from mlops.serving.validation import InvalidInstances, validate_instances
from tests.factories import table_from_rows

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen", "Backus"]
WORDS = [
    "the",
    "customer",
    "said",
    "delivery",
    "was",
    "late",
    "again",
    "and",
    "the",
    "box",
    "arrived",
    "damaged",
    "but",
    "support",
    "helped",
    "quickly",
]


def _profile(name: str, values: list[str]) -> columns.ColumnProfile:
    """A column's role profile, read as a CSV column would be."""
    table = table_from_rows([name, "other"], [[value, "0"] for value in values])
    return reader.profile(table.column(name))[0]


def _table(rows: int, seed: int = 0) -> Table:
    """Every trait at once: a unique full name, a row index, a timestamp, free text, a wide categorical,
    a constant, an empty column, two real features and a 1:9 label driven by them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    city = [f"city-{int(v)}" for v in rng.zipf(1.3, size=rows) % 5000]
    label = np.where(x + (colour == "red") > 1.2, "yes", "no")
    header = ["name", "row", "signed_up", "comment", "city", "constant", "empty", "x", "colour", "label"]
    body = []
    for i in range(rows):
        name = f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {i}"
        moment = np.datetime64("2021-01-01T00:00") + np.timedelta64(int(rng.integers(0, 3 * 365 * 24 * 60)), "m")
        comment = " ".join(rng.choice(WORDS, size=8)) + f" #{i}"
        body.append(
            [name, str(i), str(moment).replace("T", " "), comment, city[i], "7", "", f"{x[i]:.4f}", colour[i], label[i]]
        )
    return table_from_rows(header, body)


def test_identifiers_text_and_dates_get_roles_with_reasons():
    schema, _ = dataset.infer_schema(_table(600), "label")

    roles = {name: (c["role"], c["kind"]) for name, c in schema.columns.items()}
    assert roles == {
        "name": ("id", "identifier"),
        "row": ("id", "identifier"),
        "signed_up": ("datetime", "datetime"),
        "comment": ("feature", "text"),
        "city": ("feature", "categorical"),
        "constant": ("feature", "numeric"),
        "empty": ("feature", "empty"),
        "x": ("feature", "numeric"),
        "colour": ("feature", "categorical"),
        "label": ("target", "categorical"),
    }
    assert all(c["reason"] for c in schema.columns.values())
    assert "unique per row" in schema.columns["name"]["reason"]
    assert "free text" in schema.columns["comment"]["reason"]
    assert schema.columns["signed_up"]["parts"] == ["year", "month", "day_of_week", "hour", "elapsed_days"]
    assert schema.columns["signed_up"]["epoch"].startswith("2021-01-0")
    names = [f.name for f in schema.features]
    assert names == [
        "signed_up__year",
        "signed_up__month",
        "signed_up__day_of_week",
        "signed_up__hour",
        "signed_up__elapsed_days",
        "comment",
        "city",
        "constant",
        "empty",
        "x",
        "colour",
    ]
    assert schema.input_columns == ["signed_up", "comment", "city", "constant", "empty", "x", "colour"]


def test_a_wide_categorical_keeps_its_most_frequent_values_and_pools_the_rest():
    table = _table(3000)
    schema, kept = dataset.infer_schema(table, "label")

    city = next(f for f in schema.features if f.name == "city")
    distinct = len(table.column("city").categories)
    assert distinct > 200
    assert city.categories is not None
    assert 0 < len(city.categories) <= columns.MAX_CATEGORIES
    matrix = dataset.feature_matrix(kept, schema)
    encoded = set(matrix[:, schema.features.index(city)])
    assert encoded == set(city.categories) | {OTHER_CATEGORY}
    assert f"{distinct} distinct values" in schema.columns["city"]["reason"]


def test_datetime_parts_are_derived_as_numbers():
    values = ["2024-03-15", "2024-03-16T13:45:00", "2024-03-17T23:00:00+02:00", "", "not a date"]

    parts = columns.datetime_parts(values, ["year", "month", "day_of_week", "hour", "elapsed_days"], "2024-03-15")

    np.testing.assert_array_equal(parts[0], [2024, 3, 4, 0, 0.0])  # a Friday
    np.testing.assert_allclose(parts[1], [2024, 3, 5, 13, 1 + 13.75 / 24])
    np.testing.assert_allclose(parts[2], [2024, 3, 6, 21, 2 + 21 / 24])  # converted to UTC
    assert np.isnan(parts[3]).all() and np.isnan(parts[4]).all()


def test_an_integer_index_sorted_by_a_regression_target_is_excluded():
    rng = np.random.default_rng(3)
    target = np.sort(rng.uniform(10_000, 90_000, size=400))
    noise = rng.normal(size=400)
    table = table_from_rows(
        ["index", "noise", "price"], [[str(i + 1), f"{noise[i]:.3f}", f"{target[i]:.2f}"] for i in range(400)]
    )

    schema, _ = dataset.infer_schema(table, "price")

    assert schema.task == "regression"
    assert schema.columns["index"]["role"] == "id"
    assert [f.name for f in schema.features] == ["noise"]


def test_a_monotonic_integer_with_repeats_is_a_row_index_but_a_shuffled_one_is_a_feature():
    sorted_column = [str(i // 2) for i in range(100)]
    shuffled = list(np.random.default_rng(0).permutation(sorted_column))

    assert columns.infer_role(_profile("i", sorted_column), None).role == "id"
    assert columns.infer_role(_profile("i", shuffled), None).role == "feature"


def test_small_integers_and_repeated_strings_stay_features():
    rng = np.random.default_rng(1)
    ages = [str(v) for v in rng.integers(18, 90, size=300)]
    plans = list(rng.choice(["free", "pro", "team"], size=300))

    assert columns.infer_role(_profile("age", ages), None) == columns.ColumnDecision(
        "age", "feature", "numeric", "numeric"
    )
    assert columns.infer_role(_profile("plan", plans), None).kind == "categorical"


def test_the_request_can_name_features_identifiers_and_dates():
    table = _table(200)

    schema, _ = dataset.infer_schema(table, "label", roles=ColumnRoles(features=("x", "colour", "row")))
    assert [f.name for f in schema.features] == ["row", "x", "colour"]  # named, so kept despite looking like an id
    assert schema.columns["name"] == {
        "role": "excluded",
        "kind": "categorical",
        "reason": "not in the request's features",
    }

    schema, _ = dataset.infer_schema(table, "label", roles=ColumnRoles(exclude=("colour",), id_columns=("x",)))
    assert schema.columns["colour"]["role"] == "excluded" and schema.columns["x"]["role"] == "id"
    assert {"x", "colour"}.isdisjoint(f.name for f in schema.features)


def test_unknown_column_names_in_the_request_are_named():
    with pytest.raises(InvalidTrainingRequest, match=r"features names unknown column\(s\) 'nope', 'nada'"):
        dataset.infer_schema(_table(50), "label", roles=ColumnRoles(features=("x", "nope", "nada")))
    with pytest.raises(InvalidTrainingRequest, match=r"id_columns names the target 'label'"):
        dataset.infer_schema(_table(50), "label", roles=ColumnRoles(id_columns=("label",)))


def test_a_column_named_a_datetime_must_hold_dates():
    with pytest.raises(InvalidDataset, match=r"'colour' is named a datetime column but only 0% of its values"):
        dataset.infer_schema(_table(50), "label", roles=ColumnRoles(datetime_columns=("colour",)))


def test_a_table_of_identifiers_only_is_refused_with_the_reasons():
    table = table_from_rows(["id", "label"], [[str(i), "ab"[i % 2]] for i in range(40)])
    with pytest.raises(InvalidDataset, match=r"no column is left to learn from \(id: integer unique per row"):
        dataset.infer_schema(table, "label")


def test_a_schema_with_roles_survives_its_json_round_trip():
    schema, _ = dataset.infer_schema(_table(300), "label")

    document = schema.to_dict()

    assert dataset.Schema.from_dict(document) == schema
    assert "source" not in document["features"][-1]  # plain features carry no empty derived fields
    assert document["features"][0] == {
        "name": "signed_up__year",
        "kind": "numeric",
        "source": "signed_up",
        "part": "year",
    }


def test_serving_ignores_excluded_columns_and_derives_dates_like_training():
    table = _table(300)
    schema, kept = dataset.infer_schema(table, "label")
    trained = dataset.feature_matrix(kept, schema)
    labels = dataset.target_vector(kept, schema)

    records = []
    for row in range(5):
        record = dataset.input_record(kept, schema, row)
        assert {"name", "row", "comment"} <= set(record)  # excluded columns a caller would still send
        records.append({**record, "label": labels[row]})  # and even the label

    served = validate_instances(records, schema)

    for position, feature in enumerate(schema.features):
        expected = trained[:5, position]
        if feature.kind == "numeric":
            np.testing.assert_allclose(served[position].ravel(), expected.astype(float), equal_nan=True)
        else:
            assert served[position].ravel().tolist() == expected.tolist()


def test_serving_still_refuses_unknown_columns_and_bad_dates():
    schema, kept = dataset.infer_schema(_table(100), "label")
    record = dataset.input_record(kept, schema, 0)

    with pytest.raises(InvalidInstances, match=r"row 0: unknown feature\(s\) 'surprise'"):
        validate_instances([{**record, "surprise": 1}], schema)
    with pytest.raises(InvalidInstances, match=r"row 0: feature 'signed_up' is not an ISO date"):
        validate_instances([{**record, "signed_up": "yesterday"}], schema)
    with pytest.raises(InvalidInstances, match=r"row 0: missing feature\(s\) 'signed_up'"):
        validate_instances([{k: v for k, v in record.items() if k != "signed_up"}], schema)
    rare = validate_instances([{**record, "city": "a city never seen"}], schema)
    assert rare[schema.features.index(next(f for f in schema.features if f.name == "city"))][0, 0] == OTHER_CATEGORY


def test_a_split_stored_as_npz_loads_back_the_same_table_and_matrices():
    schema, kept = dataset.infer_schema(_table(300), "label")

    buffer = io.BytesIO()
    typed_table.write_npz(kept, buffer)
    loaded = typed_table.from_npz(buffer.getvalue())

    assert loaded == kept and loaded.names == kept.names
    features, expected = dataset.feature_matrix(loaded, schema), dataset.feature_matrix(kept, schema)
    assert features.dtype == object and features.shape == expected.shape
    for position, feature in enumerate(schema.features):
        if feature.kind == "numeric":
            np.testing.assert_array_equal(features[:, position].astype(float), expected[:, position].astype(float))
        else:
            assert features[:, position].tolist() == expected[:, position].tolist()
    assert dataset.target_vector(loaded, schema).tolist() == dataset.target_vector(kept, schema).tolist()


def test_a_gzip_csv_parses_like_the_plain_one_and_parquet_needs_pyarrow():
    import gzip  # noqa: PLC0415

    plain = dataset.to_csv(_table(50))

    assert dataset.read_table(gzip.compress(plain)) == dataset.read_table(plain)
    with pytest.raises(InvalidDataset, match=r"cannot be decompressed"):
        dataset.read_table(gzip.compress(plain)[:40])
    try:
        import pyarrow  # noqa: F401, PLC0415
    except ImportError:
        with pytest.raises(InvalidDataset, match=r"Parquet file, but this deployment has no pyarrow"):
            dataset.read_table(b"PAR1" + b"\x00" * 32)


def test_a_retrain_whose_kept_categories_or_epoch_moved_is_still_comparable_with_its_champion():
    from mlops.training.champion import same_problem  # noqa: PLC0415

    champion, _ = dataset.infer_schema(_table(600, seed=0), "label")
    challenger, _ = dataset.infer_schema(_table(600, seed=1), "label")
    assert champion.features != challenger.features  # other cities kept

    assert same_problem(champion, challenger) is None
    narrower, _ = dataset.infer_schema(_table(600), "label", roles=ColumnRoles(exclude=("colour",)))
    assert same_problem(champion, narrower) == "its features differ from this dataset's"


def test_the_drift_check_sees_captured_requests_as_the_model_features_training_saw():
    from mlops.monitoring.capture import model_features  # noqa: PLC0415

    schema, kept = dataset.infer_schema(_table(600), "label")
    requests = [dataset.input_record(kept, schema, row) for row in range(50)]  # raw: dates, every city, ids, text

    mapped = model_features(schema)(requests)

    trained = dataset.feature_columns(kept, schema)
    for feature, values in zip(schema.features, trained, strict=True):
        seen = [record.get(feature.name) for record in mapped]
        if feature.kind == "numeric":
            np.testing.assert_allclose(np.array(seen, dtype=float), values[:50].astype(float), equal_nan=True)
        else:
            assert [columns_missing(v) for v in seen] == values[:50].tolist(), feature.name
    assert not {"name", "row", "signed_up"} & set(mapped[0])  # ignored or replaced by their parts
    assert mapped[0]["comment"] == requests[0]["comment"]  # free text is a feature, seen as sent
    city = next(f for f in schema.features if f.name == "city")
    assert model_features(schema)([{"city": "a city never seen"}])[0]["city"] == OTHER_CATEGORY != city.categories[0]


def test_a_schema_without_dates_or_pooled_categories_needs_no_mapping():
    schema, _ = dataset.infer_schema(_table(600), "label", roles=ColumnRoles(features=("x", "colour")))

    from mlops.monitoring.capture import model_features  # noqa: PLC0415

    assert model_features(schema) is None


def columns_missing(value: object) -> object:
    """A captured missing category as training encodes it."""
    return dataset.MISSING_CATEGORY if value is None else value
