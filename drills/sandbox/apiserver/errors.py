"""Typed API errors raised by the store, and the Kubernetes ``Status`` bodies they become."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Conflict",
    "Gone",
    "Invalid",
    "MethodNotAllowed",
    "NotFound",
    "UnsupportedMediaType",
    "status_body",
]


class ApiError(Exception):
    """An error the API server reports as a ``Status`` with `code` and `reason`."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, kind: str = "", name: str = "", group: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.group = group

    def status(self) -> dict[str, Any]:
        """The ``Status`` object a real API server would answer with."""
        return status_body(
            self.code, self.reason, self.message, kind=self.kind, name=self.name, group=self.group
        )


class BadRequest(ApiError):
    """400: the request itself is malformed (bad selector, bad JSON)."""

    code = 400
    reason = "BadRequest"


class NotFound(ApiError):
    """404: the object does not exist."""

    code = 404
    reason = "NotFound"


class MethodNotAllowed(ApiError):
    """405: the verb is not served for this resource."""

    code = 405
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    """409: create of a name that is taken."""

    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    """409: an update carried a stale metadata.resourceVersion."""

    code = 409
    reason = "Conflict"


class Gone(ApiError):
    """410: a watch asked for a resourceVersion older than the kept history."""

    code = 410
    reason = "Expired"


class UnsupportedMediaType(ApiError):
    """415: a patch type the sandbox does not accept (server-side apply)."""

    code = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    """422: the object fails validation."""

    code = 422
    reason = "Invalid"


def status_body(  # noqa: PLR0913 - the Status fields, keyword-only
    code: int, reason: str, message: str, *, kind: str = "", name: str = "", group: str = ""
) -> dict[str, Any]:
    """Build a ``Status`` body (kind Status, apiVersion v1, status Failure)."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body
