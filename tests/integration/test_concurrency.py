"""Things happening at once: alias moves racing each other, and the same training start sent many times. Real
pipelines racing through registration and Deploy: tests/integration/test_concurrent_pipelines.py."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from local.runs.datasets import breast_cancer_csv
from mlops.api import training_runs
from mlops.errors import DeploymentRefused, NothingToRollBack, VersionConflict
from mlops.records.registry import VERSION_REGISTERED
from mlops.records.request import parse_training_request
from tests.conftest import upload
from tests.factories import version_content

pytestmark = pytest.mark.integration


def _race(workers: int, work) -> tuple[list, list]:
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            results.append(work(index))
        except Exception as exc:  # collected: conflicts are expected outcomes, anything else fails below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_simultaneous_deploys_and_rollbacks_leave_one_consistent_history(stack):
    registry = stack.registry()
    for run in range(6):
        registry.register_version(
            "m", version_content(), status=VERSION_REGISTERED, run_id=f"r{run}", actor="t", reason="r"
        )
    registry.set_alias("m", 1, actor="t", reason="start")

    def operation(index: int) -> str:
        if index % 3 == 2:
            registry.rollback("m", actor=f"w{index}", reason="race")
            return "rollback"
        registry.set_alias("m", 2 + index % 5, actor=f"w{index}", reason="race")
        return "deploy"

    results, errors = _race(24, operation)

    # Every operation ended, each one a success or a refusal that names a conflict; some of both kinds succeeded
    assert len(results) + len(errors) == 24
    assert all(isinstance(e, (VersionConflict, DeploymentRefused, NothingToRollBack)) for e in errors), errors
    assert Counter(results)["deploy"] >= 1, (results, errors)
    events = [e for e in registry.list_events("m") if e.event_type in ("AliasMoved", "RolledBack")]
    # Every successful operation wrote exactly one event, and the events form one chain: each starts where the
    # previous one ended (no lost update), ending at the alias as it is now.
    assert len(events) == 1 + len(results)
    for previous, current in zip(events, events[1:], strict=False):
        assert current.before["version"] == previous.after["version"]
    alias = registry.get_alias("m")
    assert alias.version == events[-1].after["version"]
    assert alias.revision == len(events)
    print(f"concurrent alias operations: {Counter(results)} succeeded, {len(errors)} refused as conflicts")


def test_simultaneous_training_starts_with_one_client_token_start_one_run(stack):
    uri = upload(stack, "datasets/bc.csv", breast_cancer_csv())
    request = parse_training_request(
        {
            "model_name": "bc",
            "dataset_uri": uri,
            "target": "target",
            "candidates": [{"estimator": "decision_tree", "params": {"max_depth": 2}}],
        }
    )

    results, errors = _race(
        12, lambda _: training_runs.start_training(stack.training_pipeline_arn, request, "same-token")
    )

    assert errors == []
    assert len(results) == 12
    assert len({execution["execution_arn"] for execution, _ in results}) == 1
    executions = stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)
    assert len(executions["executions"]) == 1
    assert sum(started for _, started in results) >= 1
