"""One JSON error shape for everything the bridge refuses.

Raise a :class:`BridgeError` subclass anywhere in a request; the handler registered by
:func:`register_error_handlers` turns it into ``{"error": code, "message": sentence}`` with the
right status (and any extra headers, such as ``Retry-After``). A view that answers an error
without raising (``/readyz``, ``/auth/session``) builds it with :func:`error_response` too, so
every JSON error comes out of one function. Tree::

    OAuthBridgeError
    ├── ConfigError                 bad settings; stops the app at start
    └── BridgeError                 an HTTP answer to a request
        ├── BadRequest (400)        ├── InvalidPath, InvalidReturnTo, InvalidLoginState,
        │                           │   MalformedBody, IncompleteBody
        ├── NotAuthenticated (401)
        ├── Forbidden (403)         ├── CsrfRejected, OriginRejected
        ├── RequestTimeout (408)
        ├── PayloadTooLarge (413)
        ├── TooManyRequests (429)
        ├── UpstreamError (502)     ├── UpstreamTimeout (504)
        ├── StoreUnavailable (503)
        └── UploadsBusy (503)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class OAuthBridgeError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(OAuthBridgeError):
    """A setting is missing or invalid; the message names it in one line."""


class BridgeError(OAuthBridgeError):
    """An error answered to the browser as JSON."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "The bridge failed to handle this request."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.message)

    def to_response(self) -> Response:
        return error_response(
            self.status, self.code, self.message, headers=self.headers, extra=self.extra
        )


class BadRequest(BridgeError):
    status = 400
    code = "bad_request"
    default_message = "The request is malformed."


class InvalidPath(BadRequest):
    code = "invalid_path"
    default_message = "The API path is not allowed."


class InvalidReturnTo(BadRequest):
    code = "invalid_return_to"
    default_message = "return_to must be a relative path or a URL on an allowed origin."


class InvalidLoginState(BadRequest):
    code = "invalid_state"
    default_message = "This sign-in link is unknown, expired, already used or from another browser."


class InvalidSignInCode(BadRequest):
    code = "invalid_sign_in_code"
    default_message = (
        "This sign-in code cannot be redeemed (it expired, was used, was made for another "
        "origin, or came without its verifier); start the sign-in again."
    )


class MalformedBody(BadRequest):
    code = "malformed_body"
    default_message = "The request body is not valid HTTP framing (a bad chunk or trailer)."


class IncompleteBody(BadRequest):
    code = "incomplete_body"
    default_message = "The request body ended before its declared length."


class NotAuthenticated(BridgeError):
    status = 401
    code = "not_authenticated"
    default_message = "Sign in with Looker first."


class Forbidden(BridgeError):
    status = 403
    code = "forbidden"
    default_message = "This request is not allowed."


class CsrfRejected(Forbidden):
    code = "csrf_header_missing"
    default_message = "Requests must carry an X-Looker-AppId or X-Requested-With header."


class OriginRejected(Forbidden):
    code = "origin_not_allowed"
    default_message = "Requests from this origin are not allowed."


class NotFound(BridgeError):
    status = 404
    code = "not_found"
    default_message = "There is nothing at this address."


class RequestTimeout(BridgeError):
    status = 408
    code = "request_timeout"
    default_message = "The request body did not arrive in time."


class PayloadTooLarge(BridgeError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is larger than the bridge accepts."


class TooManyRequests(BridgeError):
    status = 429
    code = "too_many_requests"
    default_message = "Too many requests; try again later."


class UpstreamError(BridgeError):
    status = 502
    code = "looker_unavailable"
    default_message = "Looker could not be reached or answered something unusable."


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "looker_timeout"
    default_message = "Looker did not answer in time."


class StoreUnavailable(BridgeError):
    status = 503
    code = "session_store_unavailable"
    default_message = "The session store is unavailable; try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class UploadsBusy(BridgeError):
    status = 503
    code = "uploads_busy"
    default_message = "The bridge is receiving too many request bodies; try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The contract's JSON error answer: ``{"error", "message", **extra}``, never cached.

    The one place an error body is built, so the shape and the ``no-store`` header cannot drift
    apart between the error handlers and the views that answer errors themselves. A person's
    top-level navigation (not an SPA's call) gets the same status as a page instead
    (:func:`oauth_bridge.pages.wants_page`).
    """
    from oauth_bridge.pages import error_page, wants_page  # pages render; errors decide

    if wants_page():
        return error_page(status, code, message, dict(headers or {}))
    response = jsonify({"error": code, "message": message, **(extra or {})})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app: Flask) -> None:
    """Answer every error as JSON, including Werkzeug's own 404/405/413."""

    @app.errorhandler(BridgeError)
    def _bridge_error(error: BridgeError) -> Response:
        return error.to_response()

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_").replace("'", "")
        if error.code == 413:
            return PayloadTooLarge().to_response()
        response = error_response(error.code or 500, code, error.description or code)
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return BridgeError().to_response()
