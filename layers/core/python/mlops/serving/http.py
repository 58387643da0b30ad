"""One prediction request, from an API Gateway proxy event to a JSON response, plus data capture and metrics.

Hand-written rather than Powertools' event_handler resolver: on this path the resolver's routing and
validation cost ~190 µs per request, several times what onnxruntime spends on the model itself. JSON is read and
written by orjson where the layer ships it (3-15x the standard library on these documents); whatever orjson
refuses is handed to the standard library, so the answers and their messages are the standard library's.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.errors import ArtifactIntegrityError, LibraryVersionMismatch, ModelNotFound
from mlops.monitoring import capture_records
from mlops.records.metrics import (  # the per-model metrics (template.yaml's PredictErrorsAlarm, PredictLatencyAlarm)
    METRIC_DIMENSION_MODEL,
    METRIC_DIMENSION_SERVICE,
    METRIC_DIMENSION_VERSION,
    PREDICT_ERRORS_METRIC,
    PREDICT_LATENCY_METRIC,
)
from mlops.records.registry import ALIAS_NAME_PATTERN, MODEL_NAME_PATTERN_RE, PRODUCTION, is_alias_name
from mlops.serving.cache import LoadedVersion, ModelCache
from mlops.serving.fallback import FallbackFailed
from mlops.serving.runtime import ModelNotServable, Predictions
from mlops.serving.validation import InvalidInstances, validate_inputs, validate_instances

try:
    import orjson
except ImportError:  # the ML layer (ServingRuntime=sklearn) does not ship it: the standard library serves
    orjson = None

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
JSON_HEADERS = {"Content-Type": "application/json"}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def loads_strict(text: str) -> tuple[Any, bool]:
    """``loads``, and whether orjson read the text (then it is strict JSON: no NaN literals, nothing beyond 64-bit
    integers, so it can be embedded in a capture line as it is)."""
    if orjson is not None:
        try:
            return orjson.loads(text), True
        except orjson.JSONDecodeError:
            pass
    return json.loads(text), False


def loads(text: str) -> Any:
    """json.loads, by orjson when it accepts the text. orjson is stricter (no NaN literals, integers within 64
    bits, no lone surrogates, nesting below 1,024): what it refuses, the standard library decides and words."""
    return loads_strict(text)[0]


def dumps(document: Any, *, allow_nan: bool = True) -> str:
    """JSON text of a document of plain values (NaN and infinities, which a validated request cannot carry into
    the answer, are written as null by orjson; the standard library refuses them)."""
    if orjson is not None:
        try:
            return orjson.dumps(document).decode()
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits in an ignored column of the capture
            pass
    return json.dumps(document, allow_nan=allow_nan)


def jsonl(documents: list[Any]) -> bytes:
    """JSON lines (a newline after each document), by orjson where the layer ships it."""
    if orjson is not None:
        try:
            return b"".join(orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE) for document in documents)
        except orjson.JSONEncodeError:
            pass
    return "".join(json.dumps(document) + "\n" for document in documents).encode()


def response(status: int, document: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": JSON_HEADERS, "body": dumps(document)}


def error_response(status: int, message: str) -> dict[str, Any]:
    return response(status, {"message": message})


def requested_alias(event: dict[str, Any]) -> str:
    """The ``alias`` query parameter (``production`` without one); HttpError(400) for a name no alias can have."""
    query = event.get("queryStringParameters")
    alias = query.get("alias") if isinstance(query, dict) else None
    if alias is None:
        return PRODUCTION
    if not is_alias_name(alias):
        raise HttpError(400, f"alias must match {ALIAS_NAME_PATTERN}")
    return alias


@dataclass(frozen=True)
class PredictRequest:
    """A predict call's body: rows (``instances``, a list of {feature: value}) or columns (``inputs``, a
    {feature: [value, ...]} object, TF Serving's columnar format), exactly one of the two."""

    model_name: str
    instances: list[Any] | None = None
    inputs: Any = None
    strict_body: str | None = None  # the body's text when orjson read it (strict JSON): captured as it came


def parse_request(event: Any) -> PredictRequest:
    """The model name from the path and the rows or columns from the JSON body; HttpError(4xx) when malformed."""
    if not isinstance(event, dict):
        raise HttpError(400, "the request is not an API Gateway proxy event")
    parameters = event.get("pathParameters") or {}
    model_name = parameters.get("name") if isinstance(parameters, dict) else None
    if not isinstance(model_name, str) or not MODEL_NAME_PATTERN_RE.fullmatch(model_name):
        raise HttpError(404, "no such model")
    body = _body_text(event)
    try:
        document, strict = loads_strict(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HttpError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not ({"instances", "inputs"} & document.keys()):
        raise HttpError(
            400, "the body must be a JSON object with an 'instances' list (rows) or an 'inputs' object (columns)"
        )
    if {"instances", "inputs"} <= document.keys():
        raise HttpError(400, "send either 'instances' (rows) or 'inputs' (columns), not both")
    extra = sorted(set(document) - {"instances", "inputs"})
    if extra:
        raise HttpError(400, f"unknown field(s) in the body: {', '.join(map(repr, extra))}")
    strict_body = body if strict else None
    if "inputs" in document:
        return PredictRequest(model_name, inputs=document["inputs"], strict_body=strict_body)
    return PredictRequest(model_name, instances=document["instances"], strict_body=strict_body)


def _body_text(event: dict[str, Any]) -> str:
    body = event.get("body")
    if body is None or body == "":
        raise HttpError(400, 'the request has no body; send {"instances": [{...}, ...]} or {"inputs": {...}}')
    if not isinstance(body, str):
        raise HttpError(400, "the request body must be a JSON string")
    if event.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError; so is a non-ASCII string
            raise HttpError(400, "the body is flagged base64 but is not base64-encoded UTF-8") from None
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    return body


@dataclass(frozen=True)
class Answer:
    """A request's predictions and their inference ids (``<request id>:<row>``)."""

    inference_ids: list[str]
    predicted: Predictions

    def outputs(self) -> dict[str, Any]:
        """A columnar request's answer: one list per output, a value per row."""
        outputs: dict[str, Any] = {"inference_id": self.inference_ids, "prediction": self.predicted.labels}
        by_class = self.predicted.by_class()
        if by_class is not None:
            outputs["probabilities"] = by_class
        return outputs


def predict(served: LoadedVersion, request: PredictRequest, request_id: str) -> Answer:
    """Validate the rows or the columns against the version's schema and predict; InvalidInstances for a 422."""
    if request.inputs is not None:
        columns = validate_inputs(request.inputs, served.schema)
    else:
        columns = validate_instances(request.instances, served.schema)
    predicted = served.model.predict(columns)
    return Answer([f"{request_id}:{index}" for index in range(len(predicted.labels))], predicted)


def prediction_records(version: int, predicted: Predictions, ids: list[str]) -> list[dict[str, Any]]:
    """One answer per row (inference id, version, prediction and, for a classifier, its probabilities by class):
    the endpoint's row answer."""
    if predicted.probabilities is not None:
        classes = predicted.classes
        return [
            {
                "inference_id": inference_id,
                "version": version,
                "prediction": label,
                "probabilities": dict(zip(classes, probabilities, strict=True)),
            }
            for inference_id, label, probabilities in zip(ids, predicted.labels, predicted.probabilities, strict=True)
        ]
    return [
        {"inference_id": inference_id, "version": version, "prediction": value}
        for inference_id, value in zip(ids, predicted.labels, strict=True)
    ]


def capture_text(request: PredictRequest, version: int, alias: str, answer: Answer) -> str:
    """The request's capture as log lines: a subscription filter sends them to Firehose, which writes them to S3
    partitioned by model and date. Writing a line costs microseconds; the response never waits on a network.

    A strict JSON body that fits one log event is embedded as it came (orjson's Fragment: no feature value is
    serialized twice); a larger body, or one only the standard library could read, is captured as documents of
    ROWS_PER_LINE rows each."""
    captured = capture_records.CapturedAnswer(
        request.model_name,
        version,
        alias,
        time.time(),
        inference_ids=answer.inference_ids,
        predictions=answer.predicted.labels,
        probabilities=answer.predicted.by_class(),
    )
    body = request.strict_body
    if orjson is not None and body is not None and len(body) <= capture_records.MAX_REQUEST_BYTES:
        if "\n" in body or "\r" in body:  # whitespace between tokens (strict JSON has none inside strings)
            body = body.replace("\n", " ").replace("\r", " ")
        return dumps(capture_records.request_document(captured, orjson.Fragment(body))) + "\n"
    if request.inputs is not None:
        documents = capture_records.column_documents(captured, request.inputs)
    else:
        rows = prediction_records(version, answer.predicted, answer.inference_ids)
        documents = capture_records.row_documents(captured, rows=rows, instances=request.instances or [])
    return "".join(dumps(document, allow_nan=False) + "\n" for document in documents)


@dataclass(frozen=True)
class RequestMetrics:
    """Per-model metrics of the predict route as CloudWatch embedded metric format (one log line a request):
    ``PredictLatency`` (milliseconds, from the event to the answer) and ``PredictErrors`` (1 for an answer the
    caller is not to blame for: 502 and 503), dimensions ``service`` and ``model_name``. Written only for a model
    the registry knows (an unknown name gets no series of its own), for the alarms of the template. When the request
    reached a version, the same values are also published per version (a second dimension set, ``version`` added:
    one log line, no network call), so a canary's error rate and latency can be told from production's."""

    namespace: str
    service: str

    def line(self, model_name: str, latency_ms: float, errors: int, version: int | None = None) -> str:
        dimensions = [[METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_MODEL]]
        per_version: dict[str, str] = {}
        if version is not None:
            dimensions.append([METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_MODEL, METRIC_DIMENSION_VERSION])
            per_version[METRIC_DIMENSION_VERSION] = str(version)  # dimension values are strings
        return dumps(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self.namespace,
                            "Dimensions": dimensions,
                            "Metrics": [
                                {"Name": PREDICT_LATENCY_METRIC, "Unit": "Milliseconds"},
                                {"Name": PREDICT_ERRORS_METRIC, "Unit": "Count"},
                            ],
                        }
                    ],
                },
                METRIC_DIMENSION_SERVICE: self.service,
                METRIC_DIMENSION_MODEL: model_name,
                **per_version,
                PREDICT_LATENCY_METRIC: round(latency_ms, 3),
                PREDICT_ERRORS_METRIC: errors,
            }
        )


def handle_predict(
    event: Any,
    request_id: str,
    cache: ModelCache,
    *,
    capture_sample_rate: float,
    write_line: Callable[[str], Any],
    draw: Callable[[], float] = random.random,
    metrics: RequestMetrics | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    model_name = None
    served_version = None  # the version chosen for the request, once there is one: its per-version series
    known_model = False  # the registry resolved the name: the request may have a metric series of its own
    try:
        request = parse_request(event)
        model_name = request.model_name
        alias = requested_alias(event)
        try:
            served = cache.choose(model_name, draw, alias)
        except ModelNotFound:
            raise
        except Exception:
            known_model = True  # an alias exists, but its version could not be loaded or served
            raise
        known_model = True
        served_version = served.version
        answer_of_model = predict(served, request, request_id)
    except HttpError as exc:
        answer = error_response(exc.status, exc.message)
    except InvalidInstances as exc:
        answer = error_response(422, str(exc))
    except ModelNotFound as exc:
        answer = error_response(404, str(exc))
    except (ModelNotServable, ArtifactIntegrityError, LibraryVersionMismatch) as exc:
        # Not the caller's fault and not retryable by them: the deployed version cannot be served.
        answer = error_response(503, str(exc))
    except FallbackFailed as exc:
        # The scikit-learn function that serves this version failed: an upstream error, retryable by the caller.
        answer = error_response(502, str(exc))
    else:
        captured = capture_sample_rate > 0 and draw() < capture_sample_rate
        answer = _answer(served, request, answer_of_model, alias, write_line if captured else None)
    if metrics is not None and known_model and model_name is not None:
        latency_ms = (time.perf_counter() - started) * 1000
        write_line(metrics.line(model_name, latency_ms, int(answer["statusCode"] >= 500), served_version) + "\n")
    return answer


def _answer(
    served: LoadedVersion,
    request: PredictRequest,
    answer: Answer,
    alias: str,
    write_line: Callable[[str], Any] | None,
) -> dict[str, Any]:
    """The 200 response (rows answer rows, columns answer columns), its capture written first when sampled."""
    if write_line is not None:
        write_line(capture_text(request, served.version, alias, answer))
    head = {
        "model_name": request.model_name,
        "alias": alias,
        "version": served.version,
        "runtime": served.model.runtime,
    }
    if request.inputs is not None:
        return response(200, {**head, "outputs": answer.outputs()})
    return response(
        200, {**head, "predictions": prediction_records(served.version, answer.predicted, answer.inference_ids)}
    )
