"""Config (b): the floor for "a Python proxy hop" in the bridge's own server stack.

A Flask app served by gunicorn with the bridge's ``gunicorn.conf.py`` (same worker class and
count), forwarding ``/api/4.0/<path>`` to the upstream with one fixed bearer token: no session,
no CSRF or CORS checks, no metrics or logging. It forwards the way ``oauth_bridge/proxy.py`` does
(a urllib3 ``PoolManager`` with keep-alive, ``preload_content=False``, 64 KiB chunks), so the
bridge's extra cost over this is the cost of its own logic.

Run: ``gunicorn --chdir bench minimal_proxy:app -c ../gunicorn.conf.py`` with
``BENCH_UPSTREAM_URL`` and ``BENCH_TOKEN`` set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import urllib3
from flask import Flask, Response, request
from urllib3.util import Timeout

UPSTREAM = os.environ.get("BENCH_UPSTREAM_URL", "http://127.0.0.1:9").rstrip("/")
TOKEN = os.environ.get("BENCH_TOKEN", "bench-token")
PASS_HEADERS = ("content-type", "content-length", "cache-control", "etag", "last-modified")

app = Flask(__name__)
# The bridge's defaults: UPSTREAM_POOL_SIZE=32, connect 5 s, read 120 s, no retries.
pool = urllib3.PoolManager(
    num_pools=4, maxsize=32, block=False, timeout=Timeout(connect=5, read=120), retries=False
)


@app.route("/api/4.0/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def forward(path: str) -> Response:
    """Forward one call with the fixed token and stream the answer back."""
    query = request.environ.get("QUERY_STRING", "")
    url = f"{UPSTREAM}/api/4.0/{path}" + (f"?{query}" if query else "")
    upstream = pool.urlopen(
        request.method,
        url,
        body=request.get_data() or None,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": request.headers.get("Accept", "application/json"),
        },
        preload_content=False,
        decode_content=False,
        redirect=False,
    )

    def body() -> Iterator[bytes]:
        try:
            yield from upstream.stream(64 * 1024, decode_content=False)
        finally:
            upstream.release_conn()

    headers = [(k, v) for k, v in upstream.headers.items() if k.lower() in PASS_HEADERS]
    return Response(body(), status=upstream.status, headers=headers, direct_passthrough=True)
