"""Looker's error bodies: ``Error {message, documentation_url}`` and ``ValidationError``.

Shapes from the 4.0 spec (``#/components/schemas/Error`` and ``ValidationError``); the 401 text
"Requires authentication." and the 404 "Not found" are what real instances answer (the 404 body as
the looker-sdk-ruby docs show it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, jsonify

if TYPE_CHECKING:
    from oauth_bridge.emulator.operations import Operation

DOCS_URL = "https://cloud.google.com/looker/docs/"


class LookerError(Exception):
    """Raise in an API-host view; the app answers it in Looker's JSON error shape."""

    def __init__(
        self, status: int, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def to_response(self) -> Response:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS_URL}
        if self.errors is not None:
            body["errors"] = self.errors
        response = jsonify(body)
        response.status_code = self.status
        return response


def unauthenticated() -> LookerError:
    return LookerError(401, "Requires authentication.")


def not_found() -> LookerError:
    return LookerError(404, "Not found")


def not_emulated(operation: Operation) -> LookerError:
    """A real operation of Looker's API 4.0 that the emulator does not serve: 501, naming it.

    Not what a real Looker answers (it serves them all); the status says the server lacks the
    function, and the message carries the operationId that the SDKs' method names follow.
    """
    return LookerError(
        501,
        f"Not emulated: {operation.operation_id} ({operation.method} /api/4.0{operation.path}) "
        "is an operation of Looker's API 4.0 that the oauth_bridge emulator does not serve "
        "(docs/emulator.md lists those it does)",
    )


def forbidden() -> LookerError:
    return LookerError(403, "Forbidden")


def invalid(field: str, message: str, code: str = "invalid") -> LookerError:
    """422 with one field error, the ``ValidationError`` shape."""
    detail = {"field": field, "code": code, "message": message, "documentation_url": DOCS_URL}
    return LookerError(422, "Validation Failed", [detail])
