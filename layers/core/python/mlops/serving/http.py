"""One prediction request, from an API Gateway proxy event to a JSON response, plus data capture.

Hand-written rather than Powertools' event_handler resolver: on this path the resolver's routing and
validation cost ~190 µs per request, several times what onnxruntime spends on the model itself.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from typing import Any

from mlops.errors import ArtifactIntegrityError, LibraryVersionMismatch, ModelNotFound
from mlops.registry.records import MODEL_NAME_PATTERN_RE
from mlops.serving.cache import LoadedVersion, ModelCache
from mlops.serving.fallback import FallbackFailed
from mlops.serving.runtime import InvalidInstances, ModelNotServable, validate_instances
from mlops.storage import layout

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
CAPTURE_ROWS_PER_LINE = 100  # keeps each captured log line far below CloudWatch Logs' 256 KB event limit
JSON_HEADERS = {"Content-Type": "application/json"}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def response(status: int, document: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": JSON_HEADERS, "body": json.dumps(document)}


def error_response(status: int, message: str) -> dict[str, Any]:
    return response(status, {"message": message})


def parse_request(event: Any) -> tuple[str, list[Any]]:
    """The model name from the path and the instances from the JSON body; HttpError(4xx) when malformed."""
    if not isinstance(event, dict):
        raise HttpError(400, "the request is not an API Gateway proxy event")
    parameters = event.get("pathParameters") or {}
    model_name = parameters.get("name") if isinstance(parameters, dict) else None
    if not isinstance(model_name, str) or not MODEL_NAME_PATTERN_RE.match(model_name):
        raise HttpError(404, "no such model")
    body = event.get("body")
    if body is None or body == "":
        raise HttpError(400, 'the request has no body; send {"instances": [{...}, ...]}')
    if not isinstance(body, str):
        raise HttpError(400, "the request body must be a JSON string")
    if event.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError; so is a non-ASCII string
            raise HttpError(400, "the body is flagged base64 but is not base64-encoded UTF-8") from None
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HttpError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or "instances" not in document:
        raise HttpError(400, "the body must be a JSON object with an 'instances' list")
    extra = sorted(set(document) - {"instances"})
    if extra:
        raise HttpError(400, f"unknown field(s) in the body: {', '.join(map(repr, extra))}")
    return model_name, document["instances"]


def predict_rows(served: LoadedVersion, instances: list[Any], request_id: str) -> list[dict[str, Any]]:
    columns = validate_instances(instances, served.schema)
    predicted = served.model.predict(columns)
    rows = []
    if predicted.probabilities is not None:
        classes = predicted.classes
        for index, (label, probabilities) in enumerate(zip(predicted.labels, predicted.probabilities, strict=True)):
            rows.append(
                {
                    "inference_id": f"{request_id}:{index}",
                    "version": served.version,
                    "prediction": label,
                    "probabilities": dict(zip(classes, probabilities, strict=True)),
                }
            )
    else:
        for index, value in enumerate(predicted.labels):
            rows.append({"inference_id": f"{request_id}:{index}", "version": served.version, "prediction": value})
    return rows


def capture_lines(model_name: str, version: int, instances: list[Any], rows: list[dict[str, Any]]) -> list[str]:
    """Capture records as log lines: a subscription filter sends them to Firehose, which writes them to S3
    partitioned by model and date. Writing a line costs microseconds; the response never waits on a network."""
    timestamp = time.time()
    lines = []
    for start in range(0, len(rows), CAPTURE_ROWS_PER_LINE):
        records = [
            {**row, "features": features}
            for row, features in zip(
                rows[start : start + CAPTURE_ROWS_PER_LINE],
                instances[start : start + CAPTURE_ROWS_PER_LINE],
                strict=True,
            )
        ]
        lines.append(
            json.dumps(
                {
                    "capture": layout.CAPTURE_MARKER,
                    "model_name": model_name,
                    "version": version,
                    "timestamp": timestamp,
                    "records": records,
                },
                allow_nan=False,
            )
        )
    return lines


def handle_predict(
    event: Any,
    request_id: str,
    cache: ModelCache,
    *,
    capture_sample_rate: float,
    write_line: Callable[[str], Any],
    draw: Callable[[], float] = random.random,
) -> dict[str, Any]:
    try:
        model_name, instances = parse_request(event)
        served = cache.choose(model_name, draw)
        rows = predict_rows(served, instances, request_id)
    except HttpError as exc:
        return error_response(exc.status, exc.message)
    except InvalidInstances as exc:
        return error_response(422, str(exc))
    except ModelNotFound as exc:
        return error_response(404, str(exc))
    except (ModelNotServable, ArtifactIntegrityError, LibraryVersionMismatch) as exc:
        # Not the caller's fault and not retryable by them: the deployed version cannot be served.
        return error_response(503, str(exc))
    except FallbackFailed as exc:
        # The scikit-learn function that serves this version failed: an upstream error, retryable by the caller.
        return error_response(502, str(exc))
    if capture_sample_rate > 0 and draw() < capture_sample_rate:
        for line in capture_lines(model_name, served.version, instances, rows):
            write_line(line + "\n")
    return response(
        200, {"model_name": model_name, "version": served.version, "runtime": served.model.runtime, "predictions": rows}
    )
