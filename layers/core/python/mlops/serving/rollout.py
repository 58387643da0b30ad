"""Progressive delivery: move production to a new version by steps, each baked and judged, and roll back on a
bad bake — the Deploy part of TrainingPipeline for the ``canary``, ``linear`` and ``shadow`` strategies.

The state machine carries a ``RolloutState`` (``$.rollout``): ``start`` makes the first move, a Wait bakes it,
``check`` judges what the new version did in the bake (``mlops.serving.bake_metrics``; for a shadow, the replay's
report from ``mlops.serving.shadow``) against the request's thresholds and then advances the traffic one step,
promotes, or rolls back. Every move is one alias transaction whose audit event carries the decision (what was
observed, against which thresholds, which were breached).
"""

from __future__ import annotations

import time

from mlops.errors import RolloutInterrupted
from mlops.records.lineage import run_id_of
from mlops.records.registry import PRODUCTION, AliasRecord
from mlops.records.request import SettledBakeThresholds, SettledDeployment
from mlops.records.rollout import RolloutState
from mlops.registry.store import ModelRegistry
from mlops.serving.bake_metrics import ServingObservation
from mlops.serving.deploy import deploy


def traffic_steps(deployment: SettledDeployment) -> list[float]:
    """The new version's share of production's requests at each bake: canary one step; linear ``step``, ``2 step``
    ... below 100%; shadow none (it is judged on replayed requests)."""
    if deployment.strategy == "canary":
        return [deployment.canary_weight]
    if deployment.strategy == "linear":
        count = max(1, int((1 - 1e-9) // deployment.linear_step))
        return [round(deployment.linear_step * (i + 1), 6) for i in range(count)]
    return [0.0]


def _actor(execution_arn: str) -> str:
    return f"pipeline:{run_id_of(execution_arn)}"


def _ours(alias: AliasRecord | None, state: RolloutState) -> bool:
    """The alias still carries this rollout's version where the strategy put it."""
    if alias is None:
        return False
    if state.strategy == "shadow":
        return alias.shadow_version == state.version
    return alias.canary_version == state.version


def start(
    registry: ModelRegistry,
    model_name: str,
    version: int,
    deployment: SettledDeployment,
    *,
    execution_arn: str,
    now: float | None = None,
) -> RolloutState:
    """The first step: the canary at its first weight, or the shadow. With no production version yet there is
    nothing to bake against: the version is deployed at once (the audit event says why). Idempotent: a retried
    step finds its own first move and does not write again."""
    actor = _actor(execution_arn)
    weights = traffic_steps(deployment)
    state = RolloutState(
        strategy=deployment.strategy,
        model_name=model_name,
        version=version,
        weights=weights,
        bake_s=deployment.bake_s,
    )
    current = registry.get_alias(model_name, PRODUCTION)
    if current is None or current.version == version:
        deploy(
            model_name,
            version,
            execution_arn=execution_arn,
            reason=f"{deployment.strategy} rollout of a first version: no production to bake against, deployed at once",
            registry=registry,
        )
        return state.model_copy(update={"outcome": "promoted", "reason": "first deployment"})
    state = state.model_copy(update={"champion_version": current.version})
    details = {"strategy": deployment.strategy, "step": 1, "steps": len(weights), "bake_s": deployment.bake_s}
    if _ours(current, state) and current.updated_by == actor:
        return state.model_copy(update={"step_started_at": _moved_at(current, now)})  # a retried step
    reason = f"{deployment.strategy} rollout of v{version}: step 1 of {len(weights)}"
    if deployment.strategy == "shadow":
        registry.set_shadow(model_name, version, actor=actor, reason=reason, details=details)
    else:
        registry.set_canary(model_name, version, weights[0], actor=actor, reason=reason, details=details)
    return state.model_copy(update={"step_started_at": time.time() if now is None else now})


def _moved_at(alias: AliasRecord, now: float | None) -> float:
    from mlops.monitoring.partitions import epoch_seconds  # noqa: PLC0415 - only a retried step needs it

    return epoch_seconds(alias.updated_at) if alias.updated_at else (time.time() if now is None else now)


def breaches(observed: ServingObservation, thresholds: SettledBakeThresholds, strategy: str) -> list[str]:
    """Each threshold the observation is past, in words (empty: the bake passed)."""
    found = []
    if observed.requests < thresholds.min_requests:
        found.append(f"only {observed.requests} requests in the bake (min_requests {thresholds.min_requests})")
    if observed.requests and observed.error_rate > thresholds.max_error_rate:
        found.append(
            f"error rate {observed.error_rate:.4f} ({observed.errors}/{observed.requests}) "
            f"above max_error_rate {thresholds.max_error_rate}"
        )
    if observed.p99_latency_ms is not None and observed.p99_latency_ms > thresholds.max_p99_latency_ms:
        found.append(
            f"p99 latency {observed.p99_latency_ms:.1f} ms above max_p99_latency_ms {thresholds.max_p99_latency_ms}"
        )
    if (
        strategy == "shadow"
        and observed.disagreement is not None
        and observed.disagreement > thresholds.max_disagreement
    ):
        found.append(
            f"disagreement with the champion {observed.disagreement:.4f} above max_disagreement "
            f"{thresholds.max_disagreement}"
        )
    return found


def check(
    registry: ModelRegistry,
    state: RolloutState,
    thresholds: SettledBakeThresholds,
    observed: ServingObservation,
    *,
    execution_arn: str,
    now: float | None = None,
) -> RolloutState:
    """Judge a finished bake and act on it: roll back on any breach; else advance to the next weight, or promote
    after the last. RolloutInterrupted when someone else moved the alias mid-bake (nothing is written then)."""
    now = time.time() if now is None else now
    actor = _actor(execution_arn)
    model_name = state.model_name
    current = registry.get_alias(model_name, PRODUCTION)
    if current is not None and current.version == state.version:
        return state.model_copy(update={"outcome": "promoted", "reason": "already promoted"})  # a retried step
    if not _ours(current, state):
        if current is not None and current.updated_by == actor:
            return state.model_copy(update={"outcome": "rolled_back", "reason": "already rolled back"})
        raise RolloutInterrupted(
            f"{model_name}'s production alias no longer carries v{state.version} as its {state.strategy}: "
            "someone else moved it during the bake; the rollout stops here"
        )
    found = breaches(observed, thresholds, state.strategy)
    last = state.step + 1 >= len(state.weights)
    details = {
        "strategy": state.strategy,
        "step": state.step + 1,
        "steps": len(state.weights),
        "weight": state.weight,
        "window": {"start": state.step_started_at, "end": now},
        "observed": observed.to_document(),
        "thresholds": thresholds.model_dump(mode="json"),
        "breaches": found,
        "decision": "roll_back" if found else ("promote" if last else "advance"),
    }
    step_words = f"step {state.step + 1} of {len(state.weights)}"
    if found:
        reason = f"bake of v{state.version} failed at {step_words}: " + "; ".join(found)
        if state.strategy == "shadow":
            registry.end_shadow(model_name, actor=actor, reason=reason, details=details)
        else:
            registry.rollback(model_name, actor=actor, reason=reason, details=details)
        return state.model_copy(update={"outcome": "rolled_back", "reason": reason[:1000]})
    if not last:
        weight = state.weights[state.step + 1]
        reason = f"bake of v{state.version} passed {step_words}: {weight:.0%} of production's requests"
        registry.set_canary(model_name, state.version, weight, actor=actor, reason=reason, details=details)
        return state.model_copy(update={"step": state.step + 1, "step_started_at": time.time(), "reason": reason})
    reason = f"bake of v{state.version} passed {step_words}: promoted to production"
    if state.strategy == "shadow":
        registry.set_alias(
            model_name,
            state.version,
            actor=actor,
            reason=reason,
            expected_version=state.champion_version,
            check_expected=True,
            details=details,
        )
    else:
        registry.promote(model_name, actor=actor, reason=reason, details=details)
    return state.model_copy(update={"outcome": "promoted", "reason": reason})


def now() -> float:
    """Epoch seconds (one clock for the bake window's end and the next step's start)."""
    return time.time()
