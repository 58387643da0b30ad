"""Admin API: training runs, registry browsing, deployments, canaries and rollbacks (IAM-authorised routes).

The routes are Powertools Routers by resource (routes/<resource>.py); this module is the resolver that includes
them, the errors every route shares, and the Lambda handler. Powertools' event_handler validates every request
against the annotated models and generates the OpenAPI document (`openapi.json`, written by
`python -m tools.write_openapi`).
"""

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.api.bodies import body_problem
from mlops.errors import (
    ArtifactIntegrityError,
    DeploymentRefused,
    InvalidAliasName,
    InvalidTag,
    InvalidTrainingRequest,
    ModelNotFound,
    PolicyViolation,
    SmokeTestFailed,
    UntrustedModelType,
    VersionConflict,
)
from mlops.observability import instrumented
from mlops.records import problems

if __package__:  # functions.api.app: the tests and the local stack import the function's folder as a package
    from .routes import (
        aliases_and_tags,
        approvals,
        batch_jobs,
        external_models,
        governance,
        models,
        monitoring,
        training_runs,
        transfers,
    )
    from .routes.conventions import error
else:  # app: Lambda imports the handler from the function's folder, its task root
    from routes import (
        aliases_and_tags,
        approvals,
        batch_jobs,
        external_models,
        governance,
        models,
        monitoring,
        training_runs,
        transfers,
    )
    from routes.conventions import error

app = APIGatewayRestResolver(enable_validation=True)
for resource in (
    training_runs,
    external_models,
    models,
    aliases_and_tags,
    approvals,
    governance,
    monitoring,
    batch_jobs,
    transfers,
):
    app.include_router(resource.router)


@app.exception_handler(PolicyViolation)
def forbidden(exc: PolicyViolation) -> Response:
    return error(403, exc)


@app.exception_handler(ModelNotFound)
def not_found(exc: ModelNotFound) -> Response:
    return error(404, exc)


@app.exception_handler([VersionConflict, DeploymentRefused, SmokeTestFailed])
def conflict(exc: Exception) -> Response:
    return error(409, exc)


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response:
    # in words: no regular expression, no Python type name, no echo of the input (mlops.records.problems)
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body={
            "message": f"invalid request: {problems.summary(exc.errors())}",
            "error": "RequestValidationError",
            "detail": problems.plain_problems(exc.errors()),
        },
    )


@app.exception_handler(
    [InvalidTrainingRequest, InvalidAliasName, InvalidTag, UntrustedModelType, ArtifactIntegrityError]
)
def invalid(exc: Exception) -> Response:
    return error(422, exc)


@instrumented(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    problem = _undecodable_body(event)
    if problem:  # the resolver would raise on these; they are the caller's mistake: 4xx, not 500
        return _refusal(415 if problem.startswith("the body must be application/json") else 400, problem, "BadRequest")
    refused = body_problem(_body_text(event))
    if refused is not None:  # numbers no setting can hold, nesting the parser cannot follow: refused at the door
        return _refusal(refused.status, refused.message, refused.error)
    return app.resolve(event, context)


def _refusal(status: int, message: str, error: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"message": message, "error": error}),
    }


def _body_text(event: dict[str, Any]) -> str | None:
    body = event.get("body")
    if body and event.get("isBase64Encoded"):
        return base64.b64decode(body).decode("utf-8")  # checked by _undecodable_body
    return body


def _undecodable_body(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "the request is not an API Gateway proxy event"
    body = event.get("body")
    headers = (
        {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        if isinstance(event.get("headers"), dict)
        else {}
    )
    content_type = str(headers.get("content-type", "application/json")).split(";")[0].strip().lower()
    if body not in (None, "") and content_type not in ("application/json", ""):
        return f"the body must be application/json, not {content_type}"
    if body is None or not event.get("isBase64Encoded"):
        return None if body is None or isinstance(body, str) else "the request body must be a string"
    try:
        base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
        return "the body is flagged base64 but is not base64-encoded UTF-8"
    return None
