"""Browsing the registry: models with their aliases, versions filtered by tag, status and alias, a version's record."""

from __future__ import annotations

from typing import Any

from mlops.records.registry import PRODUCTION
from mlops.registry import documents
from mlops.registry.aliases import checked_alias
from mlops.registry.store import ModelRegistry
from mlops.registry.tags import checked_tag

VERSION_SUMMARY_KEYS = ("version", "status", "estimator", "metrics", "created_at", "created_by", "run_id", "tags")


def list_models(registry: ModelRegistry) -> list[dict[str, Any]]:
    models = []
    for model in registry.list_models():
        alias = registry.get_alias(model.model_name, PRODUCTION)
        models.append({**model.to_document(), "production_version": alias.version if alias else None})
    return models


def get_model(registry: ModelRegistry, model_name: str) -> dict[str, Any]:
    model = registry.get_model(model_name).to_document()
    model["aliases"] = {alias.alias: alias.to_document() for alias in registry.list_aliases(model_name)}
    return model


def parse_tag_filters(filters: list[str]) -> dict[str, str | None]:
    """``key=value`` (that value) or ``key`` (any value), as the ``tag`` query parameter spells them."""
    parsed: dict[str, str | None] = {}
    for item in filters:
        key, separator, value = item.partition("=")
        checked_tag(key, value if separator else None)
        parsed[key] = value if separator else None
    return parsed


def list_versions(
    registry: ModelRegistry,
    model_name: str,
    *,
    tags: dict[str, str | None] | None = None,
    status: str | None = None,
    alias: str | None = None,
) -> list[dict[str, Any]]:
    """Version summaries (with their tags and the aliases pointing at them), filtered by tags, status and alias."""
    registry.get_model(model_name)  # 404 for an unknown model rather than an empty list
    if alias is not None:
        checked_alias(alias)
    pointing: dict[int, list[str]] = {}
    for record in registry.list_aliases(model_name):
        pointing.setdefault(record.version, []).append(record.alias)
    return [
        {**{k: getattr(v, k) for k in VERSION_SUMMARY_KEYS}, "aliases": sorted(pointing.get(v.version, []))}
        for v in registry.find_versions(model_name, tags=tags, status=status, alias=alias)
    ]


def get_version(registry: ModelRegistry, model_name: str, version: int) -> dict[str, Any]:
    # the schema, leaderboard and input example live in S3 (the item holds their URIs): put back for the reader
    return documents.expanded(registry.get_version(model_name, version))
