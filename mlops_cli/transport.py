"""How the `mlops` command reaches an API: plain HTTP to `python -m local up`, or SigV4-signed HTTPS to a stack.

botocore is imported only for `--stack` (finding the API in the stack's outputs, credentials, signing): it costs
~200 ms to import, and the local API needs none of it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

SERVICE = "execute-api"


class CliError(Exception):
    """A failure reported in one line with an exit code (no traceback)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


EXIT_FAILED = 1  # the API refused the request, or the run failed
EXIT_USAGE = 2  # a command-line mistake: missing option, unreadable file
EXIT_UNREACHABLE = 3  # no API at that address, no credentials, no such stack


class ApiError(CliError):
    def __init__(self, status: int, message: str, error: str | None = None) -> None:
        super().__init__(f"{status} {error + ': ' if error else ''}{message}", EXIT_FAILED)
        self.status = status
        self.error = error


class SigV4Signer:
    """Signs a request with botocore's SigV4Auth for API Gateway (service execute-api)."""

    def __init__(self, credentials: Any, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def sign(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        """The headers to send: the given ones plus X-Amz-Date, X-Amz-Security-Token and Authorization."""
        from botocore.auth import SigV4Auth  # noqa: PLC0415 - only signed calls pay for botocore
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415

        credentials = self.credentials
        if hasattr(credentials, "get_frozen_credentials"):  # refreshable credentials: one consistent set
            credentials = credentials.get_frozen_credentials()
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(credentials, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())


@dataclass
class Api:
    """One API: its base URL (…/v1 on AWS, http://127.0.0.1:3000 locally), an optional signer and API key."""

    base_url: str
    signer: SigV4Signer | None = None
    api_key: str | None = None
    timeout_s: float = 60.0
    api_key_source: Any = None  # a callable that fetches the key on first use (a stack's ApiKeyId)

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        quoted = urllib.parse.quote(path, safe="/")
        url = self.base_url.rstrip("/") + quoted
        if query:
            pairs = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items() if v is not None}
            url += "?" + urllib.parse.urlencode(sorted(pairs.items()), quote_via=urllib.parse.quote)
        return url

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        with_api_key: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        url = self.url(path, query)
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json, text/html, text/markdown"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if with_api_key:
            key = self.api_key or (self.api_key_source() if self.api_key_source else None)
            if not key:
                raise CliError("the predict route needs an API key: --api-key KEY (or MLOPS_API_KEY)", EXIT_USAGE)
            self.api_key = key
            headers["x-api-key"] = key
        if self.signer is not None:
            headers = self.signer.sign(method, url, payload, headers)
        request = urllib.request.Request(url, data=payload, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            hint = " (is `python -m local up` running?)" if self.signer is None else ""
            raise CliError(f"cannot reach {self.base_url}: {reason}{hint}", EXIT_UNREACHABLE) from None

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        status, _, content = self.call(method, path, **kwargs)
        try:
            document = json.loads(content) if content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            document = None
        if status >= 400:
            message = document.get("message") if isinstance(document, dict) else None
            error = document.get("error") if isinstance(document, dict) else None
            if isinstance(document, dict) and isinstance(document.get("detail"), list) and not message:
                message = "; ".join(str(item.get("msg", item)) for item in document["detail"])
            raise ApiError(status, _one_line(message or content.decode("utf-8", "replace") or "no body"), error)
        if document is None and content:
            raise CliError(f"{method} {path} answered {status} with a body that is not JSON", EXIT_FAILED)
        return document

    def text(self, method: str, path: str, **kwargs: Any) -> str:
        status, _, content = self.call(method, path, **kwargs)
        if status >= 400:
            try:
                document = json.loads(content)
                message, error = document.get("message"), document.get("error")
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                message, error = content.decode("utf-8", "replace"), None
            raise ApiError(status, _one_line(message or "no body"), error)
        return content.decode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def local_api(url: str, api_key: str | None, timeout_s: float) -> Api:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--url must be an http(s) URL such as http://127.0.0.1:3000, not {url!r}", EXIT_USAGE)
    return Api(url.rstrip("/"), api_key=api_key, timeout_s=timeout_s)


def stack_api(stack_name: str, region: str | None, profile: str | None, api_key: str | None, timeout_s: float) -> Api:
    """The API of a deployed stack: its ApiUrl output, signed with the credentials of botocore's chain."""
    import botocore.exceptions  # noqa: PLC0415 - only --stack needs botocore
    import botocore.session  # noqa: PLC0415

    try:
        session = botocore.session.Session(profile=profile)
        region = region or session.get_config_variable("region")
        if not region:
            raise CliError("no AWS region: pass --region or set AWS_REGION / a profile's region", EXIT_UNREACHABLE)
        credentials = session.get_credentials()
        if credentials is None:
            raise CliError(
                "no AWS credentials found (environment, ~/.aws, SSO, instance role): configure them or pass --profile",
                EXIT_UNREACHABLE,
            )
        cloudformation = session.create_client("cloudformation", region_name=region)
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ProfileNotFound as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except botocore.exceptions.ClientError as exc:
        raise CliError(
            f"stack {stack_name!r} in {region}: {exc.response['Error']['Message']}", EXIT_UNREACHABLE
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise CliError(f"stack {stack_name!r}: {exc}", EXIT_UNREACHABLE) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "ApiUrl" not in outputs:
        raise CliError(f"stack {stack_name!r} has no ApiUrl output (is it this application's stack?)", EXIT_UNREACHABLE)

    def fetch_api_key() -> str | None:
        if "ApiKeyId" not in outputs:
            return None
        client = session.create_client("apigateway", region_name=region)
        try:
            return client.get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
        except botocore.exceptions.ClientError as exc:
            raise CliError(
                f"cannot read the stack's API key: {exc.response['Error']['Message']}", EXIT_FAILED
            ) from None

    return Api(
        outputs["ApiUrl"].rstrip("/"),
        signer=SigV4Signer(credentials, region),
        api_key=api_key,
        timeout_s=timeout_s,
        api_key_source=fetch_api_key,
    )
