"""The demo's small SPA server on Flask's test client (no server, no Redis).

The bridge URL it hands the SPA, its strict CSP (with hashes for a folder's inline blocks), and
that it serves nothing outside its folder. That Chromium runs what the hashes allow is checked in
``tests/browser/test_doc_snippets.py``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from oauth_bridge.demo import find_static_dir
from oauth_bridge.demo_web import create_spa_app

REPO = Path(__file__).resolve().parents[2]


def test_spa_server_names_the_bridge_and_sends_a_strict_csp() -> None:
    app = create_spa_app(find_static_dir(), "http://localhost:18080")
    client = app.test_client()

    config = client.get("/config.js")
    assert config.status_code == 200
    assert config.mimetype == "text/javascript"
    assert 'export const BRIDGE_URL = "http://localhost:18080";' in config.get_data(as_text=True)

    index = client.get("/")
    assert index.status_code == 200
    csp = index.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self' http://localhost:18080;" in csp
    html = index.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts and all(body.strip() == "" for body in scripts)  # no inline code
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html)  # no inline event handlers

    for path in ("/app.js", "/styles.css"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        answer.close()
    index.close()

    for path in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/..%2fpyproject.toml"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        answer.close()


def test_static_dir_is_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_static_dir() == REPO / "static"


INLINE_SCRIPT = (
    "\n  import { createBridgeSdk } from '/vendor/looker-bridge-sdk.js'\n  window.ok = 1\n"
)
INLINE_STYLE = "\nbody { color: #123; }\n"


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_an_own_folder_gets_its_inline_blocks_allowed_by_hash_and_nothing_else(
    tmp_path: Path,
) -> None:
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><head>"
        f"<style>{INLINE_STYLE}</style>"
        '<script type="module" src="app.js"></script>'
        f'<script type="module">{INLINE_SCRIPT}</script>'
        "</head><body></body></html>"
    )
    (tmp_path / "other.html").write_text("<p>no scripts</p>")
    (tmp_path / "config.js").write_text("export const BRIDGE_URL = 'elsewhere';")
    client = create_spa_app(tmp_path, "http://localhost:18080").test_client()

    csp = client.get("/").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == f"'self' {sha256_source(INLINE_SCRIPT)}"
    assert directives["style-src"] == f"'self' {sha256_source(INLINE_STYLE)}"
    assert "'unsafe-inline'" not in csp

    other = client.get("/other.html")
    assert other.status_code == 200
    assert "script-src 'self';" in other.headers["Content-Security-Policy"]
    # /config.js is always the demo's: it names the bridge the demo started.
    assert "localhost:18080" in client.get("/config.js").get_data(as_text=True)
    assert client.get("/../index.html").status_code == 404
    assert client.get("/missing.html").status_code == 404
