"""Aliases and tags: deployments (production or a canary), promotion and rollback move the production alias; named
aliases and version tags are set and removed; every change audited, with the caller as its actor."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from mlops.api import aliases_and_tags as aliases
from mlops.records.registry import TAG_VALUE_MAX_CHARS
from mlops.settings import ApiSettings

from .conventions import AliasName, ModelName, Reason, TagKey, VersionNumber, actor, registry, responses

router = Router()


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: int = Field(ge=1)
    canary_weight: float | None = Field(default=None, ge=0, le=1, description="omit or 1 for production")
    reason: str = Field(default="", max_length=500)


class AliasAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: int = Field(ge=1)
    reason: str = Field(default="", max_length=500)


class TagValue(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    value: str = Field(max_length=TAG_VALUE_MAX_CHARS)
    reason: str = Field(default="", max_length=500)


@router.post(
    "/models/<name>/deployments",
    summary="Smoke-test a version, then deploy it or start a canary",
    responses={**responses(404, 409, 422)},
)
def deploy(name: ModelName, deployment: Deployment) -> dict[str, Any]:
    reason = deployment.reason or "deployed through the admin API"
    return aliases.deploy(
        registry(),
        ApiSettings.from_environment().predict_function,
        name,
        version=deployment.version,
        canary_weight=deployment.canary_weight,
        actor=actor(router.current_event),
        reason=reason,
    )


@router.post(
    "/models/<name>/promote", summary="Make the canary the production version", responses={**responses(404, 409, 422)}
)
def promote(name: ModelName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "promoted through the admin API"
    return aliases.public_alias(registry().promote(name, actor=actor(router.current_event), reason=reason))


@router.post(
    "/models/<name>/rollback",
    summary="Drop the canary, or return production to its previous version",
    responses={**responses(404, 409, 422)},
)
def rollback(name: ModelName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "rolled back through the admin API"
    return aliases.public_alias(registry().rollback(name, actor=actor(router.current_event), reason=reason))


@router.put(
    "/models/<name>/aliases/<alias>",
    summary="Smoke-test a version, then point a named alias at it (production: a deployment without canary)",
    responses={**responses(404, 409, 422)},
)
def set_alias(name: ModelName, alias: AliasName, body: AliasAssignment) -> dict[str, Any]:
    return aliases.set_alias(
        registry(),
        ApiSettings.from_environment().predict_function,
        name,
        alias,
        version=body.version,
        actor=actor(router.current_event),
        reason=body.reason or "alias set through the admin API",
    )


@router.delete(
    "/models/<name>/aliases/<alias>",
    summary="Remove a named alias (not production: deploy or roll back instead)",
    responses={**responses(404, 409, 422)},
)
def delete_alias(name: ModelName, alias: AliasName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "alias removed through the admin API"
    return aliases.delete_alias(registry(), name, alias, actor=actor(router.current_event), reason=reason)


@router.put(
    "/models/<name>/versions/<version>/tags/<key>",
    summary="Set a tag of a version (audited)",
    responses={**responses(404, 409, 422)},
)
def set_tag(name: ModelName, version: VersionNumber, key: TagKey, body: TagValue) -> dict[str, Any]:
    reason = body.reason or "tag set through the admin API"
    return aliases.set_tag(registry(), name, version, key, body.value, actor=actor(router.current_event), reason=reason)


@router.delete(
    "/models/<name>/versions/<version>/tags/<key>",
    summary="Delete a tag of a version (audited)",
    responses={**responses(404, 409, 422)},
)
def delete_tag(
    name: ModelName, version: VersionNumber, key: TagKey, body: Annotated[Reason | None, Body()] = None
) -> dict[str, Any]:
    reason = (body.reason if body else "") or "tag deleted through the admin API"
    return aliases.delete_tag(registry(), name, version, key, actor=actor(router.current_event), reason=reason)
