"""How a search walks its spaces: successive halving's rungs, and the strategy that plans the trials.

``random``: every trial is sampled up front (one Distributed Map pass, or the first rung of successive halving).
``guided``: the trials are planned in ``waves``: the first wave sampled at random, each later one proposed from the
validation scores of the waves before it (``mlops.training.guided``); each wave is one pass of the same
PlanTrials → TrainTrials loop the rungs use.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SearchStrategy = Literal["random", "guided"]
# random stays the default: at 20 trials `python -m bench.search` measured guided's best validation score at 0.99 of
# random's (docs/training.md), and guided's waves run one after another, so its fan-out takes `waves` times as long.
DEFAULT_STRATEGY: SearchStrategy = "random"
DEFAULT_WAVES = 4
MAX_WAVES = 20


class Halving(BaseModel):
    """Successive halving: every trial fits on ``min_fraction`` of the training rows; the best 1/``factor`` go on
    to ``factor`` times the rows, rung after rung, until the last rung fits on all of them."""

    model_config = ConfigDict(extra="forbid", strict=False, allow_inf_nan=False)
    factor: int = Field(default=3, ge=2, le=10, strict=True, description="rows grow, and trials shrink, by this")
    min_fraction: float = Field(
        default=1 / 9, gt=0, lt=1, description="the share of training rows the first rung fits on"
    )
