"""Data in and out: presigned S3 URLs to upload a dataset to, or download a dataset or a batch job's output from."""

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from mlops.api import transfers
from mlops.api.transfers import DownloadRequest, UploadRequest
from mlops.settings import GovernanceSettings, Settings

from .conventions import responses

router = Router()


@router.post(
    "/uploads",
    summary="A presigned PUT URL (15 minutes) for a dataset in an allowed location (datasets/ or the data bucket)",
    responses={**responses(403, 422)},
)
def upload_url(request: UploadRequest) -> dict[str, Any]:
    return transfers.upload_url(
        request, GovernanceSettings.from_environment(), Settings.from_environment().artifacts_bucket
    )


@router.post(
    "/downloads",
    summary="A presigned GET URL (15 minutes) for a dataset or a batch job's file (predictions/)",
    responses={**responses(403, 404, 422)},
)
def download_url(request: DownloadRequest) -> dict[str, Any]:
    return transfers.download_url(
        request, GovernanceSettings.from_environment(), Settings.from_environment().artifacts_bucket
    )
