"""A caller's own model behind the API: the artifact checked before any run starts, then the TrainingPipeline
started with it as the run's one candidate (``external`` in the request), as a training run is started."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.api import training_runs as runs
from mlops.errors import ArtifactIntegrityError, InvalidTrainingRequest
from mlops.records.request import ExternalModel, TrainingRequest
from mlops.storage import clients, objects
from mlops.storage.objects import S3Uri
from mlops.training import model_types


def check_artifact(external: ExternalModel) -> list[str]:
    """The artifact's types, after its bytes hash to the declared sha256 and every type its skops schema names is
    allowed (ArtifactIntegrityError, UntrustedModelType: nothing is stored, no run starts). Its location was
    checked with the request (``governance.enforce``). The API has no scikit-learn: the training steps check the
    types again, with skops's own audit, before loading it."""
    location = S3Uri.parse(external.artifact_uri)
    try:
        size = clients.client("s3").head_object(Bucket=location.bucket, Key=location.key)["ContentLength"]
    except ClientError as exc:
        raise InvalidTrainingRequest(f"external.artifact_uri {external.artifact_uri} cannot be read: {exc}") from exc
    if size > model_types.MAX_ARTIFACT_BYTES:
        raise InvalidTrainingRequest(f"the model artifact is {size} bytes; at most {model_types.MAX_ARTIFACT_BYTES}")
    payload = objects.get_bytes(location)
    digest = objects.sha256_hex(payload)
    if digest != external.artifact_sha256:
        raise ArtifactIntegrityError(
            f"the model artifact's sha256 is {digest}, not the declared {external.artifact_sha256}"
        )
    return model_types.refuse_untrusted(payload)


def register_external(
    state_machine_arn: str, request: TrainingRequest, client_token: str
) -> tuple[dict[str, Any], bool]:
    """Check the request's external artifact, then start its run once per client token (as a training run)."""
    if request.external is None:
        raise InvalidTrainingRequest("an external version names its artifact")
    check_artifact(request.external)
    return runs.start_training(state_machine_arn, request, client_token)
