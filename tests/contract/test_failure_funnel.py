"""Where each Catch leads. A Catch that ends a run reaches a named Fail state: directly, or (TrainingPipeline) through
the failure funnel, where the Catch writes its error to `$.failure.<named end state>`, RecordFailure reconciles the
registry with that state, and the EndInNamedState Choice routes to it, with no Pass state on the way. The funnel's
Choice and `mlops.records.funnel.FUNNEL_STATES` (what RecordFailure derives the state from) must agree."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import load_template
from mlops.records.funnel import FUNNEL_STATES, failure_of
from tests.contract.state_machines import StateMachineSource, state_machine_sources, walk
from tests.contract.test_state_machine_contract import FAIL_STATES

STATE_MACHINES = state_machine_sources(load_template())
by_state_machine = pytest.mark.parametrize("source", STATE_MACHINES, ids=lambda source: source.logical_id)
FAILURE_KEY = "$.failure."
FUNNEL_STEP = "RecordFailure"
# UndoDeployment (the Deploy function, the pipeline's one writer of aliases) comes first; its Catch leads on
FUNNEL_STEPS = ("UndoDeployment", FUNNEL_STEP)
FUNNEL_CHOICE = "EndInNamedState"
# RecordFailure's own Catch: the run still ends in its named state, with a fallback outcome (no States.* name)
FUNNEL_FALLBACK = "RecordFailureErrored"
OUTCOME = "$.outcome"
CONTINUES = "(the run goes on)"
# Catches that do not end the run, by design: what they catch is recorded and the run goes on.
NOT_FATAL = {
    "TrainingPipeline": {
        "ParityCheck",  # the ONNX model is not trusted; scikit-learn serves the version
    },
    "DriftCheck": {"RecordRetraining"},  # the run was started; the notification must still go out
    "ScheduledDriftChecks": {"StartChecks/Iterator/StartCheck"},  # already started by the same tick: done
    "BatchTransform": set(),  # every failure ends the job (a partial output is never a result)
    "Rollout": set(),  # every failure ends the rollout; the TrainingPipeline's funnel undoes what it wrote
}
# The Pass states TrainingPipeline keeps; before the funnel it also had six Note<state> Pass states.
# NameTrainingJob names a trial's SageMaker training job (inside the TrainTrials ItemProcessor).
TRAINING_PASS_STATES = {"NameTrainingJob", "SkipParityCheck", "ParityCheckErrored", FUNNEL_FALLBACK}


def _is_present(variable: str, written: str) -> bool:
    """Whether a JSONPath is present after a Catch wrote an error object ({Error, Cause}) at `written`."""
    return (
        written == variable
        or written.startswith(variable + ".")
        or variable in (f"{written}.Error", f"{written}.Cause")
    )


def _choose(choice: dict[str, Any], written: str) -> str | None:
    """The branch a funnel Choice takes; None when it has a rule other than IsPresent (the run goes on)."""
    for rule in choice["Choices"]:
        if set(rule) != {"Variable", "IsPresent", "Next"}:
            return None
        if _is_present(rule["Variable"], written) == rule["IsPresent"]:
            return rule["Next"]
    return choice["Default"]


def ends_of(states: dict[str, Any], name: str, written: str, passed: tuple[str, ...] = ()) -> set[tuple[str, tuple]]:
    """Every (end state, Pass states on the way) a run can reach from `name` after a Catch wrote to `written`.

    A Task is followed both ways (it succeeds, or its own Catch takes over), so the end holds when the funnel's own
    step (RecordFailure) fails too. A run that goes on past a Choice that is not the funnel's ends in CONTINUES."""
    state = states[name]
    kind = state["Type"]
    if kind in ("Fail", "Succeed"):
        return {(name, passed)}
    if kind == "Choice":
        branch = _choose(state, written)
        return {(CONTINUES, passed)} if branch is None else ends_of(states, branch, written, passed)
    if kind == "Pass":
        passed = (*passed, name)
    nexts = [state["Next"]] if "Next" in state else []
    nexts += [catcher["Next"] for catcher in state.get("Catch", [])]
    if not nexts:
        return {(CONTINUES, passed)}  # the end of a Map's iteration: the Map goes on
    return set().union(*(ends_of(states, target, written, passed) for target in nexts))


def catches(source: StateMachineSource) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (found.path, catcher, found.scope)
        for found in walk(source.definition())
        for catcher in found.state.get("Catch", [])
    ]


@by_state_machine
def test_every_catch_that_ends_a_run_reaches_its_named_fail_state_without_a_pass_state(source: StateMachineSource):
    named = FAIL_STATES[source.logical_id]
    not_fatal = NOT_FATAL[source.logical_id]
    funnel = set(FUNNEL_STATES) if source.logical_id == "TrainingPipeline" else set()
    wrong = {}
    for path, catcher, scope in catches(source):
        if path in not_fatal or path in FUNNEL_STEPS:
            continue  # the funnel's own Catch is followed from every Catch that leads into it
        written = catcher.get("ResultPath", "$")
        ends = ends_of(scope, catcher["Next"], written)
        expected = written.removeprefix(FAILURE_KEY) if written.startswith(FAILURE_KEY) else None
        # a funnel state's Fail reads the error from `$.failure.<itself>`: only the Catch that wrote there may end in it
        if any(
            end not in named
            or set(passed) - {FUNNEL_FALLBACK}
            or end != (expected or end)
            or (end in funnel and end != expected)
            for end, passed in ends
        ):
            wrong[f"{path} {catcher['ErrorEquals']} -> {written}"] = sorted(ends)

    assert catches(source), "no Catch found: the walk is broken"
    assert not wrong, f"each should reach one named Fail state (the one its $.failure key names), no Pass: {wrong}"


@by_state_machine
def test_the_catches_that_do_not_end_a_run_are_the_declared_ones(source: StateMachineSource):
    continuing = {
        path
        for path, catcher, scope in catches(source)
        if not all(end in FAIL_STATES[source.logical_id] for end, _ in ends_of(scope, catcher["Next"], "$.caught"))
    }

    assert continuing == NOT_FATAL[source.logical_id]


def test_the_funnel_choice_mirrors_the_states_record_failure_derives():
    definition = next(s for s in STATE_MACHINES if s.logical_id == "TrainingPipeline").definition()
    states = definition["States"]
    choice = states[FUNNEL_CHOICE]
    written = {
        catcher["ResultPath"].removeprefix(FAILURE_KEY)
        for found in walk(definition)
        for catcher in found.state.get("Catch", [])
        if catcher.get("ResultPath", "").startswith(FAILURE_KEY)
    }

    # One rule per funnel state, each sending `$.failure.<state>` to the Fail state of that name
    rules = [(rule["Variable"], rule.get("IsPresent"), rule["Next"]) for rule in choice["Choices"]]
    assert sorted(rules) == sorted((f"{FAILURE_KEY}{state}", True, state) for state in FUNNEL_STATES)
    assert choice["Default"] in FUNNEL_STATES
    # Every funnel state is written by some Catch, and no Catch writes a key the Python side does not know
    assert written == set(FUNNEL_STATES)
    # Each Fail state reports the outcome RecordFailure derived from the error its Catch caught (the step's own error
    # name, or PipelineStepFailed for a States.* error, which a Fail state may not report), or the fallback's
    assert {state: (states[state]["ErrorPath"], states[state]["CausePath"]) for state in FUNNEL_STATES} == {
        state: (f"{OUTCOME}.Error", f"{OUTCOME}.Cause") for state in FUNNEL_STATES
    }
    assert states[FUNNEL_STEP]["ResultPath"] == OUTCOME == states[FUNNEL_FALLBACK]["ResultPath"]
    assert states[FUNNEL_FALLBACK]["Parameters"]["Error"] == "PipelineStepFailed"
    # RecordFailure reads the state from the run's state input, where the Catch wrote it, and the funnel's Choice
    # is where both its success and its own failure go
    record = states[FUNNEL_STEP]
    assert record["Parameters"]["Payload"]["state_input.$"] == "$"
    assert record["Next"] == FUNNEL_CHOICE == states[FUNNEL_FALLBACK]["Next"]
    assert {catcher["Next"] for catcher in record["Catch"]} == {FUNNEL_FALLBACK}
    assert not any(catcher["ResultPath"].startswith(FAILURE_KEY) for catcher in record["Catch"])


@pytest.mark.parametrize("state", FUNNEL_STATES)
def test_record_failure_derives_each_funnel_state_from_the_key_its_catch_wrote(state: str):
    error = {"Error": "RuntimeError", "Cause": "boom"}

    assert failure_of({"request": {}, "failure": {state: error}}) == (state, error)


@pytest.mark.parametrize(
    "failure",
    [None, {}, {"NotAState": {"Error": "E"}}, {"InvalidInput": {}, "PipelineFailed": {}}, "InvalidInput"],
    ids=["absent", "empty", "unknown state", "two states", "not an object"],
)
def test_record_failure_derives_no_state_from_anything_else(failure: Any):
    assert failure_of({"failure": failure}) is None


def test_the_funnel_has_no_pass_state_left():
    definition = next(s for s in STATE_MACHINES if s.logical_id == "TrainingPipeline").definition()

    assert {found.name for found in walk(definition) if found.state["Type"] == "Pass"} == TRAINING_PASS_STATES
