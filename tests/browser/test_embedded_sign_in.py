"""An SPA framed by a portal on another site signs in through the popup flow, in real Chromium.

The demo stack with its portal page: the portal on ``http://127.0.0.1:<port>`` frames the SPA
from ``http://localhost:<port>``, and the bridge beside the SPA on ``localhost`` runs with
``COOKIE_SAMESITE=None`` (so ``Partitioned``). ``localhost`` and ``127.0.0.1`` are different
sites to the browser, so the frame is a third party and its cookies live in the portal's
partition. Each test runs with third-party cookies blocked and allowed (a profile preference),
since the flow must not depend on that setting.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, Response
from playwright.sync_api import Frame, Page, expect
from werkzeug.serving import make_server

from oauth_bridge.demo import DemoStack
from oauth_bridge.emulator.seed import credentials
from oauth_bridge.popup_login import challenge_of
from oauth_bridge.services import get_services
from tests.support.redis_fixtures import free_port

pytestmark = pytest.mark.browser

COOKIE_MODES = ["blocked", "allowed"]

FETCH_STATUS = """async ([url, headers]) => {
  try {
    const response = await fetch(url, { credentials: "include", headers, cache: "no-store" });
    return [response.status, await response.text()];
  } catch (error) {
    return [0, String(error)];
  }
}"""

REDEEM = """async ([bridge, code, verifier]) => {
  try {
    const response = await fetch(`${bridge}/auth/popup/redeem`, {
      method: "POST", credentials: "include", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-Looker-AppId": "attacker" },
      body: JSON.stringify({ code, verifier }),
    });
    return [response.status, await response.text()];
  } catch (error) {
    return [0, String(error)];
  }
}"""


@pytest.fixture
def portal_demo(demo_factory: Callable[..., DemoStack]) -> DemoStack:
    return demo_factory(portal_port=free_port())


def open_portal(demo: DemoStack, context: Any) -> Page:
    """The demo's portal page (another site framing the app) in a new page of ``context``."""
    assert demo.portal_url is not None
    page: Page = context.new_page()
    page.goto(demo.portal_url)
    return page


def app_frame(page: Page, demo: DemoStack) -> Frame:
    frame = page.frame(url=re.compile("^" + re.escape(demo.spa_url)))
    assert frame is not None, [f.url for f in page.frames]
    return frame


def sign_in_in_popup(page: Page, demo: DemoStack, who: str = "analyst") -> Page:
    """Press Sign in inside the framed app and sign in at Looker in the popup it opens."""
    email, password = credentials(who)
    frame = page.frame_locator("#app-frame")
    expect(frame.get_by_role("heading", name=re.compile("Welcome|signed out"))).to_be_visible()
    with page.expect_popup() as opened:
        frame.get_by_role("link", name="Sign in with Looker").click()
    popup = opened.value
    popup.wait_for_url(f"{demo.looker_url}/**")
    popup.get_by_label("Email").fill(email)
    popup.get_by_label("Password").fill(password)
    popup.locator("#login-submit").click()
    # Looker asks once per user and app ("activation"); an approved app goes straight back.
    approve = popup.locator("#approve-allow")
    for _ in range(100):
        if popup.is_closed():
            break
        if approve.is_visible():
            approve.click()
            break
        page.wait_for_timeout(100)
    expect(frame.locator("#user-email")).to_have_text(email)
    return popup


def fetch_status(frame: Frame | Page, url: str, csrf: bool = False) -> tuple[int, str]:
    headers = {"X-Looker-AppId": "oauth-bridge-demo"} if csrf else {}
    status, text = frame.evaluate(FETCH_STATUS, [url, headers])
    return int(status), str(text)


@pytest.mark.parametrize("cookies", COOKIE_MODES)
def test_the_framed_app_signs_in_through_a_popup_and_keeps_its_session(
    portal_demo: DemoStack, profile_context: Callable[[str], Any], cookies: str
) -> None:
    demo = portal_demo
    assert demo.portal_url is not None
    context = profile_context(cookies)
    page = context.new_page()
    page.goto(demo.portal_url)
    popup = sign_in_in_popup(page, demo)
    page.wait_for_timeout(300)
    assert popup.is_closed()  # the popup's page closes itself once it has posted the code

    frame = app_frame(page, demo)
    status, body = fetch_status(frame, f"{demo.bridge_url}/auth/session")
    assert status == 200 and '"authenticated":true' in body.replace(" ", "")
    status, body = fetch_status(frame, f"{demo.bridge_url}/api/4.0/user", csrf=True)
    assert status == 200 and credentials("analyst")[0] in body
    # The app's own content loaded through the bridge, inside the frame.
    expect(page.frame_locator("#app-frame").locator("#looks-count")).not_to_have_text("")

    # The cookie is the frame's, in the portal's partition: the same app at the top level
    # (the bridge's own partition) is not signed in.
    cookie = next(c for c in context.cookies() if c["name"] == "__Host-looker_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "None"
    top = context.new_page()
    top.goto(demo.spa_url)
    expect(top.get_by_role("heading", name="Welcome")).to_be_visible()
    top.close()

    page.reload()
    expect(page.frame_locator("#app-frame").locator("#user-email")).to_have_text(
        credentials("analyst")[0]
    )

    page.frame_locator("#app-frame").get_by_role("button", name="Sign out").click()
    expect(
        page.frame_locator("#app-frame").get_by_role("heading", name="You are signed out")
    ).to_be_visible()
    status, _ = fetch_status(app_frame(page, demo), f"{demo.bridge_url}/auth/session")
    assert status == 401
    assert get_services(demo.bridge_app).store.count_sessions()[0] == 0


@pytest.mark.parametrize("cookies", COOKIE_MODES)
def test_the_portal_itself_gains_no_api_access(
    portal_demo: DemoStack, profile_context: Callable[[str], Any], cookies: str
) -> None:
    demo = portal_demo
    page = open_portal(demo, profile_context(cookies))
    sign_in_in_popup(page, demo)
    # The portal's page (top level, same partition as the frame's cookie) cannot read anything.
    for url, csrf in [
        (f"{demo.bridge_url}/api/4.0/user", True),
        (f"{demo.bridge_url}/api/4.0/user", False),
        (f"{demo.bridge_url}/auth/session", False),
    ]:
        status, text = fetch_status(page, url, csrf)
        assert status == 0, (url, status, text)  # CORS: the answer never reaches the portal
    # A forged sign-out from the portal does not end the frame's session.
    page.evaluate(
        """(bridge) => fetch(`${bridge}/auth/logout`, {method: "POST", mode: "no-cors",
             credentials: "include"}).catch(() => null)""",
        demo.bridge_url,
    )
    status, _ = fetch_status(app_frame(page, demo), f"{demo.bridge_url}/auth/session")
    assert status == 200


@pytest.mark.parametrize("cookies", COOKIE_MODES)
def test_a_captured_code_is_useless_after_the_frame_redeemed_it(
    portal_demo: DemoStack, profile_context: Callable[[str], Any], cookies: str
) -> None:
    demo = portal_demo
    page = open_portal(demo, profile_context(cookies))
    frame = app_frame(page, demo)
    # Whatever the popup posts to the frame, a script in the frame could capture too.
    frame.evaluate(
        """() => window.addEventListener("message", (event) => {
             if (event.data && event.data.code) window.capturedCode = event.data.code;
           })"""
    )
    sign_in_in_popup(page, demo)
    code = app_frame(page, demo).evaluate("() => window.capturedCode")
    assert isinstance(code, str) and code.startswith("v1.")
    status, body = app_frame(page, demo).evaluate(REDEEM, [demo.bridge_url, code, "x" * 43])
    assert status == 400 and "invalid_sign_in_code" in body
    # From the portal's origin the redemption cannot even be read (and is refused).
    status, _ = page.evaluate(REDEEM, [demo.bridge_url, code, "x" * 43])
    assert status == 0
    assert get_services(demo.bridge_app).store.count_sessions()[0] == 1


@pytest.fixture
def hostile_site() -> Iterator[str]:
    """A page on a third site that opens the bridge's popup itself and listens for messages."""
    app = Flask("hostile")

    @app.get("/")
    def index() -> Response:
        return Response(
            "<!doctype html><title>hostile</title><h1>hostile</h1><script>"
            "window.received = [];"
            "window.addEventListener('message', (e) => window.received.push("
            "[e.origin, JSON.stringify(e.data)]));"
            "</script>",
            mimetype="text/html",
        )

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # 127.0.0.1 is the demo portal's site too, but another origin: neither is the SPA's.
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.mark.parametrize("cookies", COOKIE_MODES)
def test_a_hostile_opener_receives_nothing(
    portal_demo: DemoStack,
    profile_context: Callable[[str], Any],
    hostile_site: str,
    cookies: str,
) -> None:
    demo = portal_demo
    page = profile_context(cookies).new_page()
    page.goto(hostile_site)
    codes_before = demo.emulator.state.token_requests["authorization_code"]
    # It names the real app's origin (its own is not allowed) with a challenge of its own.
    url = (
        f"{demo.bridge_url}/auth/popup/login?origin={demo.spa_origin}"
        f"&challenge={challenge_of('h' * 43)}"
    )
    with page.expect_popup() as opened:
        page.evaluate("(url) => { window.popup = window.open(url, 'x', 'popup') }", url)
    popup = opened.value
    popup.wait_for_url(f"{demo.looker_url}/**")
    email, password = credentials("viewer")
    popup.get_by_label("Email").fill(email)
    popup.get_by_label("Password").fill(password)
    with popup.expect_event("close", timeout=10_000):
        popup.locator("#login-submit").click()
        approve = popup.locator("#approve-allow")
        approve.wait_for(timeout=5000)
        approve.click()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.received") == []
    # And nothing was traded at Looker nor stored at the bridge.
    assert demo.emulator.state.token_requests["authorization_code"] == codes_before
    assert get_services(demo.bridge_app).store.count_sessions()[0] == 0

    # Naming its own origin instead: the popup refuses to start.
    own = f"{demo.bridge_url}/auth/popup/login?origin={hostile_site}&challenge={'a' * 43}"
    answer = page.request.get(own, max_redirects=0)
    assert answer.status == 403


def test_a_blocked_popup_gives_a_clear_next_step(
    portal_demo: DemoStack, profile_context: Callable[[str], Any]
) -> None:
    demo = portal_demo
    assert demo.portal_url is not None
    context = profile_context("blocked")
    page = context.new_page()
    page.goto(demo.portal_url)
    frame = page.frame_locator("#app-frame")
    expect(frame.get_by_role("heading", name="Welcome")).to_be_visible()
    # A popup blocker makes window.open return null (HTML's "open" steps); stand in for the
    # user's blocker setting, which Playwright's Chromium cannot be given per site.
    app_frame(page, demo).evaluate("() => { window.open = () => null }")
    frame.get_by_role("link", name="Sign in with Looker").click()
    expect(frame.locator("#error")).to_contain_text("blocked the sign-in window")
    expect(frame.locator("#own-tab-link")).to_be_visible()
    assert frame.locator("#own-tab-link").get_attribute("href") == demo.spa_url
    assert [p.url for p in context.pages if p.url != "about:blank"] == [demo.portal_url]
