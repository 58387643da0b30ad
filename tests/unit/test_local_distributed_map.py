"""local/emulated/distributed_map.py adds to moto's Distributed Map what AWS does and moto 5.2.5 leaves out: the
tolerance rule itself, and that the stack applies it (that moto still leaves it out is guarded with every other moto
patch in tests/unit/test_moto_patches.py)."""

from __future__ import annotations

import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)

from local.emulated import distributed_map


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


def test_the_local_stack_applies_the_patches(stack):
    assert DistributedIterationComponent._map_run is distributed_map._map_run
