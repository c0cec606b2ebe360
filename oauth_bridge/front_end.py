"""What the bridge believes about the request's front-end headers (Host, SCRIPT_NAME), and the
``no-store`` rule for sign-in answers.

Use :func:`init_front_end` once per app, before the blueprints: its checks then run before every
other ``before_request`` hook, and its ``after_request`` hook after flask-cors's. The Host is
compared with ``TRUSTED_HOSTS`` (Werkzeug's ``host_is_trusted``) on every route except the probes
and ``/metrics``, which platforms reach by IP address. A client's ``SCRIPT_NAME`` header would
move the app under a prefix (``/auth/metrics`` serving ``/metrics``); clients have no business
choosing the mount point, so a non-empty one is refused.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.datastructures import HeaderSet
from werkzeug.http import parse_set_header
from werkzeug.sansio.utils import host_is_trusted
from werkzeug.wrappers import Response as BaseResponse

from oauth_bridge.config import Settings
from oauth_bridge.errors import BadRequest

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Reached by platforms at the instance's address, whatever the public host name is."""
AUTH_PREFIX = "/auth/"


class UntrustedHost(BadRequest):
    code = "untrusted_host"
    default_message = "This host name is not served by this bridge."


class ScriptNameRefused(BadRequest):
    code = "script_name_not_allowed"
    default_message = "The SCRIPT_NAME header is not accepted; the bridge is served at the root."


def check_front_end_headers(settings: Settings) -> None:
    """Refuse a client ``SCRIPT_NAME`` and, when ``TRUSTED_HOSTS`` is set, any other host."""
    environ = request.environ
    # gunicorn copies a (trusted peer's) SCRIPT_NAME header to HTTP_SCRIPT_NAME as well; a
    # SCRIPT_NAME the operator gave gunicorn's environment has no such twin and is left alone.
    if environ.get("HTTP_SCRIPT_NAME"):
        raise ScriptNameRefused()
    if settings.trusted_hosts and request.path not in PROBE_PATHS:
        # request.host is X-Forwarded-Host when ProxyFix trusts the hop that set it.
        if not host_is_trusted(request.host, settings.trusted_hosts):
            raise UntrustedHost()


def merge_vary(response: BaseResponse) -> None:
    """One ``Vary`` line, each field once (flask-cors adds ``Origin`` as a line of its own)."""
    lines = response.headers.getlist("Vary")
    if len(lines) < 2:
        return
    merged = HeaderSet()
    for line in lines:
        merged.update(parse_set_header(line))
    response.headers["Vary"] = "*" if "*" in merged else merged.to_header()


def init_front_end(app: Flask, settings: Settings) -> None:
    """Install the header checks and the ``/auth/*`` no-store rule on ``app``."""

    @app.before_request
    def _check() -> None:
        check_front_end_headers(settings)

    @app.after_request
    def _finish(response: BaseResponse) -> BaseResponse:
        # Every sign-in answer: errors, 404/405 and 429 too, not only the blueprint's own views.
        if request.path.startswith(AUTH_PREFIX) or request.path == "/auth":
            response.headers["Cache-Control"] = "no-store"
        merge_vary(response)
        return response
