"""The emulator's records: client apps, codes, tokens and logged requests, and its two refusals.

Kept apart from :mod:`.state` so the schemas and views can name a record without the whole world
that holds them. Secrets appear here only as SHA-256 digests (:func:`digest`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GRANT_TYPES = ("authorization_code", "refresh_token")


class OAuthError(Exception):
    """A token-endpoint refusal in OAuth's shape (RFC 6749 section 5.2), answered with 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class Conflict(Exception):
    """The thing to create exists already (Looker answers 409)."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    """44 url-safe characters from 33 random bytes: unguessable and longer than Looker's 40."""
    return secrets.token_urlsafe(33)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


@dataclass
class ClientApp:
    client_guid: str
    redirect_uri: str
    display_name: str = ""
    description: str = ""
    enabled: bool = True
    group_id: str | None = None
    tokens_invalid_before: float | None = None
    invalid_before_seq: int = 0
    activated_users: set[str] = field(default_factory=set)


@dataclass
class AuthCode:
    client_guid: str
    redirect_uri: str
    challenge: bytes
    user_id: str
    created: float
    seq: int
    used: bool = False
    grant_id: str | None = None


@dataclass
class AccessRecord:
    user_id: str
    kind: str
    """``oauth``, ``api3`` or ``sudo``."""
    expires_at: float
    seq: int
    client_guid: str | None = None
    grant_id: str | None = None
    api3_client_id: str | None = None


@dataclass
class RefreshRecord:
    user_id: str
    client_guid: str
    redirect_uri: str
    grant_id: str
    seq: int


@dataclass(frozen=True)
class RequestRecord:
    """One API-host request as tests see it; ``Authorization`` is cut down to its scheme."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body_size: int
    time: float

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
