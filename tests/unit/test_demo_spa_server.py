"""The demo's small SPA server on Flask's test client (no server, no Redis).

The bridge URL it hands the SPA, its strict CSP, and that it serves nothing outside ``static/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oauth_bridge.demo import create_spa_app, find_static_dir

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
    assert "connect-src http://localhost:18080" in csp
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
