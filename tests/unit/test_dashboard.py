"""The dashboard renderer on fabricated records: everything a user wrote is escaped, the numbers are the records'
numbers, aliases and canaries are shown where they are, and the page stays self-contained."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from mlops.governance import cards
from mlops.monitoring.store import MonitorState, StoredMonitor
from mlops.records.registry import AliasRecord, AuditEvent, ModelEntry, VersionRecord
from mlops.views import charts, dashboard, panels, sections
from tests.factories import version_content

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quoted"'


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def record(version: int, status: str, f1: float, **fields) -> VersionRecord:
    content = version_content(metrics={"f1": f1, "accuracy": f1 - 0.01}, **fields).to_document()
    return VersionRecord.model_validate(
        {
            **content,
            "model_name": "churn",
            "version": version,
            "status": status,
            "run_id": f"run-{version}",
            "created_at": f"2026-11-0{version}T10:00:00.000000Z",
            "created_by": "pipeline:run",
        }
    )


def panel(**overrides) -> panels.ModelPanel:
    versions = (
        record(1, "Registered", 0.91),
        record(2, "Rejected", 0.87, description=HOSTILE),
        record(3, "Registered", 0.935),
    )
    fields = {
        "model": ModelEntry(model_name="churn", latest_version=3, created_at="x", updated_at="y"),
        "versions": versions,
        "aliases": (
            AliasRecord(
                alias="production", model_name="churn", version=1, canary_version=3, canary_weight=0.25, reason=HOSTILE
            ),
        ),
        "events": (
            AuditEvent(
                event_id="e1", model_name="churn", event_type="CanaryChanged", actor=HOSTILE, reason=HOSTILE, at="2026"
            ),
            AuditEvent(
                event_id="e2",
                model_name="churn",
                event_type="TrainingRunFailed",
                actor="pipeline:x",
                reason="PrepareFailed: InvalidDataset",
                after={"execution_arn": "arn:x"},
                at="2026-11-09T00:00:00.000000Z",
            ),
        ),
        "monitor": StoredMonitor(state=MonitorState(version=1, last_status="drift", last_check_at="2026-11-08")),
        "checks": (
            {
                "created_at": "2026-11-08T00:00:00.000000Z",
                "check_id": "c1",
                "html_uri": "s3://bucket/monitoring/churn/20261108T000000.000000Z/report.html",
                "version": 1,
                "status": "drift",
                "drift_share": 0.4,
                "drifted_features": [HOSTILE],
            },
        ),
        "card": None,
        "drift_report_html": f"<html><body><h1>{HOSTILE}</h1></body></html>",
    }
    return panels.ModelPanel(**{**fields, **overrides})


def test_user_text_is_escaped_everywhere():
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=(panel(),)))
    elements = parse(page)
    assert not [tag for tag, _ in elements.tags if tag in ("script", "img", "link", "object", "embed")]
    assert not [attrs for _, attrs in elements.tags if any(name.startswith("on") for name in attrs)]
    assert HOSTILE in "".join(elements.text)  # shown as text, not markup
    # the embedded drift report is escaped into srcdoc, in a sandbox without scripts
    (frame,) = [attrs for tag, attrs in elements.tags if tag == "iframe"]
    assert "sandbox" in frame and HOSTILE in frame["srcdoc"]


def test_the_numbers_are_the_records_numbers_and_aliases_are_marked():
    shown = panel()
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=(shown,)))
    elements = parse(page)
    cells = {
        (attrs["data-version"], attrs["data-metric"]): float(attrs["data-value"])
        for tag, attrs in elements.tags
        if tag == "td" and "data-metric" in attrs
    }
    for version in shown.versions:
        for name, value in version.metrics.items():
            assert cells[(str(version.version), name)] == value
    points = {
        (attrs["data-version"], chart): float(attrs["data-value"])
        for chart in ("f1", "accuracy")
        for tag, attrs in parse(charts.metric_chart(chart, shown.versions, 1)).tags
        if tag == "circle"
    }
    assert points == {(str(v.version), name): v.metrics[name] for v in shown.versions for name in ("f1", "accuracy")}
    text = " ".join(elements.text)
    assert "production v1" in text and "canary v3 at 25%" in text
    assert re.search(r"last run.*failed: PrepareFailed: InvalidDataset", text, re.S)  # the newest run failed
    overview = {attrs["data-stat"] for tag, attrs in elements.tags if tag == "b" and "data-stat" in attrs}
    assert overview == {"models", "versions", "deployed", "pending", "drifting"}


def test_the_page_is_self_contained_and_links_only_to_the_api_or_the_console():
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=(panel(),)))
    # nothing is loaded (no src); links are anchors or the local gateway's API routes
    elements = parse(page)
    assert not [attrs for _, attrs in elements.tags if "src" in attrs]
    hrefs = [attrs["href"] for tag, attrs in elements.tags if tag == "a"]
    assert hrefs and all(h.startswith(("#", "/models/", "/pipelines/training/")) for h in hrefs), hrefs
    assert "/pipelines/training/test?steps=true" in hrefs  # each version's run
    assert "/models/churn/monitoring/report?check_id=c1" in hrefs  # the latest drift report
    assert "@import" not in page and "url(" not in page
    # on AWS (the page opened from S3) runs and artifacts open in the console of the stack's region
    console = dashboard.render_html(
        panels.Dashboard(generated_at="now", panels=(panel(),)), links=sections.Links(region="eu-west-1")
    )
    links = [attrs["href"] for tag, attrs in parse(console).tags if tag == "a" and not attrs["href"].startswith("#")]
    assert links and all(h.startswith("https://eu-west-1.console.aws.amazon.com/") for h in links), links
    assert any("/states/" in h for h in links) and any("/s3/object/" in h for h in links)


def test_the_card_is_html_and_hostile_markup_in_it_stays_text():
    card = {"model_overview": {"version": 2}}
    markdown = (
        f"# Model card: churn v2\n\n**Status:** Registered · `{HOSTILE}`\n\n{HOSTILE}\n\n## Uses\n\n"
        f"| field | value |\n|---|---|\n| Limitations | {HOSTILE} |\n\n- {HOSTILE}\n"
    )
    rendered = sections.card_html(markdown)
    elements = parse(rendered)
    tags = [tag for tag, _ in elements.tags]
    assert {"h3", "h4", "table", "th", "td", "ul", "li", "b", "code", "p"} <= set(tags), tags
    assert not [tag for tag in tags if tag in ("script", "img")]
    assert not [attrs for _, attrs in elements.tags if any(name.startswith("on") for name in attrs)]
    assert "".join(elements.text).count(HOSTILE) == 4  # heading-free copies: inline code, paragraph, cell, item
    # the page renders the real card of a version whose description is hostile: HTML, not Markdown in a <pre>
    hostile_version = panel().versions[1]
    page = dashboard.render_html(
        panels.Dashboard(generated_at="now", panels=(panel(card=cards.build_card(hostile_version, ())),))
    )
    (block,) = re.findall(r'<div class="card">.*?</div>', page, re.S)
    assert "<table" in block and "<h3>" in block and "<pre>" not in page and card
    assert not [tag for tag, _ in parse(block).tags if tag in ("script", "img")]
    assert HOSTILE in "".join(parse(block).text)


def test_a_version_rejected_by_its_approver_reads_rejected_everywhere():
    rejected = record(4, "Rejected", 0.95, approval_decision={"approved": False, "by": "ann", "reason": "bias"})
    requested = AuditEvent(
        event_id="e3",
        model_name="churn",
        event_type="ApprovalRequested",
        actor="pipeline:x",
        after={"version": 4},
        at="2026-11-10T00:00:00.000000Z",
    )
    shown = panel(versions=(*panel().versions, rejected), events=(*panel().events, requested))
    assert shown.last_run is not None and shown.last_run.outcome == "v4 Rejected"
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=(shown,)))
    overview = page.split('id="registry-overview"', 1)[1].split("</table>", 1)[0]
    assert "v4 Rejected" in overview and "ApprovalRequested" not in overview


def test_charts_put_time_on_the_x_axis_and_start_at_zero():
    versions = panel().versions
    svg = charts.metric_chart("f1", versions, 1)
    elements = parse(svg)
    (root,) = [attrs for tag, attrs in elements.tags if tag == "svg"]
    assert (float(root["data-y-low"]), float(root["data-y-high"])) == (0.0, 1.0)  # a score on 0-1, not 0.87-0.94
    points = sorted((float(a["data-at"]), a["data-version"]) for t, a in elements.tags if t == "circle")
    assert [version for _, version in points] == ["1", "2", "3"]
    xs = [float(a["cx"]) for t, a in elements.tags if t == "circle"]
    gaps = [b - a for a, b in zip(xs, xs[1:], strict=False)]
    assert gaps[0] == pytest.approx(gaps[1])  # one day apart each: equal steps in time
    labels = [d for d in elements.text if re.fullmatch(r"\d{2}-\d{2} \d{2}:\d{2}|\d{4}-\d{2}-\d{2}", d.strip())]
    assert len(labels) == 3, elements.text
    # a measured series: zero-based, whatever its range (latencies of 40-44 ms on 0-48.4, not on 40-44)
    latency = charts.series_chart("p99", [(0.0, 40.0), (60.0, 44.0)], start=0.0, end=120.0, unit=" ms")
    (root,) = [attrs for tag, attrs in parse(latency).tags if tag == "svg"]
    assert float(root["data-y-low"]) == 0.0 and float(root["data-y-high"]) == pytest.approx(48.4)


def test_health_and_what_changed_show_the_series_and_the_two_versions():
    serving = panels.ServingSeries(
        start=1_793_527_200.0,
        end=1_793_530_800.0,
        period_s=600,
        requests=((1_793_527_200.0, 100.0), (1_793_527_800.0, 50.0)),
        errors=((1_793_527_800.0, 5.0),),
        p50_ms=((1_793_527_200.0, 3.0),),
        p99_ms=((1_793_527_200.0, 9.0),),
    )
    shown = panel(serving=serving)
    assert serving.error_rate == ((1_793_527_200.0, 0.0), (1_793_527_800.0, 0.1))
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=(shown,)))
    elements = parse(page)
    chart_names = {attrs["data-chart"] for tag, attrs in elements.tags if tag == "svg"}
    assert {"requests", "error rate", "p50 latency", "p99 latency", "drifted feature share"} <= chart_names
    bars = [(float(a["data-at"]), float(a["data-value"])) for t, a in elements.tags if t == "rect"]
    assert bars == list(serving.requests)
    assert "150 requests, 5 errors" in " ".join(elements.text)
    (table,) = [attrs for tag, attrs in elements.tags if tag == "table" and "data-a" in attrs]
    assert (table["data-a"], table["data-b"]) == ("1", "3")  # production beside the newest other version
    assert "+0.025" in " ".join(elements.text)  # f1 0.935 - 0.91


def test_an_empty_registry_renders_a_page_that_says_so():
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=()))
    assert "No model is registered yet" in page
