"""Every deployed model monitored from one schedule: which models a tick of the stack's schedule checks.

One EventBridge Scheduler schedule (``DriftCheckTickSchedule``) starts the ``ScheduledDriftChecks`` state machine every
``DriftCheckTickRate``. Its first step (``plan_tick``) lists the models with a production version, reads each
model's ``schedule`` settings from its ``MONITOR`` item (``enabled``, ``rate``; the stack's ``DriftCheckRate``
otherwise) and returns the models due at this tick; a Map then starts one ``DriftCheck`` execution per model.

A model is due at the tick whose interval ``(tick - tick_rate, tick]`` holds a multiple of its own rate, counted in
seconds from the epoch. Consecutive ticks cover time without gap or overlap, so each model is checked exactly once
per rate, whatever the tick's phase, with no state to keep: nothing is written by the plan, a failed start is
simply a missed check (the next check still reads all capture since the last one), and the execution name is
derived from the model and the boundary, so a tick delivered twice (the Scheduler delivers at least once) starts
nothing twice. No numpy: the admin API imports it to show a model's schedule.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops.errors import InvalidMonitoringConfig
from mlops.monitoring.config import ScheduleConfig, rate_seconds
from mlops.monitoring.partitions import epoch_seconds, iso_seconds
from mlops.records.events import PlanTickEvent
from mlops.storage import layout
from mlops.storage.table import ModelTable

MAX_CHECKS_PER_TICK = 1_000  # the Map's items stay far below Step Functions' 256 KiB state (≈ 120 bytes each)
PRODUCTION_SK = layout.alias_sk("production")


@dataclass(frozen=True)
class ScheduledCheck:
    model_name: str
    rate: str
    execution_name: str

    def to_document(self) -> dict[str, str]:
        return {"model_name": self.model_name, "rate": self.rate, "execution_name": self.execution_name}


@dataclass(frozen=True)
class TickPlan:
    tick_at: float
    models: int
    due: list[ScheduledCheck] = field(default_factory=list)
    not_due: int = 0
    disabled: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # due, but beyond MAX_CHECKS_PER_TICK: the next boundary
    invalid: list[str] = field(default_factory=list)  # stored schedule settings refused: checked at the stack's rate

    def to_document(self) -> dict[str, Any]:
        return {
            "tick_at": iso_seconds(self.tick_at),
            "models": self.models,
            "due": [check.to_document() for check in self.due],
            "due_count": len(self.due),
            "not_due": self.not_due,
            "disabled": self.disabled[:50],
            "disabled_count": len(self.disabled),
            "deferred": self.deferred[:50],
            "deferred_count": len(self.deferred),
            "invalid": self.invalid[:50],
        }


def effective_schedule(stored_config: Mapping[str, Any] | None, default_rate: str) -> ScheduleConfig:
    """A model's schedule: its stored ``schedule`` settings over the stack's rate (refused settings raise)."""
    parsed = ScheduleConfig.from_dict((stored_config or {}).get("schedule") or {})
    return ScheduleConfig(enabled=parsed.enabled, rate=parsed.rate or default_rate)


def period_seconds(rate: str, tick_rate: str) -> int:
    """A rate finer than the tick runs at every tick."""
    return max(rate_seconds(rate), rate_seconds(tick_rate, field_name="DriftCheckTickRate"))


def is_due(tick_at: float, tick_s: int, period_s: int) -> bool:
    """Whether ``(tick_at - tick_s, tick_at]`` holds a multiple of ``period_s``."""
    return math.floor(tick_at / period_s) != math.floor((tick_at - tick_s) / period_s)


def execution_name(model_name: str, boundary: int) -> str:
    """Deterministic per model and boundary (≤ 80 characters, Step Functions' limit): one start per due check."""
    digest = hashlib.sha256(f"{model_name}\n{boundary}".encode()).hexdigest()[:16]
    return f"scheduled-{re.sub(r'[^A-Za-z0-9_-]', '-', model_name)[:48]}-{digest}"


def plan_tick(
    tick_at: float,
    *,
    default_rate: str,
    tick_rate: str,
    aliases: ModelTable,
    monitors: ModelTable,
    limit: int = MAX_CHECKS_PER_TICK,
) -> TickPlan:
    """The models due at the tick scheduled for ``tick_at`` (epoch seconds), in name order."""
    tick_s = rate_seconds(tick_rate, field_name="DriftCheckTickRate")
    deployed = sorted(layout.model_name_of(item["pk"]) for item in aliases.scan_sort_key(PRODUCTION_SK))
    # the MONITOR items of the deployed models only (the monitor table also holds every check's summary)
    configs = {name: item.get("config") for name, item in monitors.batch_get(deployed, layout.MONITOR_SK).items()}
    due: list[ScheduledCheck] = []
    disabled: list[str] = []
    invalid: list[str] = []
    not_due = 0
    for model_name in deployed:
        try:
            schedule = effective_schedule(configs.get(model_name), default_rate)
        except InvalidMonitoringConfig:
            invalid.append(model_name)
            schedule = ScheduleConfig(rate=default_rate)
        if not schedule.enabled:
            disabled.append(model_name)
            continue
        rate = schedule.rate or default_rate
        period_s = period_seconds(rate, tick_rate)
        if not is_due(tick_at, tick_s, period_s):
            not_due += 1
            continue
        boundary = math.floor(tick_at / period_s)
        due.append(ScheduledCheck(model_name, rate, execution_name(model_name, boundary)))
    return TickPlan(
        tick_at=tick_at,
        models=len(deployed),
        due=due[:limit],
        not_due=not_due,
        disabled=disabled,
        deferred=[check.model_name for check in due[limit:]],
        invalid=invalid,
    )


def schedule_overview(
    stored_config: Mapping[str, Any] | None, *, default_rate: str, tick_rate: str, now: float
) -> dict:
    """What ``GET /models/{name}/monitoring`` shows of a model's schedule."""
    schedule = effective_schedule(stored_config, default_rate)
    rate = schedule.rate or default_rate
    period_s = period_seconds(rate, tick_rate)
    next_boundary = (math.floor(now / period_s) + 1) * period_s
    return {
        "enabled": schedule.enabled,
        "rate": rate,
        "rate_is_default": not ((stored_config or {}).get("schedule") or {}).get("rate"),
        "tick_rate": tick_rate,
        "next_check_after": iso_seconds(next_boundary) if schedule.enabled else None,
    }


def tick_at(event: PlanTickEvent) -> float:
    """The tick's due time (epoch seconds): the Scheduler's time, or the execution's start when started by hand."""
    return epoch_seconds(event.tick.scheduled_time or event.execution_start_time)
