"""The `mlops` command against a real `python -m local up` (one server per module): every verb, the `--json`
shapes (compared with what the API itself answers), errors and exit codes, and a state that survives a restart."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.runs.datasets import breast_cancer_csv
from mlops_cli.app import main
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

MODEL = "breast-cancer"
DATASET_URI = "s3://mlops-local-artifactsbucket/datasets/breast-cancer.csv"


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    api_key: str
    state_dir: Path
    log: Path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())


def _start(state_dir: Path, log: Path, *extra: str) -> Server:
    env = {**os.environ, "MLOPS_LOCAL_STATE_DIR": str(state_dir)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", "up", "--port", "0", *extra],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text()
        url = re.search(r"Local API on (http://127\.0\.0\.1:\d+)", text)
        key = re.search(r"x-api-key: (local-[0-9a-f]+)", text)
        if url and key:
            return Server(process, url.group(1), key.group(1), state_dir, log)
        if process.poll() is not None:
            raise AssertionError(f"local up exited with {process.returncode}:\n{text}")
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"local up did not start in 120 s:\n{log.read_text()}")


def _stop(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)  # as `kill PID`: up saves its state and exits
    server.process.wait(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("mlops-cli")
    running = _start(directory / "state", directory / "up.log", "--seed")
    holder = {"server": running}
    yield holder  # type: ignore[misc] - the restart test replaces the server in place
    if holder["server"].process.poll() is None:
        _stop(holder["server"])


def run(server: dict[str, Server], capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--url", server["server"].url, "--api-key", server["server"].api_key, *args])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(server, capsys, *args: str) -> Any:
    code, out, err = run(server, capsys, "--json", *args)
    assert code == 0, err
    return json.loads(out)


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], err


# ---- reading the registry -----------------------------------------------------------------------------------------
def test_models_and_versions_json_are_the_apis_documents(server, capsys):
    api = server["server"]
    assert as_json(server, capsys, "models", "list") == api.get("/models")
    assert as_json(server, capsys, "models", "show", MODEL) == api.get(f"/models/{MODEL}")
    assert as_json(server, capsys, "versions", "list", MODEL) == api.get(f"/models/{MODEL}/versions")
    assert as_json(server, capsys, "versions", "show", MODEL, "1") == api.get(f"/models/{MODEL}/versions/1")


def test_human_tables_show_the_registry_values(server, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # as wide a terminal as the table needs, whatever runs the tests
    versions = server["server"].get(f"/models/{MODEL}/versions")
    code, out, _ = run(server, capsys, "versions", "list", MODEL)
    assert code == 0
    for version in versions:
        assert f"{version['metrics']['f1']:.4f}" in out
        assert version["estimator"] in out


# ---- training ------------------------------------------------------------------------------------------------------
def test_train_follows_the_run_and_registers_a_version(server, capsys, tmp_path):
    candidates = tmp_path / "candidates.json"
    candidates.write_text(json.dumps([{"estimator": "decision_tree", "params": {"max_depth": 3}}]))
    before = {v["version"] for v in server["server"].get(f"/models/{MODEL}/versions")}
    # When a challenger is trained with one candidate
    code, out, err = run(
        server,
        capsys,
        "train",
        "--model-name",
        MODEL,
        "--dataset-uri",
        DATASET_URI,
        "--target",
        "target",
        "--candidates",
        str(candidates),
    )
    # Then the progress names the states it went through, in order, and the result is the registry's
    assert code == 0, err
    states = [line.split("✓ ")[1] for line in err.splitlines() if "✓ " in line]
    assert states[0] == "Prepare" and "Register" in states and states.index("Evaluate") < states.index("Register")
    after = server["server"].get(f"/models/{MODEL}/versions")
    (new,) = [v for v in after if v["version"] not in before]
    assert re.search(rf"version\s+{new['version']}\b", out)
    assert new["status"] in out


def test_train_json_and_the_runs_it_lists(server, capsys):
    document = as_json(
        server, capsys, "train", "--model-name", "bc-json", "--dataset-uri", DATASET_URI, "--target", "target"
    )
    assert document["status"] == "SUCCEEDED"
    assert document["registration"]["version"] == 1
    assert document["deployment"] and server["server"].get("/models/bc-json")["aliases"]["production"]["version"] == 1
    listed = as_json(server, capsys, "runs", "list")
    assert document["execution_id"] in [r["execution_id"] for r in listed]
    shown = as_json(server, capsys, "runs", "show", document["execution_id"])
    assert shown["status"] == "SUCCEEDED"
    assert [s["state"] for s in shown["steps"] if s["event"] == "exited"][-1] == "Deploy" or shown["deployment"]


def test_a_failed_run_exits_1_and_bad_requests_exit_2(server, capsys, tmp_path):
    code, out, err = run(
        server,
        capsys,
        "--json",
        "train",
        "--model-name",
        "bc-bad",
        "--dataset-uri",
        DATASET_URI,
        "--target",
        "no-such-column",
    )
    assert code == 1
    assert json.loads(out)["status"] == "FAILED" and json.loads(out)["error"] == "InvalidDataset"
    code, _, err = run(server, capsys, "train", "--model-name", "x", "--target", "t")
    assert code == 2
    assert_one_line_error(err, "--dataset-uri")
    broken = tmp_path / "request.json"
    broken.write_text("{not json")
    code, _, err = run(server, capsys, "train", str(broken))
    assert code == 2
    assert_one_line_error(err, "not valid JSON")


# ---- comparing, deploying, governing --------------------------------------------------------------------------------
def test_versions_compare_puts_both_records_side_by_side(server, capsys):
    api = server["server"]
    first, second = api.get(f"/models/{MODEL}/versions/1"), api.get(f"/models/{MODEL}/versions/2")
    document = as_json(server, capsys, "versions", "compare", MODEL, "1", "2")
    fields = {row["field"]: row for row in document["fields"]}
    for name in first["metrics"]:
        row = fields[f"metrics.{name}"]
        assert (row["a"], row["b"]) == (first["metrics"][name], second["metrics"][name])
        assert row["difference"] == pytest.approx(second["metrics"][name] - first["metrics"][name])
    assert fields["lineage.data_sha256"]["a"] == first["lineage"]["data_sha256"]
    assert fields["estimator"]["b"] == second["estimator"]
    assert fields["estimator"]["same"] == (first["estimator"] == second["estimator"])


def test_deploy_canary_promote_and_rollback(server, capsys, tmp_path):
    # Given two deployable versions: a heavily regularised first one, then the default candidates from a request
    # file, which beat it by more than the stack's minimum improvement (a request may not lower that minimum)
    name = "bc-deploy"
    weak = tmp_path / "weak.json"
    weak.write_text(json.dumps([{"estimator": "logistic_regression", "params": {"C": 0.001, "max_iter": 200}}]))
    first = as_json(
        server, capsys, "train", "--model-name", name, "--dataset-uri", DATASET_URI, "--target", "target",
        "--candidates", str(weak),
    )  # fmt: skip
    assert first["registration"]["version"] == 1, first
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model_name": name, "dataset_uri": DATASET_URI, "target": "target"}))
    second = as_json(server, capsys, "train", str(request))
    assert (second["registration"]["version"], second["registration"]["status"]) == (2, "Registered"), second
    api = server["server"]
    production = api.get(f"/models/{name}")["aliases"]["production"]["version"]
    other = 1 if production == 2 else 2
    code, _, err = run(server, capsys, "deploy", name, str(other), "--canary-weight", "0.25", "--reason", "try")
    assert code == 0, err
    alias = api.get(f"/models/{name}")["aliases"]["production"]
    assert (alias["version"], alias["canary_version"], alias["canary_weight"]) == (production, other, 0.25)
    assert run(server, capsys, "promote", name)[0] == 0
    assert api.get(f"/models/{name}")["aliases"]["production"]["version"] == other
    assert run(server, capsys, "rollback", name, "--reason", "back")[0] == 0
    assert api.get(f"/models/{name}")["aliases"]["production"]["version"] == production
    events = [e["event_type"] for e in as_json(server, capsys, "audit", name)]
    assert events == [e["event_type"] for e in api.get(f"/models/{name}/audit")]
    # Nothing to promote now: the API's 409 is one line and exit 1
    code, _, err = run(server, capsys, "promote", name)
    assert code == 1
    assert_one_line_error(err, "409")


def test_approval_reject_and_approve(server, capsys):
    started = as_json(
        server,
        capsys,
        "train",
        "--model-name",
        "bc-approval",
        "--dataset-uri",
        DATASET_URI,
        "--target",
        "target",
        "--approval",
        "--no-wait",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        versions = server["server"].get("/models/bc-approval/versions") if _exists(server, "bc-approval") else []
        if versions and versions[0]["status"] == "PendingApproval":
            break
        time.sleep(0.3)
    else:
        raise AssertionError("no version waiting for approval within 60 s")
    code, _, err = run(server, capsys, "reject", "bc-approval", "1")
    assert code == 2  # --reason is required
    assert_one_line_error(err, "--reason")
    assert run(server, capsys, "reject", "bc-approval", "1", "--reason", "not today")[0] == 0
    assert server["server"].get("/models/bc-approval/versions/1")["status"] == "Rejected"
    run_document = _wait_for_run(server, capsys, started["execution_id"])
    assert run_document["status"] == "FAILED" and run_document["error"] == "ApprovalRejected"
    code, _, err = run(server, capsys, "--as-user", "approver", "approve", "bc-approval", "1")
    assert code == 1
    assert_one_line_error(err, "409")


def _exists(server, name: str) -> bool:
    return name in [m["model_name"] for m in server["server"].get("/models")]


def _wait_for_run(server, capsys, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        document = as_json(server, capsys, "runs", "show", execution_id)
        if document["status"] != "RUNNING":
            return document
        time.sleep(0.3)
    raise AssertionError(f"run {execution_id} still running after 60 s")


def test_card_markdown_and_json(server, capsys):
    card = as_json(server, capsys, "card", MODEL, "1")
    code, markdown, _ = run(server, capsys, "card", MODEL, "1")
    assert code == 0
    with urllib.request.urlopen(f"{server['server'].url}/models/{MODEL}/versions/1/card") as response:
        assert card == json.loads(response.read())
    assert MODEL in markdown
    with urllib.request.urlopen(f"{server['server'].url}/models/{MODEL}/versions/1/card?format=md") as response:
        assert markdown.strip() == response.read().decode().strip()


# ---- monitoring ------------------------------------------------------------------------------------------------------
def test_monitoring_set_merges_and_show_reads_it_back(server, capsys):
    as_json(server, capsys, "monitoring", "set", MODEL, "drift.psi_threshold=0.25")
    shown = as_json(server, capsys, "monitoring", "set", MODEL, "cooldown_hours=6", "retrain_on_drift=false")
    assert shown["config"] == {"drift": {"psi_threshold": 0.25}, "cooldown_hours": 6, "retrain_on_drift": False}
    assert as_json(server, capsys, "monitoring", "show", MODEL) == server["server"].get(f"/models/{MODEL}/monitoring")
    code, _, err = run(server, capsys, "monitoring", "set", MODEL, "drift.no_such_setting=1")
    assert code == 1
    assert_one_line_error(err, "422", "no_such_setting")
    code, _, err = run(server, capsys, "monitoring", "set", MODEL, "justaword")
    assert code == 2
    assert_one_line_error(err, "KEY=VALUE")
    stopped = as_json(server, capsys, "monitoring", "stop", MODEL)
    assert stopped["schedule"]["enabled"] is False and stopped["config"]["cooldown_hours"] == 6  # settings kept
    restarted = as_json(server, capsys, "monitoring", "set", MODEL, "--replace")
    assert restarted["config"] == {} and restarted["schedule"]["enabled"] is True


def test_drift_report_without_a_check_is_a_clear_error(server, capsys):
    code, _, err = run(server, capsys, "drift", "report", MODEL, "--open")
    assert code == 1
    assert_one_line_error(err, "no drift check")


# ---- predictions ----------------------------------------------------------------------------------------------------
def test_predict_writes_one_row_per_input_row(server, capsys, tmp_path):
    rows = breast_cancer_csv().decode().splitlines()[:41]  # header + 40 rows, with the target column
    data = tmp_path / "rows.csv"
    data.write_text("\n".join(rows) + "\n")
    output = tmp_path / "predictions.csv"
    code, _, err = run(server, capsys, "predict", MODEL, "--data", str(data), "--out", str(output))
    assert code == 0, err
    assert "ignored column(s) the model does not use: target" in err
    with output.open() as file:
        predictions = list(csv.DictReader(file))
    production = server["server"].get(f"/models/{MODEL}")["aliases"]["production"]["version"]
    assert [int(p["row"]) for p in predictions] == list(range(40))
    assert {int(p["version"]) for p in predictions} == {production}
    for p in predictions:
        assert float(p["probability_0"]) + float(p["probability_1"]) == pytest.approx(1.0)
        assert p["prediction"] == max(("0", "1"), key=lambda c: float(p[f"probability_{c}"]))
    # the same rows through --json carry the same predictions
    by_json = as_json(server, capsys, "predict", MODEL, "--data", str(data))
    assert [str(p["prediction"]) for p in by_json] == [p["prediction"] for p in predictions]


def test_batch_scores_a_csv_in_s3_and_shows_the_job(server, capsys):
    # Given the seeded model and its training CSV in the local S3 (569 rows, the label carried through)
    rows = len(breast_cancer_csv().decode().splitlines()) - 1
    # When a batch job is started and waited for
    job = as_json(server, capsys, "batch", "start", MODEL, "--input", DATASET_URI, "--wait", "--chunk-bytes", "65536")
    # Then every row was scored in more than one chunk, and `show` answers what the API answers
    assert (job["status"], job["rows"], job["scored"], job["invalid"]) == ("SUCCEEDED", rows, rows, 0), job
    assert job["summary"]["chunks"] > 1 and job["output_uri"].endswith(f"/{job['job_id']}/output/")
    shown = as_json(server, capsys, "batch", "show", MODEL, job["job_id"])
    assert shown == server["server"].get(f"/models/{MODEL}/batch-jobs/{job['job_id']}") == job
    code, out, _ = run(server, capsys, "batch", "show", MODEL, job["job_id"])
    assert code == 0 and job["job_id"] in out and "SUCCEEDED" in out
    # And an input that cannot be scored ends the waited job FAILED, exit 1; an unknown job is a one-line error
    bad = DATASET_URI.replace("breast-cancer.csv", "no-such.csv")
    code, out, _ = run(server, capsys, "--json", "batch", "start", MODEL, "--input", bad, "--wait")
    assert code == 1 and json.loads(out)["status"] == "FAILED", out
    code, _, err = run(server, capsys, "batch", "show", MODEL, "20260101T000000Z-0123abcd")
    assert code != 0
    assert_one_line_error(err, "404")


def test_predict_errors(server, capsys, tmp_path):
    code, _, err = run(server, capsys, "predict", MODEL, "--data", str(tmp_path / "missing.csv"))
    assert code == 2
    assert_one_line_error(err, "not found")
    partial = tmp_path / "partial.csv"
    partial.write_text("mean radius\n1.0\n")
    code, _, err = run(server, capsys, "predict", MODEL, "--data", str(partial))
    assert code == 2
    assert_one_line_error(err, "lacks the model's input column(s): mean texture (numeric),", "and 21 more")
    capsys.readouterr()
    code = main(["--url", server["server"].url, "predict", MODEL, "--data", str(partial)])
    assert code == 2


# ---- errors and exit codes ------------------------------------------------------------------------------------------
def test_errors_are_one_line_with_their_exit_code(server, capsys):
    code, _, err = run(server, capsys, "versions", "show", "no-such-model", "1")
    assert code == 1
    assert_one_line_error(err, "404")
    code, _, err = run(server, capsys, "versions", "show", MODEL, "zero")
    assert code == 2
    assert_one_line_error(err)
    code, _, err = run(server, capsys, "no-such-verb")
    assert code == 2
    assert_one_line_error(err, "no-such-verb")
    capsys.readouterr()
    assert main(["--url", "http://127.0.0.1:9", "models", "list"]) == 3
    assert_one_line_error(capsys.readouterr().err, "cannot reach")
    assert main(["--url", "ftp://x", "models", "list"]) == 2
    assert_one_line_error(capsys.readouterr().err, "--url")
    os.environ.pop("MLOPS_URL", None)
    os.environ.pop("MLOPS_STACK", None)
    assert main(["models", "list"]) == 2
    assert_one_line_error(capsys.readouterr().err, "--stack")


def test_help_starts_without_botocore_or_rich():
    """`mlops --help` in a fresh interpreter imports neither botocore nor rich (they cost ~200 ms and ~60 ms), nor the
    SDK's HTTP stack, nor the local AWS (moto) that only `mlops local ...` needs."""
    heavy = ("botocore", "rich", "local", "mlops", "moto", "urllib.request", "mlops_client.client")
    probe = (
        "import sys; from mlops_cli.app import main; code = main(['--help']); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules), code)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[] 0"


# ---- a local AWS that keeps its state (last: it restarts the server) ------------------------------------------------
def test_state_survives_a_restart_of_local_up(server, capsys):
    before_versions = as_json(server, capsys, "versions", "list", MODEL)
    before_models = as_json(server, capsys, "models", "list")
    before_runs = as_json(server, capsys, "runs", "list", "--limit", "100")
    before_monitoring = as_json(server, capsys, "monitoring", "show", MODEL)
    old = server["server"]
    _stop(old)
    assert (old.state_dir / "snapshot.zip").is_file()
    # When up starts again on the same state, without --seed
    server["server"] = _start(old.state_dir, old.log.with_name("up-2.log"))
    assert "restored" in server["server"].log.read_text()
    # Then the registry, the runs and the monitoring settings are the ones it had
    assert as_json(server, capsys, "models", "list") == before_models
    assert as_json(server, capsys, "versions", "list", MODEL) == before_versions
    assert as_json(server, capsys, "runs", "list", "--limit", "100") == before_runs
    assert as_json(server, capsys, "monitoring", "show", MODEL) == before_monitoring
    assert server["server"].api_key == old.api_key
    # and the restored production model serves predictions
    data = breast_cancer_csv().decode().splitlines()[:3]
    rows = Path(old.state_dir.parent / "two.csv")
    rows.write_text("\n".join(data) + "\n")
    predictions = as_json(server, capsys, "predict", MODEL, "--data", str(rows))
    production = before_models[[m["model_name"] for m in before_models].index(MODEL)]["production_version"]
    assert [p["version"] for p in predictions] == [production, production]


# ---- the registry dashboard ---------------------------------------------------------------------------------------
def test_dashboard_saves_the_page_local_up_serves(server, capsys, tmp_path):
    output = tmp_path / "dashboard.html"
    document = as_json(server, capsys, "dashboard", "--out", str(output))
    assert document["url"] == server["server"].url + "/dashboard"
    page = output.read_text()
    assert page.startswith("<!doctype html>") and f'data-model="{MODEL}"' in page
    versions = server["server"].get(f"/models/{MODEL}/versions")
    for version in versions:
        assert f'data-version="{version["version"]}" data-metric="f1" data-value="{version["metrics"]["f1"]}"' in page
