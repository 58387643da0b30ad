"""The DriftCheck state machine when its check fails after writing: the report and the monitoring state are
written, then the function times out. The execution's end and the monitoring state must agree: a check that says
it failed must not leave a retraining "started" (the cooldown held) that never started."""

from __future__ import annotations

import importlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from local import runtime
from local.runs.datasets import breast_cancer_csv
from local.runs.monitoring import run_drift_check, serve
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.monitoring.check import UNRECORDED_START_GRACE_S
from mlops.monitoring.store import MonitoringStore
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.integration.test_drift_check import MODEL, traffic

pytestmark = pytest.mark.integration


@pytest.fixture
def monitored(monkeypatch):
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    parameters = {"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}
    with LocalStack(parameters=parameters) as stack:
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        request = {
            "model_name": MODEL,
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
        }
        assert run_training(stack, request).end_state == "Deployed"
        yield stack


def test_a_check_that_failed_after_writing_does_not_block_retraining(monitored):
    stack = monitored
    # Given a first drifted window (drift seen, not yet confirmed)
    serve(stack, MODEL, traffic(300, shifted=True, seed=2))
    first = run_drift_check(stack, MODEL)
    assert (first.end_state, first.check["status"], first.check["drift_confirmed"]) == ("Checked", "drift", False)

    # When the second drifted window's check writes its report and state, decides to retrain, and then times out
    serve(stack, MODEL, traffic(300, shifted=True, seed=3))
    runtime.inject_fault(stack.function_names["DriftFunction"], "timeout", times=1, after=True)
    failed = run_drift_check(stack, MODEL)

    # Then the execution says the check failed, and the state agrees: its report exists, but no retraining is
    # recorded as started (nor its cooldown reserved) without a TrainingPipeline execution behind it
    assert (failed.status, failed.end_state) == ("FAILED", "DriftCheckFailed")
    state = MonitoringStore(stack.monitor_table).get(MODEL).state
    assert objects.exists(S3Uri.parse(state.last_report_uri))
    executions = stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)
    assert len(executions["executions"]) == 1  # only the first training run
    # the failed check's reservation is there, unrecorded: no execution ARN
    reserved = state.last_retraining
    assert reserved is not None and reserved.execution_arn is None, reserved

    # And once the grace for recording a start has passed (aged here rather than waited for), it holds no cooldown:
    store = MonitoringStore(stack.monitor_table)
    stored = store.get(MODEL)
    aged = datetime.now(UTC) - timedelta(seconds=UNRECORDED_START_GRACE_S + 60)
    old_reservation = replace(reserved, at=aged.isoformat(timespec="seconds").replace("+00:00", "Z"))
    store.save_state(MODEL, replace(stored.state, last_retraining=old_reservation), seen_revision=stored.revision)

    # When drift persists, the next check starts the retraining the failed one did not
    serve(stack, MODEL, traffic(300, shifted=True, seed=4))
    later = run_drift_check(stack, MODEL)
    assert (later.status, later.end_state) == ("SUCCEEDED", "RetrainingStarted"), later.check.get("decision")


def test_a_check_result_over_the_state_limit_ends_in_drift_check_failed_with_the_original_error(monitored, monkeypatch):
    # Given a check whose result is larger than Step Functions lets a state carry (States.ALL does not catch
    # States.DataLimitExceeded, and a Fail state may not report a States.* name)
    module = importlib.import_module("functions.drift.app")
    monkeypatch.setattr(module, "lambda_handler", lambda event, context: {"padding": "x" * 300_000})
    serve(monitored, MODEL, traffic(50, shifted=False, seed=5))

    # When the check runs
    failed = run_drift_check(monitored, MODEL)

    # Then the run ends in our named state, its error is ours and its cause leads with the original error
    assert (failed.status, failed.end_state, failed.error) == ("FAILED", "DriftCheckFailed", "DriftCheckFailed")
    assert failed.cause.startswith("States.DataLimitExceeded: "), failed.cause
    assert "maximum number of bytes" in failed.cause
