"""Write openapi.json: the admin routes as Powertools generates them from the handler's annotations, plus the
predict route (served by the lean predict function, described here from the models below).

    python -m tools.write_openapi          (a test fails when the committed file is stale)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

import local  # noqa: F401 - puts the core layer on sys.path, as Lambda does
from mlops.records.registry import ALIAS_NAME_PATTERN, MODEL_NAME_PATTERN

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = ROOT / "openapi.json"


class RowsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instances: list[dict[str, float | str | None]] = Field(
        min_length=1,
        max_length=1000,
        description="rows as {feature: value}; numbers for numeric features, strings for categorical, null = missing",
    )


class ColumnsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, list[float | str | None]] = Field(
        min_length=1,
        description=(
            "columns as {feature: [value, ...]} (TF Serving's columnar format), every column of one length, 1 to 1000 "
            "rows; the same values and rules as instances, answered as columns (outputs)"
        ),
    )


class PredictRequest(RootModel[RowsRequest | ColumnsRequest]):
    """Rows (instances) or columns (inputs), not both."""


class Prediction(BaseModel):
    inference_id: str
    version: int = Field(description="the version that served this row (production or canary)")
    prediction: str | float = Field(description="class label (classification) or value (regression)")
    probabilities: dict[str, float] | None = Field(default=None, description="per class, classifiers only")


class Outputs(BaseModel):
    inference_id: list[str]
    prediction: list[str | float] = Field(description="a class label (classification) or value (regression) per row")
    probabilities: dict[str, list[float]] | None = Field(
        default=None, description="a list per class, a probability per row; classifiers only"
    )


class PredictResponse(BaseModel):
    model_name: str
    alias: str = Field(description="the alias that served the request (production unless ?alias= named another)")
    version: int
    runtime: str = Field(description="onnx or sklearn")
    predictions: list[Prediction] | None = Field(default=None, description="a row request's answer, a row per row")
    outputs: Outputs | None = Field(default=None, description="a columnar request's answer, a list per output")


class ErrorResponse(BaseModel):
    message: str


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def build() -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "mlops")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessMLOps")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    from functions.api.app import app  # noqa: PLC0415 - after the Powertools settings above

    document = json.loads(
        app.get_openapi_json_schema(
            title="Serverless MLOps API",
            version="1.0.0",
            description="Admin routes use IAM (SigV4) authorisation; the predict route needs an API key (x-api-key).",
        )
    )
    # Powertools drops the success answer of a route that documents its errors: put it back (JSON).
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].setdefault(
                "200", {"description": "OK", "content": {"application/json": {"schema": {}}}}
            )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (RowsRequest, ColumnsRequest, PredictRequest, Prediction, Outputs, PredictResponse, ErrorResponse):
        schema = _schema(model)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    document["paths"]["/models/{name}/predict"] = {
        "post": {
            "summary": "Predict with the production version (and its canary), or with another alias",
            "operationId": "predict_models__name__predict_post",
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": MODEL_NAME_PATTERN},
                },
                {
                    "name": "alias",
                    "in": "query",
                    "required": False,
                    "description": "the alias to serve (default production), e.g. staging",
                    "schema": {"type": "string", "pattern": ALIAS_NAME_PATTERN},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
            },
            "responses": {
                "200": {
                    "description": "predictions",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}},
                },
                "400": {
                    "description": "the body is not JSON, not {instances: [...]} or {inputs: {...}}, or a bad alias",
                    **error,
                },
                "403": {"description": "missing or wrong API key", **error},
                "404": {"description": "no such model, or no version behind the alias", **error},
                "413": {"description": "body too large", **error},
                "422": {"description": "the rows or columns do not match the model's schema", **error},
                "503": {"description": "the deployed version cannot be served by this runtime", **error},
            },
            "security": [{"ApiKey": []}],
        }
    }
    document["components"]["securitySchemes"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}
    return document


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OPENAPI_PATH.write_text(render())
    print(OPENAPI_PATH.relative_to(ROOT))
