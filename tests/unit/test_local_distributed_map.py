"""local/distributed_map.py adds to moto's Distributed Map what AWS does and moto 5.2.5 leaves out: guard that moto
still leaves it out (an upgrade that adds it should replace the patch), and the tolerance rule itself."""

from __future__ import annotations

import inspect

import pytest
from moto.stepfunctions.parser.asl.parse import preprocessor

from local import distributed_map


def test_moto_still_drops_the_result_writers_results_and_ignores_the_tolerance():
    assert "TODO: generate result files" in inspect.getsource(distributed_map._original_put_object)
    assert "currently have no effect on the program evaluation" in inspect.getsource(preprocessor)


@pytest.mark.parametrize(
    ("failed", "total", "count", "percentage", "exceeded"),
    [
        (0, 50, 0, 0.0, False),  # nothing failed
        (1, 50, 0, 0.0, True),  # AWS's default tolerates no failure
        (2, 20, 0, 10.0, False),  # 10% is tolerated at 10%
        (3, 20, 0, 10.0, True),  # 15% is not
        (3, 20, 5, 0.0, False),  # a count tolerance alone
        (6, 20, 5, 0.0, True),
        (2, 10, 5, 10.0, True),  # both declared: either one passed fails the run
    ],
)
def test_the_map_run_fails_only_above_what_is_tolerated(failed, total, count, percentage, exceeded):
    assert distributed_map.threshold_exceeded(failed, total, count, percentage) is exceeded


def test_the_local_stack_installs_the_patch(stack):
    assert distributed_map.installed()
