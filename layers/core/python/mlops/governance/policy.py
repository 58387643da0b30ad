"""The stack's governance rules against a training request: a request can make them stricter, never looser.

The stack decides (template parameters ``RequireApproval``, ``GateMinImprovement``, ``DataBucketName``, and the caps
``SearchMaxTrials``, ``TrialMaxConcurrency``, ``TrainingInstanceTypes``, ``TrainingJobMaxRuntimeSeconds``,
``DeploymentStrategy``, ``DeploymentBakeSeconds`` and the bake thresholds): a request
may require an approval the stack does not, or ask for a larger gate margin, but a request that would turn off a
required approval, lower the margin, or read a dataset outside the allowed locations (``datasets/`` in the
artifacts bucket, and the data bucket if one is set) is refused before anything is written. The API checks at the
door (403), Prepare again for runs started with StartExecution directly (InvalidInput).
"""

from __future__ import annotations

from mlops.errors import PolicyViolation
from mlops.records.request import TrainingRequest
from mlops.settings import GovernanceSettings


def violations(request: TrainingRequest, policy: GovernanceSettings) -> list[str]:
    """What in the request would loosen the stack's rules (empty: nothing)."""
    found = []
    if policy.require_approval and request.approval.required is False:
        found.append("approval.required false: this stack requires approval (RequireApproval=true)")
    margin = request.gate.min_improvement
    if margin is not None and margin < policy.min_improvement:
        found.append(
            f"gate.min_improvement {margin} is below the stack's minimum {policy.min_improvement} "
            "(GateMinImprovement): a request may raise it, not lower it"
        )
    if not any(request.dataset_uri.startswith(location) for location in policy.dataset_locations):
        found.append(
            "dataset_uri is outside the allowed dataset locations ("
            + ", ".join(f"{location}..." for location in policy.dataset_locations)
            + ")"
        )
    external = request.external
    if external is not None and not any(external.artifact_uri.startswith(loc) for loc in policy.dataset_locations):
        found.append(
            "external.artifact_uri is outside the allowed locations ("
            + ", ".join(f"{location}..." for location in policy.dataset_locations)
            + ")"
        )
    return found + cap_violations(request, policy)


def cap_violations(request: TrainingRequest, policy: GovernanceSettings) -> list[str]:
    """What in the request would lift the stack's ceilings on a run's spend, or loosen its delivery floors."""
    found = []
    search = request.search
    if search is not None and search.max_trials > policy.max_trials:
        found.append(f"search.max_trials {search.max_trials} is above the stack's ceiling {policy.max_trials} "
                     "(SearchMaxTrials)")  # fmt: skip
    if search is not None and search.max_concurrency is not None and search.max_concurrency > policy.max_concurrency:
        found.append(
            f"search.max_concurrency {search.max_concurrency} is above the stack's ceiling {policy.max_concurrency} "
            "(TrialMaxConcurrency)"
        )
    found += _training_job_violations(request, policy)
    deployment = request.deployment
    if deployment.bake_s is not None and deployment.bake_s < policy.bake_s:
        found.append(
            f"deployment.bake_s {deployment.bake_s} is below the stack's {policy.bake_s} (DeploymentBakeSeconds): a "
            "request may bake longer, not shorter"
        )
    if policy.progressive and deployment.strategy == "all_at_once":
        found.append(
            f"deployment.strategy all_at_once: this stack delivers progressively ({policy.deployment_strategy}, "
            "DeploymentStrategy); a request may choose another progressive strategy, not skip the bake"
        )
    thresholds = deployment.thresholds
    for field, requested, floor, parameter, looser in (
        ("max_error_rate", thresholds.max_error_rate, policy.max_error_rate, "DeploymentMaxErrorRate", "above"),
        (
            "max_p99_latency_ms",
            thresholds.max_p99_latency_ms,
            policy.max_p99_latency_ms,
            "DeploymentMaxP99LatencyMs",
            "above",
        ),
        (
            "max_disagreement",
            thresholds.max_disagreement,
            policy.max_disagreement,
            "DeploymentMaxDisagreement",
            "above",
        ),
        ("min_requests", thresholds.min_requests, policy.min_requests, "DeploymentMinRequests", "below"),
    ):
        if requested is not None and (requested > floor if looser == "above" else requested < floor):
            found.append(
                f"deployment.thresholds.{field} {requested} is {looser} the stack's {floor} ({parameter}): a "
                "request may tighten a bake threshold, not loosen it"
            )
    return found


def _training_job_violations(request: TrainingRequest, policy: GovernanceSettings) -> list[str]:
    """A SageMaker training job's instance from the stack's allow-list only, and its runtime within the ceiling."""
    found = []
    resources = request.sagemaker
    if resources is None:
        return found
    if resources.instance_type is not None and resources.instance_type not in policy.training_instance_types:
        found.append(
            f"sagemaker.instance_type {resources.instance_type} is not one of the stack's "
            f"{', '.join(policy.training_instance_types)} (TrainingInstanceTypes)"
        )
    if resources.max_runtime_s is not None and resources.max_runtime_s > policy.max_training_runtime_s:
        found.append(
            f"sagemaker.max_runtime_s {resources.max_runtime_s} is above the stack's ceiling "
            f"{policy.max_training_runtime_s} (TrainingJobMaxRuntimeSeconds)"
        )
    return found


def enforce(request: TrainingRequest, policy: GovernanceSettings) -> None:
    found = violations(request, policy)
    if found:
        raise PolicyViolation("refused by the stack's governance: " + "; ".join(found))


def settled_min_improvement(request: TrainingRequest, policy: GovernanceSettings) -> float:
    """The gate margin a run uses: the request's if it asked for one (never below the stack's), else the stack's."""
    margin = request.gate.min_improvement
    return policy.min_improvement if margin is None else max(margin, policy.min_improvement)


def enforce_input_location(input_uri: str, policy: GovernanceSettings) -> None:
    """A batch job reads only where a training run may (``datasets/`` in the artifacts bucket, the data bucket):
    the batch function's IAM is limited to those locations, and the API refuses others before starting a job."""
    if not any(input_uri.startswith(location) for location in policy.dataset_locations):
        raise PolicyViolation(
            "refused by the stack's governance: input_uri is outside the allowed locations ("
            + ", ".join(f"{location}..." for location in policy.dataset_locations)
            + ")"
        )
