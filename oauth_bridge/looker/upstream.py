"""One Looker API host as the proxy sees it: a keep-alive connection pool and the request target.

Build one :class:`LookerApi` per Looker API host when the app is made (``create_app`` does) and
send every proxied call through :meth:`LookerApi.urlopen`; :meth:`LookerApi.close` drops its idle
connections. A second Looker instance is a second ``LookerApi``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.util import Timeout, parse_url

from oauth_bridge.config import Settings

API_PREFIX = "/api/4.0/"


@dataclass(frozen=True)
class Target:
    """A checked upstream request line: path below ``/api/4.0/`` and raw query string."""

    path: str
    query: str

    def url(self, api_url: str) -> str:
        """The full URL on the API host at ``api_url``."""
        url = f"{api_url}{API_PREFIX}{self.path}"
        return f"{url}?{self.query}" if self.query else url

    def request_target(self, base_path: str) -> str:
        """The request line's target on the API host, below its ``base_path``."""
        target = f"{base_path}{API_PREFIX}{self.path}"
        return f"{target}?{self.query}" if self.query else target


class LookerApi:
    """A Looker API host's connection pool, and the cheapest exact way to send to it.

    Sending through the host's connection pool with a request target skips what
    ``PoolManager.urlopen`` redoes on every call (parse the whole URL, build and look up the pool
    key). The target is the one ``PoolManager`` would send, because the checked path and query
    hold no dot segments and the same urllib3 code percent-encodes them; an API URL whose path
    urllib3 would rewrite (dot segments) keeps the ``PoolManager`` way (``pool`` is None).
    Thread-safe: urllib3's pools are.
    """

    def __init__(
        self,
        api_url: str,
        *,
        pool_size: int,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self.api_url = api_url
        self.manager = urllib3.PoolManager(
            num_pools=4,
            maxsize=pool_size,
            block=False,
            timeout=Timeout(connect=connect_timeout, read=read_timeout),
            retries=False,
        )
        base_path = parse_url(api_url).path or ""
        probe = Target(path="user", query="fields=id")
        self.pool: urllib3.HTTPConnectionPool | None = None
        self.base_path = ""
        if parse_url(probe.url(api_url)).request_uri == probe.request_target(base_path):
            self.pool = self.manager.connection_from_url(api_url)
            self.base_path = base_path

    @classmethod
    def from_settings(cls, settings: Settings) -> LookerApi:
        """The configured API host (``OAUTH_BRIDGE_LOOKER_API_URL``) with its pool settings."""
        return cls(
            settings.looker_api_url,
            pool_size=settings.upstream_pool_size,
            connect_timeout=settings.upstream_connect_timeout,
            read_timeout=settings.upstream_read_timeout,
        )

    def urlopen(self, method: str, target: Target, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        """Send ``method target`` to the API host; ``kwargs`` as for urllib3's ``urlopen``."""
        if self.pool is None:
            return self.manager.urlopen(method, target.url(self.api_url), **kwargs)
        return self.pool.urlopen(
            method,
            target.request_target(self.base_path),
            assert_same_host=False,  # as PoolManager.urlopen passes it
            **kwargs,
        )

    def close(self) -> None:
        """Close the idle keep-alive connections; for when the app stops serving (idempotent)."""
        self.manager.clear()
