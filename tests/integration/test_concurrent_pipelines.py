"""Real TrainingPipelines racing each other through registration and Deploy, on the local stack with invocations
overlapping (``runtime.parallel()``): every run's handlers in their own threads, the registry's conditional writes
deciding who wins. The tests assert what the concurrent work produced, run by run, not only that nothing raised."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from local import runtime
from local.runs.datasets import breast_cancer_csv
from local.runs.training import follow
from mlops.registry.store import ModelRegistry
from tests.conftest import upload

pytestmark = pytest.mark.integration
MODEL = "bc"
ALIAS_EVENTS = ("AliasMoved", "AliasRemoved", "RolledBack", "CanaryChanged", "CanaryPromoted", "CanaryRolledBack")


def start_runs(stack, candidates_per_run: list[list[dict]]) -> list[str]:
    sfn = stack.client("stepfunctions")
    arns = []
    for candidates in candidates_per_run:
        request = {
            "model_name": MODEL,
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": candidates,
        }
        started = sfn.start_execution(
            stateMachineArn=stack.training_pipeline_arn, name=f"race-{uuid.uuid4().hex[:10]}", input=json.dumps(request)
        )
        arns.append(started["executionArn"])
    return arns


def outcome(stack, arn: str) -> dict:
    description, events = follow(stack, arn, timeout_s=600)
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    failed = next((e for e in reversed(events) if e["type"] == "ExecutionFailed"), None)
    return {
        "arn": arn,
        "run_id": arn.rsplit(":", 1)[-1],
        "status": description["status"],
        "end_state": entered[-1],
        "error": (failed or {}).get("executionFailedEventDetails", {}).get("error"),
        "started": description["startDate"],
        "stopped": description["stopDate"],
    }


def assert_accounted_for(registry: ModelRegistry, runs: list[dict]) -> dict[str, list[dict]]:
    """Every run's work is in the registry exactly once, and the production alias has one linear history."""
    # Exactly the expected versions: 1..N, one per run, each the run's own (its RUN# marker agrees)
    records = [r.to_document() for r in registry.list_versions(MODEL)]
    assert [r["version"] for r in records] == list(range(1, len(runs) + 1))
    assert sorted(r["run_id"] for r in records) == sorted(run["run_id"] for run in runs)
    by_run = {r["run_id"]: r for r in records}
    for run in runs:
        run["version"] = by_run[run["run_id"]]["version"]
        assert registry.version_for_run(MODEL, run["run_id"]) == run["version"]

    # One linear alias history: each move starts where the previous one ended, and ends at the alias as it is
    events = [e.to_document() for e in registry.list_events(MODEL)]
    moves = [e for e in events if e["event_type"] in ALIAS_EVENTS]
    for previous, current in zip(moves, moves[1:], strict=False):
        assert current["before"]["version"] == previous["after"]["version"], (previous, current)
    alias = registry.get_alias(MODEL)
    if moves:
        assert (alias.version if alias else None) == moves[-1]["after"]["version"]
    if alias is not None:
        assert alias.revision == len(moves)

    # Every run accounted for by what it says it did
    by_state: dict[str, list[dict]] = {}
    for run in runs:
        by_state.setdefault(run["end_state"], []).append(run)
        actor = f"pipeline:{run['run_id']}"
        own_moves = [(e["before"]["version"], e["after"]["version"]) for e in moves if e["actor"] == actor]
        failures = [e for e in events if e["event_type"] == "TrainingRunFailed" and e["actor"] == actor]
        status = by_run[run["run_id"]]["status"]
        if run["end_state"] == "Deployed":
            assert run["status"] == "SUCCEEDED" and status == "Registered" and failures == []
            assert len(own_moves) == 1 and own_moves[0][1] == run["version"]
        elif run["end_state"] == "NotPromoted":
            assert run["status"] == "SUCCEEDED" and status == "Rejected" and own_moves == [] and failures == []
        elif run["end_state"] == "DeploymentFailed":
            assert run["status"] == "FAILED" and status == "Registered"
            assert [f["after"]["state"] for f in failures] == ["DeploymentFailed"]
            # a move it made was undone by itself (RecordFailure), so production did not move because of it
            if own_moves:
                replaced = own_moves[0][0]
                assert own_moves == [(replaced, run["version"]), (run["version"], replaced)]
        else:
            pytest.fail(f"unexpected end of a racing run: {run}")
    return by_state


@pytest.fixture
def parallel_stack(stack):
    upload(stack, "datasets/bc.csv", breast_cancer_csv())
    with runtime.parallel():
        yield stack


def test_pipelines_racing_through_deploy_one_wins_and_every_loser_is_a_conflict(parallel_stack, monkeypatch):
    stack = parallel_stack
    runs_count = 3
    # Given three runs that all reach Deploy having read "no production alias yet", and write only when all have
    barrier = threading.Barrier(runs_count, timeout=120)
    original = ModelRegistry._write_alias

    def write_after_everyone_read(self, model_name, alias, current, fields, **kwargs):
        if kwargs["actor"].startswith("pipeline:") and kwargs["event_type"] == "AliasMoved":
            barrier.wait()  # breaks (and fails the run) unless the Deploy handlers really run at once
        return original(self, model_name, alias, current, fields, **kwargs)

    monkeypatch.setattr(ModelRegistry, "_write_alias", write_after_everyone_read)
    candidates = [[{"estimator": "decision_tree", "params": {"max_depth": depth}}] for depth in (2, 3, 4)]

    # When they run at once
    runs = [outcome(stack, arn) for arn in start_runs(stack, candidates)]

    # Then each registered its own version, exactly one moved production, and every other one lost the conditional
    # write: DeploymentFailed with VersionConflict, its version registered and not serving
    by_state = assert_accounted_for(stack.registry(), runs)
    assert sorted(by_state) == ["Deployed", "DeploymentFailed"]
    (winner,) = by_state["Deployed"]
    assert [run["error"] for run in by_state["DeploymentFailed"]] == ["VersionConflict"] * (runs_count - 1)
    alias = stack.registry().get_alias(MODEL)
    assert (alias.version, alias.previous_version, alias.revision) == (winner["version"], None, 1)


def test_pipelines_racing_unsynchronised_leave_one_consistent_history(parallel_stack):
    stack = parallel_stack
    candidates = [
        [{"estimator": "decision_tree", "params": {"max_depth": 1}}],
        [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
        [{"estimator": "decision_tree", "params": {"max_depth": 3}}],
    ]

    runs = [outcome(stack, arn) for arn in start_runs(stack, candidates)]

    # The runs overlapped in time (else this is not a race), and whatever the interleaving, all is accounted for
    latest_start = max(run["started"] for run in runs)
    assert all(run["stopped"] > latest_start for run in runs)
    by_state = assert_accounted_for(stack.registry(), runs)
    assert by_state.get("Deployed"), by_state  # the first to reach Deploy with no champion in the way deploys
