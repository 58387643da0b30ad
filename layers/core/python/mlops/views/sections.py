"""The dashboard's answers to "is it healthy, what changed, what should I do": a model's health over time (requests,
error rate, p50/p99 latency, drift), two versions side by side, the model card as HTML, and links to each run, report
and artifact (``Links``: the local gateway's API routes, or the AWS console on a deployed stack)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mlops.monitoring.partitions import epoch_seconds
from mlops.records.registry import VersionRecord
from mlops.views.charts import Mark, drift_chart, series_chart
from mlops.views.panels import ModelPanel

COMPARED_FIELDS = ("status", "estimator", "created_at", "created_by")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def route(template: str, **values: Any) -> str:
    """An API route with its ``<placeholders>`` filled in, URL-quoted."""
    for name, value in values.items():
        template = template.replace(f"<{name}>", quote(str(value), safe=""))
    return template


@dataclass(frozen=True)
class Links:
    """Where a run, a version, a card, a drift report and an artifact are opened. ``region`` None: the local stack,
    whose gateway serves the API's routes beside the page (relative links); else the AWS console of that region."""

    region: str | None = None

    def _console(self, path: str) -> str:
        return f"https://{self.region}.console.aws.amazon.com/{path}"

    def run(self, execution_arn: str | None) -> str | None:
        if not execution_arn or not execution_arn.startswith("arn:"):
            return None
        if self.region:
            return self._console(f"states/home?region={self.region}#/v2/executions/details/{quote(execution_arn)}")
        return route("/pipelines/training/<id>?steps=true", id=execution_arn.rsplit(":", 1)[-1])

    def version(self, model_name: str, version: int) -> str:
        return "" if self.region else route("/models/<name>/versions/<version>", name=model_name, version=version)

    def card(self, model_name: str, version: int) -> str | None:
        if self.region:
            return None
        return route("/models/<name>/versions/<version>/card?format=md", name=model_name, version=version)

    def report(self, model_name: str, check: dict[str, Any]) -> str | None:
        if self.region:
            return self.artifact(check.get("html_uri"))
        return route("/models/<name>/monitoring/report?check_id=<id>", name=model_name, id=check.get("check_id", ""))

    def artifact(self, uri: str | None) -> str | None:
        if not uri or not uri.startswith("s3://") or not self.region:
            return None
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self._console(f"s3/object/{quote(bucket)}?region={self.region}&prefix={quote(key)}")


def link(url: str | None, text: str) -> str:
    return f'<a href="{_e(url)}">{_e(text)}</a>' if url else _e(text)


def version_marks(panel: ModelPanel) -> list[Mark]:
    production = panel.production.version if panel.production else None
    return [Mark(epoch_seconds(v.created_at), f"v{v.version}", v.version == production) for v in panel.versions]


def health(panel: ModelPanel, links: Links) -> str:
    """Is it healthy: traffic, error rate, latency and drift over the same time axis, versions marked."""
    serving = panel.serving
    marks = version_marks(panel)
    charts = []
    if serving is not None:
        span = (serving.start, serving.end)
        period = f"per {serving.period_s // 60} min"
        unavailable = "" if serving.available else " (metrics unavailable)"
        charts += [
            (
                f"requests {period}{unavailable}",
                series_chart("requests", serving.requests, start=span[0], end=span[1], marks=marks, bars=True),
            ),
            (
                f"error rate (5xx) {period}",
                series_chart("error rate", serving.error_rate, start=span[0], end=span[1], marks=marks),
            ),
            (
                f"p50 latency {period}",
                series_chart("p50 latency", serving.p50_ms, start=span[0], end=span[1], marks=marks, unit=" ms"),
            ),
            (
                f"p99 latency {period}",
                series_chart("p99 latency", serving.p99_ms, start=span[0], end=span[1], marks=marks, unit=" ms"),
            ),
        ]
        start, end = span
    else:
        times = [epoch_seconds(c["created_at"]) for c in panel.checks if c.get("created_at")]
        start, end = min(times, default=0.0), max(times, default=1.0)
    charts.append(
        (
            "drift checks (drifted feature share; red: drift)",
            drift_chart(panel.checks, start=start, end=end, marks=marks),
        )
    )
    blocks = "".join(f'<div class="chart"><div class="muted">{_e(title)}</div>{svg}</div>' for title, svg in charts)
    latest = next((c for c in panel.checks if c.get("html_uri")), None)
    report = (
        f"<p>Latest drift report: {link(links.report(panel.name, latest), str(latest.get('created_at', '')))} "
        f"— {_e(latest.get('status', ''))}, {_e(latest.get('decision', ''))}</p>"
        if latest
        else '<p class="muted">No drift check yet: <code>mlops monitoring check '
        f"{_e(panel.name)} --wait</code> runs one now.</p>"
    )
    totals = (
        f'<p class="muted" data-field="serving_totals">{serving.total_requests:,} requests, '
        f"{serving.total_errors:,} errors since {_e(_iso(serving.start))}.</p>"
        if serving is not None
        else ""
    )
    return f'<div class="charts">{blocks}</div>{totals}{report}'


def _iso(at: float) -> str:
    from mlops.monitoring.partitions import iso_seconds  # noqa: PLC0415

    return iso_seconds(at)


def compared_pair(panel: ModelPanel) -> tuple[VersionRecord, VersionRecord] | None:
    """What changed: production against the newest other version (or the two newest, with nothing deployed)."""
    if len(panel.versions) < 2:
        return None
    by_number = {v.version: v for v in panel.versions}
    production = by_number.get(panel.production.version) if panel.production else None
    if production is None:
        return panel.versions[-2], panel.versions[-1]
    other = next(v for v in reversed(panel.versions) if v.version != production.version)
    return (production, other) if other.version > production.version else (other, production)


def _fields(version: VersionRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {name: getattr(version, name, None) for name in COMPARED_FIELDS}
    fields.update({f"metric {k}": v for k, v in sorted(version.metrics.items())})
    fields.update({f"param {k}": v for k, v in sorted(version.params.items())})
    fields["gate"] = (version.gate or {}).get("decision")
    fields["data sha256"] = version.lineage.data_sha256[:12]
    fields["rows"] = version.lineage.rows
    fields["dataset"] = version.lineage.dataset_uri
    fields["served by"] = version.serving.served_by
    return fields


def compare(panel: ModelPanel) -> str:
    pair = compared_pair(panel)
    if pair is None:
        return '<p class="muted">One version only: nothing to compare yet.</p>'
    a, b = pair
    left, right = _fields(a), _fields(b)
    rows = []
    for name in dict.fromkeys([*left, *right]):
        one, two = left.get(name), right.get(name)
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (one, two))
        change = f"{two - one:+.4g}" if numbers else ("same" if one == two else "changed")
        rows.append(
            f'<tr data-compared="{_e(name)}" class="{"same" if one == two else "changed"}"><th>{_e(name)}</th>'
            f"<td>{_e('–' if one is None else one)}</td><td>{_e('–' if two is None else two)}</td>"
            f"<td>{_e(change)}</td></tr>"
        )
    return (
        f'<div class="panel"><table class="compare" data-a="{a.version}" data-b="{b.version}"><tr><th></th>'
        f"<th>v{a.version} ({_e(a.status)})</th><th>v{b.version} ({_e(b.status)})</th><th>change</th></tr>"
        f"{''.join(rows)}</table></div>"
    )


_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<b>\1</b>"), (re.compile(r"`([^`]+)`"), r"<code>\1</code>")]


def _inline(text: str) -> str:
    """Escaped first, then the card's two inline forms: ``**bold**`` and ```code```."""
    escaped = _e(text)
    for pattern, replacement in _INLINE:
        escaped = pattern.sub(replacement, escaped)
    return escaped


def card_html(markdown: str) -> str:
    """The model card's Markdown (``cards.render_markdown``: headings, pipe tables, bullet lists, paragraphs) as HTML.
    Every piece of text is escaped before the two inline forms are applied, so markup a user wrote stays text."""
    out: list[str] = []
    table: list[list[str]] = []
    items: list[str] = []

    def flush() -> None:
        if table:
            head, *body = table
            out.append(
                '<table class="card-table"><tr>'
                + "".join(f"<th>{_inline(c)}</th>" for c in head)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in body)
                + "</table>"
            )
            table.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells):
                table.append(cells)
            continue
        if stripped.startswith(("- ", "* ")):
            items.append(stripped[2:])
            continue
        flush()
        heading = re.match(r"^(#{1,4}) (.*)$", stripped)
        if heading:
            level = min(len(heading.group(1)) + 2, 6)  # the page's own h1-h3 stay above the card's
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped:
            out.append(f"<p>{_inline(stripped)}</p>")
    flush()
    return f'<div class="card">{"".join(out)}</div>'
