"""Headless Chromium: a page on a second localhost origin uses the bridge; a foreign page cannot.

The allowed page is served from the bridge's ``spa_origin`` (same site as the bridge, another
origin, so the Lax cookie travels and CORS is real). It signs in through the emulator's forms,
then calls the bridge with ``fetch(..., {credentials: "include"})`` and with the official Looker
SDK bundle (``static/vendor/looker-bridge-sdk.js``). A page on an origin the bridge does not
allow, in the same signed-in browser, can read no answer at all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from flask import Flask, Response, send_from_directory
from playwright.sync_api import Page, expect
from werkzeug.serving import BaseWSGIServer, make_server

from oauth_bridge.emulator.seed import credentials
from tests.support.bridge import BridgeServer
from tests.support.doc_snippets import snippet
from tests.support.looker_pages import fill_looker_sign_in
from tests.support.redis_fixtures import free_port

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"
PAGE = (
    "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
)


def page_app(title: str, extra_pages: dict[str, str] | None = None) -> Flask:
    """A tiny SPA host: one HTML page and the SDK bundle (and ``extra_pages``, path -> HTML)."""
    app = Flask(title)
    pages = extra_pages or {}

    @app.route("/")
    def index() -> Response:
        return Response(PAGE.format(title=title), mimetype="text/html")

    @app.route("/page/<name>")
    def extra(name: str) -> Response:
        return Response(pages[name], mimetype="text/html")

    @app.route("/vendor/<path:name>")
    def vendor(name: str) -> Response:
        return send_from_directory(VENDOR, name, mimetype="text/javascript")

    return app


@pytest.fixture
def serve_page() -> Iterator[Callable[..., str]]:
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def serve(title: str, port: int, extra_pages: dict[str, str] | None = None) -> str:
        server = make_server("127.0.0.1", port, page_app(title, extra_pages), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://localhost:{port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def sign_in(page: Page, bridge: BridgeServer, return_to: str, email: str, password: str) -> None:
    page.goto(f"{bridge.url}/auth/login?{urlencode({'return_to': return_to})}")
    back = page.locator("h1", has_text="Allowed SPA")
    fill_looker_sign_in(page, bridge.emulator.ui_url, email, password, back, return_to)


FETCH_JSON = """async ([url, init]) => {
  try {
    const response = await fetch(url, init);
    return {status: response.status, body: await response.text()};
  } catch (error) {
    return {error: String(error)};
  }
}"""

SDK_CALLS = """async ([bundle, bridge]) => {
  const { createBridgeSdk } = await import(bundle);
  const sdk = createBridgeSdk(bridge, { appId: 'cross-origin-test' });
  const me = await sdk.ok(sdk.me());
  const looks = await sdk.ok(sdk.all_looks());
  const look = await sdk.ok(sdk.look('1', 'id,title'));
  const missing = await sdk.look('3');
  return {
    email: me.email,
    looks: looks.map((l) => l.id).sort(),
    look,
    missingOk: missing.ok,
    cookieVisible: document.cookie.includes('looker_session'),
  };
}"""


def test_allowed_origin_signs_in_and_calls_the_bridge_with_fetch_and_the_sdk(
    bridge: BridgeServer, new_page: Page, serve_page: Callable[[str, int], str]
) -> None:
    spa = serve_page("Allowed SPA", int(urlsplit(bridge.spa_origin).port or 0))
    assert spa == bridge.spa_origin
    page = new_page
    sign_in(page, bridge, f"{spa}/", *credentials("viewer"))

    answer: dict[str, Any] = page.evaluate(
        FETCH_JSON,
        [
            f"{bridge.url}/api/4.0/user?fields=email",
            {"credentials": "include", "headers": {"X-Looker-AppId": "cross-origin-test"}},
        ],
    )
    assert answer["status"] == 200, answer
    assert json.loads(answer["body"]) == {"email": "viewer@example.com"}

    refused = page.evaluate(FETCH_JSON, [f"{bridge.url}/api/4.0/user", {"credentials": "include"}])
    assert refused["status"] == 403  # no CSRF header; the SPA can read why
    assert '"csrf_header_missing"' in refused["body"]

    result = page.evaluate(SDK_CALLS, [f"{spa}/vendor/looker-bridge-sdk.js", bridge.url])
    assert result["email"] == "viewer@example.com"
    assert result["looks"] == ["1", "2"]
    assert result["look"] == {"id": "1", "title": "Orders by day"}
    assert result["missingOk"] is False  # look 3 is not the viewer's
    assert result["cookieVisible"] is False  # HttpOnly: no script sees the session

    appids = {r.headers.get("X-Looker-Appid") for r in bridge.emulator.state.request_log}
    assert "cross-origin-test" in appids


def test_a_foreign_origin_reads_nothing_even_in_a_signed_in_browser(
    bridge: BridgeServer, new_page: Page, serve_page: Callable[[str, int], str]
) -> None:
    spa = serve_page("Allowed SPA", int(urlsplit(bridge.spa_origin).port or 0))
    evil = serve_page("Foreign page", free_port())
    page = new_page
    sign_in(page, bridge, f"{spa}/", *credentials("analyst"))
    page.goto(f"{evil}/")
    expect(page.locator("h1")).to_have_text("Foreign page")
    before = bridge.emulator.state.request_count

    attempts: list[tuple[str, dict[str, Any]]] = [
        (f"{bridge.url}/api/4.0/user", {"credentials": "include"}),
        (
            f"{bridge.url}/api/4.0/user",
            {"credentials": "include", "headers": {"X-Looker-AppId": "evil"}},
        ),
        (
            f"{bridge.url}/api/4.0/looks/1",
            {
                "method": "PATCH",
                "credentials": "include",
                "headers": {"Content-Type": "text/plain"},
                "body": '{"title": "pwned"}',
            },
        ),
        (f"{bridge.url}/auth/session", {"credentials": "include"}),
        (f"{bridge.url}/api/4.0/user", {"credentials": "include", "mode": "no-cors"}),
    ]
    for url, init in attempts:
        outcome = page.evaluate(FETCH_JSON, [url, init])
        if init.get("mode") == "no-cors":
            assert outcome == {"status": 0, "body": ""}  # opaque: nothing readable
        else:
            assert "error" in outcome, outcome  # CORS blocks the answer
    sdk = page.evaluate(
        """async ([bundle, bridge]) => {
          const { createBridgeSdk } = await import(bundle);
          const sdk = createBridgeSdk(bridge);
          try { await sdk.ok(sdk.me()); return 'read'; } catch (e) { return 'blocked'; }
        }""",
        [f"{evil}/vendor/looker-bridge-sdk.js", bridge.url],
    )
    assert sdk == "blocked"
    assert bridge.emulator.state.request_count == before  # Looker heard none of it


def test_the_sdk_example_of_the_docs_runs_as_printed(
    bridge: BridgeServer, new_page: Page, serve_page: Callable[..., str]
) -> None:
    """docs/proxy.md's snippet, with only the bridge's address put in, asks Looker for the
    fields it names and gets them (an options object there once sent fields={...})."""
    example = snippet("docs/proxy.md", "createBridgeSdk").with_bridge(bridge.url)
    spa = serve_page(
        "Allowed SPA",
        int(urlsplit(bridge.spa_origin).port or 0),
        {"example": f"<!doctype html><html><body>{example}</body></html>"},
    )
    page = new_page
    sign_in(page, bridge, f"{spa}/", *credentials("analyst"))
    with page.expect_response(lambda r: "/api/4.0/looks" in r.url) as looks_answer:
        page.goto(f"{spa}/page/example")
    response = looks_answer.value
    assert response.status == 200
    assert urlsplit(response.url).query == "fields=id%2Ctitle"
    looks = response.json()
    assert looks and all(set(look) == {"id", "title"} and look["title"] for look in looks)
    assert page.url == f"{spa}/page/example"  # no 401, so the snippet did not redirect


def test_a_cross_site_spa_is_told_why_it_stays_signed_out(
    bridge_factory: Callable[..., BridgeServer],
    new_page: Page,
    serve_page: Callable[..., str],
) -> None:
    """An SPA on 127.0.0.1 with the bridge on localhost: the Lax cookie never travels on its
    fetch; the 401 says so instead of inviting another sign-in (issue 14: 22 sign-ins in 5 s)."""
    port = free_port()
    bridge = bridge_factory(spa_origin=f"http://127.0.0.1:{port}")
    spa = serve_page("Cross-site SPA", port).replace("localhost", "127.0.0.1")
    page = new_page
    sign_in(page, bridge, f"{spa}/", *credentials("viewer"))  # a session exists for localhost
    answer = page.evaluate(FETCH_JSON, [f"{bridge.url}/auth/session", {"credentials": "include"}])
    assert answer["status"] == 401, answer
    body = json.loads(answer["body"])
    assert body["error"] == "not_authenticated"
    assert "another site" in body["message"] and "same site" in body["message"]

    # The same-site SPA of the default bridge gets the plain message, not this hint.
    same = bridge_factory()
    plain = requests.get(
        f"{same.url}/auth/session", headers={"Sec-Fetch-Site": "same-site"}, timeout=10
    )
    assert plain.status_code == 401 and "another site" not in plain.json()["message"]
