"""The project's DynamoDB tables on the wire, for every store that keeps items in them (the registry, the
monitor): the client made late, keyed reads and paged queries under a model's partition, decoded by the codec."""

from __future__ import annotations

from typing import Any

from mlops.storage import clients, codec, layout


class ModelTable:
    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or clients.client("dynamodb")

    def get_item(self, model_name: str, sort_key: str, *, table: str | None = None) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(
            TableName=table or self.table_name, Key=layout.item_key(model_name, sort_key), ConsistentRead=True
        )
        return codec.from_item(response["Item"]) if "Item" in response else None

    def query(
        self,
        model_name: str,
        prefix: str,
        *,
        newest_first: bool = False,
        limit: int | None = None,
        table: str | None = None,
    ) -> list[dict[str, Any]]:
        """The items of a model whose sort key starts with ``prefix``, every page (or the first ``limit``)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": table or self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": layout.model_pk(model_name)}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
            "ScanIndexForward": not newest_first,
        }
        if limit is not None:
            kwargs["Limit"] = limit
        while True:
            page = self.dynamodb.query(**kwargs)
            items.extend(codec.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan_sort_key(self, sort_key: str, *, table: str | None = None) -> list[dict[str, Any]]:
        """Every item with this sort key across all models (e.g. each model's ``ALIAS#production``), every page.
        A scan reads the whole table: for the small, per-model items of the alias and monitor tables only."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": table or self.table_name,
            "FilterExpression": "sk = :sk",
            "ExpressionAttributeValues": {":sk": {"S": sort_key}},
            "ConsistentRead": True,
        }
        while True:
            page = self.dynamodb.scan(**kwargs)
            items.extend(codec.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def batch_get(
        self, model_names: list[str], sort_key: str, *, table: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """model name -> its item with this sort key (absent models are left out), 100 keys per BatchGetItem; keys
        DynamoDB leaves unprocessed are asked again (a bounded number of times, then it is an error)."""
        name = table or self.table_name
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(model_names), 100):
            request = {name: {"Keys": [layout.item_key(m, sort_key) for m in model_names[start : start + 100]]}}
            for _ in range(8):
                page = self.dynamodb.batch_get_item(RequestItems=request)
                for item in page.get("Responses", {}).get(name, []):
                    decoded = codec.from_item(item)
                    found[layout.model_name_of(decoded["pk"])] = decoded
                request = page.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError(f"DynamoDB left keys of {name} unprocessed after 8 attempts")
        return found
