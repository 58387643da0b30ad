"""The drift report a person reads: one self-contained HTML page (inline CSS and SVG, no script, no network).

A summary verdict on top, then data quality, model performance and prediction drift, then one card per feature
with the reference and current histograms side by side, its scores, thresholds and the reason for the decision.
Every string from the data (feature names, categories, reasons) is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

REFERENCE_COLOUR = "#4c72b0"
CURRENT_COLOUR = "#dd8452"
VERDICT_COLOURS = {"drift": "#c0392b", "ok": "#2e7d32", "insufficient_data": "#7f8c8d"}
CHART_WIDTH = 420
CHART_HEIGHT = 165
LABEL_CHARS = 13

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 10px} h3{font-size:15px;margin:0}
.muted{color:#5f6b7a;font-size:13px}
.verdict{display:flex;gap:16px;align-items:center;background:#fff;border-radius:8px;padding:16px 20px;
 box-shadow:0 1px 2px rgba(0,0,0,.08);margin:16px 0}
.badge{color:#fff;font-weight:700;border-radius:6px;padding:8px 14px;font-size:18px;white-space:nowrap}
.pill{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.stat{background:#fff;border-radius:8px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.stat b{display:block;font-size:18px}
.card{background:#fff;border-radius:8px;padding:14px 16px;margin:10px 0;box-shadow:0 1px 2px rgba(0,0,0,.08);
 display:grid;grid-template-columns:440px 1fr;gap:16px}
.card.drifted{border-left:5px solid #c0392b} .card.stable{border-left:5px solid #2e7d32}
table{border-collapse:collapse;font-size:13px;width:100%}
td,th{text-align:left;padding:3px 8px 3px 0;vertical-align:top} th{color:#5f6b7a;font-weight:500;width:42%}
.reason{font-size:13px;margin-top:8px;background:#f6f7f9;border-radius:6px;padding:6px 8px}
ul{margin:6px 0;padding-left:20px;font-size:14px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}
@media (max-width:800px){.card{grid-template-columns:1fr}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any, digits: int = 4) -> str:  # noqa: PLR0911 - one answer per kind of value
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.2e}"
        return f"{value:.{digits}g}"
    return _e(value)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def histogram_svg(labels: Sequence[str], reference: Sequence[float], current: Sequence[float]) -> str:
    """Grouped bars, reference and current share per bucket, with the bucket labels below (full text on hover)."""
    count = max(len(labels), 1)
    top = max([*reference, *current, 1e-9])
    left, bottom, right, height = 40, 46, 6, CHART_HEIGHT
    plot_width = CHART_WIDTH - left - right
    plot_height = height - bottom - 8
    group = plot_width / count
    bar = max(1.0, min(18.0, group * 0.38))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" role="img" aria-label="reference and current histograms">',
        f'<line x1="{left}" y1="{8 + plot_height}" x2="{CHART_WIDTH - right}" y2="{8 + plot_height}" stroke="#999"/>',
    ]
    for fraction in (0.5, 1.0):
        y = 8 + plot_height * (1 - fraction)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{CHART_WIDTH - right}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">'
            f"{top * fraction:.0%}</text>"
        )
    for index, label in enumerate(labels):
        x0 = left + index * group + group / 2
        for offset, value, colour, series in (
            (-bar, reference[index], REFERENCE_COLOUR, "reference"),
            (0.0, current[index], CURRENT_COLOUR, "current"),
        ):
            bar_height = plot_height * (value / top)
            parts.append(
                f'<rect x="{x0 + offset:.1f}" y="{8 + plot_height - bar_height:.1f}" width="{bar:.1f}" '
                f'height="{bar_height:.1f}" fill="{colour}"><title>{_e(label)} · {series} {value:.2%}</title></rect>'
            )
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        if count <= 14 or index % math.ceil(count / 14) == 0:
            parts.append(
                f'<text x="{x0:.1f}" y="{height - bottom + 14}" font-size="9" text-anchor="end" fill="#444" '
                f'transform="rotate(-30 {x0:.1f} {height - bottom + 14})"><title>{_e(label)}</title>{_e(short)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{_e(name)}</th><td>{value}</td></tr>" for name, value in pairs)


def _feature_card(name: str, feature: Mapping[str, Any], *, title: str | None = None) -> str:
    drifted = bool(feature.get("drifted"))
    histogram = feature.get("histogram") or {"labels": [], "reference": [], "current": []}
    pill_colour = VERDICT_COLOURS["drift"] if drifted else VERDICT_COLOURS["ok"]
    test = feature.get("test", "")
    pairs = [
        ("kind", _e(feature.get("kind", ""))),
        (
            f"{feature.get('method', 'psi').upper()} (effect size)",
            f"{_number(feature.get('score'))} vs floor {_number(feature.get('threshold'))}",
        ),
        (f"{test.upper()} statistic", _number(feature.get("statistic"))),
        (
            "p-value → adjusted",
            f"{_number(feature.get('p_value'))} → {_number(feature.get('p_value_adjusted'))} "
            f"({_e(feature.get('correction', ''))}, α {_number(feature.get('alpha'))})",
        ),
    ]
    if feature.get("js_distance") is not None:
        pairs.append(("Jensen–Shannon distance", _number(feature.get("js_distance"))))
    pairs += [
        (
            "rows (missing)",
            f"{_number(feature.get('rows'))} ({_share(feature.get('missing_share'))}; "
            f"reference {_share(feature.get('reference_missing_share'))})",
        ),
    ]
    current, reference = feature.get("current") or {}, feature.get("reference") or {}
    if feature.get("kind") == "numeric":
        pairs.append(
            ("mean: reference → current", f"{_number(reference.get('mean'))} → {_number(current.get('mean'))}")
        )
        pairs.append(("std: reference → current", f"{_number(reference.get('std'))} → {_number(current.get('std'))}"))
    if feature.get("critical"):
        pairs.append(("critical", "yes: its drift alone makes dataset drift"))
    chart = histogram_svg(histogram["labels"], histogram["reference"], histogram["current"])
    heading = title or name
    return (
        f'<section class="card {"drifted" if drifted else "stable"}"><div>{chart}'
        f'<div class="legend muted"><span style="background:{REFERENCE_COLOUR}"></span>reference'
        f'<span style="background:{CURRENT_COLOUR}"></span>current (share of rows per bucket)</div></div>'
        f'<div><h3>{_e(heading)} <span class="pill" style="background:{pill_colour}">'
        f"{'DRIFTED' if drifted else 'stable'}</span></h3><table>{_rows(pairs)}</table>"
        f'<div class="reason">{_e(feature.get("reason", ""))}</div></div></section>'
    )


def _verdict(report: Mapping[str, Any]) -> str:
    status = report.get("status", "ok")
    monitoring = report.get("monitoring") or {}
    label = {"drift": "DRIFT", "ok": "NO DRIFT", "insufficient_data": "INSUFFICIENT DATA"}.get(status, status.upper())
    if monitoring.get("drift_confirmed"):
        label = "DRIFT CONFIRMED"
    colour = VERDICT_COLOURS.get(status, "#7f8c8d")
    lines = [f"<div>{_e(report.get('reason', ''))}</div>"]
    if monitoring:
        lines.append(
            f'<div class="muted">{_e(monitoring.get("consecutive_drifted_windows", 0))} consecutive drifted '
            f"window(s) of {_e(monitoring.get('required_windows', 1))} required · "
            f"{_e(monitoring.get('decision', ''))}</div>"
        )
    badge = f'<div class="badge" style="background:{colour}">{_e(label)}</div>'
    return f'<div class="verdict">{badge}<div>{"".join(lines)}</div></div>'


def _stats(report: Mapping[str, Any]) -> str:
    quality = report.get("data_quality") or {}
    performance = report.get("performance") or {}
    config = report.get("config") or {}
    items = [
        ("rows in the window", _number(report.get("rows"))),
        (
            "features drifted",
            f"{len(report.get('drifted_features') or [])} of {_number(report.get('tested_features'))}",
        ),
        ("drift share", f"{_share(report.get('drift_share'))} (threshold {_share(config.get('drift_share'))})"),
        (
            "data quality",
            "passed" if quality.get("passed", True) else f"{len(quality.get('violations', []))} violation(s)",
        ),
    ]
    if performance:
        items.append(("live performance", _e(performance.get("status", "–"))))
    return (
        '<div class="grid">'
        + "".join(f'<div class="stat"><span class="muted">{_e(k)}</span><b>{v}</b></div>' for k, v in items)
        + "</div>"
    )


def _performance(performance: Mapping[str, Any] | None) -> str:
    if not performance:
        return ""
    live, holdout = performance.get("live") or {}, performance.get("holdout") or {}
    names = [name for name in ("accuracy", "f1", "rmse", "mae") if name in live or name in holdout]
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_number(holdout.get(name))}</td><td>{_number(live.get(name))}</td></tr>"
        for name in names
    )
    table = f"<table><tr><th>metric</th><th>registered holdout</th><th>live</th></tr>{rows}</table>" if rows else ""
    return (
        f'<h2>Model performance (ground truth)</h2><div class="stat">'
        f"<div>{_e(performance.get('reason', ''))}</div>"
        f'<div class="muted">{_number(performance.get("labelled_rows"))} labelled predictions</div>{table}</div>'
    )


def _estimated(estimated: Mapping[str, Any] | None) -> str:
    """Estimated performance (label-free) beside the realised one and the holdout's."""
    if not estimated or estimated.get("status") == "unavailable":
        return ""
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_number(row.get('holdout'))}</td><td>{_number(row.get('estimated'))} "
        f"[{_number(row.get('low'))}, {_number(row.get('high'))}]</td><td>{_number(row.get('realised'))}</td></tr>"
        for name, row in (estimated.get("side_by_side") or {}).items()
    )
    table = (
        f"<table><tr><th>metric</th><th>registered holdout</th><th>estimated [interval]</th><th>realised (labels)"
        f"</th></tr>{rows}</table>"
        if rows
        else ""
    )
    method = f"{estimated.get('method', '').upper()} (calibration: {estimated.get('calibration') or '–'})"
    return (
        f'<h2>Estimated performance (no labels needed)</h2><div class="stat"><div>{_e(estimated.get("reason", ""))}'
        f'</div><div class="muted">{_e(method)} · {_number(estimated.get("rows"))} rows</div>{table}</div>'
    )


def _importance(ranking: Mapping[str, Any] | None) -> str:
    """The drifted features ranked by the model's permutation importance."""
    if not ranking or not ranking.get("features"):
        return ""
    rows = "".join(
        f"<tr><td>{_e(item['feature'])}</td><td>{_number(item.get('importance'))}</td>"
        f"<td>{_e(item['relevance'].replace('_', ' '))}</td><td>{_number(item.get('score'))}</td></tr>"
        for item in ranking["features"]
    )
    return (
        f'<h2>Drifted features by importance</h2><div class="stat"><div>{_e(ranking.get("summary", ""))}</div>'
        f"<table><tr><th>feature</th><th>importance ({_e(ranking.get('scoring') or '–')})</th><th>the model</th>"
        f"<th>drift score</th></tr>{rows}</table></div>"
    )


def _quality(quality: Mapping[str, Any] | None) -> str:
    if not quality:
        return ""
    violations = quality.get("violations") or []
    if not violations:
        return (
            '<h2>Data quality</h2><div class="stat">No violation: every column present, types as trained, '
            "missing shares and categories as in training.</div>"
        )
    items = "".join(f"<li><code>{_e(v.get('check'))}</code> {_e(v.get('detail', ''))}</li>" for v in violations)
    return f'<h2>Data quality</h2><div class="stat"><ul>{items}</ul></div>'


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for a drift report (the report.json document, or the CLI's result)."""
    model = report.get("model_name")
    window = report.get("window") or {}
    title = f"Drift report · {model} v{report.get('version')}" if model else "Drift report"
    subtitle = []
    if window:
        subtitle.append(f"window {window.get('start_iso', '')} → {window.get('end_iso', '')}")
    if report.get("created_at"):
        subtitle.append(f"checked {report['created_at']}")
    if report.get("reference_label"):
        subtitle.append(f"reference {report['reference_label']} · current {report.get('current_label', '')}")
    features = report.get("features") or {}
    ordered = sorted(features.items(), key=lambda item: (not item[1].get("drifted"), -(item[1].get("score") or 0)))
    prediction = report.get("prediction")
    config = report.get("config") or {}
    settings = ", ".join(f"{_e(k)} {_e(v)}" for k, v in config.items() if k != "chunk_rows")
    body = [
        f'<h1>{_e(title)}</h1><div class="muted">{_e(" · ".join(subtitle))}</div>',
        _verdict(report),
        _stats(report),
        _quality(report.get("data_quality")),
        _performance(report.get("performance")),
        _estimated(report.get("estimated_performance")),
        _importance(report.get("drift_by_importance")),
    ]
    if prediction:
        body.append("<h2>Prediction drift</h2>" + _feature_card("prediction", prediction, title="model predictions"))
    body.append(f"<h2>Features ({len(features)}; drifted first)</h2>")
    body.extend(_feature_card(name, feature) for name, feature in ordered)
    body.append(
        f'<h2>Settings</h2><p class="muted">A feature drifts when its test is significant after the '
        f"multiple-testing correction and its PSI reaches the effect-size floor. {settings}.</p>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>{''.join(body)}</main></body></html>"
    )


def notification(report: Mapping[str, Any], retrain: Mapping[str, Any], new_signals: list[str]) -> dict[str, str]:
    """The subject and text of the check's e-mail."""
    model, version = report["model_name"], report["version"]
    monitoring = report["monitoring"]
    if retrain.get("start"):
        subject = f"[mlops] {model}: retraining started after drift check"
    elif monitoring["drift_confirmed"]:
        subject = f"[mlops] {model}: drift confirmed"
    elif monitoring["performance_degraded"]:
        subject = f"[mlops] {model}: live performance degraded"
    elif monitoring.get("estimated_performance_degraded"):
        subject = f"[mlops] {model}: estimated performance degraded"
    else:
        subject = f"[mlops] {model}: data quality violations"
    lines = [
        f"Model {model} v{version}, drift check {report['check_id']} at {report['created_at']}.",
        f"Verdict: {report['status']} — {report['reason']}.",
        f"Decision: {monitoring['decision']}.",
        f"New signals: {', '.join(new_signals) or 'none'}.",
        f"Drifted features: {', '.join(report['drifted_features'][:15]) or 'none'}.",
    ]
    for violation in (report.get("data_quality") or {}).get("violations", [])[:10]:
        lines.append(f"Data quality: {violation['detail']}")
    performance = report.get("performance") or {}
    if performance.get("status") not in (None, "no_labels"):
        lines.append(f"Performance: {performance.get('reason')}")
    estimated = report.get("estimated_performance") or {}
    if estimated.get("status") in ("ok", "degraded"):
        lines.append(f"Estimated performance: {estimated.get('reason')}")
    ranking = report.get("drift_by_importance") or {}
    if ranking.get("features"):
        lines.append(f"By importance: {ranking['summary']}")
    lines += [f"Report: {report['html_uri']}", f"Data: {report['report_uri']}"]
    return {"subject": subject[:100], "message": "\n".join(lines)}
