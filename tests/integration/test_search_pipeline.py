"""A search through the real TrainingPipeline: the Distributed Map (ItemReader over the trial list in S3,
ResultWriter to S3) run by moto's interpreter with local/emulated/distributed_map.py, the real handlers in-process."""

from __future__ import annotations

import json

import pytest

from local.runs.training import execution_history, largest_state_payload, run_training
from mlops.errors import ModelNotFound
from mlops.records.request import SettledSearch
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from mlops.training import guided
from mlops.training import search as trial_search

pytestmark = pytest.mark.integration

STATE_LIMIT_BYTES = 16 * 1024


def _request(dataset_uri: str, search: dict) -> dict:
    return {
        "model_name": "bc",
        "dataset_uri": dataset_uri,
        "target": "target",
        "search": search,
        "gate": {"metric": "f1"},
        "requested_by": "tests",
    }


def _logistic(c_space: dict) -> list[dict]:
    return [{"estimator": "logistic_regression", "params": {"C": c_space}, "fixed": {"max_iter": 500}}]


def test_fifty_trials_fan_out_through_the_distributed_map(stack, breast_cancer_uri):
    search = {"max_trials": 50, "max_concurrency": 8, "seed": 3}
    search["spaces"] = _logistic({"type": "float", "low": 1e-3, "high": 1e2, "log": True})
    result = run_training(stack, _request(breast_cancer_uri, search))

    assert result.status == "SUCCEEDED", result.cause
    assert result.states[:3] == ["Prepare", "PlanTrials", "TrainTrials"]
    # the trial list was read from S3 and every result written there by the ResultWriter
    plan = result.output["trials"]["plan"]
    trial_list = objects.get_json(S3Uri(plan["trials_bucket"], plan["trials_key"]))
    assert len(trial_list) == 50
    details = result.output["trials"]["map_run"]["ResultWriterDetails"]
    manifest = objects.get_json(S3Uri(details["Bucket"], details["Key"]))
    assert manifest["ResultFiles"]["FAILED"] == []
    [succeeded] = manifest["ResultFiles"]["SUCCEEDED"]
    executions = objects.get_json(S3Uri(details["Bucket"], succeeded["Key"]))
    assert sorted(json.loads(e["Output"])["trial_id"] for e in executions) == [t["trial_id"] for t in trial_list]
    # every trial is in the leaderboard, with its params, validation scores, fit time and status
    leaderboard = result.documents["leaderboard"]
    assert [e["trial_id"] for e in leaderboard] == [t["trial_id"] for t in trial_list]
    assert [e["params"]["C"] for e in leaderboard] == [t["candidate"]["params"]["C"] for t in trial_list]
    assert all(
        e["status"] == "trained" and e["fit_s"] is not None and "f1" in e["validation_metrics"] for e in leaderboard
    )
    # the winner is the best trial on validation, and its trial id is in the version's lineage
    best = max(leaderboard, key=lambda e: (e["validation_metrics"]["f1"], -e["index"]))
    record = stack.registry().get_version("bc", result.version)
    assert record.lineage.trial_id == best["trial_id"]
    assert record.lineage.trials == 50
    summary = result.summary()
    assert (summary["trials"], summary["compute"], summary["winner_trial_id"]) == (50, "lambda", best["trial_id"])
    # no state carries the trials: the largest state stays small
    size, state = largest_state_payload(execution_history(stack, result.execution_arn))
    assert size < STATE_LIMIT_BYTES, (size, state)


def _failing(values_failing: int, total: int) -> list[dict]:
    """A grid of C values of which some are negative: each is sampled once, and each negative C fails to fit."""
    values = [-(i + 1.0) for i in range(values_failing)]
    values += [0.01 * (i + 1) for i in range(total - values_failing)]
    return _logistic({"type": "categorical", "values": values})


def test_failed_trials_up_to_the_tolerated_percentage_are_recorded_and_the_run_goes_on(stack, breast_cancer_uri):
    search = {"max_trials": 20, "tolerated_failure_percentage": 10, "spaces": _failing(2, 20)}
    result = run_training(stack, _request(breast_cancer_uri, search))

    assert result.status == "SUCCEEDED", result.cause
    leaderboard = result.documents["leaderboard"]
    failed = [e for e in leaderboard if e["status"] == "failed"]
    assert sorted(e["params"]["C"] for e in failed) == [-2.0, -1.0]
    assert {e["error"] for e in failed} == {"CandidateTrainingFailed"}
    assert len(leaderboard) == 20


def test_more_failed_trials_than_tolerated_end_in_a_named_state(stack, breast_cancer_uri):
    search = {"max_trials": 20, "tolerated_failure_percentage": 10, "spaces": _failing(3, 20)}
    result = run_training(stack, _request(breast_cancer_uri, search))

    assert result.status == "FAILED"
    assert result.end_state == "TooManyTrialsFailed"
    assert result.error == "PipelineStepFailed"
    assert result.cause.startswith("States.ExceedToleratedFailureThreshold: 3 of 20 items failed (15.0%)")
    assert "above the tolerated 10%" in result.cause
    assert "CandidateTrainingFailed" in result.cause
    with pytest.raises(ModelNotFound):
        stack.registry().get_model("bc")


def test_successive_halving_runs_fewer_trials_on_more_rows_per_rung(stack, breast_cancer_uri):
    search = {"max_trials": 9, "seed": 5, "halving": {"factor": 3, "min_fraction": 1 / 9}}
    search["spaces"] = _logistic({"type": "float", "low": 1e-4, "high": 1e2, "log": True})
    result = run_training(stack, _request(breast_cancer_uri, search))

    assert result.status == "SUCCEEDED", result.cause
    assert result.states.count("TrainTrials") == 3
    assert result.states.count("PromoteTrials") == 2
    leaderboard = result.documents["leaderboard"]
    per_rung = {r: [e for e in leaderboard if e["rung"] == r] for r in (0, 1, 2)}
    assert [len(per_rung[r]) for r in (0, 1, 2)] == [9, 3, 1]
    assert [per_rung[r][0]["fraction"] for r in (0, 1, 2)] == [round(1 / 9, 6), round(1 / 3, 6), 1.0]
    # the trials that went on are the best of the rung before
    for rung in (1, 2):
        before = sorted(per_rung[rung - 1], key=lambda e: -e["validation_metrics"]["f1"])
        cut = before[len(per_rung[rung]) - 1]["validation_metrics"]["f1"]
        assert all(
            e["validation_metrics"]["f1"] >= cut
            for e in before
            if e["trial_id"] in {p["trial_id"] for p in per_rung[rung]}
        )
        assert {e["trial_id"] for e in per_rung[rung]} <= {e["trial_id"] for e in per_rung[rung - 1]}
    # the winner fitted on every training row (the last rung)
    winner = result.output["evaluation"]["winner"]
    assert (winner["rung"], winner["fraction"]) == (2, 1.0)
    assert winner["trial_id"] in {e["trial_id"] for e in per_rung[2]}


def test_a_guided_search_plans_each_wave_from_the_waves_before_it(stack, breast_cancer_uri):
    spaces = _logistic({"type": "float", "low": 1e-4, "high": 1e2, "log": True})
    search = {"max_trials": 6, "seed": 5, "strategy": "guided", "waves": 3, "spaces": spaces}
    result = run_training(stack, _request(breast_cancer_uri, search))

    assert result.status == "SUCCEEDED", result.cause
    # each wave is one pass of the rung loop: three Map passes, PlanTrials planning the two after the first
    assert result.states.count("TrainTrials") == 3
    assert result.states.count("PromoteTrials") == 2
    leaderboard = result.documents["leaderboard"]
    assert [(e["trial_id"], e["rung"], e["fraction"]) for e in leaderboard] == [
        (f"t{i:04d}", i // 2, 1.0) for i in range(6)
    ]
    # the first wave is random sampling's first draws; each later one what the proposer makes of the scores before it
    settled = SettledSearch.model_validate({**search, "max_concurrency": 8, "tolerated_failure_percentage": 0})
    first = trial_search.sample(settled.model_copy(update={"max_trials": 2}))
    assert [(e["estimator"], e["params"]) for e in leaderboard[:2]] == [(est, p) for est, p in first]
    for wave in (1, 2):
        before = [(e["estimator"], e["params"], e["validation_metrics"]["f1"]) for e in leaderboard[: 2 * wave]]
        proposed = guided.propose(settled, before, 2, wave)
        assert [(e["estimator"], e["params"]) for e in leaderboard[2 * wave : 2 * wave + 2]] == proposed
    # the winner is the best trial of every wave (all fitted on every row), not only of the last
    best = max(leaderboard, key=lambda e: (e["validation_metrics"]["f1"], -e["index"]))
    assert result.output["evaluation"]["winner"]["trial_id"] == best["trial_id"]
    size, state = largest_state_payload(execution_history(stack, result.execution_arn))
    assert size < STATE_LIMIT_BYTES, (size, state)


def test_a_guided_search_with_successive_halving_is_refused_in_a_named_state(stack, breast_cancer_uri):
    search = {"max_trials": 6, "strategy": "guided", "halving": {"factor": 3}}
    result = run_training(stack, _request(breast_cancer_uri, search))

    assert (result.status, result.end_state) == ("FAILED", "InvalidInput")
    assert "search.halving" in result.cause and "guided" in result.cause
    assert "TrainTrials" not in result.states
