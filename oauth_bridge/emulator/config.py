"""How an emulator instance behaves: token lifetimes, refresh rules, CORS allowlist, latency.

Immutable; :meth:`EmulatorState.update_config` swaps in a changed copy so tests can make tokens
expire or refreshes fail while servers keep running.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_RESULT_ROWS = 5_000_000
"""The largest ``limit`` a query run accepts; bigger results are refused with 422."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Knobs of the fake Looker; every field has a default that matches Looker's defaults."""

    token_ttl: int = 3600
    """Seconds an access token lives (Looker: one hour, ``expires_in: 3600``)."""
    refresh_rotation: bool = True
    """Rotate refresh tokens: each refresh answers a new one and kills the old one."""
    refresh_enabled: bool = True
    """``False`` makes every refresh_token grant fail with ``invalid_grant``."""
    code_ttl: int = 60
    """Seconds an authorization code may wait before it is exchanged."""
    cors_origins: tuple[str, ...] = ()
    """Looker's "embedded domain allowlist": exact origins that may call the API with CORS."""
    api_delay: float = 0.0
    """Seconds slept before answering any ``/api/4.0/*`` request (slow-upstream tests)."""
    query_task_seconds: float = 0.0
    """How long an async query task runs before its results are ready (``create_query_task``);
    until then ``query_task`` says ``running`` and ``query_task_results`` answers 202."""
    embed_url_ttl: float = 300.0
    """Seconds an embed URL (``create_embed_url_as_me``) may wait for its one use (Looker: 5
    minutes)."""
    client_apps: tuple[tuple[str, str], ...] = ()
    """OAuth client apps registered at start and after a reset: (client_guid, redirect_uri)."""
    request_log_limit: int = 10_000
    """Most recent API-host requests kept in :attr:`EmulatorState.request_log`."""
