"""The dashboard renderer on fabricated records: everything a user wrote is escaped, the numbers are the records'
numbers, aliases and canaries are shown where they are, and the page stays self-contained."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mlops.monitoring.store import MonitorState, StoredMonitor
from mlops.records.registry import AliasRecord, AuditEvent, ModelEntry, VersionRecord
from mlops.views import charts, dashboard, panels
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
        "checks": ({"created_at": "2026-11-08", "version": 1, "status": "drift", "drifted_features": [HOSTILE]},),
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


def test_the_page_is_self_contained():
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=(panel(),)))
    urls = [value for _, attrs in parse(page).tags for name, value in attrs.items() if name in ("src", "href")]
    assert urls and all(url.startswith("#") for url in urls), urls
    assert "@import" not in page and "url(" not in page


def test_an_empty_registry_renders_a_page_that_says_so():
    page = dashboard.render_html(panels.Dashboard(generated_at="now", panels=()))
    assert "No model is registered yet" in page
