"""The ASL files: parsed by moto's ASL parser (the interpreter the local stack runs) and held to STYLE.md section 10,
and the template checks of tools/check_template.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException
from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser

from local.template import ROOT, TEMPLATE_PATH, load_template
from mlops import errors
from tests.contract.state_machines import (
    LAMBDA_INVOKE,
    LAMBDA_RETRY,
    NOT_CAUGHT_BY_STATES_ALL,
    StateMachineSource,
    catch_all_omissions,
    lambda_target,
    retry_differences,
    scopes,
    state_machine_sources,
    transitions,
    walk,
)
from tools import check_template

STATE_MACHINES = state_machine_sources(load_template())
# The named Fail states are contracts: users' alarms and runbooks match on them.
FAIL_STATES = {
    "TrainingPipeline": {
        "InvalidInput",
        "NoCandidateTrained",
        "TooManyTrialsFailed",
        "RegistrationFailed",
        "SmokeTestFailed",
        "ApprovalRejected",
        "ApprovalTimedOut",
        "DeploymentFailed",
        "PipelineFailed",
        "RolledBack",  # a bake breached its thresholds: the Rollout withdrew the new version by itself
    },
    # a step failed; the TrainingPipeline's funnel undoes what it wrote (a rollback is not a failure of the Rollout)
    "Rollout": {"DeploymentFailed"},
    "DriftCheck": {
        "InvalidInput",
        "NothingToMonitor",
        "BaselineUnavailable",
        "DriftCheckFailed",
        "RetrainingNotStarted",
        "NotificationFailed",
    },
    "ScheduledDriftChecks": {"InvalidInput", "PlanFailed", "ChecksNotStarted"},
    "BatchTransform": {"InvalidInput", "ChunkFailed", "OutputIncomplete", "BatchJobFailed", "ChunkScoringFailed"},
}
TERMINAL_TYPES = {"Choice", "Succeed", "Fail"}  # states that take neither Next nor End
# A service integration reports the service's errors under its prefix (SNS.ThrottledException, ...): those are not
# Python exceptions, and are named only on tasks that call that service.
SERVICE_ERROR_PREFIXES = {"arn:aws:states:::sns:": "SNS.", "arn:aws:states:::states:": "StepFunctions."}

by_state_machine = pytest.mark.parametrize("source", STATE_MACHINES, ids=lambda source: source.logical_id)


@by_state_machine
def test_moto_parses_the_definition_once_substituted(source: StateMachineSource) -> None:
    text = source.substituted_text()

    AmazonStateLanguageParser.parse(text)
    StaticAnalyser().analyse(text)  # what moto's CreateStateMachine runs on a STANDARD definition
    assert "${" not in text


def test_moto_parser_rejects_a_state_of_an_unknown_type() -> None:
    # Given a definition whose first state has a misspelt type
    source = STATE_MACHINES[0]
    definition = json.loads(source.substituted_text())
    definition["States"][definition["StartAt"]]["Type"] = "Tsk"

    # When / Then: the parser the contract test relies on refuses it
    with pytest.raises(ASLParserException, match="Tsk"):
        AmazonStateLanguageParser.parse(json.dumps(definition))


@by_state_machine
def test_every_choice_has_a_default(source: StateMachineSource) -> None:
    choices = [found for found in walk(source.definition()) if found.state["Type"] == "Choice"]

    assert not [found.path for found in choices if "Default" not in found.state]


@by_state_machine
def test_every_lambda_task_retries_with_the_one_standard_block(source: StateMachineSource) -> None:
    lambda_tasks = [found for found in walk(source.definition()) if lambda_target(found.state) is not None]

    assert lambda_tasks, "no Lambda task found: the walk is broken"
    assert any(found.state["Resource"] == LAMBDA_INVOKE for found in lambda_tasks)
    assert not retry_differences(source.definition()), "not the standard block of tests/contract/state_machines.py"


@by_state_machine
def test_every_catch_of_states_all_first_names_what_states_all_does_not_catch(source: StateMachineSource) -> None:
    assert not catch_all_omissions(source.definition()), f"no {NOT_CAUGHT_BY_STATES_ALL} catcher before States.ALL"


def test_the_block_checks_name_the_one_task_whose_block_differs() -> None:
    # Given the pipeline with one task's jitter dropped, another's attempts changed, and a third's named catcher gone
    definition = next(s for s in STATE_MACHINES if s.logical_id == "TrainingPipeline").definition()
    states = definition["States"]
    del states["Register"]["Retry"][0]["JitterStrategy"]
    states["TrainTrials"]["ItemProcessor"]["States"]["TrainTrial"]["Retry"][0]["MaxAttempts"] = 2
    states["SmokeTest"]["Catch"] = [
        c for c in states["SmokeTest"]["Catch"] if c["ErrorEquals"] != NOT_CAUGHT_BY_STATES_ALL
    ]

    # When / Then: the checks name exactly those tasks
    assert sorted(retry_differences(definition)) == ["Register", "TrainTrials/ItemProcessor/TrainTrial"]
    assert retry_differences(definition)["Register"] == {k: v for k, v in LAMBDA_RETRY.items() if k != "JitterStrategy"}
    assert catch_all_omissions(definition) == ["SmokeTest"]


# A Distributed Map's item task fails its child execution on purpose: the Map counts it against
# ToleratedFailurePercentage and its ResultWriter records it (FAILED_0.json); the Map itself catches the threshold.
# The same for a trial trained on SageMaker: a failed or refused job, or a job result Train refuses to collect.
FAILS_ITS_ITEM = {
    "TrainTrials/ItemProcessor/TrainTrial",
    "TrainTrials/ItemProcessor/TrainingJob",
    "TrainTrials/ItemProcessor/CollectTrainingJob",
}


@by_state_machine
def test_every_task_catches_errors(source: StateMachineSource) -> None:
    tasks = [found for found in walk(source.definition()) if found.state["Type"] == "Task"]

    assert not [found.path for found in tasks if not found.state.get("Catch") and found.path not in FAILS_ITS_ITEM]


@by_state_machine
def test_every_transition_targets_a_state_of_its_own_scope(source: StateMachineSource) -> None:
    dangling = [
        f"{found.path} -> {target}"
        for found in walk(source.definition())
        for target in transitions(found.state)
        if target not in found.scope
    ]

    assert not dangling


@by_state_machine
def test_every_state_either_moves_on_or_ends(source: StateMachineSource) -> None:
    wrong = [
        found.path
        for found in walk(source.definition())
        if found.state["Type"] not in TERMINAL_TYPES and ("Next" in found.state) == bool(found.state.get("End"))
    ]

    assert not wrong, f"need exactly one of Next and End: {wrong}"


@by_state_machine
def test_every_state_is_reachable_from_start_at(source: StateMachineSource) -> None:
    unreachable = {}
    for label, machine in scopes(source.definition()):
        reached, pending = set(), [machine["StartAt"]]
        while pending:
            name = pending.pop()
            if name in reached or name not in machine["States"]:
                continue
            reached.add(name)
            pending += transitions(machine["States"][name])
        if set(machine["States"]) - reached:
            unreachable[label] = sorted(set(machine["States"]) - reached)

    assert not unreachable


def service_error_prefixes(state: dict) -> tuple[str, ...]:
    resource = state.get("Resource", "")
    return tuple(prefix for integration, prefix in SERVICE_ERROR_PREFIXES.items() if resource.startswith(integration))


@by_state_machine
def test_every_named_error_is_a_domain_exception(source: StateMachineSource) -> None:
    # Lambda reports a Python exception's class name as its errorType: a name the code cannot raise never matches
    named = {
        (found.path, error)
        for found in walk(source.definition())
        for handler in found.state.get("Catch", []) + found.state.get("Retry", [])
        for error in handler["ErrorEquals"]
        # Sandbox.Timedout / Runtime.*: what the Lambda runtime reports (a function's timeout), not the code
        if not error.startswith(("States.", "Lambda.", "Sandbox.", "Runtime.", *service_error_prefixes(found.state)))
    }
    unknown = {
        (path, error)
        for path, error in named
        if not (isinstance(getattr(errors, error, None), type) and issubclass(getattr(errors, error), Exception))
    }

    # (a machine with one failure end has nothing to tell apart: the Rollout reports every step's error as its cause)
    assert named or len(FAIL_STATES[source.logical_id]) == 1, "no Catch names a domain error: failures look alike"
    assert not unknown, f"no such class in mlops.errors: {sorted(unknown)}"


@by_state_machine
def test_fail_states_are_the_named_ones(source: StateMachineSource) -> None:
    fail_states = {found.name for found in walk(source.definition()) if found.state["Type"] == "Fail"}

    assert fail_states == FAIL_STATES.get(source.logical_id)


# --- tools/check_template.py --------------------------------------------------------------------------------------


def test_template_checks_pass(capsys: pytest.CaptureFixture[str]) -> None:
    exit_status = check_template.main([])

    output = capsys.readouterr().out
    assert exit_status == 0, output
    assert "cfn-lint on the SAM translation: 0 error(s)" in output
    assert "sam validate --lint: ok" in output, output  # not skipped: `make test` runs the template checks only here


def test_template_checks_fail_on_an_invalid_state_in_the_asl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a copy of the template whose state machine definition has a state of an unknown type
    shutil.copy(TEMPLATE_PATH, tmp_path / TEMPLATE_PATH.name)
    for source in STATE_MACHINES:
        copy = tmp_path / source.asl_path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        definition = source.definition()
        definition["States"][definition["StartAt"]]["Type"] = "Tsk"
        copy.write_text(json.dumps(definition))
    monkeypatch.setattr(check_template, "SAM", tmp_path / "no-sam")  # sam validate --lint does not read the ASL

    # When the template checks run on it
    exit_status = check_template.main(["--template", str(tmp_path / TEMPLATE_PATH.name)])

    # Then the lint of the translation, which inlines the ASL, reports it and the checks fail
    output = capsys.readouterr().out
    assert exit_status == 1, output
    assert "E3601 'Tsk' is not one of" in output
