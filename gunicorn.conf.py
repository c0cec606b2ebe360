"""gunicorn settings for the bridge: ``gunicorn app:app -c gunicorn.conf.py`` (the Procfile's line).

The worker class is gevent because the bridge spends its time waiting on Looker: with gevent one
worker holds hundreds of slow upstream calls at once, while gthread is capped at workers x threads
(see docs/performance.md for the benchmark figures behind this choice). Every value can be
overridden by the environment (``PORT``, ``WEB_CONCURRENCY``, ``GUNICORN_WORKER_CLASS``, ...) or on
the command line, which wins over this file.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import sys
from typing import Any


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _worker_class() -> str:
    chosen = os.environ.get("GUNICORN_WORKER_CLASS", "").strip()
    if chosen:
        return chosen
    if importlib.util.find_spec("gevent") is None:
        print(
            "gunicorn.conf.py: gevent is not installed; falling back to gthread workers "
            "(fewer concurrent slow requests, see docs/performance.md)",
            file=sys.stderr,
        )
        return "gthread"
    return "gevent"


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", 2)
worker_class = _worker_class()
# gevent: simultaneous connections per worker; gthread: the threads below do the work.
# Anonymous requests are answered before their body is read and then closed, and signed-in
# bodies are bounded by OAUTH_BRIDGE_MAX_BODY_UPLOADS and BODY_READ_TIMEOUT, so slow clients
# cannot hold these for long (docs/security.md, "Request bodies and slow clients").
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
threads = _int("GUNICORN_THREADS", 32)
# Looker calls may take up to the bridge's upstream read timeout (120 s by default).
timeout = _int("GUNICORN_TIMEOUT", 150)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Also the deadline for a request's headers in gevent workers (slow-header clients end here).
keepalive = _int("GUNICORN_KEEPALIVE", 5)
backlog = _int("GUNICORN_BACKLOG", 2048)
# The access log would add a line per proxied call; the bridge logs what matters itself.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Requests and headers come from browsers: keep gunicorn's limits.
limit_request_line = 8190
limit_request_fields = 100

# Front-end headers (X-Forwarded-Proto and friends, a SCRIPT_NAME header) are believed only from
# these peers; gunicorn's own default trusts 127.0.0.1 and ::1, i.e. any client of a proxy on the
# same host. Default: trust none (the bridge's PROXY_FIX_HOPS handles X-Forwarded-*). List a
# front end's addresses or networks to trust it: GUNICORN_FORWARDED_ALLOW_IPS=10.0.0.0/8.
forwarded_allow_ips = (
    os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS") or os.environ.get("FORWARDED_ALLOW_IPS") or ""
)


def pre_request(worker: Any, req: Any) -> None:
    """Join repeated ``Cookie`` lines with ``; `` (RFC 9113 8.2.3), before gunicorn joins every
    repeated header with ``,``, which cookie parsers read as part of the previous cookie's value
    (an HTTP/2 front end may pass a browser's cookie crumbs on as separate lines)."""
    worker.log.debug("%s %s", req.method, req.path)
    cookies = [value for name, value in req.headers if name == "COOKIE"]
    if len(cookies) > 1:
        others = [(name, value) for name, value in req.headers if name != "COOKIE"]
        req.headers = [*others, ("COOKIE", "; ".join(cookies))]


def _raise_open_file_limit(connections: int) -> None:
    """Each connection may hold two descriptors (browser, Looker) plus Redis and log files;
    a worker that runs out cannot even accept /healthz, so raise the soft limit to what
    ``worker_connections`` needs (up to the hard limit) and say so when even that is short."""
    needed = 2 * connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        print(
            f"gunicorn.conf.py: the open-file limit ({soft}) is below the {needed} that "
            f"worker_connections={connections} needs; lower GUNICORN_WORKER_CONNECTIONS or "
            "raise the limit (ulimit -n)",
            file=sys.stderr,
        )


_raise_open_file_limit(worker_connections)


def _check_bridge_settings() -> None:
    """Bad ``OAUTH_BRIDGE_*`` settings stop gunicorn here, in the master and before it listens:
    one line, exit code 1. Left to the workers, each would print a traceback and gunicorn would
    exit 3 after ``Listening at``. Checks that need Redis still happen in the workers."""
    from oauth_bridge.config import load_settings
    from oauth_bridge.errors import ConfigError

    try:
        load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


# gunicorn reading this file (not a tool reading its values); GUNICORN_CHECK_BRIDGE_SETTINGS=false
# when this file serves another app (the benchmark's bare proxy).
if __name__ == "__config__" and os.environ.get("GUNICORN_CHECK_BRIDGE_SETTINGS") != "false":
    _check_bridge_settings()
