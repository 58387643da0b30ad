"""Batch scoring's pieces without a stack: per-row validation with reasons, CSV lines to the endpoint's values, and
the local Distributed Map failure rule."""

from __future__ import annotations

import pytest

from local import sfn_distributed_map
from mlops.data.schema import Feature, Schema
from mlops.serving.batch import parse_chunk
from mlops.serving.runtime import validate_each_row


def schema() -> Schema:
    return Schema(
        task="classification",
        target="y",
        features=[Feature(name="a", kind="numeric"), Feature(name="b", kind="numeric")],
        classes=["0", "1"],
        columns={
            "id": {"role": "identifier"},
            "a": {"role": "feature"},
            "b": {"role": "feature"},
            "y": {"role": "target"},
        },
    )


def test_a_bad_row_is_set_aside_with_the_endpoints_reason_and_the_others_validated():
    rows = [{"a": 1.0, "b": 2.0}, {"a": "x", "b": 2.0}, {"a": 3.0, "b": None}]
    columns, valid, reasons = validate_each_row(rows, schema(), first_row=10)
    assert valid == [0, 2]
    assert reasons == ["row 11: feature 'a' must be a number or null, not str"]
    assert columns[0].ravel().tolist() == [1.0, 3.0]


def test_csv_lines_become_the_values_a_request_carries_and_short_lines_are_refused():
    payload = b"r1,1.5,NA,0\nr2,twelve,2,1\n\nr3,1\n"
    parsed = parse_chunk(payload, 100, ["id", "a", "b", "y"], schema())
    assert parsed.instances == [{"a": 1.5, "b": None}, {"a": "twelve", "b": 2.0}]
    assert parsed.carried == [{"id": "r1", "y": "0"}, {"id": "r2", "y": "1"}]
    assert parsed.offsets == [100, 112] and parsed.chunk_rows == [0, 1]
    assert parsed.rows == 3 and parsed.blank_lines == 1
    (error,) = parsed.errors
    assert (error["chunk_row"], error["input_offset"]) == (2, 127) and "has 2 fields" in error["reason"]


@pytest.mark.parametrize(
    ("failed", "total", "count", "percentage", "expected"),
    [(0, 10, 0, 0.0, False), (1, 10, 0, 0.0, True), (2, 10, 2, 0.0, False), (3, 10, 2, 0.0, True),
     (1, 10, 0, 10.0, False), (2, 10, 0, 10.0, True), (2, 10, 5, 10.0, True)],
)  # fmt: skip
def test_the_local_map_fails_past_the_tolerated_failures(failed, total, count, percentage, expected):
    assert sfn_distributed_map.exceeded(failed, total, count, percentage) is expected


def test_the_distributed_map_hook_still_fits_moto():
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (  # noqa: PLC0415
        distributed_iteration_component as component,
    )

    assert callable(sfn_distributed_map._original_map_run)
    assert sfn_distributed_map._original_map_run.__qualname__ == "DistributedIterationComponent._map_run"
    assert hasattr(component.DistributedIterationComponent, "_map_run")
