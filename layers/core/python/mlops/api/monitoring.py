"""A model's monitoring settings behind GET/PUT/DELETE /models/{name}/monitoring: its overview, replaced overrides,
stopped scheduled checks (each change audited in the same transaction)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops.errors import InvalidMonitoringConfig
from mlops.monitoring.config import MonitoringConfig, rate_seconds
from mlops.monitoring.schedule import schedule_overview
from mlops.monitoring.store import MonitoringStore, monitoring_overview
from mlops.registry.store import ModelRegistry
from mlops.settings import ScheduleSettings
from mlops.storage import codec


def monitoring(
    registry: ModelRegistry, monitors: MonitoringStore, model_name: str, *, schedule: ScheduleSettings, now: float
) -> dict[str, Any]:
    """The model's settings, its schedule (effective rate, next check), the monitor's state and latest checks."""
    registry.get_model(model_name)
    overview = monitoring_overview(model_name, store=monitors)
    overview["schedule"] = schedule_overview(
        overview["config"], default_rate=schedule.default_rate, tick_rate=schedule.tick_rate, now=now
    )
    return overview


def _checked_settings(overrides: dict[str, Any], schedule: ScheduleSettings) -> None:
    """Refuse settings a check would refuse (InvalidMonitoringConfig, naming the field), and a rate the stack's
    schedule cannot keep (finer than its tick)."""
    config = MonitoringConfig.merged(MonitoringConfig(), overrides)
    if config.schedule.rate and rate_seconds(config.schedule.rate) < rate_seconds(schedule.tick_rate):
        raise InvalidMonitoringConfig(
            f"schedule.rate {config.schedule.rate!r} is finer than the stack's schedule, which ticks every "
            f"{schedule.tick_rate} (DriftCheckTickRate): choose a rate of at least that"
        )


def set_monitoring(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    model_name: str,
    overrides: dict[str, Any],
    *,
    schedule: ScheduleSettings,
    actor: str,
    now: float,
) -> dict[str, Any]:
    """Replace a model's monitoring overrides ({} returns to the stack's settings, monitoring on), audited."""
    registry.get_model(model_name)
    _checked_settings(overrides, schedule)
    _replace_config(registry, monitors, model_name, lambda _: overrides, "MonitoringConfigured", actor=actor)
    return monitoring(registry, monitors, model_name, schedule=schedule, now=now)


def stop_monitoring(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    model_name: str,
    *,
    schedule: ScheduleSettings,
    actor: str,
    now: float,
) -> dict[str, Any]:
    """No more scheduled checks of the model (its other settings are kept; a PUT turns monitoring back on)."""
    registry.get_model(model_name)
    _replace_config(
        registry,
        monitors,
        model_name,
        lambda before: {**before, "schedule": {**(before.get("schedule") or {}), "enabled": False}},
        "MonitoringStopped",
        actor=actor,
    )
    return monitoring(registry, monitors, model_name, schedule=schedule, now=now)


_CONFIG_REASONS = {
    "MonitoringConfigured": "monitoring settings replaced",
    "MonitoringStopped": "scheduled drift checks stopped",
}


def _replace_config(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    model_name: str,
    new_config: Callable[[dict[str, Any]], dict[str, Any]],
    event_type: str,
    *,
    actor: str,
) -> None:
    """The model's monitoring overrides replaced and the change's audit event put, in one transaction."""
    before = monitors.get(model_name).config
    after = new_config(before)
    registry.transact(
        [
            monitors.config_update(model_name, after),
            registry.event_put(
                model_name,
                event_type,
                actor=actor,
                reason=_CONFIG_REASONS[event_type],
                before=before,
                after=after,
                at=codec.now_iso(),
            ),
        ]
    )
