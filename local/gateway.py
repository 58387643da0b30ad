"""A local HTTP gateway: HTTP requests become API Gateway (REST, proxy) events for the template's functions.

This is what `sam local start-api` does, without Docker: routes come from the functions' `Api` events in
template.yaml, the function is invoked through the (local) Lambda API, and its proxy response becomes the
HTTP response. The predict route (declared in the API's DefinitionBody, since its authorizer is a template
parameter) takes any client's API key (``PredictClients``: 403 without one, as API Gateway answers) and counts it
against the usage plan's daily quota (429 past it). Not evaluated locally: IAM (SigV4) and Cognito authorisation
(the admin routes' and, with ``PredictAuthorizer`` iam or cognito, the predict route's) and throttling: every
caller acts as one local IAM user.

API Gateway's own limits hold here as on AWS: a request body over 10 MB is refused before any function runs (413,
"HTTP content length exceeded 10485760 bytes."), an event over Lambda's 6 MB invoke quota is refused by the invoke
(413, ``{"message": "Request Too Long"}``), and an integration that has not answered after 29 s is given up
(504, ``{"message": "Endpoint request timed out"}``) while the function itself runs on, as Lambda's does.
"""

from __future__ import annotations

import base64
import contextvars
import json
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.exceptions import ClientError

from local.stack import ACCOUNT_ID, LocalStack
from local.template import resources_of_type
from mlops.monitoring.store import MonitoringStore
from mlops.views import dashboard

LOCAL_CALLER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-admin"
STAGE = "v1"
DASHBOARD_PATH = "/dashboard"  # served by the gateway itself (on AWS: POST /dashboard renders it to S3)
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway's default (and, for REST APIs without a raised quota, maximum) timeout
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's REST API payload quota: 10 MB
_READ_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # e.g. /models/{name}/predict
    pattern: re.Pattern[str]
    function_name: str
    api_key_required: bool


def _integrated_function(uri: Any) -> str | None:
    """The logical id of the function an integration URI names (``!Ref Function.Alias`` or ``!GetAtt
    Function.Arn`` anywhere in it)."""
    if isinstance(uri, dict):
        reference = uri.get("Ref")
        if isinstance(reference, str) and reference.endswith(".Alias"):
            return reference.removesuffix(".Alias")
        attribute = uri.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute[1:] == ["Arn"]:
            return attribute[0]
        uri = list(uri.values())
    if isinstance(uri, list):
        return next((found for item in uri if (found := _integrated_function(item))), None)
    return None


def _route(method: str, path: str, function_name: str, api_key_required: bool) -> Route:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"
    return Route(method.upper(), path, re.compile(regex), function_name, api_key_required)


def _definition_routes(stack: LocalStack) -> list[Route]:
    """Routes the API's DefinitionBody declares (the predict route: its authorizer is a template parameter), each
    integrated with a function of the template (``${Function.Alias}`` or ``${Function.Arn}`` in the URI)."""
    routes = []
    for resource in resources_of_type(stack.template, "AWS::Serverless::Api").values():
        paths = (resource["Properties"].get("DefinitionBody") or {}).get("paths", {})
        for path, methods in paths.items():
            for method, operation in methods.items():
                found = _integrated_function(operation.get("x-amazon-apigateway-integration", {}).get("uri"))
                if found is None:
                    raise ValueError(f"{method} {path}: the local gateway knows only Lambda proxy integrations")
                security = operation.get("security", [])
                needs_key = any(isinstance(item, dict) and "api_key" in item for item in security)
                routes.append(_route(method, path, stack.function_names[found], needs_key))
    return routes


def routes_from_template(stack: LocalStack) -> list[Route]:
    routes = _definition_routes(stack)
    for logical_id, resource in resources_of_type(stack.template, "AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            properties = event["Properties"]
            auth = properties.get("Auth", {})
            routes.append(
                _route(
                    properties["Method"],
                    properties["Path"],
                    stack.function_names[logical_id],
                    bool(auth.get("ApiKeyRequired")),
                )
            )
    # Literal paths win over parameterised ones, as in API Gateway.
    return sorted(routes, key=lambda r: (r.resource.count("{"), -len(r.resource)))


def proxy_event(
    route: Route,
    *,
    method: str,
    path: str,
    path_parameters: dict[str, str],
    query: str,
    headers: dict[str, str],
    body: bytes,
    api_key: str | None,
) -> dict[str, Any]:
    pairs = parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in pairs:
        multi_query.setdefault(key, []).append(value)
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    request_id = str(uuid.uuid4())
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": dict(pairs) or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.resource,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": request_id,
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent"),
                "apiKey": api_key,
                "userArn": None if route.api_key_required else _local_caller(headers),
                "caller": None,
                "accountId": None,
            },
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def _local_caller(headers: dict[str, str]) -> str:
    """The IAM identity of an admin request. Locally nothing signs requests: the ``x-local-caller`` header (a
    name) stands for another IAM user, so two people (a requester and an approver) can be played; API Gateway
    puts the signer's ARN here and ignores the header."""
    name = next((v for k, v in headers.items() if k.lower() == "x-local-caller"), None)
    if name and re.fullmatch(r"[A-Za-z0-9+=,.@_-]{1,64}", name):
        return f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
    return LOCAL_CALLER_ARN


class DailyQuota:
    """The usage plan's quota: requests per API key per UTC day (throttling is not emulated)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def take(self, api_key: str) -> bool:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        with self._lock:
            used = self._used.get((api_key, day), 0)
            if used >= self.limit:
                return False
            self._used[(api_key, day)] = used + 1
            return True


CLIENT_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)


class QuietServer(ThreadingHTTPServer):
    """A client that resets its connection (or goes away mid-answer) is one line on stderr, not the standard
    library's traceback; any other failure keeps it."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, CLIENT_GONE):
            host, port = client_address[:2]
            print(f"client {host}:{port} closed the connection early ({type(error).__name__})", file=sys.stderr)
            return
        super().handle_error(request, client_address)


class LocalGateway:
    """Serves the template's API routes on 127.0.0.1:<port> until stopped."""

    def __init__(self, stack: LocalStack, port: int = 3000, host: str = "127.0.0.1") -> None:
        self.stack = stack
        self.routes = routes_from_template(stack)
        self.quota = DailyQuota(int(stack.parameter("PredictQuotaPerDay")))
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
                return  # quiet: the CLI prints its own lines

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_REQUEST_BODY_BYTES:
                    _discard(self.rfile, length)  # read it all, so the client gets the answer, not a reset
                    status, headers, payload = payload_too_large()
                else:
                    body = self.rfile.read(length) if length else b""
                    request_headers = dict(self.headers.items())
                    status, headers, payload = gateway.dispatch(self.command, self.path, request_headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def __getattr__(self, name: str) -> Any:
                # Any method (GET, TRACE, QUERY, ...) reaches dispatch, which answers 404/405 as API Gateway does.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        self.server = QuietServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalGateway:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def refused(self, route: Route, api_key: str | None) -> tuple[int, dict[str, str], bytes] | None:
        """API Gateway's answer to a request the route's API key requirement or the usage plan refuses."""
        if not route.api_key_required:
            return None
        if api_key not in self.stack.client_api_keys.values():
            return _json(403, {"message": "Forbidden"})
        if not self.quota.take(api_key):
            return _json(429, {"message": "Limit Exceeded"})
        return None

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes):
        parts = urlsplit(raw_path)
        path = parts.path
        if path.rstrip("/") == DASHBOARD_PATH and method == "GET":
            return self.dashboard()
        matches = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        if not matches:
            return _json(404, {"message": "Not Found"})
        allowed = [(r, m) for r, m in matches if r.method == method]
        if not allowed:
            status, headers, payload = _json(405, {"message": f"Method {method} not allowed on {path}"})
            return status, {**headers, "Allow": ", ".join(sorted({r.method for r, _ in matches}))}, payload
        route, match = allowed[0]
        lowered = {k.lower(): v for k, v in headers.items()}
        api_key = lowered.get("x-api-key")
        refused = self.refused(route, api_key)
        if refused is not None:
            return refused
        event = proxy_event(
            route,
            method=method,
            path=path,
            path_parameters=match.groupdict(),
            query=parts.query,
            headers=lowered,
            body=body,
            api_key=api_key,
        )
        answer = self._invoke_within_timeout(route.function_name, json.dumps(event).encode())
        return answer if isinstance(answer, tuple) else _proxy_response(answer)

    def _invoke_within_timeout(self, function_name: str, event: bytes) -> dict[str, Any] | tuple[int, dict, bytes]:
        """The function's invoke response, or API Gateway's answer when the integration fails: 504 after
        ``INTEGRATION_TIMEOUT_S`` (the invocation goes on in its thread, as the function goes on running on AWS), 413
        for an event over Lambda's request quota."""
        outcome: dict[str, Any] = {}

        def invoke() -> None:
            try:
                outcome["response"] = self.stack.client("lambda").invoke(FunctionName=function_name, Payload=event)
            except Exception as exc:  # handed to the waiting request below
                outcome["error"] = exc

        worker = threading.Thread(target=contextvars.copy_context().run, args=(invoke,), daemon=True)
        worker.start()
        worker.join(INTEGRATION_TIMEOUT_S)
        if worker.is_alive():
            return _json(504, {"message": "Endpoint request timed out"})
        error = outcome.get("error")
        if isinstance(error, ClientError) and error.response["Error"]["Code"] == "RequestTooLargeException":
            return _json(413, {"message": "Request Too Long"})
        if error is not None:
            raise error
        return outcome["response"]

    def dashboard(self) -> tuple[int, dict[str, str], bytes]:
        """The registry dashboard of this stack, rendered now from its tables and bucket (the same renderer as the
        API's POST /dashboard on AWS)."""
        from mlops.views.panels import CloudWatchServing  # noqa: PLC0415

        predict = self.stack.function_environments.get("PredictFunction", {})  # whose metrics the charts read
        serving = CloudWatchServing(
            predict.get("POWERTOOLS_METRICS_NAMESPACE", "ServerlessMLOps"),
            predict.get("POWERTOOLS_SERVICE_NAME", "mlops"),
        )
        page = dashboard.render(self.stack.registry(), MonitoringStore(self.stack.monitor_table), read_serving=serving)
        headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        return 200, headers, page.encode("utf-8")


def _proxy_response(response: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """A Lambda proxy integration's answer as HTTP: the function's statusCode, headers and body, or API Gateway's 502
    when the function failed or answered in another shape."""
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError") or not isinstance(payload, dict) or "statusCode" not in payload:
        return _json(502, {"message": "Internal server error"})
    out_headers = {k: str(v) for k, v in (payload.get("headers") or {}).items()}
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        out_headers[name] = ", ".join(map(str, values))
    text = payload.get("body") or ""
    content = base64.b64decode(text) if payload.get("isBase64Encoded") else text.encode()
    return int(payload["statusCode"]), out_headers, content


def payload_too_large() -> tuple[int, dict[str, str], bytes]:
    """API Gateway's answer to a body over its payload quota: plain text, before any route is matched."""
    message = f"HTTP content length exceeded {MAX_REQUEST_BODY_BYTES} bytes."
    return 413, {"Content-Type": "text/plain; charset=utf-8"}, message.encode()


def _discard(stream: Any, length: int) -> None:
    while length > 0:
        chunk = stream.read(min(length, _READ_CHUNK_BYTES))
        if not chunk:
            return
        length -= len(chunk)


def _json(status: int, document: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()
