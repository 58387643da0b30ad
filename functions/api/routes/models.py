"""Browsing the registry: models, their versions (filtered by tag, status and alias) and a version's full record."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from mlops.api import models
from mlops.records.registry import ALIAS_NAME_PATTERN

from .conventions import ModelName, VersionNumber, VersionStatus, registry, responses

router = Router()


@router.get("/models", summary="Registered models with their production version", responses={**responses()})
def list_models() -> list[dict[str, Any]]:
    return models.list_models(registry())


@router.get(
    "/models/<name>", summary="A model with its aliases (production, canary)", responses={**responses(404, 422)}
)
def get_model(name: ModelName) -> dict[str, Any]:
    return models.get_model(registry(), name)


@router.get(
    "/models/<name>/versions",
    summary="Versions of a model, with their tags and aliases; filtered by tag, status and alias",
    responses={**responses(404, 422)},
)
def list_versions(
    name: ModelName,
    tag: Annotated[
        list[str] | None, Query(description="key=value (that value) or key (any value); repeat to require several")
    ] = None,
    status: Annotated[VersionStatus | None, Query(description="only versions with this status")] = None,
    alias: Annotated[
        str | None, Query(pattern=ALIAS_NAME_PATTERN, description="only the version this alias points at")
    ] = None,
) -> list[dict[str, Any]]:
    tags = models.parse_tag_filters(tag or [])
    return models.list_versions(registry(), name, tags=tags, status=status, alias=alias)


@router.get(
    "/models/<name>/versions/<version>",
    summary="The full record of a version (metrics, lineage, ...)",
    responses={**responses(404, 422)},
)
def get_version(name: ModelName, version: VersionNumber) -> dict[str, Any]:
    return models.get_version(registry(), name, version)
