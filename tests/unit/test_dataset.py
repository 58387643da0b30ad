"""CSV parsing, schema inference, feature matrices, seeded stratified splits and the CSV round trip."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import numpy as np
import pytest

from mlops.data import dataset, reader, typed_table
from mlops.data.dataset import (
    MAX_CLASSES_FOR_INFERRED_CLASSIFICATION,
    MIN_ROWS,
    MIN_ROWS_PER_CLASS,
    MISSING_CATEGORY,
    Feature,
    Schema,
    Table,
)
from mlops.errors import InvalidDataset
from tests.factories import table_from_rows


def labelled_table(labels: list[str], extra_columns: dict[str, list[str]] | None = None) -> Table:
    """A table with a `row_id` identifier (excluded by role inference), a numeric feature `x`, optional extra
    features and the target column `label`."""
    extra_columns = extra_columns or {}
    columns = ["row_id", "x", *extra_columns, "label"]
    rows = [
        [str(i), str(i * 7 % 13), *(values[i] for values in extra_columns.values()), label]
        for i, label in enumerate(labels)
    ]
    return table_from_rows(columns, rows)


def text_column(table: Table, name: str) -> list[str]:
    """A column's cells as text, as a CSV writer would write them ('' for missing)."""
    column = table.column(name)
    if isinstance(column, typed_table.NumericColumn):
        return ["" if math.isnan(v) else reader.number_text(v) for v in column.values.tolist()]
    return column.strings("").tolist()


def text_rows(table: Table) -> list[list[str]]:
    return [list(row) for row in zip(*(text_column(table, name) for name in table.names), strict=True)]


def csv_payload(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# ---- read_table: refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [b"", b"   \n\t\r\n  ", b"\xef\xbb\xbf", b"\n\n,,\n , \n"], ids=repr)
def test_empty_or_blank_files_are_refused(payload):
    with pytest.raises(InvalidDataset, match="the dataset is empty"):
        dataset.read_table(payload)


def test_binary_files_with_nul_bytes_are_refused():
    payload = b"a,b\n1,2\n" + b"\x00\x01\x02\x03" * 16

    with pytest.raises(InvalidDataset, match="not a text CSV file .*NUL bytes"):
        dataset.read_table(payload)


def test_a_nul_byte_after_the_first_8_kib_is_refused_too():
    body = csv_payload(["colour,label"] + ["red,1"] * 3000)
    payload = body[:9000] + b"\x00" + body[9000:]

    with pytest.raises(InvalidDataset, match="NUL"):
        dataset.read_table(payload)


def test_a_latin1_file_is_read_as_windows_1252_and_the_encoding_recorded():
    payload = "name,city,label\nJosé,Zürich,1\nAnaïs,Besançon,0\n".encode("latin-1")

    table = dataset.read_table(payload)

    assert table.column("city").categories == ["Zürich", "Besançon"]
    assert table.read_as["encoding"] == "cp1252"


def test_a_non_utf8_byte_past_the_sample_is_refused_with_its_offset_and_a_hint():
    # Given a UTF-8 start long enough to settle the encoding, then one latin-1 byte
    body = csv_payload(["name,label"] + ["caf\u00e9,1"] * 9000)
    payload = body + b"caf\xe9,1\n"
    offset = len(body) + 3

    with pytest.raises(InvalidDataset) as refused:
        dataset.read_table(payload)

    assert str(refused.value) == (
        f"the dataset is not UTF-8 text: byte 0xe9, which Windows-1252 reads as 'é' at byte {offset}; "
        "re-save the file as UTF-8 (in Excel: Save As, 'CSV UTF-8 (Comma delimited)')"
    )


def test_malformed_quoting_is_refused_as_invalid_csv():
    with pytest.raises(InvalidDataset, match="not valid CSV"):
        dataset.read_table(b'a,b\n"quoted"trailing,1\n')


@pytest.mark.parametrize("payload", [b"label\n1\n2\n", b"size:label\n1:2\n3:4\n"], ids=["one-column", "colons"])
def test_a_single_column_file_is_refused_with_a_hint_about_the_delimiter(payload):
    with pytest.raises(InvalidDataset, match=r"at least two columns .*found 1: no comma, semicolon, tab or pipe"):
        dataset.read_table(payload)


def test_a_blank_header_name_is_refused_with_its_position():
    with pytest.raises(InvalidDataset, match="column 3 of the header has no name"):
        dataset.read_table(b"size,colour,  ,label\n1,red,x,0\n")


def test_a_pandas_index_column_is_named_as_pandas_reads_it_and_excluded_as_a_row_index():
    # Given a CSV as DataFrame.to_csv() writes it: an unnamed first column holding the row index 0..n-1
    rng = np.random.default_rng(3)
    lines = [",size,colour,label"] + [
        f"{i},{rng.normal():.3f},{rng.choice(['red', 'blue'])},{rng.choice(['0', '1'])}" for i in range(60)
    ]
    table = dataset.read_table(csv_payload(lines))
    schema, _ = dataset.infer_schema(table, "label")

    assert table.names[0] == "Unnamed: 0"
    assert [f.name for f in schema.features] == ["size", "colour"]
    assert schema.columns["Unnamed: 0"]["role"] == "id"


def test_duplicate_column_names_are_refused_and_listed():
    # the second "size" differs only by spaces, which the header loses
    with pytest.raises(InvalidDataset, match="duplicate column names: label, size$"):
        dataset.read_table(b"size,label, size,colour,label\n1,0,2,red,1\n")


def test_a_ragged_row_is_refused_naming_its_row_and_field_counts():
    payload = csv_payload(["size,colour,label", "1,red,0", "2,blue,1", "3,green", "4,red,0"])

    with pytest.raises(InvalidDataset, match="line 4 has 2 fields; the header has 3"):
        dataset.read_table(payload)


def test_a_ragged_row_after_a_quoted_newline_is_reported_at_its_file_line():
    payload = csv_payload(["note,label", '"two\nlines",0', "ok,1", "too,many,fields"])

    with pytest.raises(InvalidDataset, match="line 5 has 3 fields"):
        dataset.read_table(payload)


def test_the_ragged_row_number_counts_blank_lines_before_it():
    payload = csv_payload(["size,label", "1,0", "", "", "3"])

    with pytest.raises(InvalidDataset, match="line 5 has 1 fields"):
        dataset.read_table(payload)


def test_a_header_without_rows_is_refused():
    with pytest.raises(InvalidDataset, match="has a header but no rows"):
        dataset.read_table(b"size,colour,label\n\n")


# ---- read_table: what it accepts ---------------------------------------------------------------------------
def test_quoted_fields_keep_their_commas_quotes_and_newlines():
    payload = b'name,note,label\n"Smith, J","said ""hi""\nthen left",1\nplain,"",0\n'

    table = dataset.read_table(payload)

    assert table.names == ["name", "note", "label"]
    assert text_rows(table) == [["Smith, J", 'said "hi"\nthen left', "1"], ["plain", "", "0"]]


def test_a_utf8_bom_does_not_end_up_in_the_first_column_name():
    table = dataset.read_table("\ufeffsize,label\n1,0\n".encode())

    assert table.names == ["size", "label"]


def test_unicode_column_names_and_values_survive_parsing():
    payload = "température,état,ціль\n21.5,prêt,так\n".encode()

    table = dataset.read_table(payload)

    assert table.names == ["température", "état", "ціль"]
    assert text_column(table, "état") == ["prêt"]


def test_header_names_are_stripped_and_blank_lines_skipped():
    table = dataset.read_table(b" size , label \n1,0\n\n   \n2,1\n")

    assert table.names == ["size", "label"]
    assert text_rows(table) == [["1", "0"], ["2", "1"]]


def test_crlf_line_endings_parse_like_lf():
    lf = dataset.read_table(b"size,label\n1,0\n2,1\n")
    crlf = dataset.read_table(b"size,label\r\n1,0\r\n2,1\r\n")

    assert crlf == lf


# ---- cells ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "token", ["", "  ", "NA", "na", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "?", " ? "]
)
def test_missing_tokens_are_missing_whatever_their_case_and_padding(token):
    assert dataset.is_missing(token)
    assert math.isnan(_read_number(token))


def _read_number(cell: str) -> float:
    """A cell as the reader parses it in a numeric column (the column's other value is a number)."""
    column = dataset.read_table(f'x,y\n"{cell}",0\n1,1\n'.encode()).column("x")
    assert isinstance(column, typed_table.NumericColumn), column
    return float(column.values[0])


@pytest.mark.parametrize("value", ["0", "none of these", "-", "N", "nil?"])
def test_ordinary_values_are_not_missing(value):
    assert not dataset.is_missing(value)


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_parse_as_nan(value):
    assert math.isnan(_read_number(value))


@pytest.mark.parametrize(("text", "number"), [("1.5", 1.5), (" -2 ", -2.0), ("3e2", 300.0), ("0", 0.0)])
def test_finite_numbers_parse_to_their_value(text, number):
    assert _read_number(text) == number


# ---- infer_schema: refusals -------------------------------------------------------------------------------
def test_an_unknown_target_is_refused_listing_the_columns():
    table = labelled_table(["a", "b"] * 15, {"colour": ["red"] * 30})

    with pytest.raises(
        InvalidDataset, match=r"target column 'churn' is not in the dataset; columns: row_id, x, colour, label"
    ):
        dataset.infer_schema(table, "churn")


def test_a_single_class_target_is_refused():
    with pytest.raises(InvalidDataset, match=r"target 'label' has a single class \('yes'\)"):
        dataset.infer_schema(labelled_table(["yes"] * 30), "label")


def test_classes_below_the_minimum_rows_are_refused_and_named():
    labels = ["common"] * 20 + ["rare"] * (MIN_ROWS_PER_CLASS - 1) + ["rarer"] * 2 + ["enough"] * MIN_ROWS_PER_CLASS

    with pytest.raises(InvalidDataset, match=r"fewer than 5 rows \('rare': 4, 'rarer': 2\)") as raised:
        dataset.infer_schema(labelled_table(labels), "label")

    assert "'common'" not in str(raised.value)
    assert "'enough'" not in str(raised.value)


def test_fewer_than_the_minimum_rows_are_refused():
    labels = ["a", "b"] * MIN_ROWS

    with pytest.raises(InvalidDataset, match=rf"has {MIN_ROWS - 1} rows with a target value; at least {MIN_ROWS}"):
        dataset.infer_schema(labelled_table(labels[: MIN_ROWS - 1]), "label")


def test_rows_without_a_target_do_not_count_towards_the_minimum():
    labels = ["a", "b"] * 12 + ["", "NA", "?", "null", "  "]
    present = sum(not dataset.is_missing(label) for label in labels)

    dataset.infer_schema(labelled_table(labels), "label")  # 24 labelled rows are enough
    with pytest.raises(InvalidDataset, match=rf"has {present - 5} rows with a target value"):
        dataset.infer_schema(labelled_table(labels[5:]), "label")


def test_a_non_numeric_target_cannot_be_regressed_on():
    with pytest.raises(InvalidDataset, match=r"target 'label' is not numeric, so it cannot be regressed on"):
        dataset.infer_schema(labelled_table(["low", "high"] * 15), "label", task="regression")


def test_a_constant_regression_target_is_refused():
    with pytest.raises(InvalidDataset, match=r"target 'label' is constant"):
        dataset.infer_schema(labelled_table(["2.5"] * 30), "label", task="regression")


def test_a_non_finite_regression_target_is_read_as_missing_and_its_row_dropped():
    labels = [f"{i}.5" for i in range(29)] + ["inf"]

    schema, kept = dataset.infer_schema(labelled_table(labels), "label", task="regression")

    assert schema.dropped_rows_missing_target == 1
    assert kept.column("label").values.tolist() == [i + 0.5 for i in range(29)]


def test_a_positive_class_that_is_not_a_label_is_refused_listing_the_classes():
    with pytest.raises(InvalidDataset, match=r"positive class 'maybe' is not a value of 'label': \['no', 'yes'\]"):
        dataset.infer_schema(labelled_table(["yes", "no"] * 15), "label", positive_class="maybe")


def test_a_positive_class_is_normalised_like_the_labels():
    schema, _ = dataset.infer_schema(labelled_table(["1.0", "0.0"] * 15), "label", positive_class="1.0")

    assert schema.positive_class == "1"


# ---- infer_schema: kinds, missing targets, labels and task ------------------------------------------------
def test_feature_kinds_are_inferred_from_the_present_values():
    table = labelled_table(
        ["a", "b"] * 15,
        {
            "size": [str(i / 3) for i in range(29)] + ["NA"],
            "integers_and_gaps": ["", "7", "?", "-3"] * 7 + ["1", "2"],
            "scientific": ["1e-3", "inf", "2E5", "-0"] * 7 + ["0", "1"],
            "colour": ["red", "green", "blue"] * 10,
            "mostly_numbers": ["1", "2", "3", "4", "5", "six"] * 5,
            "nothing": ["", "NA", "null"] * 10,
        },
    )

    schema, _ = dataset.infer_schema(table, "label")

    kinds = {feature.name: feature.kind for feature in schema.features}
    assert kinds == {
        "x": "numeric",
        "size": "numeric",
        "integers_and_gaps": "numeric",
        "scientific": "numeric",
        "colour": "categorical",
        "mostly_numbers": "categorical",
        "nothing": "numeric",  # all missing: no evidence of text, and the median imputer drops it
    }
    assert [feature.name for feature in schema.features] == [c for c in table.names if c not in ("label", "row_id")]
    assert schema.columns["row_id"]["role"] == "id"
    assert schema.numeric_indices == [0, 1, 2, 3, 6]
    assert schema.categorical_indices == [4, 5]


def test_rows_with_a_missing_target_are_dropped_and_counted():
    labels = ["a", "b"] * 15
    missing_at = {3: "", 8: "NA", 17: "?", 21: " null "}
    for index, token in missing_at.items():
        labels[index] = token

    schema, kept = dataset.infer_schema(labelled_table(labels), "label")

    assert schema.dropped_rows_missing_target == len(missing_at)
    assert schema.notes == [f"{len(missing_at)} rows without a target value were dropped"]
    kept_ids = [int(row_id) for row_id in text_column(kept, "row_id")]
    assert kept_ids == [i for i in range(len(labels)) if i not in missing_at]


def test_integral_numeric_labels_are_one_class_however_they_are_written():
    labels = ["1", "1.0", " 1", "01", "1e0"] * 3 + ["0", "0.0", "-0", "0.00", " 0 "] * 3

    schema, table = dataset.infer_schema(labelled_table(labels), "label")

    assert schema.task == "classification"
    assert schema.classes == ["0", "1"]
    assert Counter(text_column(table, "label")) == {"1": 15, "0": 15}


def test_string_labels_are_stripped_and_sorted_into_classes():
    labels = ["yes", " yes", "no ", "maybe"] * 8

    schema, table = dataset.infer_schema(labelled_table(labels), "label")

    assert schema.classes == ["maybe", "no", "yes"]
    assert set(text_column(table, "label")) == {"maybe", "no", "yes"}
    assert schema.positive_class is None  # multiclass: no positive class unless asked for


@pytest.mark.parametrize(
    ("labels", "positive_class"),
    [
        (["no", "yes"], "yes"),
        (["1", "0"], "1"),
        (["b", "a"], "b"),  # a tie: the later sorted label
        (["Yes"] * 9 + ["No"], "Yes"),  # a conventional pair names the event, however rare the other label is
        (["stayed"] * 9 + ["churned"], "churned"),  # otherwise the rarer class, not the later sorted label
        (["alpha"] + ["beta"] * 9, "alpha"),
    ],
)
def test_a_binary_target_defaults_its_positive_class_to_the_event_or_the_rarer_label(labels, positive_class):
    schema, _ = dataset.infer_schema(labelled_table(labels * 15), "label")

    assert schema.positive_class == positive_class


def test_an_explicit_positive_class_is_kept():
    schema, _ = dataset.infer_schema(labelled_table(["no", "yes"] * 15), "label", positive_class="no")

    assert schema.positive_class == "no"


def test_integer_targets_with_few_distinct_values_are_classification():
    distinct = MAX_CLASSES_FOR_INFERRED_CLASSIFICATION
    labels = [str(value) for value in range(distinct)] * MIN_ROWS_PER_CLASS

    schema, _ = dataset.infer_schema(labelled_table(labels), "label")

    assert schema.task == "classification"
    assert schema.classes == sorted(str(value) for value in range(distinct))


def test_integer_targets_with_many_distinct_values_are_regression():
    labels = [str(value) for value in range(MAX_CLASSES_FOR_INFERRED_CLASSIFICATION + 1)]

    schema, _ = dataset.infer_schema(labelled_table(labels), "label")

    assert schema.task == "regression"
    assert schema.classes is None
    assert schema.positive_class is None


def test_fractional_targets_are_regression_even_with_few_values():
    schema, _ = dataset.infer_schema(labelled_table(["0.5", "1.5"] * 15), "label")

    assert schema.task == "regression"


def test_string_targets_are_classification():
    schema, _ = dataset.infer_schema(labelled_table(["cat", "dog", "7"] * 10), "label")

    assert schema.task == "classification"
    assert schema.classes == ["7", "cat", "dog"]


def test_an_explicit_task_overrides_inference():
    labels = ["0", "1"] * 15

    regression, table = dataset.infer_schema(labelled_table(labels), "label", task="regression")

    assert regression.task == "regression"
    assert dataset.target_vector(table, regression).tolist() == [float(label) for label in labels]


def test_schema_survives_a_dict_and_json_round_trip():
    labels = ["yes", "no"] * 15 + [""]
    table = labelled_table(labels, {"colour": ["red", "blue", "?"] * 10 + ["red"]})
    schema, _ = dataset.infer_schema(table, "label")

    document = json.loads(json.dumps(schema.to_dict()))
    restored = Schema.from_dict(document)

    assert restored == schema
    assert all(isinstance(feature, Feature) for feature in restored.features)
    assert restored.categorical_indices == schema.categorical_indices


# ---- feature matrix and target vector ---------------------------------------------------------------------
def test_the_feature_matrix_holds_floats_nan_and_missing_category_in_schema_order():
    table = table_from_rows(
        ["colour", "size", "label"],
        [["red", "1.5", "a"], ["  blue ", "NA", "b"], ["?", "inf", "a"], ["", " 2 ", "b"], ["null", "-1e999", "a"]],
    )
    schema = Schema([Feature("size", "numeric"), Feature("colour", "categorical")], "label", "classification")

    matrix = dataset.feature_matrix(table, schema)

    assert matrix.shape == (5, 2)
    assert matrix.dtype == object
    sizes = np.array(matrix[:, 0], dtype=float)
    np.testing.assert_array_equal(sizes, [1.5, np.nan, np.nan, 2.0, np.nan])
    assert matrix[:, 1].tolist() == ["red", "blue", MISSING_CATEGORY, MISSING_CATEGORY, MISSING_CATEGORY]


def test_an_all_missing_column_becomes_an_all_nan_numeric_feature():
    table = labelled_table(["a", "b"] * 15, {"empty": ["", "NA", "?"] * 10})
    schema, table = dataset.infer_schema(table, "label")

    matrix = dataset.feature_matrix(table, schema)

    position = [feature.name for feature in schema.features].index("empty")
    assert np.isnan(np.array(matrix[:, position], dtype=float)).all()


def test_target_vectors_are_strings_for_classification_and_floats_for_regression():
    table = table_from_rows(["x", "y"], [["1", " 2 "], ["2", "3.5"]])
    as_labels = dataset.target_vector(table, Schema([Feature("x", "numeric")], "y", "classification"))
    as_numbers = dataset.target_vector(table, Schema([Feature("x", "numeric")], "y", "regression"))

    assert as_labels.tolist() == ["2", "3.5"]
    assert as_numbers.dtype == float
    assert as_numbers.tolist() == [2.0, 3.5]


# ---- split ------------------------------------------------------------------------------------------------
def imbalanced_classification(rows_per_class: dict[str, int]) -> tuple[Schema, Table]:
    labels = [label for label, count in rows_per_class.items() for _ in range(count)]
    rng = np.random.default_rng(11)
    rng.shuffle(labels)
    return dataset.infer_schema(labelled_table(labels), "label")


def row_ids(table: Table) -> list[int]:
    return [int(row_id) for row_id in text_column(table, "row_id")]


def test_a_split_partitions_the_rows_and_keeps_file_order():
    schema, table = imbalanced_classification({"a": 60, "b": 30, "c": 10})

    parts = dataset.split(table, schema, seed=3, validation_fraction=0.2, test_fraction=0.2)

    assert set(parts) == {"train", "validation", "test"}
    ids = {name: row_ids(part) for name, part in parts.items()}
    for name, part_ids in ids.items():
        assert part_ids == sorted(part_ids), name
    assert sorted(ids["train"] + ids["validation"] + ids["test"]) == list(range(100))


@pytest.mark.parametrize(
    ("rows", "validation_fraction", "test_fraction"), [(100, 0.2, 0.2), (40, 0.25, 0.25), (80, 0.125, 0.25)]
)
def test_split_sizes_follow_the_fractions_exactly_when_they_divide_the_rows(rows, validation_fraction, test_fraction):
    schema, table = dataset.infer_schema(labelled_table([str(i * 0.5) for i in range(rows)]), "label")

    parts = dataset.split(table, schema, seed=0, validation_fraction=validation_fraction, test_fraction=test_fraction)

    validation_rows, test_rows = rows * validation_fraction, rows * test_fraction
    assert parts["validation"].rows == validation_rows
    assert parts["test"].rows == test_rows
    assert parts["train"].rows == rows - validation_rows - test_rows


@pytest.mark.parametrize(("rows", "validation_fraction", "test_fraction"), [(37, 0.15, 0.25), (53, 0.3, 0.1)])
def test_split_sizes_round_to_within_two_rows_of_the_fractions(rows, validation_fraction, test_fraction):
    schema, table = dataset.infer_schema(labelled_table([str(i * 0.5) for i in range(rows)]), "label")

    parts = dataset.split(table, schema, seed=0, validation_fraction=validation_fraction, test_fraction=test_fraction)

    # Two rounding steps (holdout from all rows, then test from the holdout) each move a size by under one row.
    expected = {
        "train": rows * (1 - validation_fraction - test_fraction),
        "validation": rows * validation_fraction,
        "test": rows * test_fraction,
    }
    for name, size in expected.items():
        assert abs(parts[name].rows - size) < 2, name
    assert sum(part.rows for part in parts.values()) == rows


def test_a_classification_split_preserves_class_proportions_in_every_part():
    rows_per_class = {"common": 60, "middle": 30, "rare": 10}
    total = sum(rows_per_class.values())
    schema, table = imbalanced_classification(rows_per_class)

    parts = dataset.split(table, schema, seed=5, validation_fraction=0.2, test_fraction=0.2)

    # A stratified draw gives each class within one row of its proportional share; the test/validation parts
    # are drawn from the holdout, adding under one more row of error: below two rows in all.
    for name, part in parts.items():
        counts = Counter(text_column(part, "label"))
        for label, count in rows_per_class.items():
            expected = part.rows * count / total
            assert abs(counts[label] - expected) < 2, (name, label, counts[label], expected)


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    schema, table = imbalanced_classification({"a": 50, "b": 50})

    first = dataset.split(table, schema, seed=7, validation_fraction=0.2, test_fraction=0.2)
    again = dataset.split(table, schema, seed=7, validation_fraction=0.2, test_fraction=0.2)
    other = dataset.split(table, schema, seed=8, validation_fraction=0.2, test_fraction=0.2)

    assert first == again
    assert row_ids(first["test"]) != row_ids(other["test"])


def test_a_split_that_cannot_be_stratified_is_an_invalid_dataset():
    # 2 holdout rows out of 20: one per class, which cannot be stratified again into validation and test
    schema, table = imbalanced_classification({"a": 10, "b": 10})

    with pytest.raises(InvalidDataset, match="cannot split 20 rows into train/validation/test"):
        dataset.split(table, schema, seed=0, validation_fraction=0.05, test_fraction=0.05)


# ---- to_csv -----------------------------------------------------------------------------------------------
def test_to_csv_then_read_table_gives_back_the_table():
    table = table_from_rows(
        ["naïve name", "note", "label"],
        [
            ["Smith, J", 'said "hi"', "1"],
            ["two\nlines", "carriage\rreturn", "0"],
            ["  padded  ", "", "1"],
            ["日本", "a,b,c", "0"],
        ],
    )

    assert dataset.read_table(dataset.to_csv(table)) == table


def test_a_parsed_file_survives_the_round_trip_through_to_csv():
    payload = '\ufeffid,comment,label\r\n1,"a, b",yes\r\n2,"multi\nline",no\r\n3,,yes\r\n'.encode()
    table = dataset.read_table(payload)

    assert dataset.read_table(dataset.to_csv(table)) == table


def test_splits_written_with_to_csv_rebuild_the_same_feature_matrix():
    labels = ["yes", "no"] * 15
    table = labelled_table(labels, {"colour": ["red", "", "blue, dark"] * 10, "size": ["1.5", "NA", "inf"] * 10})
    schema, table = dataset.infer_schema(table, "label")

    parts = dataset.split(table, schema, seed=1, validation_fraction=0.2, test_fraction=0.2)
    train = parts["train"]
    reread = dataset.read_table(dataset.to_csv(train))

    original = dataset.feature_matrix(train, schema)
    rebuilt = dataset.feature_matrix(reread, schema)
    for position in schema.categorical_indices:
        assert rebuilt[:, position].tolist() == original[:, position].tolist()
    for position in schema.numeric_indices:
        np.testing.assert_array_equal(
            np.array(rebuilt[:, position], dtype=float), np.array(original[:, position], dtype=float)
        )
    assert dataset.target_vector(reread, schema).tolist() == dataset.target_vector(train, schema).tolist()


def test_messages_quote_column_names_readably():
    """The refusal of an unknown target names the columns as the user wrote them, unicode included."""
    table = table_from_rows(["température", "ціль"], [["1", "a"]] * 25)

    with pytest.raises(InvalidDataset, match=re.escape("columns: température, ціль")):
        dataset.infer_schema(table, "target")


def test_the_split_does_not_depend_on_the_processs_string_hashing():
    # A text target and text features read in two processes with other hash seeds: the same rows in every split
    # (reproduction re-splits in another process, and it must find the registered split).
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = (
        "import json;from mlops.data import dataset;"
        "rows=[[f'r{i}',['red','green','blue','teal'][i*7%4],['yes','no','maybe'][i*5%3]] for i in range(90)];"
        "csv_text='id,colour,label\\n'+''.join(','.join(r)+'\\n' for r in rows);"
        "s,t=dataset.infer_schema(dataset.read_table(csv_text.encode()),'label');"
        "parts=dataset.split(t,s,seed=3,validation_fraction=0.2,test_fraction=0.2);"
        "print(json.dumps({n:p.column('id').strings().tolist() for n,p in parts.items()}))"
    )
    splits = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": "layers/core/python"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    ]
    assert splits[0] == splits[1] == splits[2]
    assert len(json.loads(splits[0])["test"]) == 18
