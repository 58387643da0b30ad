"""The column-wise validation of the predict path against the row-wise reference it replaced.

For every request, valid or not, ``validate_instances`` (column-wise, numpy) must return the same columns as the
row-wise pass, or refuse it with the same message: the caller sees the same 4xx, worded the same.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from mlops.data.columns import OTHER_CATEGORY
from mlops.data.dataset import MISSING_CATEGORY, Feature, Schema
from mlops.serving import validation
from mlops.serving.validation import InvalidInstances, validate_instances

SCHEMA = Schema(
    [
        Feature("age", "numeric"),
        Feature("income", "numeric"),
        Feature("plan", "categorical", categories=["basic", "pro"]),
        Feature("region", "categorical"),
        Feature("signed_up_year", "numeric", source="signed_up", part="year"),
        Feature("signed_up_month", "numeric", source="signed_up", part="month"),
    ],
    "churned",
    "classification",
    ["no", "yes"],
    "yes",
    columns={
        "age": {"role": "feature", "kind": "numeric"},
        "income": {"role": "feature", "kind": "numeric"},
        "plan": {"role": "feature", "kind": "categorical"},
        "region": {"role": "feature", "kind": "categorical"},
        "signed_up": {"role": "feature", "kind": "datetime", "epoch": "2020-01-01"},
        "customer_id": {"role": "identifier", "kind": "categorical"},
    },
)
NUMERIC_ONLY = Schema([Feature(f"x{i}", "numeric") for i in range(5)], "y", "regression")

# Values a JSON body can carry, good and bad for each kind of feature.
ODD_VALUES = [None, True, False, "41", "", math.nan, math.inf, -math.inf, 10**400, 2**70, {"x": 1}, [1], 3, 2.5, "pro"]


def good_row(rng: random.Random) -> dict:
    row = {
        "age": rng.choice([rng.randint(18, 90), rng.uniform(18, 90), None]),
        "income": rng.choice([rng.uniform(0, 1e6), None, 0]),
        "plan": rng.choice(["basic", "pro", "enterprise", None, MISSING_CATEGORY]),
        "region": rng.choice(["north", "south", None, ""]),
        "signed_up": rng.choice(["2021-03-04", "2023-11-30T10:00:00", None]),
    }
    if rng.random() < 0.3:
        row["customer_id"] = f"c{rng.randint(0, 999)}"
    return row


def mutate(rng: random.Random, rows: list[dict]) -> list:
    rows = [dict(r) for r in rows]
    target = rng.randrange(len(rows))
    choice = rng.random()
    if choice < 0.6:
        rows[target][rng.choice([*rows[target].keys()])] = rng.choice(ODD_VALUES)
    elif choice < 0.7:
        rows[target].pop(rng.choice([*rows[target].keys()]))
    elif choice < 0.8:
        rows[target]["unexpected"] = 1
    elif choice < 0.9:
        rows[target]["signed_up"] = rng.choice(["yesterday", "2021-13-45", 20210304])
    else:
        rows[target] = rng.choice(["row", 3, None, [1, 2]])
    return rows


def outcome(validate, instances, schema):
    try:
        return "ok", validate(instances, schema)
    except InvalidInstances as exc:
        return "refused", str(exc)


def assert_same(expected, actual) -> None:
    assert actual[0] == expected[0], (expected, actual)
    if expected[0] == "refused":
        assert actual[1] == expected[1]
        return
    assert len(actual[1]) == len(expected[1])
    for want, got in zip(expected[1], actual[1], strict=True):
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        if want.dtype == np.float64:
            np.testing.assert_array_equal(got, want)  # NaN in the same places, every number identical
        else:
            assert got.ravel().tolist() == want.ravel().tolist()


def reference(instances, schema):
    validation._check_shape(instances, validation.MAX_INSTANCES)
    return validation._validate_rows(instances, schema)


@pytest.mark.parametrize("seed", range(8))
def test_column_wise_validation_answers_as_the_row_wise_pass(seed):
    # Given requests of 1 to 40 rows, most of them broken in one value, key or row (seeded)
    rng = random.Random(seed)
    refused = 0
    for _ in range(150):
        rows = [good_row(rng) for _ in range(rng.randint(1, 40))]
        instances = mutate(rng, rows) if rng.random() < 0.8 else rows
        # When both passes validate them, Then they agree on the columns or on the exact message
        expected = outcome(reference, instances, SCHEMA)
        assert_same(expected, outcome(validate_instances, instances, SCHEMA))
        refused += expected[0] == "refused"
    assert 30 < refused < 150  # the generator exercised both answers


def test_column_wise_validation_types_missing_and_pooled_values():
    columns = validate_instances(
        [
            {"age": 41, "income": None, "plan": "enterprise", "region": None, "signed_up": "2021-03-04"},
            {"age": 2.5, "income": 10, "plan": None, "region": "north", "signed_up": None, "customer_id": "c1"},
        ],
        SCHEMA,
    )
    assert columns[0].ravel().tolist() == [41.0, 2.5]
    assert math.isnan(columns[1][0, 0])
    assert columns[1][1, 0] == 10.0
    assert columns[2].ravel().tolist() == [OTHER_CATEGORY, MISSING_CATEGORY]
    assert columns[3].ravel().tolist() == [MISSING_CATEGORY, "north"]
    assert columns[4][0, 0] == 2021.0
    assert math.isnan(columns[4][1, 0])
    assert all(c.shape == (2, 1) for c in columns)
    assert all(c.flags.c_contiguous for c in columns)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "row 2: feature 'x3' must be a number or null, not bool"),
        ("7", "row 2: feature 'x3' must be a number or null, not str"),
        (math.nan, "row 2: feature 'x3' must be finite"),
        (10**400, "row 2: feature 'x3' must be finite"),
    ],
)
def test_the_first_bad_value_is_named_by_row_and_feature(value, message):
    instances = [{f"x{i}": float(i) for i in range(5)} for _ in range(4)]
    instances[2]["x3"] = value
    instances[3]["x1"] = "also bad, but later"
    with pytest.raises(InvalidInstances) as refused:
        validate_instances(instances, NUMERIC_ONLY)
    assert str(refused.value) == message


def test_the_row_wise_pass_is_not_used_for_valid_requests(monkeypatch):
    def row_wise(*_args):
        raise AssertionError("the row-wise pass ran for a valid request")

    monkeypatch.setattr(validation, "_validate_rows", row_wise)
    instances = [{f"x{i}": (None if i == j else float(i * j)) for i in range(5)} for j in range(200)]
    columns = validate_instances(instances, NUMERIC_ONLY)
    assert [c.shape for c in columns] == [(200, 1)] * 5
    assert int(sum(np.isnan(c).sum() for c in columns)) == 5


def as_columns(instances: list) -> dict | None:
    """The same rows as a columnar request, when they can be one (rows that are objects with one set of keys)."""
    if not all(isinstance(row, dict) for row in instances) or len({frozenset(row) for row in instances}) != 1:
        return None
    return {name: [row[name] for row in instances] for name in instances[0]}


@pytest.mark.parametrize("seed", range(8))
def test_a_columnar_request_answers_as_the_same_rows_do(seed):
    # Given seeded requests of 1 to 40 rows, most broken in one value, sent as columns where they can be
    rng = random.Random(100 + seed)
    compared = refused = 0
    for _ in range(150):
        rows = [good_row(rng) for _ in range(rng.randint(1, 40))]
        for row in rows:
            row.setdefault("customer_id", None)  # one set of keys, so the rows can be columns
        instances = mutate(rng, rows) if rng.random() < 0.8 else rows
        inputs = as_columns(instances)
        if inputs is None:
            continue
        # When the columns are validated, Then the columns (or the exact message, naming the row) are the rows'
        expected = outcome(reference, instances, SCHEMA)
        actual = outcome(validation.validate_inputs, inputs, SCHEMA)
        if expected[0] == "refused" and "feature(s)" in expected[1]:  # a key problem: worded per column, not row
            names = expected[1].split("feature(s) ", 1)[1]
            wording = "lacks" if "missing" in expected[1] else "has unknown"
            assert actual == ("refused", f"'inputs' {wording} feature(s) {names}"), (expected, actual)
        else:
            assert_same(expected, actual)
        compared += 1
        refused += expected[0] == "refused"
    assert compared > 50 and 10 < refused < compared


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([{"age": 1}], "'inputs' must be an object of feature columns"),
        ({"age": [1], "income": [1], "plan": ["pro"], "region": ["n"]}, "'inputs' lacks feature(s) 'signed_up'"),
        (
            {"age": [1], "income": [1], "plan": ["pro"], "region": ["n"], "signed_up": [None], "bogus": [1]},
            "'inputs' has unknown feature(s) 'bogus'",
        ),
        (
            {"age": 1, "income": [1], "plan": ["pro"], "region": ["n"], "signed_up": [None]},
            "column 'age' must be a list",
        ),
        (
            {"age": [1, 2], "income": [1], "plan": ["pro"], "region": ["n"], "signed_up": [None]},
            "'inputs' columns differ in length: 'income' has 1 values, 'age' has 2",
        ),
        ({"age": [], "income": [], "plan": [], "region": [], "signed_up": []}, "'inputs' has no rows"),
        (
            {name: [None] * 1001 for name in ("age", "income", "plan", "region", "signed_up")},
            "'inputs' has 1001 rows; at most 1000",
        ),
    ],
)
def test_a_malformed_columnar_request_is_refused_by_name(inputs, message):
    with pytest.raises(InvalidInstances) as refused:
        validation.validate_inputs(inputs, SCHEMA)
    assert message in str(refused.value)
