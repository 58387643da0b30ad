"""The dashboard's charts, inline SVG (no script, no font): time on the x-axis, labelled at its ends and middle, and
honest y-axes that start at zero (a score between 0 and 1 is drawn on 0–1, anything else on 0 to its maximum).
Versions are marks on the time axis (a dashed line at each registration, production's green). Every point carries
its exact value in ``data-value`` and its time in ``data-at``, so a test can compare them with the records."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops.monitoring.partitions import epoch_seconds
from mlops.records.registry import VERSION_REJECTED, VersionRecord

CHART_WIDTH = 360
CHART_HEIGHT = 160
MAX_CHARTS = 4
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 10, 30
# Metrics worth a chart first, in this order; any other metric the versions hold follows alphabetically.
PREFERRED_METRICS = ("f1", "accuracy", "roc_auc", "pr_auc", "balanced_accuracy", "r2", "rmse", "mae")
STATUS_COLOURS = {"drift": "#c0392b", "ok": "#2e7d32", "insufficient_data": "#9aa5b1"}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def when(iso: str) -> float:
    return epoch_seconds(iso)


def time_label(at: float, span_s: float) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    if span_s < 3600:  # a short story (a demo, a test): seconds tell its moments apart
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%m-%d %H:%M" if span_s < 3 * 86_400 else "%Y-%m-%d")


@dataclass(frozen=True)
class Mark:
    """A version on the time axis."""

    at: float
    label: str
    production: bool = False


@dataclass(frozen=True)
class Frame:
    """A chart's axes: the time range and the y range (``low`` is 0 unless values go below it)."""

    start: float
    end: float
    low: float
    high: float

    @classmethod
    def of(cls, times: Sequence[float], values: Sequence[float], *, start: float | None = None) -> Frame:
        start = min(times, default=0.0) if start is None else start
        end = max([*times, start + 1.0])
        low = min([0.0, *values])
        top = max(values, default=1.0)
        high = 1.0 if low >= 0 and top <= 1.0 else (top * 1.1 if top > 0 else 1.0)
        return cls(start, end if end > start else start + 1.0, low, high if high > low else low + 1.0)

    def x(self, at: float) -> float:
        return LEFT + (CHART_WIDTH - LEFT - RIGHT) * (at - self.start) / (self.end - self.start)

    def y(self, value: float) -> float:
        plot_h = CHART_HEIGHT - TOP - BOTTOM
        return TOP + plot_h * (1 - (value - self.low) / (self.high - self.low))


def _axes(frame: Frame, title: str, unit: str) -> list[str]:
    bottom = CHART_HEIGHT - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="{_e(title)} over time" '
        f'data-chart="{_e(title)}" data-y-low="{frame.low}" data-y-high="{frame.high}">',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{CHART_WIDTH - RIGHT}" y2="{bottom}" stroke="#999"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = frame.low + (frame.high - frame.low) * fraction
        y = frame.y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{CHART_WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">'
            f"{value:.3g}{unit}</text>"
        )
    span = frame.end - frame.start
    for fraction, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        at = frame.start + span * fraction
        parts.append(
            f'<text x="{frame.x(at):.1f}" y="{CHART_HEIGHT - 6}" font-size="10" text-anchor="{anchor}" '
            f'fill="#444" data-axis="time">{_e(time_label(at, span))}</text>'
        )
    return parts


def _marks(frame: Frame, marks: Sequence[Mark]) -> list[str]:
    parts = []
    for mark in marks:
        if not frame.start <= mark.at <= frame.end:
            continue
        x = frame.x(mark.at)
        colour = "#2e7d32" if mark.production else "#b0b8c4"
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{CHART_HEIGHT - BOTTOM}" stroke="{colour}" '
            f'stroke-dasharray="3,3" data-mark="{_e(mark.label)}"><title>{_e(mark.label)}</title></line>'
            f'<text x="{x + 2:.1f}" y="{TOP + 9}" font-size="9" fill="{colour}">{_e(mark.label)}</text>'
        )
    return parts


def series_chart(
    title: str,
    points: Sequence[tuple[float, float]],
    *,
    start: float,
    end: float,
    marks: Sequence[Mark] = (),
    unit: str = "",
    bars: bool = False,
) -> str:
    """A measured series over time (traffic as bars, rates and latencies as lines), zero-based."""
    values = [value for _, value in points]
    frame = Frame.of([start, end], values, start=start)
    parts = _axes(frame, title, unit) + _marks(frame, marks)
    if not points:
        parts.append(
            f'<text x="{CHART_WIDTH / 2}" y="{CHART_HEIGHT / 2}" font-size="11" text-anchor="middle" '
            'fill="#888">no data in this period</text>'
        )
    width = max(2.0, (CHART_WIDTH - LEFT - RIGHT) / max(len(points), 1) * 0.7)
    if not bars and len(points) > 1:
        path = " ".join(f"{frame.x(at):.1f},{frame.y(value):.1f}" for at, value in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>')
    for at, value in points:
        x, y = frame.x(at), frame.y(value)
        label = f"{time_label(at, 0)} · {value:.4g}{unit}"
        if bars:
            parts.append(
                f'<rect x="{x - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" height="{frame.y(0) - y:.1f}" '
                f'fill="#8aa4c8" data-at="{at}" data-value="{_e(value)}"><title>{_e(label)}</title></rect>'
            )
        else:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1f5fa8" data-at="{at}" data-value="{_e(value)}">'
                f"<title>{_e(label)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def drift_chart(checks: Sequence[dict[str, Any]], *, start: float, end: float, marks: Sequence[Mark] = ()) -> str:
    """Each drift check at its time: the share of features that drifted (0–1), coloured by its status."""
    dated = [(when(c["created_at"]), c) for c in checks if c.get("created_at")]
    frame = Frame(start, max(end, start + 1.0), 0.0, 1.0)
    parts = _axes(frame, "drifted feature share", "") + _marks(frame, marks)
    for at, check in sorted(dated, key=lambda item: item[0]):
        share = float(check.get("drift_share") or 0.0)
        status = str(check.get("status", ""))
        colour = STATUS_COLOURS.get(status, "#9aa5b1")
        label = f"{time_label(at, 0)} · {status} · drifted share {share:.2f} · {check.get('decision', '')}"
        parts.append(
            f'<circle cx="{frame.x(at):.1f}" cy="{frame.y(share):.1f}" r="5" fill="{colour}" data-at="{at}" '
            f'data-value="{_e(share)}" data-status="{_e(status)}"><title>{_e(label)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def chart_metrics(versions: Sequence[VersionRecord]) -> list[str]:
    present = {name for v in versions for name, value in v.metrics.items() if isinstance(value, int | float)}
    ordered = [name for name in PREFERRED_METRICS if name in present]
    ordered += sorted(present - set(ordered))
    return ordered[:MAX_CHARTS]


def metric_chart(name: str, versions: Sequence[VersionRecord], production: int | None) -> str:
    """One holdout metric of each version at the time it was registered, on a zero-based axis (0–1 for a score):
    production green and larger, versions the gate rejected as red rings."""
    points = [(v, float(v.metrics[name])) for v in versions if isinstance(v.metrics.get(name), int | float)]
    points = [(v, value) for v, value in points if math.isfinite(value)]
    times = [when(v.created_at) for v, _ in points]
    frame = Frame.of(times, [value for _, value in points])
    span = frame.end - frame.start
    frame = Frame(frame.start - 0.05 * span, frame.end + 0.05 * span, frame.low, frame.high)
    parts = _axes(frame, name, "")
    if len(points) > 1:
        path = " ".join(f"{frame.x(at):.1f},{frame.y(value):.1f}" for at, (_, value) in zip(times, points, strict=True))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#8aa4c8" stroke-width="1.5"/>')
    for at, (version, value) in zip(times, points, strict=True):
        x, y = frame.x(at), frame.y(value)
        is_production = version.version == production
        rejected = version.status == VERSION_REJECTED
        colour = "#2e7d32" if is_production else ("#c0392b" if rejected else "#1f5fa8")
        fill = "#fff" if rejected else colour
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{6 if is_production else 4}" fill="{fill}" '
            f'stroke="{colour}" stroke-width="2" data-version="{version.version}" data-value="{_e(value)}" '
            f'data-at="{at}"><title>v{version.version} · {_e(name)} {value:.4f} · {_e(version.status)}'
            f"{' · production' if is_production else ''} · {_e(version.created_at)}</title></circle>"
            f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="9" text-anchor="middle" fill="#444">'
            f"v{version.version}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
