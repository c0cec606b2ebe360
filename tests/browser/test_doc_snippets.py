"""The README's and docs' JavaScript snippets, run in Chromium exactly as printed (issue 14 item 2).

Each snippet goes into a page of an SPA folder of its own, served by ``oauth-bridge demo``'s SPA
server as ``--spa-dir`` does (issue 14 item 3): the demo's strict CSP allows the page's inline
blocks by hash only, so a snippet that runs here also shows that an inline module script works
under the demo. The only change to a snippet is the real bridge's address in place of
``https://bridge.example.com``. What each snippet did is read from the network (the bridge's
answers) and the page, never from the snippet's own variables.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from oauth_bridge.demo import DemoStack
from oauth_bridge.emulator.seed import credentials
from tests.support.doc_snippets import PLACEHOLDER_BRIDGE, REPO, snippet
from tests.support.looker_pages import fill_looker_sign_in
from tests.support.redis_fixtures import free_port

pytestmark = pytest.mark.browser

OwnSpa = Callable[..., DemoStack]


def page_html(module: str, *, head: str = "", body: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Own SPA</title>'
        '<link rel="icon" href="data:,">'
        f'{head}</head><body><h1>Own SPA</h1>{body}<script type="module">{module}</script>'
        "</body></html>"
    )


@pytest.fixture
def own_spa(demo_factory: Callable[..., DemoStack], tmp_path: Path) -> OwnSpa:
    """The demo stack serving a folder of ``pages`` (and a copy of ``static/vendor``), with the
    bridge's real address in place of the docs' placeholder, as a reader would put it."""

    def make(pages: dict[str, str], **overrides: Any) -> DemoStack:
        bridge_port = free_port()
        bridge_url = f"http://localhost:{bridge_port}"
        folder = tmp_path / f"spa-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(REPO / "static" / "vendor", folder / "vendor")
        (folder / "index.html").write_text(page_html(""), encoding="utf-8")
        for name, html in pages.items():
            (folder / name).write_text(html.replace(PLACEHOLDER_BRIDGE, bridge_url), "utf-8")
        demo = demo_factory(static_dir=folder, bridge_port=bridge_port, **overrides)
        assert demo.bridge_url == bridge_url
        return demo

    return make


class Watch:
    """The bridge's answers to one page, and the page's console errors and uncaught errors."""

    def __init__(self, page: Page, bridge_url: str) -> None:
        self.answers: list[Response] = []
        self.errors: list[str] = []
        page.on(
            "response", lambda r: self.answers.append(r) if r.url.startswith(bridge_url) else None
        )
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page = page

    def answer(self, method: str, path: str, timeout: float = 15.0) -> Response:
        """The bridge's answer to ``method path`` (its query unquoted), waiting for it to come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for response in self.answers:
                parts = urlsplit(response.url)
                target = parts.path + (f"?{unquote(parts.query)}" if parts.query else "")
                if response.request.method == method and target == path:
                    return response
            self.page.wait_for_timeout(50)  # lets Playwright deliver the page's events
        seen = [f"{r.request.method} {r.url} {r.status}" for r in self.answers]
        raise AssertionError(f"no answer to {method} {path}; saw {seen}")


def sign_in_at_looker(page: Page, demo: DemoStack, who: str, lands_on: str) -> None:
    back = page.locator("h1", has_text="Own SPA")
    fill_looker_sign_in(page, demo.looker_url, *credentials(who), back, lands_on)


def sign_in(page: Page, demo: DemoStack, lands_on: str, who: str = "analyst") -> None:
    page.goto(f"{demo.bridge_url}/auth/login?{urlencode({'return_to': lands_on})}")
    sign_in_at_looker(page, demo, who, lands_on)


def test_the_readme_wiring_snippet_runs_as_printed(own_spa: OwnSpa, new_page: Page) -> None:
    demo = own_spa(
        {"readme.html": page_html(snippet("README.md", "const looks = await fetch").text)}
    )
    lands_on = demo.spa_url + "readme.html"
    watch = Watch(new_page, demo.bridge_url)
    sign_in(new_page, demo, lands_on)

    assert watch.answer("GET", "/auth/session").status == 200
    looks = watch.answer("GET", "/api/4.0/looks?fields=id,title")
    assert looks.status == 200
    assert looks.json() and all(set(look) == {"id", "title"} for look in looks.json())
    assert watch.answer("POST", "/auth/logout").status == 204
    assert not [c for c in new_page.context.cookies() if c["name"] == "looker_session"]
    assert watch.errors == []


def test_the_demo_docs_fetch_snippet_runs_as_printed(own_spa: OwnSpa, new_page: Page) -> None:
    """Signed out, it sends the browser to sign in once; signed in, it lists looks, runs one and
    signs out; still signed out after a sign-in, it shows the bridge's reason instead of looping."""
    code = snippet("docs/demo.md", "async function looker")
    demo = own_spa({"fetch.html": page_html(code.text)})
    lands_on = demo.spa_url + "fetch.html"
    page = new_page
    watch = Watch(page, demo.bridge_url)

    page.goto(lands_on)  # no session: the snippet itself goes to sign in
    sign_in_at_looker(page, demo, "analyst", lands_on)
    looks = watch.answer("GET", "/api/4.0/looks?fields=id,title")
    assert looks.status == 200
    first = looks.json()[0]["id"]
    rows = watch.answer("GET", f"/api/4.0/looks/{first}/run/json?limit=100")
    assert rows.status == 200 and isinstance(rows.json(), list) and rows.json()
    assert watch.answer("POST", "/auth/logout").status == 204
    assert page.evaluate("sessionStorage.getItem('bridge-sign-in')") is None
    assert watch.errors == [
        "Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"
    ]

    # As if the cookie could not come back (another site): the flag is set, no session.
    watch.errors.clear()
    page.evaluate("sessionStorage.setItem('bridge-sign-in', '1')")
    page.reload()
    expect(page.locator("h1", has_text="Own SPA")).to_be_visible()
    page.wait_for_timeout(500)
    assert page.url == lands_on  # no second trip to Looker
    assert any(e.startswith("uncaught: ") and "Sign in" in e for e in watch.errors), watch.errors


IMPORT_MAP = (
    '<script type="importmap">{"imports": {'
    '"@looker/sdk": "/vendor/looker-bridge-sdk.js", '
    '"@looker/sdk-rtl": "/vendor/looker-bridge-sdk.js"}}</script>'
)
"""What a bundler does for the snippet's bare imports: both packages are in the SDK bundle."""


def test_the_demo_docs_sdk_session_runs_as_printed(own_spa: OwnSpa, new_page: Page) -> None:
    code = snippet("docs/demo.md", "class BridgeSession extends AuthSession")
    demo = own_spa({"sdk.html": page_html(code.text, head=IMPORT_MAP)})
    lands_on = demo.spa_url + "sdk.html"
    watch = Watch(new_page, demo.bridge_url)
    sign_in(new_page, demo, lands_on)

    me = watch.answer("GET", "/api/4.0/user")
    assert me.status == 200 and me.json()["email"] == credentials("analyst")[0]
    assert me.request.headers.get("x-looker-appid")  # the SDK's transport sends it
    looks = watch.answer("GET", "/api/4.0/looks?fields=id,title")
    assert looks.status == 200
    assert looks.json() and all(set(look) == {"id", "title"} for look in looks.json())
    assert watch.errors == []


def test_the_plain_fetch_snippet_runs_as_printed(own_spa: OwnSpa, new_page: Page) -> None:
    code = snippet("docs/proxy.md", "const response = await fetch")
    demo = own_spa({"plain.html": page_html(code.text)})
    lands_on = demo.spa_url + "plain.html"
    watch = Watch(new_page, demo.bridge_url)
    sign_in(new_page, demo, lands_on)
    me = watch.answer("GET", "/api/4.0/user")
    assert me.status == 200 and me.json()["email"] == credentials("analyst")[0]
    assert watch.errors == []


EMBEDDING_PAGE_GLOBALS = """
const button = document.getElementById("sign-in");
function showUser(user) { document.getElementById("out").textContent = `user: ${user.email}`; }
function showHint(message) { document.getElementById("out").textContent = `hint: ${message}`; }
"""
"""What the snippet expects its page to have: a button, and somewhere to show the outcome."""


def test_the_embedding_snippet_signs_in_from_a_frame(own_spa: OwnSpa, new_page: Page) -> None:
    """In the demo's portal (another site framing the page), a click signs in in a popup."""
    code = snippet("docs/embedding.md", "signIn(")
    body = (
        '<button id="sign-in" type="button">Sign in</button><p id="out"></p>'
        f"<script>{EMBEDDING_PAGE_GLOBALS}</script>"
    )
    demo = own_spa({"index.html": page_html(code.text, body=body)}, portal_port=free_port())
    assert demo.portal_url is not None
    page = new_page
    page.goto(demo.portal_url)
    frame = page.frame_locator("#app-frame")
    with page.expect_popup() as opened:
        frame.get_by_role("button", name="Sign in").click()
    popup = opened.value
    email, password = credentials("analyst")
    popup.wait_for_url(f"{demo.looker_url}/login?**")
    popup.get_by_label("Email").fill(email)
    popup.get_by_label("Password").fill(password)
    popup.locator("#login-submit").click()
    approve = popup.locator("#approve-allow")
    deadline = time.monotonic() + 15
    while not popup.is_closed() and time.monotonic() < deadline:
        if approve.is_visible():
            approve.click()
        page.wait_for_timeout(100)
    expect(frame.locator("#out")).to_have_text(f"user: {email}")
