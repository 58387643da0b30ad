"""The S3 edge of mlops.storage.objects on a local directory, for benchmarks that measure a step's own memory: an
emulated S3 (moto) would hold every object in the measured process and blur the figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def storage_on(directory: Path) -> dict[str, int]:
    """Point mlops.storage.objects at ``directory`` (an object's key, slashes as ``__``, is its file name there);
    return the sizes written, by the key's last part, as the step writes them."""
    from mlops.storage import objects  # noqa: PLC0415

    written: dict[str, int] = {}

    def path_of(uri: objects.S3Uri) -> Path:
        return directory / uri.key.replace("/", "__")

    def put_bytes(uri: objects.S3Uri, payload: bytes, content_type: str = "") -> str:
        path_of(uri).write_bytes(payload)
        written[uri.key.rsplit("/", 1)[-1]] = len(payload)
        return objects.sha256_hex(payload)

    def put_buffer(uri: objects.S3Uri, buffer: Any, content_type: str = "") -> str:
        with buffer.getbuffer() as view:
            return put_bytes(uri, view)

    def open_dataset(uri: str) -> objects.DigestingStream:
        return objects.DigestingStream(path_of(objects.S3Uri.parse(uri)).open("rb"))

    objects.put_bytes = put_bytes  # type: ignore[assignment]
    objects.put_buffer = put_buffer  # type: ignore[assignment]
    objects.get_bytes = lambda uri: path_of(uri).read_bytes()  # type: ignore[assignment]
    objects.open_dataset = open_dataset  # type: ignore[assignment]
    return written
