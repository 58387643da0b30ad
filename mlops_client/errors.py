"""The SDK's exceptions: an API refusal carries the API's status, message and error name; the rest say why no answer
came (no API at that address, no credentials, a wait that ran out)."""

from __future__ import annotations


class MlopsError(Exception):
    """Every failure the SDK raises."""


class ConfigurationError(MlopsError):
    """The client was given something it cannot use: no API, a URL that is not http(s), a missing API key."""


class InvalidInput(MlopsError, ValueError):
    """The data cannot be sent to the model: an input column (or the id column) missing, checked on the client before
    any request (``Client.predict``). A value the endpoint refuses is its 422, worded there (row and feature)."""


class Unreachable(MlopsError):
    """No answer: nothing listens at that address, no AWS credentials or region, no such stack."""


class WaitTimeout(MlopsError, TimeoutError):
    """A run or batch job was still running when the wait's deadline came."""


class SchemaMismatch(MlopsError):
    """A model's declared inputs (an MLflow signature) do not match the dataset's columns; found on the client,
    before anything is uploaded. ``columns``: each mismatched column with what differs."""

    def __init__(self, message: str, columns: dict[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.columns = columns


class MlopsApiError(MlopsError):
    """The API refused the request: ``status`` (HTTP), ``message`` (the API's words) and ``error`` (its name for the
    failure, e.g. ``ModelNotFound``, ``PolicyViolation``; None when the API gave none)."""

    def __init__(self, status: int, message: str, error: str | None = None) -> None:
        super().__init__(f"{status} {error + ': ' if error else ''}{message}")
        self.status = status
        self.message = message
        self.error = error


class BadRequest(MlopsApiError):
    """400: a malformed body, or an alias name no alias can have."""


class Forbidden(MlopsApiError):
    """403: refused by the stack's governance (a looser rule, a location outside the allowed ones, self-approval),
    or a missing API key on the predict route."""


class NotFound(MlopsApiError):
    """404: no such model, version, alias, run, batch job or object."""


class Conflict(MlopsApiError):
    """409: the registry's state says no (not deployable, nothing to roll back, a client token reused)."""


class Invalid(MlopsApiError):
    """422 (and 415): the request's content is invalid, e.g. a row the model's schema refuses."""


_BY_STATUS: dict[int, type[MlopsApiError]] = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict}


def api_error(status: int, message: str, error: str | None = None) -> MlopsApiError:
    """The exception for an API answer of ``status``: the subclass that names it, else MlopsApiError itself."""
    kind = _BY_STATUS.get(status) or (Invalid if status in (415, 422) else MlopsApiError)
    return kind(status, message, error)
