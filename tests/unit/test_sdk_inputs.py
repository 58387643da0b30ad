"""The SDK's preparation of raw columns for a version's predict route (mlops_client/inputs.py): the columns the
schema reads, by kind, and the rest left out, as the endpoint leaves them out."""

from __future__ import annotations

import math

import pytest

from mlops.data.dataset import Schema
from mlops.serving.validation import InvalidInstances, validate_inputs
from mlops_client.inputs import InputSchema, InvalidInput, prepare_columns, prepare_rows

# a schema as the registry stores it: a datetime column's derived parts, a pooled category, a number, and the
# columns the training table had but the model does not read (an identifier, the target)
SCHEMA = {
    "features": [
        {"name": "signup__year", "kind": "numeric", "source": "signup", "part": "year"},
        {"name": "signup__month", "kind": "numeric", "source": "signup", "part": "month"},
        {"name": "plan", "kind": "categorical", "categories": ["basic", "pro"]},
        {"name": "usage", "kind": "numeric"},
    ],
    "target": "churned",
    "task": "classification",
    "classes": ["no", "yes"],
    "columns": {
        "customer_id": {"role": "id", "kind": "categorical", "reason": "unique"},
        "signup": {"role": "datetime", "kind": "datetime", "reason": "ISO dates", "epoch": "2020-01-01T00:00:00"},
        "plan": {"role": "feature", "kind": "categorical", "reason": "text"},
        "usage": {"role": "feature", "kind": "numeric", "reason": "numbers"},
        "churned": {"role": "target", "kind": "categorical", "reason": "the target"},
    },
}


def test_raw_csv_columns_become_the_inputs_the_endpoint_validates():
    schema = InputSchema.from_document(SCHEMA, version=3)
    assert schema.kinds == {"signup": "datetime", "plan": "categorical", "usage": "numeric"}
    columns = {
        "customer_id": ["c1", "c2", "c3"],
        "signup": ["2024-03-01", "", "2025-11-30T10:00:00"],
        "plan": ["pro", "basic", "7"],
        "usage": ["1.5", "", "3"],
        "churned": ["no", "yes", "no"],
    }
    prepared, left_out = prepare_columns(columns, schema, id_column="customer_id")
    assert prepared == {
        "signup": ["2024-03-01", None, "2025-11-30T10:00:00"],
        "plan": ["pro", "basic", "7"],
        "usage": [1.5, None, 3.0],
    }
    assert left_out == ["churned"]  # the id column is carried, not "ignored"
    # the endpoint's own validation takes the prepared columns: the date's parts derived there, missing as NaN
    model_columns = validate_inputs(prepared, Schema.from_dict(SCHEMA))
    year, month = (column.ravel().tolist() for column in model_columns[:2])
    assert year[0] == 2024 and month[0] == 3 and math.isnan(year[1]) and year[2] == 2025


def test_numbers_read_by_pandas_as_categories_and_dates_as_timestamps():
    pandas = pytest.importorskip("pandas")
    schema = InputSchema.from_document(SCHEMA)
    prepared, _ = prepare_columns(
        {
            "signup": [pandas.Timestamp("2024-03-01"), pandas.NaT],
            "plan": [7.0, float("nan")],  # an integer category with a gap, as pandas reads it
            "usage": [2, 4.5],
        },
        schema,
    )
    assert prepared == {"signup": ["2024-03-01T00:00:00", None], "plan": ["7", None], "usage": [2, 4.5]}


def test_a_missing_input_column_is_named_and_an_unreadable_value_left_to_the_endpoint():
    schema = InputSchema.from_document(SCHEMA)
    with pytest.raises(InvalidInput, match=r"lacks the model's input column\(s\): signup \(a date\)"):
        prepare_columns({"plan": ["pro"], "usage": ["1"]}, schema)
    prepared, _ = prepare_columns({"signup": ["2024-01-01"] * 2, "plan": ["pro"] * 2, "usage": ["1", "lots"]}, schema)
    assert prepared["usage"] == [1.0, "lots"]  # the endpoint words the refusal: the row and the feature
    with pytest.raises(InvalidInstances, match=r"row 1: feature 'usage' must be a number or null, not str"):
        validate_inputs(prepared, Schema.from_dict(SCHEMA))
    with pytest.raises(InvalidInput, match="no id column 'id'"):
        prepare_columns({"signup": [], "plan": [], "usage": []}, schema, id_column="id")


def test_rows_are_prepared_row_by_row():
    schema = InputSchema.from_document(SCHEMA)
    rows, left_out = prepare_rows([{"signup": "2024-01-01", "plan": "pro", "usage": "2", "note": "x"}], schema)
    assert rows == [{"signup": "2024-01-01", "plan": "pro", "usage": 2.0}] and left_out == ["note"]
    with pytest.raises(InvalidInput, match=r"row 0 lacks the model's input column\(s\): usage \(numeric\)"):
        prepare_rows([{"signup": "2024-01-01", "plan": "pro"}], schema)


def test_a_column_read_in_a_named_form_is_sent_as_written():
    # a number column written with thousands dots, and a yes/no one: training read them in their form, so does the
    # endpoint; the client must not parse "1.234" as 1.234
    schema = InputSchema.from_document(
        {
            "features": [{"name": "amount", "kind": "numeric"}, {"name": "active", "kind": "numeric"}],
            "columns": {
                "amount": {"role": "feature", "kind": "numeric", "format": "number"},
                "active": {"role": "feature", "kind": "boolean", "format": "boolean"},
            },
        }
    )
    assert schema.as_written == {"amount", "active"}
    prepared, _ = prepare_columns({"amount": ["1.234", "", "12"], "active": ["yes", "no", None]}, schema)
    assert prepared == {"amount": ["1.234", None, "12"], "active": ["yes", "no", None]}
    rows, _ = prepare_rows([{"amount": "1.234", "active": "yes"}], schema)
    assert rows == [{"amount": "1.234", "active": "yes"}]
