"""The registry dashboard in a real headless browser (Debian's `chromium`), served by the local gateway `local up`
runs, over a stack with two trained versions (one deployed, one rejected), served traffic and a drift check: the
page renders, the browser reports no console message (no error, no blocked load), and the numbers it shows are the
registry's, as the API answers them. Skipped, saying why, where no Chromium is installed (`apt-get install -y
chromium`; .ci/run installs it when it can)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from local.gateway import LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.runs.monitoring import run_drift_check, serve
from local.runs.training import run_training
from local.stack import LocalStack
from tools.headless import Page

pytestmark = pytest.mark.integration

MODEL = "breast-cancer"
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> & "quoted"'
BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium on this machine: `apt-get install -y chromium` (Debian) to run the browser tests",
)


@dataclass
class Served:
    stack: LocalStack
    url: str

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with LocalStack(parameters={"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}) as stack:
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        base = {"model_name": MODEL, "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv", "target": "target"}
        # Given a champion and a challenger the gate rejects (its description is hostile markup)
        first = run_training(
            stack, {**base, "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}]}
        )
        second = run_training(
            stack,
            {
                **base,
                "description": HOSTILE,
                "candidates": [{"estimator": "decision_tree", "params": {"max_depth": 1}}],
            },
        )
        assert first.deployed and second.status == "SUCCEEDED", (first.error, second.error)
        # and shifted traffic that a drift check then reads
        from mlops.data import dataset  # noqa: PLC0415

        table = dataset.read_table(breast_cancer_csv())
        names = [n for n in table.names if n != "target"]
        columns = {n: table.column(n).values.tolist() for n in names}
        rows = [{n: columns[n][i] * (1.6 if k < 12 else 1.0) for k, n in enumerate(names)} for i in range(300)]
        serve(stack, MODEL, rows)
        check = run_drift_check(stack, MODEL)
        assert check.status == "SUCCEEDED", (check.error, check.cause)
        gateway = LocalGateway(stack, port=0).start()
        try:
            yield Served(stack, gateway.url)
        finally:
            gateway.stop()


class Dom(HTMLParser):
    """Start tags with their attributes, the text, and the text of each overview cell (``td[data-field]``)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._field: str | None = None
        self._cells: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self._field = dict(attrs).get("data-field")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._field = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._field:
            self._cells[self._field] = self._cells.get(self._field, "") + data

    def overview_cells(self) -> dict[str, str]:
        return {name: value.strip() for name, value in self._cells.items()}

    def with_attribute(self, tag: str, name: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag and name in attrs]


@dataclass
class Rendered:
    dom: Dom
    console: list[str]


def chromium(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(BROWSER),
        "--headless",
        "--no-sandbox",  # root in a container has no user namespace sandbox
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        *extra,
        url,
    ]
    environment = {**os.environ, "HOME": str(tmp_path)}
    return subprocess.run(command, capture_output=True, text=True, timeout=90, env=environment, check=False)


def render(url: str, tmp_path: Path) -> Rendered:
    result = chromium(url, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom()
    dom.feed(result.stdout)
    # every console message (an error, a CSP violation, a blocked load) is logged with :CONSOLE by Chromium
    return Rendered(dom, [line for line in result.stderr.splitlines() if ":CONSOLE" in line])


@needs_browser
def test_the_harness_sees_console_errors(tmp_path):
    # The check below can fail: a page with a script error and a blocked external load is reported.
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><meta http-equiv='Content-Security-Policy' content=\"default-src 'none'\">"
        "<p>x</p><script>console.error('boom')</script><img src='https://example.invalid/a.png'>"
    )
    assert len(render(page.as_uri(), tmp_path).console) >= 2


@needs_browser
def test_the_dashboard_renders_without_console_messages_and_shows_the_registrys_numbers(served, tmp_path):
    rendered = render(served.url + "/dashboard", tmp_path)
    assert rendered.console == []
    dom = rendered.dom
    text = " ".join(dom.text)
    # no markup from users became markup: the hostile description is text
    assert not [attrs for tag, attrs in dom.tags if tag in ("script", "img")]
    assert HOSTILE in text
    # the overview says what the registry says
    (model,) = served.get("/models")
    (row,) = [attrs for tag, attrs in dom.tags if tag == "tr" and attrs.get("data-model") == MODEL]
    assert row is not None
    overview = dom.overview_cells()
    assert overview["latest_version"] == str(model["latest_version"])
    assert overview["production_version"] == f"v{model['production_version']}"
    versions = served.get(f"/models/{MODEL}/versions")
    assert {v["status"] for v in versions} == {"Registered", "Rejected"}
    cells = {(a["data-version"], a["data-metric"]): a["data-value"] for a in dom.with_attribute("td", "data-metric")}
    shown = 0
    for version in versions:
        for name, value in version["metrics"].items():
            if (str(version["version"]), name) in cells:
                assert float(cells[(str(version["version"]), name)]) == value
                shown += 1
    assert shown >= 2 * 3, cells  # three metric columns per version in the table (every metric in 'what changed')
    points = {(a["data-version"], a["data-value"]) for a in dom.with_attribute("circle", "data-version")}
    assert {(str(v["version"]), str(float(v["metrics"]["f1"]))) for v in versions} <= points
    # the audit timeline holds every event the API lists, the monitor its check, the report is embedded
    events = served.get(f"/models/{MODEL}/audit")
    assert sorted(a["data-event"] for a in dom.with_attribute("li", "data-event")) == sorted(
        e["event_type"] for e in events
    )
    monitoring = served.get(f"/models/{MODEL}/monitoring")
    assert monitoring["checks"] and monitoring["checks"][0]["created_at"] in text
    (frame,) = [attrs for tag, attrs in dom.tags if tag == "iframe"]
    assert "Drift report" in (frame.get("srcdoc") or "") and "sandbox" in frame
    stats = {a["data-stat"]: a for a in dom.with_attribute("b", "data-stat")}
    assert set(stats) == {"models", "versions", "deployed", "pending", "drifting"}


@needs_browser
def test_a_screenshot_of_the_dashboard_is_a_page(served, tmp_path):
    shot = tmp_path / "dashboard.png"
    result = chromium(served.url + "/dashboard", tmp_path, f"--screenshot={shot}", "--window-size=1280,1800")
    assert result.returncode == 0, result.stderr[-2000:]
    payload = shot.read_bytes()
    assert payload[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(payload[16:20], "big"), int.from_bytes(payload[20:24], "big")
    assert (width, height) == (1280, 1800)
    assert len(payload) > 50_000  # a rendered page, not a blank one


def test_post_dashboard_renders_the_same_page_to_s3_with_a_presigned_url(served):
    # When the API (as on AWS) renders the dashboard
    request = urllib.request.Request(served.url + "/dashboard", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        published = json.loads(response.read())
    # Then the page is in the bucket under dashboards/, and the URL is presigned for it
    bucket, key = published["uri"].removeprefix("s3://").split("/", 1)
    assert bucket == served.stack.bucket and key.startswith("dashboards/") and key.endswith(".html")
    stored = served.stack.client("s3").get_object(Bucket=bucket, Key=key)
    page = stored["Body"].read().decode()
    assert stored["ContentType"].startswith("text/html")
    assert "X-Amz-Signature=" in published["url"] and key in published["url"]
    assert published["expires_in_s"] == 900
    with urllib.request.urlopen(served.url + "/dashboard", timeout=60) as response:
        local = response.read().decode()

    def body(text: str) -> str:
        """The same page but for the time it was generated, where its links go (the AWS console from S3, the API's
        routes locally) and the charts (their time axes end now)."""
        text = text.split("from the registry", 1)[1]
        text = re.sub(r'<a href="(?!#)[^"]*">|</a>|<a href="#[^"]*">', "", text)  # links: the text stays
        return re.sub(r"<svg .*?</svg>", "<svg/>", text, flags=re.S)  # charts end at the time each was drawn

    assert body(page) == body(local)


@needs_browser
def test_the_width_probe_sees_a_page_wider_than_the_window(tmp_path):
    # The check below can fail: a page 2,000 px wide scrolls sideways in a 1,280 px window.
    page = tmp_path / "wide.html"
    page.write_text("<!doctype html><div style='width:2000px'>wide</div>")
    with Page.open(page.as_uri(), width=1280) as opened:
        assert opened.evaluate("document.documentElement.scrollWidth") > 1280


WIDEST_ELEMENT = "Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))"


@needs_browser
def test_the_dashboard_fits_1280_px_and_answers_the_questions(served):
    with Page.open(served.url + "/dashboard", width=1280, height=900) as page:
        # no horizontal scroll: the page, and every element in it, within the window
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert page.evaluate(WIDEST_ELEMENT) <= 1280
        charts = page.evaluate("[...document.querySelectorAll('svg[data-chart]')].map(s => s.dataset.chart)")
        served_requests = page.evaluate(
            "[...document.querySelectorAll('rect[data-value]')].reduce((n, r) => n + Number(r.dataset.value), 0)"
        )
        totals = page.evaluate("document.querySelector('[data-field=serving_totals]').textContent")
        drift = page.evaluate("[...document.querySelectorAll('circle[data-status]')].map(c => c.dataset.status)")
        links = page.evaluate("[...document.querySelectorAll('a[href^=\"/\"]')].map(a => a.getAttribute('href'))")
        compared = page.evaluate("[...document.querySelectorAll('table.compare')].map(t => [t.dataset.a, t.dataset.b])")
        card_tables = page.evaluate("document.querySelectorAll('.card table').length")
    # is it healthy: requests, errors, latency and the drift check over time
    assert {"requests", "error rate", "p50 latency", "p99 latency", "drifted feature share"} <= set(charts)
    # the 300 rows went as 3 requests of 100 (local.runs.monitoring.serve): the predict function's own count
    assert served_requests == 3 and totals.startswith("3 requests, 0 errors"), (served_requests, totals)
    monitoring = served.get(f"/models/{MODEL}/monitoring")
    assert len(drift) == len(monitoring["checks"]) and drift[0] == monitoring["checks"][0]["status"]
    # what changed: the two versions side by side; the card as HTML tables
    assert compared == [["1", "2"]] and card_tables >= 2
    # what to do: each link answers (runs, versions, the card, the latest drift report)
    versions = served.get(f"/models/{MODEL}/versions")
    assert {f"/models/{MODEL}/versions/{v['version']}" for v in versions} <= set(links)
    assert any(link.startswith("/pipelines/training/") for link in links)
    assert any(link.startswith(f"/models/{MODEL}/monitoring/report?check_id=") for link in links)
    for link in dict.fromkeys(links):
        with urllib.request.urlopen(served.url + link, timeout=60) as response:
            assert response.status == 200, link
