"""Presigned S3 URLs for data in and out (the SDK's upload and download): a PUT into an allowed dataset location, a
GET of a dataset or of a batch job's files (one object, or every object under a job's prefix, such as its
``output/`` parts). The URL is signed by the API function's role, whose IAM allows exactly these locations; the API
refuses any other before it signs (403)."""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlops.errors import ModelNotFound, PolicyViolation
from mlops.settings import GovernanceSettings
from mlops.storage import clients, layout
from mlops.storage.objects import S3Uri

MAX_PREFIX_OBJECTS = 1000  # one ListObjectsV2 page: a batch job writes one output part per chunk
EXPIRES_S = 900  # 15 minutes: long enough for a large CSV, short enough that a leaked URL soon stops working
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S{1,1024}$"
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class ObjectNotFound(ModelNotFound):
    """No object at the URI a download names (404, as an unknown model is)."""


class UploadRequest(BaseModel):
    """Where to upload: an ``s3://`` URI in an allowed dataset location, or a file name the API puts under
    ``datasets/uploads/<id>/`` of the artifacts bucket, or, with the file's ``sha256``, under ``datasets/<sha256>/``
    (stored by content: a changed file never overwrites the data an earlier version was trained on)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    uri: str | None = Field(default=None, pattern=S3_URI_PATTERN)
    file_name: str | None = Field(default=None, pattern=FILE_NAME_PATTERN)
    sha256: str | None = Field(
        default=None, pattern=SHA256_PATTERN, description="with file_name: the file's sha256 (lowercase hex)"
    )

    @model_validator(mode="after")
    def _one_of(self) -> UploadRequest:
        if (self.uri is None) == (self.file_name is None):
            raise ValueError("give either uri or file_name")
        if self.sha256 is not None and self.file_name is None:
            raise ValueError("sha256 goes with file_name (it names the key), not with uri")
        return self


class DownloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    uri: str = Field(pattern=S3_URI_PATTERN)


def _refuse_outside(uri: str, locations: tuple[str, ...], what: str) -> None:
    if not any(uri.startswith(location) for location in locations):
        raise PolicyViolation(
            f"refused by the stack's governance: {what} is outside the allowed locations ("
            + ", ".join(f"{location}..." for location in locations)
            + ")"
        )


def upload_url(request: UploadRequest, policy: GovernanceSettings, artifacts_bucket: str) -> dict[str, Any]:
    """A presigned PUT for the request's location (403 outside the dataset locations). Stored by content, an object
    already at its key is those bytes: the answer says ``exists`` and holds no URL (nothing to send, nothing
    overwritten)."""
    if request.sha256 is not None:
        location = layout.dataset_by_content(artifacts_bucket, request.sha256, request.file_name or "")
        _refuse_outside(str(location), policy.dataset_locations, "uri")
        if _exists(location):
            return {"uri": str(location), "method": "PUT", "exists": True}
        return {**_grant("PUT", "put_object", location), "exists": False}
    uri = request.uri or str(layout.dataset_upload(artifacts_bucket, uuid.uuid4().hex, request.file_name or ""))
    _refuse_outside(uri, policy.dataset_locations, "uri")
    return _grant("PUT", "put_object", S3Uri.parse(uri))


def _exists(location: S3Uri) -> bool:
    try:
        clients.client("s3").head_object(Bucket=location.bucket, Key=location.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def download_url(request: DownloadRequest, policy: GovernanceSettings, artifacts_bucket: str) -> dict[str, Any]:
    """A presigned GET of a dataset or of a batch job's file (403 elsewhere, 404 for no object there); for a URI
    ending in ``/`` under the batch jobs' ``predictions/``, one per object under it (``objects``), in key order."""
    jobs = str(layout.batch_jobs_prefix(artifacts_bucket))
    if request.uri.endswith("/"):
        _refuse_outside(request.uri, (jobs,), "a prefix uri")
        return _prefix_grants(S3Uri.parse(request.uri))
    _refuse_outside(request.uri, (*policy.dataset_locations, jobs), "uri")
    location = S3Uri.parse(request.uri)
    try:
        head = clients.client("s3").head_object(Bucket=location.bucket, Key=location.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound", "403", "AccessDenied"}:
            raise ObjectNotFound(f"no object at {request.uri}") from exc
        raise
    return {**_grant("GET", "get_object", location), "size_bytes": head.get("ContentLength")}


def _prefix_grants(prefix: S3Uri) -> dict[str, Any]:
    listed = clients.client("s3").list_objects_v2(Bucket=prefix.bucket, Prefix=prefix.key, MaxKeys=MAX_PREFIX_OBJECTS)
    found = sorted(listed.get("Contents") or [], key=lambda item: item["Key"])
    if not found:
        raise ObjectNotFound(f"no object under {prefix}")
    objects = [
        {**_grant("GET", "get_object", S3Uri(prefix.bucket, item["Key"])), "size_bytes": item["Size"]} for item in found
    ]
    return {"uri": str(prefix), "method": "GET", "objects": objects, "truncated": bool(listed.get("IsTruncated"))}


def _grant(method: str, operation: str, location: S3Uri) -> dict[str, Any]:
    url = clients.s3_presigner().generate_presigned_url(
        operation, Params={"Bucket": location.bucket, "Key": location.key}, ExpiresIn=EXPIRES_S
    )
    return {"uri": str(location), "method": method, "url": url, "expires_in_s": EXPIRES_S}
