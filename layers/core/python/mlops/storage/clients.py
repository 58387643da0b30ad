"""boto3 clients made late and cached, so moto is active before any client exists (tests, local stack)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service)


_presign_endpoint: list[str | None] = [None]


@cache
def s3_presigner() -> Any:
    """An S3 client that presigns with SigV4 (boto3's default for S3 can still be SigV2 in us-east-1, which buckets
    encrypted with KMS refuse). On AWS its URLs name S3 itself; `local up` points them at its S3 server."""
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"} if _presign_endpoint[0] else {})
    return boto3.session.Session().client("s3", config=config, endpoint_url=_presign_endpoint[0])


def presign_for(endpoint_url: str | None) -> None:
    """Make presigned URLs name ``endpoint_url`` (the local stack's S3 server, reachable from other processes), or
    S3 again with None."""
    _presign_endpoint[0] = endpoint_url
    s3_presigner.cache_clear()


def reset_clients() -> None:
    """Forget cached clients (the local stack calls this when it starts a fresh embedded AWS)."""
    client.cache_clear()
    s3_presigner.cache_clear()
