"""Named domain errors.

Each class name is the ``errorType`` a Lambda reports when it raises it, so the state machines can route on
it (``Catch``/``ErrorEquals``). Keep the names stable: the ASL files and users' alarms rely on them.
"""


class MlopsError(Exception):
    """Base of every domain error; carries a message meant for the person who sent the input."""


class InvalidTrainingRequest(MlopsError):
    """The training request itself is malformed (unknown estimator, bad gate, bad split fractions)."""


class InvalidDataset(MlopsError):
    """The dataset cannot be trained on (missing, empty, not CSV, unknown target, one class, ...)."""


class CandidateTrainingFailed(MlopsError):
    """One candidate could not be fitted; the other candidates go on."""


class NoCandidateTrained(MlopsError):
    """Every candidate failed, so there is nothing to evaluate."""


class ArtifactIntegrityError(MlopsError):
    """An artifact's bytes do not match the sha256 the registry recorded for it."""


class LibraryVersionMismatch(MlopsError):
    """An artifact was written by another scikit-learn version than the one running."""


class ModelNotFound(MlopsError):
    """No such model, version or alias in the registry."""


class VersionConflict(MlopsError):
    """A conditional registry write lost a race (alias moved, version taken); safe to retry."""


class DeploymentRefused(MlopsError):
    """A deployment was refused: the version is rejected or otherwise not deployable."""


class InvalidStepInput(MlopsError):
    """A step received an event without the fields its contract requires (a wiring or caller bug)."""


class SmokeTestFailed(MlopsError):
    """A version failed to predict its own recorded input example; it must not be deployed."""


class NothingToRollBack(DeploymentRefused):
    """The alias has no canary and no previous version: there is nothing to roll back to."""


class ApprovalRejected(MlopsError):
    """A person rejected the version (sent to the paused run by the admin API as the task's failure)."""


class InvalidMonitoringConfig(MlopsError):
    """A drift-check or monitoring setting is out of range or unknown (thresholds, windows, cooldown)."""


class NothingToMonitor(MlopsError):
    """A drift check was asked for a model that has no production version to compare traffic with."""


class BaselineUnavailable(MlopsError):
    """The production version's drift baseline is missing or unreadable, so no drift can be measured."""


class InvalidFeedback(MlopsError):
    """Ground-truth labels that cannot belong to the model (an unknown class, a non-numeric regression target)."""


class ArtifactMissing(MlopsError):
    """An object the state or the registry refers to is not in S3 (a wiring bug, or a deleted artifact)."""


class PolicyViolation(MlopsError):
    """A request would loosen the stack's governance (approval, gate margin, dataset locations) or a person would
    decide on their own run: refused (403) before anything is written."""


class SelfApprovalRefused(PolicyViolation):
    """An approver tried to approve a run they requested (the same identity once normalised: mlops.records.identity)."""


class ApproverNotListed(PolicyViolation):
    """A caller outside the stack's approver list (ApproverPrincipalArns) tried to decide an approval."""


class InvalidAliasName(MlopsError):
    """An alias name that is not lower-case letters, digits and dashes (1-32, starting with a letter)."""


class InvalidTag(MlopsError):
    """A version tag whose key or value is malformed, or one tag too many on a version."""


class InvalidBatchInput(MlopsError):
    """A batch job's input cannot be scored as a whole (not CSV, no header, the model's columns absent, unreadable)."""


class BatchChunkIncomplete(MlopsError):
    """A chunk of a batch job left no marker: the job's output cannot be reported as complete."""


class RolloutInterrupted(MlopsError):
    """A progressive rollout found the alias moved by someone else mid-bake: it stops and changes nothing."""


class UntrustedModelType(MlopsError):
    """A caller's model artifact holds a type outside the allow-list of scikit-learn and LightGBM classes; it is never
    loaded."""
