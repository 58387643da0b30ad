"""The dashboard's charts: one metric over a model's versions as inline SVG (no script, no font), production marked
and rejected versions hollow; each point carries its exact value in ``data-value``."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from mlops.records.registry import VERSION_REJECTED, VersionRecord

CHART_WIDTH = 340
CHART_HEIGHT = 150
MAX_CHARTS = 6
# Metrics worth a chart first, in this order; any other metric the versions hold follows alphabetically.
PREFERRED_METRICS = ("f1", "accuracy", "roc_auc", "pr_auc", "balanced_accuracy", "r2", "rmse", "mae")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def chart_metrics(versions: Sequence[VersionRecord]) -> list[str]:
    present = {name for v in versions for name, value in v.metrics.items() if isinstance(value, int | float)}
    ordered = [name for name in PREFERRED_METRICS if name in present]
    ordered += sorted(present - set(ordered))
    return ordered[:MAX_CHARTS]


def metric_chart(name: str, versions: Sequence[VersionRecord], production: int | None) -> str:
    """One metric over the versions (in registration order): a line through the points, production marked."""
    points = [(v, float(v.metrics[name])) for v in versions if isinstance(v.metrics.get(name), int | float)]
    points = [(v, value) for v, value in points if math.isfinite(value)]
    left, right, top, bottom = 46, 10, 10, 28
    width, height = CHART_WIDTH, CHART_HEIGHT
    plot_w, plot_h = width - left - right, height - top - bottom
    low = min((value for _, value in points), default=0.0)
    high = max((value for _, value in points), default=1.0)
    spread = max(high - low, 0.02 * max(abs(high), abs(low)), 1e-3)
    low, high = low - 0.15 * spread, high + 0.15 * spread
    values = [value for _, value in points]
    if values and min(values) >= 0.0:
        low = max(low, 0.0)  # a score or a loss never goes below 0
        if max(values) <= 1.0:
            high = min(high, 1.0)  # a score between 0 and 1 stays within its range

    def x_of(index: int) -> float:
        return left + (plot_w / 2 if len(points) == 1 else plot_w * index / (len(points) - 1))

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_e(name)} by version" data-chart="{_e(name)}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = low + (high - low) * fraction
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">{value:.3g}</text>'
        )
    if len(points) > 1:
        path = " ".join(f"{x_of(i):.1f},{y_of(value):.1f}" for i, (_, value) in enumerate(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#8aa4c8" stroke-width="1.5"/>')
    step = max(1, math.ceil(len(points) / 12))
    for index, (version, value) in enumerate(points):
        x, y = x_of(index), y_of(value)
        is_production = version.version == production
        rejected = version.status == VERSION_REJECTED
        colour = "#2e7d32" if is_production else ("#c0392b" if rejected else "#1f5fa8")
        fill = "#fff" if rejected else colour
        radius = 6 if is_production else 4
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{fill}" stroke="{colour}" stroke-width="2" '
            f'data-version="{version.version}" data-value="{_e(value)}"><title>v{version.version} · {_e(name)} '
            f"{value:.4f} · {_e(version.status)}{' · production' if is_production else ''} · "
            f"{_e(version.created_at)}</title></circle>"
        )
        if index % step == 0 or index == len(points) - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 10}" font-size="10" text-anchor="middle" fill="#444">'
                f"v{version.version}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
