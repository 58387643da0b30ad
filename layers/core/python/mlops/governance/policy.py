"""The stack's governance rules against a training request: a request can make them stricter, never looser.

The stack decides (template parameters ``RequireApproval``, ``GateMinImprovement``, ``DataBucketName``): a request
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
