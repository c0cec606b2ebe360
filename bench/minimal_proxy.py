"""Config (b): the floor for "a Python proxy hop" in the bridge's own server stack.

A Flask app served by gunicorn with the bridge's ``gunicorn.conf.py`` (same worker class and
count), forwarding ``/api/4.0/<path>`` to the upstream with one fixed bearer token: no session,
no CSRF or CORS checks, no metrics. It streams the answer like the bridge does (requests with a
pooled keep-alive connection, ``stream=True``), so the bridge's extra cost over this is what its
own logic costs.

Run: ``gunicorn --chdir bench minimal_proxy:app -c ../gunicorn.conf.py`` with
``BENCH_UPSTREAM_URL`` and ``BENCH_TOKEN`` set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import requests
from flask import Flask, Response, request
from requests.adapters import HTTPAdapter

UPSTREAM = os.environ.get("BENCH_UPSTREAM_URL", "http://127.0.0.1:9").rstrip("/")
TOKEN = os.environ.get("BENCH_TOKEN", "bench-token")
PASS_HEADERS = ("content-type", "content-length", "cache-control", "etag", "last-modified")

app = Flask(__name__)
http = requests.Session()
http.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=64))


@app.route("/api/4.0/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def forward(path: str) -> Response:
    """Forward one call with the fixed token and stream the answer back."""
    upstream = http.request(
        request.method,
        f"{UPSTREAM}/api/4.0/{path}",
        params=request.args,
        data=request.get_data() or None,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": request.headers.get("Accept", "application/json"),
        },
        stream=True,
        timeout=(5, 120),
    )

    def body() -> Iterator[bytes]:
        try:
            yield from upstream.raw.stream(64 * 1024, decode_content=False)
        finally:
            upstream.close()

    headers = {k: v for k, v in upstream.headers.items() if k.lower() in PASS_HEADERS}
    return Response(body(), status=upstream.status_code, headers=headers)
