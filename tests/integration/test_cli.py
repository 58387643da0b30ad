"""`python -m local run-pipeline` on CSVs it has never seen, and its refusals of bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from local.cli import main
from local.runs.datasets import breast_cancer_csv
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _mixed_csv(path, rows: int = 300, seed: int = 7) -> None:
    """Numeric and categorical columns, missing values, unicode names and quoted fields."""
    rng = np.random.default_rng(seed)
    plans = ["basic", "plus, extra", "premium"]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["tenure_months", "monthly €", "plan", "region", "churned"])
        for _ in range(rows):
            tenure = rng.integers(1, 72)
            charge = rng.normal(60, 20)
            plan = plans[rng.integers(0, 3)]
            region = rng.choice(["north", "south", "", "NA"])
            risk = -0.05 * tenure + 0.03 * charge + (1.0 if plan == "basic" else 0.0)
            churned = "yes" if risk + rng.normal(0, 0.5) > 0.3 else "no"
            writer.writerow([tenure if rng.random() > 0.05 else "", f"{charge:.2f}", plan, region, churned])


def test_run_pipeline_json_on_a_mixed_csv(tmp_path, capsys):
    data = tmp_path / "churn.csv"
    _mixed_csv(data)
    candidates = tmp_path / "candidates.json"
    candidates.write_text(
        json.dumps(
            [
                {"estimator": "logistic_regression", "params": {"max_iter": 500}},
                {"estimator": "random_forest", "params": {"n_estimators": 25}},
                {"estimator": "hist_gradient_boosting", "params": {"max_iter": 50}},
            ]
        )
    )

    code = main(
        [
            "run-pipeline",
            "--data",
            str(data),
            "--target",
            "churned",
            "--model-name",
            "churn",
            "--candidates",
            str(candidates),
            "--json",
        ]
    )

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["status"] == "SUCCEEDED"
    assert (document["model_name"], document["version"], document["deployed"]) == ("churn", 1, True)
    assert set(document["metrics"]) == {
        "accuracy",
        "balanced_accuracy",
        "f1",
        "roc_auc",
        "average_precision",
        "log_loss",
    }
    assert document["positive_class"] == "yes"
    assert {name: column["role"] for name, column in document["columns"].items()} == {
        "tenure_months": "feature",
        "monthly €": "feature",
        "plan": "feature",
        "region": "feature",
        "churned": "target",
    }
    assert document["gate"]["decision"] == "promote"
    assert document["gate"]["warnings"] == []
    assert len(document["leaderboard"]) == 3


def test_run_pipeline_human_output_shows_progress_and_summary(tmp_path, capsys):
    data = tmp_path / "churn.csv"
    _mixed_csv(data, rows=150)
    code = main(
        [
            "run-pipeline",
            "--data",
            str(data),
            "--target",
            "churned",
            "--model-name",
            "churn",
            "--task",
            "classification",
            "--min-score",
            "0.99",
        ]
    )

    out = capsys.readouterr().out
    assert code == 0  # a gate rejection is a successful execution that did not promote
    for state in ("→ Prepare", "✓ PlanTrials", "✓ TrainTrials", "→ Evaluate", "→ Register", "→ NotPromoted"):
        assert state in out
    assert "REJECT" in out
    assert "fails the threshold" in out


@pytest.mark.parametrize(
    ("content", "target", "expected_code", "message"),
    [
        (None, "y", 2, "dataset file not found"),
        (b"", "y", 1, "the dataset is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "y", 1, "not a text CSV"),
        (
            b"a,b,y\n" + b"".join(f"{i},{i % 3},{i % 2}\n".encode() for i in range(40)),
            "label",
            1,
            "'label' is not in the dataset",
        ),
        (b"a,y\n" + b"".join(f"{i},1\n".encode() for i in range(40)), "y", 1, "single class"),
    ],
    ids=["missing-file", "empty-file", "not-csv", "unknown-target", "one-class"],
)
def test_bad_input_gets_a_clear_message_and_non_zero_exit(tmp_path, capsys, content, target, expected_code, message):
    data = tmp_path / "data.csv"
    if content is not None:
        data.write_bytes(content)
    code = main(["run-pipeline", "--data", str(data), "--target", target, "--model-name", "m"])

    captured = capsys.readouterr()
    assert code == expected_code
    assert message in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_bad_input_with_json_is_still_one_json_object(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,y\n" + b"".join(f"{i},1\n".encode() for i in range(40)))
    code = main(["run-pipeline", "--data", str(data), "--target", "y", "--model-name", "m", "--json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (document["status"], document["error"], document["version"], document["deployed"]) == (
        "FAILED",
        "InvalidDataset",
        None,
        False,
    )
    assert "single class" in document["error_message"]


def test_bad_candidates_file_is_a_usage_error(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("a,y\n1,0\n")
    candidates = tmp_path / "c.json"
    candidates.write_text("{not json")
    code = main(
        ["run-pipeline", "--data", str(data), "--target", "y", "--model-name", "m", "--candidates", str(candidates)]
    )
    assert code == 2
    assert "is not valid JSON" in capsys.readouterr().err


def test_the_module_runs_as_a_program_without_a_traceback(tmp_path):
    # The real entry point, in a fresh interpreter, as a user types it.
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "local",
            "run-pipeline",
            "--data",
            str(tmp_path / "absent.csv"),
            "--target",
            "y",
            "--model-name",
            "m",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"error: dataset file not found: {tmp_path / 'absent.csv'}"


def test_run_pipeline_max_trials_searches_the_default_spaces_and_reports_every_trial(tmp_path, capsys):
    data = tmp_path / "bc.csv"
    data.write_bytes(breast_cancer_csv())
    search = tmp_path / "search.json"
    logistic = {"estimator": "logistic_regression", "params": {"C": {"type": "float", "low": 0.01, "high": 10}}}
    search.write_text(json.dumps({"search": {"max_trials": 50, "spaces": [logistic]}}))

    code = main(
        ["run-pipeline", "--data", str(data), "--target", "target", "--model-name", "bc"]
        + ["--search", str(search), "--max-trials", "6", "--json"]
    )

    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (summary["trials"], summary["compute"]) == (6, "lambda")
    assert len(summary["leaderboard"]) == 6
    assert {e["estimator"] for e in summary["leaderboard"]} == {"logistic_regression"}
    assert summary["winner_trial_id"] in {e["trial_id"] for e in summary["leaderboard"]}


def test_run_pipeline_refuses_a_search_with_candidates(tmp_path, capsys):
    data = tmp_path / "bc.csv"
    data.write_bytes(breast_cancer_csv())
    candidates = tmp_path / "candidates.json"
    candidates.write_text(json.dumps([{"estimator": "logistic_regression"}]))

    code = main(
        ["run-pipeline", "--data", str(data), "--target", "target", "--model-name", "bc"]
        + ["--candidates", str(candidates), "--max-trials", "6"]
    )

    assert code != 0
    assert "give one" in capsys.readouterr().err
