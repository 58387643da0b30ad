"""Artifacts in S3: URIs, sha256 digests, JSON documents and content-addressed, write-once model files."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import ArtifactIntegrityError, ArtifactMissing, InvalidDataset, LibraryVersionMismatch
from mlops.storage import clients


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ValueError(f"an s3:// URI needs a bucket and a key: {uri!r}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def put_bytes(uri: S3Uri, payload: bytes, content_type: str = "application/octet-stream") -> str:
    """Store bytes and return their sha256 (also recorded as object metadata)."""
    digest = sha256_hex(payload)
    clients.client("s3").put_object(
        Bucket=uri.bucket, Key=uri.key, Body=payload, ContentType=content_type, Metadata={"sha256": digest}
    )
    return digest


def put_buffer(uri: S3Uri, buffer: io.BytesIO, content_type: str = "application/octet-stream") -> str:
    """Store a buffer's bytes without copying them out of it (a split of hundreds of MiB is held once); return
    their sha256."""
    with buffer.getbuffer() as view:
        digest = hashlib.sha256(view).hexdigest()
    buffer.seek(0)
    clients.client("s3").put_object(
        Bucket=uri.bucket, Key=uri.key, Body=buffer, ContentType=content_type, Metadata={"sha256": digest}
    )
    return digest


def get_bytes(uri: S3Uri) -> bytes:
    try:
        return clients.client("s3").get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "NoSuchBucket"}:
            raise ArtifactMissing(f"{uri} does not exist") from exc
        raise


class DigestingStream(io.RawIOBase):
    """A readable stream over an object's body that hashes what passes through it, so a dataset is fingerprinted
    while it is parsed, without holding its bytes."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        self._sha256.update(data)
        self.size += len(data)
        return len(data)

    def hexdigest(self) -> str:
        """The sha256 of the whole object (whatever the reader left unread is read and hashed first)."""
        for chunk in iter(lambda: self._body.read(1 << 20), b""):
            self._sha256.update(chunk)
            self.size += len(chunk)
        return self._sha256.hexdigest()


def open_dataset(uri: str) -> DigestingStream:
    """Open a dataset object for streaming, turning 'no such bucket/key' into a named, explained error."""
    try:
        location = S3Uri.parse(uri)
    except ValueError as exc:
        raise InvalidDataset(str(exc)) from exc
    try:
        body = clients.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"404", "NoSuchKey", "NoSuchBucket", "AccessDenied"}:
            raise InvalidDataset(f"dataset {uri} cannot be read: {code}") from exc
        raise
    return DigestingStream(body)


def json_bytes(document: Any) -> bytes:
    """Canonical JSON (sorted keys): the same document always has the same bytes and digest."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False).encode()


def presigned_get(uri: S3Uri, expires_s: int, content_type: str | None = None) -> str:
    """A SigV4 URL that lets whoever holds it GET the object for ``expires_s`` (or until the signer's session ends)."""
    params = {"Bucket": uri.bucket, "Key": uri.key}
    if content_type:
        params["ResponseContentType"] = content_type
    return clients.s3_presigner().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)


def put_json(uri: S3Uri, document: Any) -> str:
    return put_bytes(uri, json_bytes(document), "application/json")


def get_json(uri: S3Uri) -> Any:
    return json.loads(get_bytes(uri))


def put_document(uri: S3Uri, document: Any) -> tuple[str, int]:
    """Store a JSON document and return its sha256 and size: what a state or a registry item carries instead of
    the document itself (the claim check)."""
    payload = json_bytes(document)
    return put_bytes(uri, payload, "application/json"), len(payload)


def get_verified_json(uri: S3Uri | str, expected_sha256: str) -> Any:
    """A JSON document read back only if its bytes hash to the digest the state or the record carries."""
    location = uri if isinstance(uri, S3Uri) else S3Uri.parse(uri)
    payload = get_bytes(location)
    actual = sha256_hex(payload)
    if actual != expected_sha256:
        raise ArtifactIntegrityError(f"{location} has sha256 {actual}, expected {expected_sha256}")
    return json.loads(payload)


def get_range(uri: S3Uri, start: int, end: int) -> bytes:
    """Bytes ``start`` to ``end`` (exclusive) of an object: one ranged GET (HTTP ranges are inclusive)."""
    if end <= start:
        return b""
    response = clients.client("s3").get_object(Bucket=uri.bucket, Key=uri.key, Range=f"bytes={start}-{end - 1}")
    return response["Body"].read()


def copy(source: S3Uri, destination: S3Uri) -> None:
    """One object copied within S3 (CopyObject: GetObject on the source, PutObject on the destination)."""
    clients.client("s3").copy_object(
        Bucket=destination.bucket, Key=destination.key, CopySource={"Bucket": source.bucket, "Key": source.key}
    )


def size_bytes(uri: S3Uri) -> int:
    return int(clients.client("s3").head_object(Bucket=uri.bucket, Key=uri.key)["ContentLength"])


def list_keys(prefix: S3Uri) -> list[str]:
    """Every key under a prefix (ListObjectsV2, paged): what IAM can grant by ``s3:prefix``, where a HEAD of a
    missing key without bucket-wide ListBucket answers 403, not 404."""
    s3 = clients.client("s3")
    kwargs: dict[str, Any] = {"Bucket": prefix.bucket, "Prefix": prefix.key}
    keys: list[str] = []
    while True:
        page = s3.list_objects_v2(**kwargs)
        keys.extend(item["Key"] for item in page.get("Contents", []))
        if not page.get("IsTruncated"):
            return keys
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def exists(uri: S3Uri) -> bool:
    try:
        clients.client("s3").head_object(Bucket=uri.bucket, Key=uri.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def put_write_once(uri: S3Uri, payload: bytes, expected_sha256: str) -> None:
    """Store content-addressed bytes once; an existing object must hold the same digest."""
    if sha256_hex(payload) != expected_sha256:
        raise ArtifactIntegrityError(f"refusing to store {uri}: payload does not hash to {expected_sha256}")
    if exists(uri):
        if sha256_hex(get_bytes(uri)) != expected_sha256:
            raise ArtifactIntegrityError(f"{uri} exists with other content than sha256 {expected_sha256}")
        return
    put_bytes(uri, payload)


def dump_model(model: Any) -> bytes:
    import joblib  # noqa: PLC0415 - the serving layer has no joblib; only training code pickles

    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def load_model(uri: S3Uri, expected_sha256: str, trained_with_sklearn: str) -> Any:
    """Load a model only if its bytes match the registry's digest and the running scikit-learn trained it.

    Unpickling under another scikit-learn version can silently give wrong answers, so it is refused.
    """
    import joblib  # noqa: PLC0415 - imported on use: the serving path reads artifacts without them
    import sklearn  # noqa: PLC0415

    if trained_with_sklearn != sklearn.__version__:
        raise LibraryVersionMismatch(
            f"{uri} was trained with scikit-learn {trained_with_sklearn}; this runtime has {sklearn.__version__}"
        )
    payload = get_bytes(uri)
    actual = sha256_hex(payload)
    if actual != expected_sha256:
        raise ArtifactIntegrityError(f"{uri} has sha256 {actual}, the registry recorded {expected_sha256}")
    return joblib.load(io.BytesIO(payload))
