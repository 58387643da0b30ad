"""The failure funnel's named end states: what a failed training run's Catch writes and RecordFailure reads.

In statemachines/training_pipeline.asl.json each Catch that ends the run writes its error to
``$.failure.<one of these>``, and the EndInNamedState Choice mirrors ``FUNNEL_STATES``
(tests/contract/test_failure_funnel.py checks that they agree). The Deploy function (which undoes a production move)
and RecordFailure (which makes the versions agree, ``mlops.governance.failed_runs``) both read it.
"""

from __future__ import annotations

from typing import Any

NOTHING_REGISTERED_STATES = (
    "InvalidInput",
    "NoCandidateTrained",
    "TooManyTrialsFailed",
    "RegistrationFailed",
    "PipelineFailed",
)
NOT_DEPLOYED_STATES = ("DeploymentFailed", "SmokeTestFailed")
FUNNEL_STATES = NOTHING_REGISTERED_STATES + NOT_DEPLOYED_STATES


def failure_of(state_input: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The named end state and the error of a failed run, from the one key its Catch wrote under ``$.failure``."""
    failure = state_input.get("failure")
    if not isinstance(failure, dict) or len(failure) != 1:
        return None
    ((state, error),) = failure.items()
    if state not in FUNNEL_STATES:
        return None
    return state, error if isinstance(error, dict) else {}
