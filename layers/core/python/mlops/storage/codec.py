"""The DynamoDB wire format: documents to items and back, and update expressions built from fields.

DynamoDB has no floats: numbers go through Decimal on the way in and come back as int or float; NaN and
infinity are refused (``json.dumps(allow_nan=False)``) rather than stored as something else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def now_iso() -> str:
    """UTC, microseconds, ``Z``: sorts as text, so event and check keys order by time."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_item(document: Mapping[str, Any]) -> dict[str, Any]:
    plain_document = json.loads(json.dumps(document, allow_nan=False), parse_float=Decimal)
    return {key: _serializer.serialize(value) for key, value in plain_document.items()}


def to_value(value: Any) -> dict[str, Any]:
    """One attribute value in wire form."""
    return to_item({"v": value})["v"]


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: plain(_deserializer.deserialize(value)) for key, value in item.items()}


def set_expression(fields: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``SET #f0 = :v0, ...`` with names and values for ``fields`` (names are aliased: any attribute name works)."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": to_value(value) for i, value in enumerate(fields.values())}
    expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    return expression, names, values
