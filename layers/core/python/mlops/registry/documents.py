"""A version's documents in S3: the schema, the leaderboard and the input example.

They grow with the table's width and the number of candidates, so the version item holds only their URIs and
sha256 digests (DynamoDB items stop at 400 KB) and the documents are content-addressed, write-once objects beside
the model artifacts (``layout.version_document``). Each is read back only if its bytes hash to the digest the
record holds. Versions registered before the documents moved to S3 hold them inline; the readers return those.
"""

from __future__ import annotations

from typing import Any

from mlops.errors import ArtifactMissing
from mlops.records.registry import VersionContent, VersionRecord
from mlops.storage import layout, objects


def store(bucket: str, model_name: str, kind: str, document: Any) -> tuple[str, str]:
    """Write one document to its content-addressed key (once); return its URI and sha256."""
    payload = objects.json_bytes(document)
    digest = objects.sha256_hex(payload)
    uri = layout.version_document(bucket, model_name, kind, digest)
    objects.put_write_once(uri, payload, digest)
    return str(uri), digest


def _read(uri: str | None, sha256: str | None, inline: Any, what: str) -> Any:
    if uri is None:
        return inline
    if sha256 is None:
        raise ArtifactMissing(f"the {what} at {uri} has no recorded sha256")
    return objects.get_verified_json(uri, sha256)


def schema_of(record: VersionContent) -> dict[str, Any]:
    """The version's schema document (``Schema.to_dict()``)."""
    schema = _read(record.schema_uri, record.schema_sha256, record.schema_document, "schema")
    if not isinstance(schema, dict):
        raise ArtifactMissing("the version records no schema")
    return schema


def leaderboard_of(record: VersionContent) -> list[dict[str, Any]]:
    """Every candidate of the run that registered the version, by index."""
    return _read(record.leaderboard_uri, record.leaderboard_sha256, record.leaderboard, "leaderboard") or []


def input_example_of(record: VersionContent) -> dict[str, Any]:
    """One raw test row by column name: what the smoke test serves."""
    return _read(record.input_example_uri, record.input_example_sha256, record.input_example, "input example") or {}


def expanded(record: VersionRecord) -> dict[str, Any]:
    """The version as a person reads it (``GET /models/{name}/versions/{v}``): the public record with its schema,
    leaderboard and input example put back in, whether they are stored inline or in S3."""
    document = record.public()
    document["schema"] = schema_of(record)
    document["leaderboard"] = leaderboard_of(record)
    document["input_example"] = input_example_of(record)
    return document
