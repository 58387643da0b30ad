"""The registry dashboard a person reads: one self-contained HTML page (inline CSS and SVG, no script, no font, no
network), rendered from the registry's typed records and the monitor's store.

An overview of every model (versions, production and canary, the last run, the monitor's status), then one section per
model that answers "is it healthy, what changed, what should I do": its requests, error rate, p50/p99 latency and
drift checks over time (versions marked on the time axis), its holdout metrics at each version's time, production
beside the newest other version, the versions with links to their runs and records, their lineage, approvals, the
monitor with its latest drift report (linked, and embedded sandboxed), the model card as HTML and the audit
timeline. ``local up`` serves it at
``/dashboard``; on AWS the API renders it to ``s3://<bucket>/dashboards/`` and answers a presigned URL (``mlops
dashboard --open``), so there is no public endpoint to secure. Every string from users (model names, reasons,
parameters, actors) is escaped; numbers carry their exact value in ``data-value`` so a test can compare them with
the registry.
"""

from __future__ import annotations

import html
import math
import uuid
from collections.abc import Sequence
from typing import Any

from mlops.governance import cards
from mlops.monitoring.store import MonitoringStore
from mlops.records.registry import VERSION_PENDING_APPROVAL, VersionRecord
from mlops.registry.store import ModelRegistry
from mlops.storage import layout, objects
from mlops.storage.codec import now_iso
from mlops.views.charts import chart_metrics, metric_chart
from mlops.views.panels import Dashboard, ModelPanel, collect
from mlops.views.sections import Links, card_html, compare, health, link

MAX_EVENTS = 200
TABLE_METRICS = 3  # metric columns in the versions table (all of them are in "what changed"): it fits 1280 px
PRESIGNED_URL_EXPIRES_S = 900
STATUS_COLOURS = {
    "Registered": "#2e7d32",
    "Approved": "#2e7d32",
    "PendingApproval": "#b26a00",
    "Rejected": "#c0392b",
    "ApprovalExpired": "#7f8c8d",
    "Abandoned": "#7f8c8d",
}
MONITOR_COLOURS = {"drift": "#c0392b", "ok": "#2e7d32", "insufficient_data": "#7f8c8d"}
EVENT_COLOURS = {
    "TrainingRunFailed": "#c0392b",
    "VersionRejected": "#c0392b",
    "VersionRejectedByApprover": "#c0392b",
    "DriftConfirmed": "#c0392b",
    "AliasMoved": "#1f5fa8",
    "CanaryChanged": "#1f5fa8",
    "CanaryPromoted": "#1f5fa8",
    "RolledBack": "#b26a00",
    "CanaryRolledBack": "#b26a00",
    "RetrainingStarted": "#b26a00",
}

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:20px;margin:36px 0 6px;padding-top:10px;border-top:2px solid #dfe3e8}
h3{font-size:15px;margin:22px 0 8px}
a{color:#1f5fa8}
.muted{color:#5f6b7a;font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:14px 0}
.stat{background:#fff;border-radius:8px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.stat b{display:block;font-size:20px} .stat b.small{font-size:14px;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(372px,1fr));gap:10px}
.chart{background:#fff;border-radius:8px;padding:8px 10px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.panel{background:#fff;border-radius:8px;padding:10px 14px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{text-align:left;padding:4px 10px 4px 0;vertical-align:top;border-bottom:1px solid #eef0f3;
 overflow-wrap:anywhere}
table.compare tr.changed td{background:#fff8e6} table.compare th{width:22%}
.card{background:#fff;border-radius:8px;padding:4px 14px 10px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.card h3,.card h4,.card h5{margin:14px 0 6px} .card p{font-size:13px}
th{color:#5f6b7a;font-weight:500}
td.num{font-variant-numeric:tabular-nums;text-align:right}
.pill{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff;
 background:#5f6b7a;white-space:nowrap}
.alias{background:#1f5fa8} .canary{background:#6a3fa0}
ol.timeline{list-style:none;margin:0;padding:0}
ol.timeline li{border-left:3px solid #c8ced6;margin:0 0 0 6px;padding:2px 0 8px 12px;font-size:13px}
code{font-size:12px;background:#f0f2f5;border-radius:4px;padding:0 4px;word-break:break-all}
pre{white-space:pre-wrap;font-size:12px;background:#f6f7f9;border-radius:6px;padding:10px;max-height:480px;overflow:auto}
iframe{width:100%;height:640px;border:1px solid #dfe3e8;border-radius:6px;background:#fff}
details>summary{cursor:pointer;font-weight:600;margin:6px 0}
nav a{margin-right:12px}
"""


# Every HTML page the stack serves (the dashboard, a drift report): no script, nothing loaded from anywhere; inline
# styles and data: images only. The dashboard carries it in a meta tag (it is opened from S3), the API as a header.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# ---- publishing (AWS: the API renders to S3 and answers a presigned URL) ---------------------------------------------


def publish(bucket: str, page: str, *, expires_s: int = PRESIGNED_URL_EXPIRES_S) -> dict[str, Any]:
    """Write the page to ``dashboards/`` and return its URI and a presigned GET URL (valid ``expires_s``, or until the
    signer's session ends if sooner)."""
    at = now_iso()
    uri = layout.dashboard(bucket, at, uuid.uuid4().hex[:8])
    objects.put_bytes(uri, page.encode("utf-8"), "text/html; charset=utf-8")
    url = objects.presigned_get(uri, expires_s, "text/html; charset=utf-8")
    return {"uri": str(uri), "url": url, "expires_in_s": expires_s, "generated_at": at}


# ---- rendering ------------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "–"
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    return _e(value)


def _metric_cell(version: int, name: str, value: Any) -> str:
    return (
        f'<td class="num" data-version="{version}" data-metric="{_e(name)}" data-value="{_e(value)}">'
        f"{_number(value)}</td>"
    )


def _pill(text: str, colour: str | None = None, css: str = "") -> str:
    style = f' style="background:{colour}"' if colour else ""
    return f'<span class="pill {css}"{style}>{_e(text)}</span>'


def _anchor(name: str) -> str:
    return "model-" + "".join(c if c.isalnum() or c in "-_" else f"_{ord(c):x}" for c in name)


def _overview(dashboard: Dashboard) -> str:
    panels = dashboard.panels
    versions = sum(len(p.versions) for p in panels)
    deployed = sum(1 for p in panels if p.production)
    drifting = sum(1 for p in panels if p.monitor.state and p.monitor.state.last_status == "drift")
    pending = sum(1 for p in panels for v in p.versions if v.status == VERSION_PENDING_APPROVAL)
    stats = [
        ("models", len(panels), "models"),
        ("versions", versions, "versions"),
        ("in production", deployed, "deployed"),
        ("awaiting approval", pending, "pending"),
        ("drifting now", drifting, "drifting"),
    ]
    cells = "".join(
        f'<div class="stat"><span class="muted">{label}</span><b data-stat="{key}">{value}</b></div>'
        for label, value, key in stats
    )
    rows = []
    for panel in panels:
        production = panel.production
        canary = (
            f"v{production.canary_version} at {production.canary_weight:.0%}"
            if production and production.canary_version
            else "–"
        )
        run = panel.last_run
        state = panel.monitor.state
        monitor = (
            _pill(state.last_status or "–", MONITOR_COLOURS.get(state.last_status or ""))
            + f' <span class="muted">{_e(state.last_check_at or "")}</span>'
            if state
            else '<span class="muted">not checked yet</span>'
        )
        rows.append(
            f'<tr data-model="{_e(panel.name)}"><td><a href="#{_anchor(panel.name)}">{_e(panel.name)}</a></td>'
            f'<td class="num" data-field="latest_version">{panel.model.latest_version}</td>'
            f'<td data-field="production_version">{"v" + str(production.version) if production else "–"}</td>'
            f'<td data-field="canary">{_e(canary)}</td>'
            f'<td>{_e(run.outcome) if run else "–"}<br><span class="muted">{_e(run.at) if run else ""}</span></td>'
            f'<td data-field="monitoring">{monitor}</td></tr>'
        )
    table = (
        '<table id="registry-overview"><tr><th>model</th><th>latest</th><th>production</th><th>canary</th>'
        f"<th>last run</th><th>monitoring</th></tr>{''.join(rows)}</table>"
        if rows
        else '<p class="muted">No model is registered yet: train one (mlops train, or python -m local up --seed).</p>'
    )
    return f'<div class="grid">{cells}</div><div class="panel">{table}</div>'


def _lift_cell(version: VersionRecord) -> str:
    """The gate metric's lift over the trivial baseline (every checked metric in the cell's title)."""
    lift = version.lift_over_baseline or {}
    metric = str((version.gate or {}).get("metric", ""))
    if metric not in lift:
        return "<td>–</td>"
    every = "; ".join(f"{name} {values['difference']:+.4f}" for name, values in lift.items())
    return (
        f'<td class="num" data-lift-metric="{_e(metric)}" title="{_e(every)}">'
        f"{_e(metric)} {lift[metric]['difference']:+.4f}</td>"
    )


def _versions_table(panel: ModelPanel, metric_names: Sequence[str], links: Links) -> str:
    production = panel.production
    metric_names = metric_names[:TABLE_METRICS]
    head = "".join(f"<th>{_e(name)}</th>" for name in metric_names)
    rows = []
    for version in reversed(panel.versions):
        badges = []
        if production and version.version == production.version:
            badges.append(_pill("production", css="alias"))
        if production and version.version == production.canary_version:
            badges.append(_pill(f"canary {production.canary_weight:.0%}", css="canary"))
        if production and version.version == production.previous_version:
            badges.append(_pill("previous", "#5f6b7a"))
        gate = str((version.gate or {}).get("decision", "–"))
        cells = "".join(_metric_cell(version.version, name, version.metrics.get(name)) for name in metric_names)
        rows.append(
            f'<tr data-version="{version.version}">'
            f"<td>{link(links.version(panel.name, version.version), f'v{version.version}')} {' '.join(badges)}<br>"
            f"{link(links.run(version.lineage.execution_arn), 'run')} · "
            f"{link(links.artifact(version.artifact_uri), 'artifact')}</td>"
            f"<td>{_pill(version.status, STATUS_COLOURS.get(version.status))}</td>"
            f"<td>{_e(version.estimator)}</td><td>{_e(gate)}</td>{_lift_cell(version)}{cells}"
            f"<td>{_e(version.serving.served_by)}</td>"
            f'<td><span class="muted">{_e(version.created_at)}</span><br>{_e(version.created_by)}</td></tr>'
        )
    return (
        f'<div class="panel"><table class="versions"><tr><th>version</th><th>status</th><th>estimator</th>'
        f"<th>gate</th><th>lift over baseline</th>{head}<th>served by</th><th>registered</th></tr>"
        f"{''.join(rows)}</table></div>"
    )


def _lineage_table(panel: ModelPanel, links: Links) -> str:
    rows = []
    for version in reversed(panel.versions):
        lineage = version.lineage
        split = lineage.split or {}
        libraries = ", ".join(
            f"{k} {v}" for k, v in sorted(lineage.libraries.items()) if k in ("scikit-learn", "python")
        )
        rows.append(
            f"<tr><td>v{version.version}</td><td><code>{_e(lineage.dataset_uri)}</code></td>"
            f'<td><code title="{_e(lineage.data_sha256)}">{_e(lineage.data_sha256[:12])}</code></td>'
            f'<td class="num">{_number(lineage.rows)}</td><td>{_e(split.get("seed", "–"))}</td>'
            f"<td>{_e(lineage.requested_by)}</td><td>{_e(lineage.code_version)}</td><td>{_e(libraries)}</td>"
            f'<td title="{_e(lineage.execution_arn)}">'
            f"{link(links.run(lineage.execution_arn), lineage.run_id)}</td></tr>"
        )
    return (
        '<div class="panel"><table class="lineage"><tr><th>version</th><th>dataset</th><th>data sha256</th>'
        "<th>rows</th><th>split seed</th><th>requested by</th><th>code</th><th>libraries</th><th>run</th></tr>"
        f"{''.join(rows)}</table></div>"
    )


def _approvals(panel: ModelPanel) -> str:
    rows = []
    for version in reversed(panel.versions):
        required = bool((version.approval or {}).get("required"))
        if not (required or version.approval_decision or version.approval_requested_at):
            continue
        decision = version.approval_decision or {}
        verdict = "approved" if decision.get("approved") else ("rejected" if decision else "–")
        rows.append(
            f"<tr><td>v{version.version}</td><td>{_pill(version.status, STATUS_COLOURS.get(version.status))}</td>"
            f"<td>{_e(version.approval_requested_at or '–')}</td><td>{_e(verdict)}</td>"
            f"<td>{_e(decision.get('by', '–'))}</td><td>{_e(decision.get('at', '–'))}</td>"
            f"<td>{_e(decision.get('reason', ''))}</td></tr>"
        )
    if not rows:
        return '<p class="muted">No version of this model required approval.</p>'
    return (
        '<div class="panel"><table class="approvals"><tr><th>version</th><th>status</th><th>requested</th>'
        f"<th>decision</th><th>by</th><th>at</th><th>reason</th></tr>{''.join(rows)}</table></div>"
    )


def _timeline(panel: ModelPanel) -> str:
    events = sorted(panel.events, key=lambda e: e.at, reverse=True)
    items = "".join(
        f'<li style="border-left-color:{EVENT_COLOURS.get(event.event_type, "#c8ced6")}" '
        f'data-event="{_e(event.event_type)}"><b>{_e(event.event_type)}</b> '
        f'<span class="muted">{_e(event.at)} · {_e(event.actor)}</span><br>{_e(event.reason)}</li>'
        for event in events[:MAX_EVENTS]
    )
    more = (
        f'<p class="muted">{len(events) - MAX_EVENTS} older events not shown.</p>' if len(events) > MAX_EVENTS else ""
    )
    return f'<div class="panel"><ol class="timeline">{items}</ol>{more}</div>' if items else ""


def _monitoring(panel: ModelPanel) -> str:
    state = panel.monitor.state
    if state is None and not panel.checks:
        return '<p class="muted">No drift check has run for this model yet.</p>'
    facts = []
    if state:
        facts = [
            ("last status", _pill(state.last_status or "–", MONITOR_COLOURS.get(state.last_status or ""))),
            ("last check", _e(state.last_check_at or "–")),
            ("consecutive drifted windows", _e(state.consecutive_drifted)),
            ("version watched", _e(f"v{state.version}" if state.version else "–")),
        ]
        if state.last_retraining:
            facts.append(("last retraining", _e(f"{state.last_retraining.at}: {state.last_retraining.reason}")))
    cells = "".join(f'<div class="stat"><span class="muted">{k}</span><b class="small">{v}</b></div>' for k, v in facts)
    rows = "".join(
        f"<tr><td>{_e(c.get('created_at', ''))}</td><td>v{_e(c.get('version', ''))}</td>"
        f"<td>{_pill(str(c.get('status', '–')), MONITOR_COLOURS.get(str(c.get('status'))))}</td>"
        f'<td class="num">{_number(c.get("rows"))}</td><td class="num">{_number(c.get("drift_share"))}</td>'
        f"<td>{_e(', '.join(c.get('drifted_features') or []) or '–')}</td><td>{_e(c.get('performance', '–'))}</td>"
        f"<td>{_e(c.get('decision', ''))}</td></tr>"
        for c in panel.checks
    )
    table = (
        '<div class="panel"><table class="checks"><tr><th>checked</th><th>version</th><th>status</th><th>rows</th>'
        f"<th>drift share</th><th>drifted features</th><th>performance</th><th>decision</th></tr>{rows}</table></div>"
        if rows
        else ""
    )
    report = (
        "<details><summary>Latest drift report, embedded</summary>"
        f'<iframe title="latest drift report" sandbox srcdoc="{_e(panel.drift_report_html)}"></iframe></details>'
        if panel.drift_report_html
        else ""
    )
    return f'<div class="grid">{cells}</div>{table}{report}'


def _model_section(panel: ModelPanel, links: Links) -> str:
    production = panel.production
    metric_names = chart_metrics(panel.versions)
    production_version = production.version if production else None
    charts = "".join(
        f'<div class="chart"><div class="muted">{_e(name)} (holdout) at each version</div>'
        f"{metric_chart(name, panel.versions, production_version)}</div>"
        for name in metric_names
    )
    badges = [_pill(f"production v{production.version}", css="alias")] if production else [_pill("not deployed")]
    if production and production.canary_version:
        badges.append(_pill(f"canary v{production.canary_version} at {production.canary_weight:.0%}", css="canary"))
    latest = panel.versions[-1] if panel.versions else None
    description = _e(latest.description) if latest and latest.description else ""
    card = panel.card
    card_block = ""
    if card:
        number = card["model_overview"]["version"]
        source = link(links.card(panel.name, number), "Markdown")
        card_block = (
            f'<p class="muted">Model card of v{_e(number)} ({source})</p>{card_html(cards.render_markdown(card))}'
        )
    return (
        f'<section id="{_anchor(panel.name)}" data-model="{_e(panel.name)}">'
        f"<h2>{_e(panel.name)} {' '.join(badges)}</h2>"
        f'<div class="muted">{description} · {len(panel.versions)} version(s) · '
        f'<a href="#top">back to the overview</a></div>'
        f"<h3>Health over time</h3>{health(panel, links)}"
        f"<h3>Metrics at each version</h3>"
        f'<div class="charts">{charts}</div>'
        '<p class="muted">Time on the x-axis, 0 at the bottom (scores on 0–1). Green: production; red ring: '
        "rejected by the gate; blue: other versions. Dashed lines in the health charts: versions registered.</p>"
        f"<h3>What changed</h3>{compare(panel)}"
        f"<h3>Versions</h3>{_versions_table(panel, metric_names, links)}"
        f"<h3>Lineage</h3>{_lineage_table(panel, links)}"
        f"<h3>Approvals</h3>{_approvals(panel)}"
        f"<h3>Monitoring</h3>{_monitoring(panel)}"
        f"<h3>Model card</h3>{card_block or '<p class=muted>No version yet.</p>'}"
        f"<h3>Audit timeline</h3>{_timeline(panel)}</section>"
    )


def render_html(dashboard: Dashboard, *, title: str = "Model registry", links: Links | None = None) -> str:
    """The whole page: overview, then one section per model (``links``: the local stack's by default)."""
    links = links or Links()
    nav = "".join(f'<a href="#{_anchor(p.name)}">{_e(p.name)}</a>' for p in dashboard.panels)
    body = (
        f'<h1 id="top">{_e(title)}</h1><div class="muted">generated {_e(dashboard.generated_at)} from the registry '
        f"and the drift monitor</div><nav>{nav}</nav>{_overview(dashboard)}"
        + "".join(_model_section(panel, links) for panel in dashboard.panels)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{PAGE_CSP}">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def render(registry: ModelRegistry, monitors: MonitoringStore, *, links: Links | None = None, **kwargs: Any) -> str:
    return render_html(collect(registry, monitors, **kwargs), links=links)
