"""Progressive delivery through the real TrainingPipeline: canary, linear and shadow rollouts whose bakes read the
new version's serving metrics (the predict function's EMF lines, in the local stack's CloudWatch) or, for a shadow,
its replay of production's captured requests; promotion, and automatic rollback on injected errors."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid

import pytest

from local import runtime
from local.runs.datasets import breast_cancer_csv, diabetes_csv
from local.runs.training import execution_history, follow, rollout_execution_arn
from local.stack import LocalStack
from mlops.records.registry import PRODUCTION

pytestmark = pytest.mark.integration

MODEL = "bc"
WEAK = [{"estimator": "decision_tree", "params": {"max_depth": 1}}]
STRONG = [{"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}}]
DEADLINE_S = 120.0


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    # A warm predict instance re-reads the alias on every request, so each step's weight reaches it at once. The bakes
    # here are judged on errors and request counts: the stack's p99 ceiling is raised to 30 s because a local request
    # on a loaded 2-core machine was seen at 3.5 s (the default 1,000 ms rolled a healthy canary back).
    parameters = {
        "AliasRefreshSeconds": "0",
        "DeploymentMaxP99LatencyMs": "30000",
        "DeploymentBakeSeconds": "1",  # the shortest bake a request may ask for: the tests bake 1-6 s
        "DeploymentMaxDisagreement": "1",  # the shadow test judges on errors, not on disagreement
    }
    with LocalStack(parameters=parameters) as local_stack:
        for name, value in local_stack.environment().items():
            monkeypatch.setenv(name, value)
        yield local_stack
    runtime.clear_faults()


def _request(stack, candidates, *, deployment=None, name=MODEL, dataset=None, target="target") -> dict:
    key = f"datasets/{name}.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=dataset or breast_cancer_csv())
    request = {
        "model_name": name,
        "dataset_uri": f"s3://{stack.bucket}/{key}",
        "target": target,
        "candidates": candidates,
        "requested_by": "tests",
    }
    if deployment is not None:
        request["deployment"] = deployment
    return request


def _start(stack, request: dict) -> str:
    return stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.training_pipeline_arn,
        name=f"rollout-{uuid.uuid4().hex[:12]}",
        input=json.dumps(request),
    )["executionArn"]


def _run(stack, request: dict) -> dict:
    description, events = follow(stack, _start(stack, request), timeout_s=DEADLINE_S)
    return description


def _alias(stack, name: str = MODEL):
    return stack.registry().get_alias(name, PRODUCTION)


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {DEADLINE_S} s")
        time.sleep(0.05)


def _rows(stack, name: str = MODEL, count: int = 4) -> list[dict]:
    """Rows of the training table (a different slice each call), without the target."""
    global _cursor  # noqa: PLW0603 - a different slice per request, so a shadow sees varied rows
    table = list(
        csv.DictReader(io.StringIO((diabetes_csv() if name == REGRESSION_MODEL else breast_cancer_csv()).decode()))
    )
    target = "progression" if name == REGRESSION_MODEL else "target"
    rows = []
    for offset in range(count):
        row = table[(_cursor + offset) % len(table)]
        rows.append({k: float(v) for k, v in row.items() if k != target})
    _cursor += count
    return rows


_cursor = 0
REGRESSION_MODEL = "diabetes"


def _predict(stack, name: str, rows: list[dict]) -> dict:
    event = {
        "pathParameters": {"name": name},
        "body": json.dumps({"instances": rows}),
        "requestContext": {"requestId": uuid.uuid4().hex},
    }
    answer = stack.client("lambda").invoke(
        FunctionName=stack.function_names["PredictFunction"], Payload=json.dumps(event).encode()
    )
    return json.loads(answer["Payload"].read())


def _drive_while(stack, baking, name: str = MODEL) -> list[dict]:
    """Predict requests until the rollout's step is judged. Only answers given while ``baking()`` still held after
    them are kept: local invocations run one at a time, so those came before the bake check read the metrics."""
    answers = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        answer = _predict(stack, name, _rows(stack, name))
        if not baking():
            return answers
        answers.append(answer)
    raise TimeoutError(f"the bake did not end within {DEADLINE_S} s")


def _audit(stack, name: str = MODEL) -> list:
    return stack.registry().list_events(name)


def _alias_content(alias) -> dict:
    return alias.model_dump(
        include={"version", "previous_version", "canary_version", "canary_weight", "shadow_version"}
    )


def test_a_canary_bakes_on_its_own_metrics_and_is_promoted(stack):
    # Given production serves v1 (deployed at once: nothing to bake against)
    assert _run(stack, _request(stack, WEAK))["status"] == "SUCCEEDED"
    assert _alias(stack).version == 1
    # When v2 rolls out as a 50% canary baking 6 s, judged on at least 5 requests of its own (6 s: on a loaded 2-core
    # machine a local request can take a few hundred milliseconds, and 3 s once gave the canary fewer than 5)
    deployment = {"strategy": "canary", "canary_weight": 0.5, "bake_s": 6, "thresholds": {"min_requests": 5}}
    execution = _start(stack, _request(stack, STRONG, deployment=deployment))
    _wait_for(lambda: _alias(stack).canary_version == 2, "canary of v2")
    served = _drive_while(stack, lambda: _alias(stack).canary_version == 2)
    description, _ = follow(stack, execution, timeout_s=DEADLINE_S)
    # Then the canary served about half the requests, baked, and was promoted
    versions = [json.loads(answer["body"])["version"] for answer in served]
    assert set(versions) == {1, 2}
    assert description["status"] == "SUCCEEDED"
    alias = _alias(stack)
    assert (alias.version, alias.previous_version, alias.canary_version) == (2, 1, None)
    events = [e for e in _audit(stack) if e.event_type in ("CanaryChanged", "CanaryPromoted")]
    assert [e.event_type for e in events] == ["CanaryChanged", "CanaryPromoted"]
    decision = events[-1].details
    assert decision["decision"] == "promote" and decision["breaches"] == []
    assert decision["observed"]["requests"] == versions.count(2)  # the canary's own series, read back
    assert decision["observed"]["errors"] == 0 and decision["observed"]["p99_latency_ms"] > 0


def test_a_canary_whose_requests_fail_is_rolled_back_and_production_is_unchanged(stack):
    # Given production serves v1, a depth-3 tree (ONNX; a one-split tree does not beat predicting the mean on this
    # holdout, and the baseline floor refuses it), and v2 is served by scikit-learn (HistGradientBoosting
    # does not convert), through the scikit-learn predict function
    dataset = diabetes_csv()
    weak = [{"estimator": "decision_tree", "params": {"max_depth": 3}}]
    strong = [{"estimator": "hist_gradient_boosting", "params": {"max_iter": 50}}]
    first = _request(stack, weak, name=REGRESSION_MODEL, dataset=dataset, target="progression")
    assert _run(stack, first)["status"] == "SUCCEEDED"
    before = _alias_content(_alias(stack, REGRESSION_MODEL))
    registry_before = [v.model_dump() for v in stack.registry().list_versions(REGRESSION_MODEL)]
    # When v2 rolls out as a canary and, once it serves, every hand-over to scikit-learn fails
    deployment = {"strategy": "canary", "canary_weight": 0.5, "bake_s": 3, "thresholds": {"max_error_rate": 0.01}}
    execution = _start(
        stack,
        _request(stack, strong, deployment=deployment, name=REGRESSION_MODEL, dataset=dataset, target="progression"),
    )
    _wait_for(lambda: _alias(stack, REGRESSION_MODEL).canary_version == 2, "canary of v2")
    runtime.inject_fault(stack.function_names["PredictSklearnFunction"], "exception")
    served = _drive_while(stack, lambda: _alias(stack, REGRESSION_MODEL).canary_version == 2, REGRESSION_MODEL)
    description, events = follow(stack, execution, timeout_s=DEADLINE_S)
    runtime.clear_faults()
    # Then the canary's answers were errors, the bake saw them, and the rollout rolled back on its own
    failed = [a for a in served if a["statusCode"] == 502]
    assert failed and all(a["statusCode"] in (200, 502) for a in served)
    assert description["status"] == "FAILED"
    failed_event = next(e for e in events if e["type"] == "ExecutionFailed")
    assert failed_event["executionFailedEventDetails"]["error"] == "RolledBack"
    assert "error rate" in failed_event["executionFailedEventDetails"]["cause"]
    # the Rollout withdrew the version by itself: its execution succeeded, ending in its RolledBack state
    rollout = execution_history(stack, rollout_execution_arn(stack, execution))
    assert [e["stateEnteredEventDetails"]["name"] for e in rollout if e["type"].endswith("StateEntered")][-1] == (
        "RolledBack"
    )
    assert rollout[-1]["type"] == "ExecutionSucceeded"
    # production is what it was, by content; no version changed
    assert _alias_content(_alias(stack, REGRESSION_MODEL)) == {**before, "canary_version": None, "canary_weight": 0.0}
    registry_after = [v.model_dump() for v in stack.registry().list_versions(REGRESSION_MODEL)]
    assert [v for v in registry_after if v["version"] == 1] == [v for v in registry_before if v["version"] == 1]
    assert next(v for v in registry_after if v["version"] == 2)["status"] == "Registered"
    # and the audit trail holds the start and the decision, with what the bake observed
    moves = [e for e in _audit(stack, REGRESSION_MODEL) if e.event_type.startswith("Canary")]
    assert [e.event_type for e in moves] == ["CanaryChanged", "CanaryRolledBack"]
    decision = moves[-1].details
    assert decision["decision"] == "roll_back"
    assert decision["observed"]["errors"] == len(failed) and decision["observed"]["requests"] == len(failed)
    assert any("error rate" in breach for breach in decision["breaches"])
    assert moves[-1].after == {"alias": PRODUCTION, "version": 1, "canary_version": None, "canary_weight": 0.0}


def test_a_linear_rollout_advances_step_by_step_then_promotes(stack):
    assert _run(stack, _request(stack, WEAK))["status"] == "SUCCEEDED"
    deployment = {"strategy": "linear", "linear_step": 0.34, "bake_s": 1}
    execution = _start(stack, _request(stack, STRONG, deployment=deployment))
    description, events = follow(stack, execution, timeout_s=DEADLINE_S)
    assert description["status"] == "SUCCEEDED"
    # the steps baked in the run's Rollout execution, which the run waited for in one state
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert entered[-3:] == ["Rollout", "RolloutOutcome?", "Deployed"]
    rollout = execution_history(stack, rollout_execution_arn(stack, execution))
    baked = [e["stateEnteredEventDetails"]["name"] for e in rollout if e["type"].endswith("StateEntered")]
    assert baked.count("Bake") == 2 and baked.count("CheckBake") == 2 and baked[-1] == "Deployed"
    moves = [e for e in _audit(stack) if e.event_type.startswith("Canary")]
    assert [(e.event_type, e.after["canary_weight"]) for e in moves] == [
        ("CanaryChanged", 0.34),
        ("CanaryChanged", 0.68),
        ("CanaryPromoted", 0.0),
    ]
    assert [e.details["decision"] for e in moves[1:]] == ["advance", "promote"]
    assert [e.details["step"] for e in moves] == [1, 1, 2]
    assert _alias(stack).version == 2


def test_a_shadow_answers_copies_of_production_requests_that_no_caller_sees(stack):
    assert _run(stack, _request(stack, WEAK))["status"] == "SUCCEEDED"
    deployment = {"strategy": "shadow", "bake_s": 3, "thresholds": {"max_disagreement": 1.0, "min_requests": 3}}
    execution = _start(stack, _request(stack, STRONG, deployment=deployment))
    _wait_for(lambda: _alias(stack).shadow_version == 2, "shadow of v2")
    served = _drive_while(stack, lambda: _alias(stack).shadow_version == 2)
    description, _ = follow(stack, execution, timeout_s=DEADLINE_S)
    # Every caller was answered by production's v1: the shadow's answers are never returned
    bodies = [json.loads(answer["body"]) for answer in served]
    assert len(bodies) >= 3 and {body["version"] for body in bodies} == {1}
    assert description["status"] == "SUCCEEDED" and _alias(stack).version == 2
    # The shadow's answers were captured beside the champion's, for the same inference ids
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=f"shadow/{MODEL}/v2/")
    lines = []
    for item in listed.get("Contents", []):
        text = stack.client("s3").get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read().decode()
        lines += [json.loads(line) for line in text.splitlines() if line]
    answered = {p["inference_id"]: p["prediction"] for body in bodies for p in body["predictions"]}
    replayed = {line["inference_id"]: line for line in lines}
    # (requests answered between the replay and the bake's decision are not in it: the replay reads up to its start)
    assert set(replayed) <= set(answered) and len(replayed) >= 3 * 4
    assert all(line["champion_prediction"] == answered[i] for i, line in replayed.items())
    assert {line["challenger_version"] for line in lines} == {2}
    # and the promotion's audit event holds the disagreement those answers make
    promoted = next(e for e in _audit(stack) if e.event_type == "AliasMoved" and e.after["version"] == 2)
    disagreeing = sum(line["disagrees"] for line in lines)
    assert promoted.details["observed"]["disagreement"] == pytest.approx(disagreeing / len(lines))
    assert promoted.details["observed"]["requests"] == len({i.split(":")[0] for i in replayed})
    assert [e.event_type for e in _audit(stack) if "Shadow" in e.event_type] == ["ShadowStarted"]


@pytest.mark.parametrize("after", [False, True], ids=["before-its-writes", "after-its-writes"])
def test_a_failing_bake_check_ends_deployment_failed_with_production_where_it_was(stack, after):
    # Given production serves v1 and v2 rolls out as a canary
    assert _run(stack, _request(stack, WEAK))["status"] == "SUCCEEDED"
    before = _alias_content(_alias(stack))
    deployment = {"strategy": "canary", "canary_weight": 0.5, "bake_s": 1}
    execution = _start(stack, _request(stack, STRONG, deployment=deployment))
    _wait_for(lambda: _alias(stack).canary_version == 2, "canary of v2")
    # When the bake check fails (before its decision, or after promoting: the answer is lost)
    runtime.inject_fault(stack.function_names["DeployFunction"], "exception", times=1, after=after)
    description, events = follow(stack, execution, timeout_s=DEADLINE_S)
    # Then the run ends DeploymentFailed and the failure funnel put production back as it was, by content
    assert description["status"] == "FAILED"
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert entered[-4:] == ["UndoDeployment", "RecordFailure", "EndInNamedState", "DeploymentFailed"]
    # with the failing step's own error: the Rollout ended DeploymentFailed, the step's error as its cause
    rollout = stack.client("stepfunctions").describe_execution(executionArn=rollout_execution_arn(stack, execution))
    assert (rollout["status"], rollout["error"], json.loads(rollout["cause"])["Error"]) == (
        "FAILED",
        "DeploymentFailed",
        "RuntimeError",
    )
    assert description["error"] == "RuntimeError"
    # (undoing a promotion is a move back, so the alias remembers v2 as the version it replaced)
    assert _alias_content(_alias(stack)) == ({**before, "previous_version": 2} if after else before)
    moves = [e for e in _audit(stack) if e.event_type.startswith("Canary") or e.after.get("version") == 1]
    expected = ["CanaryChanged", "CanaryPromoted", "AliasMoved"] if after else ["CanaryChanged", "CanaryRolledBack"]
    assert [e.event_type for e in moves][-len(expected) :] == expected
    assert "ended DeploymentFailed" in moves[-1].reason
