"""One `mlops` command line, end to end on the local stack: `mlops local run` twice on a changed file of the same name
(stored by sha256, so the first version still reproduces), then `mlops local up` on that state (one server for the
module) for the data verbs, raw-column predict with dates, categories and an id column, aliases, tags, feedback, the
output flags after the verb, and the banner's next steps; then Ctrl-C / SIGTERM of a backgrounded `up`."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlops_cli.app import main
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

MODEL = "churn"
COLUMNS = ["customer_id", "signup", "plan", "usage", "churned"]


def customers_csv(seed: int, rows: int) -> str:
    """A churn table as people keep one: an identifier, a date, a category, a number and the label (churned when
    usage is low, less so on the team plan), seeded."""
    generator = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for index in range(rows):
        usage = round(generator.uniform(0, 10), 2)
        plan = generator.choice(["basic", "pro", "team"])
        churned = usage < (2.5 if plan == "team" else 4.0)
        if generator.random() < 0.03:
            churned = not churned
        signup = date(2023, 1, 1) + timedelta(days=generator.randrange(0, 900))
        writer.writerow([f"c{seed}-{index:04d}", signup.isoformat(), plan, usage, "yes" if churned else "no"])
    return out.getvalue()


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    api_key: str
    state_dir: Path
    log: Path

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json", **(headers or {})}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def start_up(state_dir: Path, log: Path, *, ignore_sigint: bool = False) -> Server:
    """`mlops local up` in a subprocess; ``ignore_sigint``: as a shell starts a background job (`mlops local up &`),
    with SIGINT ignored."""
    command = [sys.executable, "-m", "mlops_cli", "local", "up", "--port", "0", "--state-dir", str(state_dir)]
    if ignore_sigint:  # what a shell does for `cmd &`: SIGINT ignored, inherited through exec
        command = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *command]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text()
        url = re.search(r"Local API on (http://127\.0\.0\.1:\d+)", text)
        key = re.search(r"x-api-key: (local-[0-9a-f]+)", text)
        if url and key and "try:" in text:
            time.sleep(0.5)  # the rest of the banner
            return Server(process, url.group(1), key.group(1), state_dir, log)
        if process.poll() is not None:
            raise AssertionError(f"mlops local up exited with {process.returncode}:\n{text}")
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"mlops local up did not start in 120 s:\n{log.read_text()}")


def stop(server: Server, signum: int) -> int:
    server.process.send_signal(signum)
    return server.process.wait(timeout=60)


def local_run(data: Path, state_dir: Path, candidates: Path) -> dict[str, Any]:
    """`mlops local run ... --json` in this process (the stack saves its state on the way out)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(
            [
                *("local", "run", "--data", str(data), "--target", "churned", "--model-name", MODEL),
                *("--id-columns", "customer_id", "--datetime-columns", "signup", "--candidates", str(candidates)),
                *("--state-dir", str(state_dir), "--json"),
            ]
        )
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("one-cli")
    state_dir = directory / "state"
    candidates = directory / "candidates.json"
    candidates.write_text(json.dumps([{"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 500}}]))
    data = directory / "customers.csv"
    data.write_text(customers_csv(seed=1, rows=300))
    first_bytes = data.read_bytes()
    first = local_run(data, state_dir, candidates)
    data.write_text(customers_csv(seed=2, rows=320))  # the file updated, under the same name
    second = local_run(data, state_dir, candidates)
    server = start_up(state_dir, directory / "up.log", ignore_sigint=True)
    held = directory / "held_back.csv"
    held.write_text(customers_csv(seed=3, rows=60))
    yield {
        "server": server,
        "runs": [first, second],
        "first_bytes": first_bytes,
        "second_bytes": data.read_bytes(),
        "held": held,
        "dir": directory,
    }
    if server.process.poll() is None:
        stop(server, signal.SIGTERM)


def run(stack: dict[str, Any], capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    server = stack["server"]
    code = main(["--url", server.url, "--api-key", server.api_key, *args])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(stack, capsys, *args: str) -> Any:
    code, out, err = run(stack, capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# ---- data by content --------------------------------------------------------------------------------------------
def test_a_changed_file_of_the_same_name_is_a_new_dataset_and_the_old_version_still_reproduces(stack, capsys):
    # Given two versions trained by `mlops local run` on customers.csv, the file changed in between
    first, second = stack["runs"]
    records = [as_json(stack, capsys, "versions", "show", MODEL, str(run["version"])) for run in (first, second)]
    uris = [record["lineage"]["dataset_uri"] for record in records]
    # Then each is stored under its own bytes' sha256, with the original name kept
    for uri, payload in zip(uris, (stack["first_bytes"], stack["second_bytes"]), strict=True):
        assert uri.endswith(f"/datasets/{hashlib.sha256(payload).hexdigest()}/customers.csv"), uri
    assert uris[0] != uris[1]
    # And the first version, whose file was replaced, still reproduces (through `mlops versions reproduce`)
    report = as_json(stack, capsys, "versions", "reproduce", MODEL, str(first["version"]))
    assert report["reproduced"] and report["data_matches"] and report["metrics_match"], report


# ---- predict on raw columns -------------------------------------------------------------------------------------
def held_rows(stack) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stack["held"].read_text())))


def test_predict_takes_the_raw_table_and_carries_the_id_column(stack, capsys, tmp_path):
    # Given a held-back table with the training columns: an id, a date, a category, a number and the target
    rows = held_rows(stack)
    output = tmp_path / "predictions.csv"
    # When it is scored as it is
    code, _, err = run(
        stack,
        capsys,
        "predict",
        MODEL,
        "--data",
        str(stack["held"]),
        "--id-column",
        "customer_id",
        "--out",
        str(output),
    )
    # Then every row is scored, keyed by its own id; only the target was left out
    assert code == 0, err
    assert "ignored column(s) the model does not use: churned" in err
    with output.open() as file:
        predictions = list(csv.DictReader(file))
    assert [p["customer_id"] for p in predictions] == [r["customer_id"] for r in rows]
    # And they are the endpoint's own answers for the raw rows (the date's parts derived there, as at training)
    instances = [{**r, "usage": float(r["usage"])} for r in rows]
    direct = stack["server"].request(
        "POST", f"/models/{MODEL}/predict", {"instances": instances}, {"x-api-key": stack["server"].api_key}
    )
    assert [p["prediction"] for p in predictions] == [p["prediction"] for p in direct["predictions"]]
    for mine, theirs in zip(predictions, direct["predictions"], strict=True):
        assert float(mine["probability_yes"]) == pytest.approx(theirs["probabilities"]["yes"])
    accuracy = sum(p["prediction"] == r["churned"] for p, r in zip(predictions, rows, strict=True)) / len(rows)
    assert accuracy > 0.8, accuracy
    # And the SDK takes the same raw table as a DataFrame, answering on its index with the id column first
    pandas = pytest.importorskip("pandas")
    from mlops_client import Client  # noqa: PLC0415

    client = Client(stack["server"].url, api_key=stack["server"].api_key)
    frame = client.predict(MODEL, pandas.read_csv(stack["held"]), id_column="customer_id")
    assert list(frame.columns)[:2] == ["customer_id", "prediction"]
    assert frame["customer_id"].tolist() == [r["customer_id"] for r in rows]
    assert frame["prediction"].tolist() == [p["prediction"] for p in predictions]


def test_predict_as_json_lines_with_an_alias_and_feedback_on_its_ids(stack, capsys, tmp_path):
    first = stack["runs"][0]["version"]
    # Given an alias set by the CLI
    answer = as_json(stack, capsys, "alias", "set", MODEL, "staging", str(first), "--reason", "for the QA team")
    assert answer["alias"]["version"] == first
    assert stack["server"].request("GET", f"/models/{MODEL}")["aliases"]["staging"]["version"] == first
    # When the held-back rows are scored by it as JSON lines
    code, out, err = run(
        stack, capsys, "predict", MODEL, "--data", str(stack["held"]), "--alias", "staging", "--format", "jsonl"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    rows = held_rows(stack)
    assert [line["row"] for line in lines] == list(range(len(rows)))
    assert {line["version"] for line in lines} == {first}
    # Then their inference ids take the actual labels back (`mlops feedback` with the table's label column)
    labels = tmp_path / "outcomes.csv"
    labels.write_text(
        "inference_id,churned\n"
        + "".join(f"{p['inference_id']},{r['churned']}\n" for p, r in zip(lines, rows, strict=True))
    )
    accepted = as_json(stack, capsys, "feedback", MODEL, str(labels), "--label-column", "churned")
    assert accepted["accepted"] == len(rows) and accepted["uri"].startswith("s3://")
    code, _, err = run(stack, capsys, "feedback", MODEL)
    assert code == 2 and "--inference-id" in one_line_error(err)
    # And once the alias is deleted, predicting with it is a one-line 404
    assert as_json(stack, capsys, "alias", "delete", MODEL, "staging")["removed_version"] == first
    code, _, err = run(stack, capsys, "predict", MODEL, "--data", str(stack["held"]), "--alias", "staging")
    assert code == 1 and "no alias 'staging'" in one_line_error(err)


def test_predict_names_a_missing_raw_column(stack, capsys, tmp_path):
    partial = tmp_path / "partial.csv"
    partial.write_text("customer_id,plan,usage\nc1,pro,3\n")
    code, _, err = run(stack, capsys, "predict", MODEL, "--data", str(partial))
    assert code == 2
    assert "lacks the model's input column(s): signup (a date)" in one_line_error(err)


# ---- tags, output flags ----------------------------------------------------------------------------------------
def test_tags_set_and_deleted_and_output_flags_before_or_after_the_verb(stack, capsys):
    version = str(stack["runs"][0]["version"])
    assert as_json(stack, capsys, "tag", "set", MODEL, version, "reviewed", "yes")["tags"] == {"reviewed": "yes"}
    assert stack["server"].request("GET", f"/models/{MODEL}/versions/{version}")["tags"] == {"reviewed": "yes"}
    assert as_json(stack, capsys, "tag", "delete", MODEL, version, "reviewed")["tags"] == {}
    # --json and --output json after the verb are the same switch as before it
    documents = stack["server"].request("GET", "/models")
    for args in (("models", "list", "--json"), ("models", "list", "--output", "json"), ("--json", "models", "list")):
        code, out, err = run(stack, capsys, *args)
        assert code == 0 and json.loads(out) == documents, err
    code, out, _ = run(stack, capsys, "--json", "models", "list", "--output", "table")
    assert code == 0 and MODEL in out and not out.lstrip().startswith("[")
    code, _, err = run(stack, capsys, "models", "list", "--output", "yaml")
    assert code == 2 and "yaml" in one_line_error(err)


# ---- data in and out ---------------------------------------------------------------------------------------------
def test_upload_by_content_batch_from_a_local_file_and_download_its_predictions(stack, capsys, tmp_path):
    held = stack["held"]
    sha256 = hashlib.sha256(held.read_bytes()).hexdigest()
    uploaded = as_json(stack, capsys, "data", "upload", str(held))
    assert uploaded["uri"].endswith(f"/datasets/{sha256}/held_back.csv") and uploaded["sha256"] == sha256
    # the same bytes again: the same URI, and the API says the object is there (nothing to send)
    assert as_json(stack, capsys, "data", "upload", str(held))["uri"] == uploaded["uri"]
    grant = stack["server"].request("POST", "/uploads", {"file_name": "held_back.csv", "sha256": sha256})
    assert grant["exists"] is True and "url" not in grant
    # a batch job takes the local path (uploaded first) and its predictions come back with `data download`
    job = as_json(stack, capsys, "batch", "start", MODEL, "--input", str(held), "--wait")
    assert (job["status"], job["rows"], job["scored"]) == ("SUCCEEDED", 60, 60), job
    downloaded = as_json(stack, capsys, "data", "download", job["output_uri"], str(tmp_path / "out"))
    parts = [Path(f) for f in downloaded["files"] if Path(f).suffix == ".csv"]  # the output: CSV for a CSV input
    scored = [row for part in parts for row in csv.DictReader(io.StringIO(part.read_text()))]
    assert sorted(row["customer_id"] for row in scored) == sorted(r["customer_id"] for r in held_rows(stack))
    copy = as_json(stack, capsys, "data", "download", uploaded["uri"], str(tmp_path / "copy.csv"))
    assert Path(copy["path"]).read_bytes() == held.read_bytes()
    code, _, err = run(stack, capsys, "batch", "start", MODEL, "--input", str(tmp_path / "nothing.csv"))
    assert code == 2 and "neither an s3:// URI nor a local file" in one_line_error(err)


# ---- the banner and the server log -----------------------------------------------------------------------------
def test_the_banner_points_to_the_dashboard_and_a_predict_example_of_the_served_model(stack, capsys):
    server = stack["server"]
    banner = server.log.read_text()
    assert f"{server.url}/dashboard" in banner and f"kept in {server.state_dir}" in banner
    body_file = Path(re.search(r"-d @(\S+\.json)", banner).group(1))
    example = json.loads(body_file.read_text())["instances"][0]
    assert {"signup", "plan", "usage"} <= example.keys() and "mean radius" not in example
    answer = server.request(
        "POST", f"/models/{MODEL}/predict", json.loads(body_file.read_text()), {"x-api-key": server.api_key}
    )
    assert answer["predictions"][0]["prediction"] in ("yes", "no")
    command = re.search(rf"mlops --url \S+ --api-key \S+ (predict {MODEL} --data \S+\.csv)", banner).group(1)
    code, out, err = run(stack, capsys, *command.split())
    assert code == 0 and out.splitlines()[0].startswith("row,prediction"), err


def test_a_client_that_resets_its_connection_is_one_log_line(stack):
    server = stack["server"]
    before = server.log.read_text()
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"POST /models HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a RST
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.log.read_text() == before:
        time.sleep(0.1)
    added = server.log.read_text()[len(before) :]
    assert "Traceback" not in added
    assert [line for line in added.splitlines() if line.strip()] == [
        line for line in added.splitlines() if "closed the connection early (ConnectionResetError)" in line
    ] and added.strip(), added
    assert server.request("GET", "/models")  # and it still serves


# ---- Ctrl-C and kill of a backgrounded `up` (last: it stops the module's server) ----------------------------------
def test_kill_int_and_kill_term_of_a_background_up_save_the_state(stack, capsys):
    # Given the module's `mlops local up &` (SIGINT ignored, as a shell starts a background job)
    server = stack["server"]
    snapshot = server.state_dir / "snapshot.zip"
    before = snapshot.stat().st_mtime_ns
    models = server.request("GET", "/models")
    # When it gets `kill -INT`, it saves its state and exits 0
    assert stop(server, signal.SIGINT) == 0, server.log.read_text()
    assert f"saving the state to {server.state_dir}" in server.log.read_text()
    assert snapshot.stat().st_mtime_ns > before
    saved = snapshot.stat().st_mtime_ns
    # And started again it restores the same registry; `kill -TERM` saves it again and exits 0
    again = start_up(server.state_dir, server.log.with_name("up-2.log"), ignore_sigint=True)
    stack["server"] = again
    assert "restored" in again.log.read_text() and again.request("GET", "/models") == models
    assert stop(again, signal.SIGTERM) == 0, again.log.read_text()
    assert snapshot.stat().st_mtime_ns > saved
    # And `mlops local reset` clears it
    capsys.readouterr()
    assert main(["local", "reset", "--state-dir", str(server.state_dir)]) == 0
    assert f"cleared {server.state_dir}" in capsys.readouterr().out and not snapshot.exists()
