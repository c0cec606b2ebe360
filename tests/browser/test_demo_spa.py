"""The demo SPA in headless Chromium, against the demo stack (emulator + bridge + SPA server).

The SPA is served from ``http://localhost:<spa port>`` and calls the bridge on
``http://localhost:<bridge port>``: a different origin, so every call is a real credentialed CORS
request. Sessions live in the Redis at 127.0.0.1:6379 under this test's key prefix.

Console errors are collected on every page. The only ones allowed are Chromium's own network lines
for the 401 answers the contract prescribes (``GET /auth/session`` before sign-in, an ``/api/`` call
after the session ended): the browser logs every 4xx fetch that way, whatever the page does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import ConsoleMessage, Page, Response, expect
from playwright.sync_api import Error as PlaywrightError

from oauth_bridge.demo import DemoStack
from oauth_bridge.emulator.seed import DEVELOPER, VIEWER, credentials, seed_content
from oauth_bridge.services import get_services
from tests.support.looker_pages import fill_looker_sign_in

pytestmark = pytest.mark.browser

APP_ID = {"X-Looker-AppId": "oauth-bridge-test"}


class ConsoleWatch:
    """Collects console messages and uncaught page errors of one page."""

    def __init__(self, page: Page, bridge_url: str) -> None:
        self.bridge_url = bridge_url
        self.messages: list[ConsoleMessage] = []
        self.page_errors: list[str] = []
        page.on("console", lambda message: self.messages.append(message))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _expected_401(self, message: ConsoleMessage) -> bool:
        url = str(message.location.get("url", ""))
        return message.text.startswith(
            "Failed to load resource: the server responded with a status of 401"
        ) and (
            url == f"{self.bridge_url}/auth/session" or url.startswith(f"{self.bridge_url}/api/")
        )

    def errors(self, *, allow_401: bool) -> list[str]:
        bad = [
            f"{m.text} ({m.location.get('url')})"
            for m in self.messages
            if m.type in ("error", "warning") and not (allow_401 and self._expected_401(m))
        ]
        return bad + self.page_errors

    def mark(self) -> int:
        return len(self.messages)

    def errors_since(self, mark: int) -> list[str]:
        return [m.text for m in self.messages[mark:] if m.type in ("error", "warning")]


@pytest.fixture
def demo(demo_factory: Callable[..., DemoStack]) -> DemoStack:
    return demo_factory()


def sign_in(page: Page, demo: DemoStack, email: str, password: str) -> None:
    """From the SPA's first screen through the emulator's sign-in and approval pages, and back."""
    page.goto(demo.spa_url)
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    page.get_by_role("link", name="Sign in with Looker").click()
    sign_in_at_looker(page, demo, email, password)


def sign_in_at_looker(page: Page, demo: DemoStack, email: str, password: str) -> None:
    """The emulator's sign-in page, its approval page if this is the user's first time, and back."""
    signed_in = page.locator("#user-email")
    fill_looker_sign_in(page, demo.looker_url, email, password, signed_in, demo.spa_url)
    expect(signed_in).to_have_text(email)


def visible_titles(role: str) -> tuple[set[str], set[str]]:
    """The looks and dashboards a role may see, from the emulator's seed data (Looker's truth)."""
    content = seed_content()
    allowed = {f.id for f in content.folders.values() if role in f.roles}
    looks = {look.title for look in content.looks.values() if look.folder_id in allowed}
    dashboards = {d.title for d in content.dashboards.values() if d.folder_id in allowed}
    return looks, dashboards


def look_titles(page: Page) -> list[str]:
    expect(page.locator("#looks-count")).not_to_have_text("")
    return page.locator("#looks .item-title").all_inner_texts()


def dashboard_titles(page: Page) -> list[str]:
    expect(page.locator("#dashboards-count")).not_to_have_text("")
    return page.locator("#dashboards .item-title").all_inner_texts()


def session_cookies(page: Page, name: str = "looker_session") -> list[dict[str, Any]]:
    return [dict(c) for c in page.context.cookies() if c["name"] == name]


def test_analyst_and_viewer_see_their_own_content(
    demo: DemoStack, new_page: Page, browser: Any, tmp_path: Path
) -> None:
    analyst_watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("analyst"))
    mark = analyst_watch.mark()
    expect(new_page.locator("#user-name")).not_to_have_text("")
    analyst_looks, analyst_dashboards = look_titles(new_page), dashboard_titles(new_page)
    new_page.screenshot(path=str(tmp_path / "analyst.png"), full_page=True)

    viewer_context = browser.new_context()
    try:
        viewer_page = viewer_context.new_page()
        viewer_watch = ConsoleWatch(viewer_page, demo.bridge_url)
        sign_in(viewer_page, demo, *credentials("viewer"))
        viewer_looks, viewer_dashboards = look_titles(viewer_page), dashboard_titles(viewer_page)
        viewer_page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
        assert viewer_watch.errors(allow_401=True) == []
    finally:
        viewer_context.close()

    # What the SPA lists is exactly what Looker (the emulator) lets each role see.
    assert (set(analyst_looks), set(analyst_dashboards)) == visible_titles(DEVELOPER)
    assert (set(viewer_looks), set(viewer_dashboards)) == visible_titles(VIEWER)
    assert set(viewer_looks) < set(analyst_looks)
    assert len(analyst_looks) == len(set(analyst_looks))
    assert analyst_watch.errors_since(mark) == []
    assert analyst_watch.errors(allow_401=True) == []


def shown_text(cell: Any) -> str:
    """What the SPA shows for a json_detail cell: Looker's ``rendered`` text, else the value
    (numbers with thousands separators, as ``Intl.NumberFormat("en-US")`` writes them)."""
    if cell.get("rendered") is not None:
        return str(cell["rendered"])
    value = cell.get("value")
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6f}".rstrip("0").rstrip(".")


def test_running_a_look_shows_its_chart_and_its_rows(
    demo: DemoStack, new_page: Page, tmp_path: Path
) -> None:
    watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("analyst"))
    mark = watch.mark()
    first = new_page.locator("#looks li").first
    look_id = first.get_attribute("data-look-id")
    title = first.locator(".item-title").inner_text()
    first.get_by_role("button", name=re.compile("^Run look")).click()

    expect(new_page.locator("#result-title")).to_have_text(title)
    # the first look by title, "Order status", is a column chart in Looker: drawn as one
    chart_button = new_page.get_by_role("button", name="Chart")
    expect(chart_button).to_have_attribute("aria-pressed", "true")
    bars = new_page.locator('#result-chart svg g.role-mark > [role="graphics-symbol"]')
    expect(bars).to_have_count(4)
    expect(new_page.locator("#result-table-region")).to_be_hidden()
    new_page.screenshot(path=str(tmp_path / "look-chart.png"), full_page=True)
    new_page.get_by_role("button", name="Table").click()
    expect(new_page.locator("#result-chart")).to_be_hidden()
    table = new_page.get_by_role("table")
    expect(table.locator("tbody tr").first).to_be_visible()
    new_page.screenshot(path=str(tmp_path / "look-result.png"), full_page=True)

    # The same call, made with this browser's cookie, returns exactly what is on screen.
    answer = new_page.context.request.get(
        f"{demo.bridge_url}/api/4.0/looks/{look_id}/run/json_detail?limit=100", headers=APP_ID
    )
    try:
        assert answer.status == 200
        detail = answer.json()
    finally:
        answer.dispose()
    rows = detail["data"]
    assert rows, "the look should return rows"
    fields = detail["fields"]["dimensions"] + detail["fields"]["measures"]
    headers = table.locator("thead th").all_inner_texts()
    assert headers == [f["label"] for f in fields]
    expect(table.locator("tbody tr")).to_have_count(len(rows))
    first_cells = table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first_cells == [shown_text(rows[0][f["name"]]) for f in fields]
    drawn = bars.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    for row in rows:  # each bar is labelled with its status and its count as the table shows it
        cells = [shown_text(row[f["name"]]) for f in fields]
        assert any(all(c in label for c in cells) for label in drawn), (cells, drawn)
    assert watch.errors_since(mark) == []


def test_phone_width_fits_without_sideways_scrolling(
    demo: DemoStack, browser: Any, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        watch = ConsoleWatch(page, demo.bridge_url)
        sign_in(page, demo, *credentials("analyst"))
        look_titles(page)
        page.locator("#looks li").first.get_by_role("button").click()
        expect(page.locator("#result-chart svg").first).to_be_visible()  # a chart first
        page.screenshot(path=str(tmp_path / "phone-chart.png"), full_page=True)
        chart_overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert chart_overflow <= 0
        page.get_by_role("button", name="Table").click()
        expect(page.locator("#result-table tbody tr").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        assert watch.errors(allow_401=True) == []
    finally:
        context.close()


def test_expired_session_shows_message_and_offers_sign_in(
    demo_factory: Callable[..., DemoStack], new_page: Page, tmp_path: Path
) -> None:
    demo = demo_factory(token_ttl=3, settings_overrides={"refresh_margin": 0})
    watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("viewer"))
    look_titles(new_page)

    demo.emulator.state.update_config(refresh_enabled=False)
    time.sleep(3.5)  # let the 3-second Looker token run out; the bridge cannot refresh it
    new_page.locator("#looks li").first.get_by_role("button").click()

    expired = new_page.get_by_role("heading", name="Your session has expired")
    expect(expired).to_be_visible()
    expect(new_page.locator("#content")).to_be_hidden()
    sign_in_again = new_page.get_by_role("link", name="Sign in again")
    expect(sign_in_again).to_have_attribute(
        "href", re.compile("^" + re.escape(f"{demo.bridge_url}/auth/login?return_to="))
    )
    new_page.screenshot(path=str(tmp_path / "expired.png"), full_page=True)

    # Signing in again works (refresh still off: a fresh sign-in needs none).
    demo.emulator.state.update_config(token_ttl=3600)
    sign_in_again.click()
    new_page.wait_for_url(re.compile("^" + re.escape(demo.spa_url) + "$"))
    expect(new_page.locator("#user-email")).to_have_text("viewer@example.com")
    assert look_titles(new_page)
    assert watch.errors(allow_401=True) == []


def test_sign_out_removes_the_cookie_and_ends_the_session(
    demo: DemoStack, new_page: Page, tmp_path: Path
) -> None:
    watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("analyst"))
    look_titles(new_page)
    cookies = session_cookies(new_page)
    assert len(cookies) == 1 and cookies[0]["httpOnly"]
    old_value = cookies[0]["value"]
    mark = watch.mark()

    new_page.get_by_role("button", name="Sign out").click()
    expect(new_page.get_by_role("heading", name="You are signed out")).to_be_visible()
    expect(new_page.get_by_role("link", name="Sign in with Looker")).to_be_visible()
    new_page.screenshot(path=str(tmp_path / "signed-out.png"), full_page=True)
    assert session_cookies(new_page) == []
    assert watch.errors_since(mark) == []

    # The old cookie value is dead at the bridge too, not just forgotten by the browser.
    with requests.Session() as replay:
        replay.cookies.set("looker_session", old_value, domain="localhost", path="/")
        answer = replay.get(f"{demo.bridge_url}/api/4.0/looks", headers=APP_ID, timeout=10)
        assert answer.status_code == 401
        assert answer.json()["error"] == "not_authenticated"

    new_page.reload()
    expect(new_page.get_by_role("heading", name="Welcome")).to_be_visible()
    assert watch.errors(allow_401=True) == []


def test_a_demo_user_switches_users_without_clearing_cookies(
    demo: DemoStack, new_page: Page, tmp_path: Path
) -> None:
    """Issue 14 item 1: after Sign out, Looker's own session still knows the analyst, and its
    ``/auth`` skips the approval page for an approved app; the SPA says so and links to Looker,
    where logging out makes the next sign-in ask who you are."""
    watch = ConsoleWatch(new_page, demo.bridge_url)
    analyst_email, _ = credentials("analyst")
    viewer_email, viewer_password = credentials("viewer")
    sign_in(new_page, demo, *credentials("analyst"))
    new_page.get_by_role("button", name="Sign out").click()
    expect(new_page.get_by_role("heading", name="You are signed out")).to_be_visible()
    hint = new_page.locator("#switch-user")
    expect(hint).to_be_visible()
    expect(new_page.locator("#looker-email")).to_have_text(analyst_email)
    new_page.screenshot(path=str(tmp_path / "switch-user.png"), full_page=True)

    # Looker's page opens in a tab of its own; the SPA's tab stays where it is.
    with new_page.context.expect_page() as opened:
        new_page.get_by_role("link", name="log out of Looker").click()
    looker_tab = opened.value
    looker_tab.wait_for_load_state()
    assert looker_tab.url == f"{demo.looker_url}/"
    expect(looker_tab.locator("#looker-user")).to_have_text(analyst_email)
    looker_tab.get_by_role("button", name="Log out of Looker").click()
    expect(looker_tab.locator("#looker-user-none")).to_be_visible()
    looker_tab.close()

    # The same cookie jar, nothing cleared: now Looker asks who you are, and the viewer gets in.
    new_page.get_by_role("link", name="Sign in with Looker").click()
    sign_in_at_looker(new_page, demo, viewer_email, viewer_password)
    viewer_looks, viewer_dashboards = look_titles(new_page), dashboard_titles(new_page)
    assert (set(viewer_looks), set(viewer_dashboards)) == visible_titles(VIEWER)
    assert watch.errors(allow_401=True) == []


def test_signing_in_again_without_logging_out_of_looker_keeps_the_same_user(
    demo: DemoStack, new_page: Page
) -> None:
    """Why the hint exists: Looker's session outlives the bridge's, as a real Looker's does."""
    analyst_email, _ = credentials("analyst")
    sign_in(new_page, demo, *credentials("analyst"))
    new_page.get_by_role("button", name="Sign out").click()
    expect(new_page.get_by_role("heading", name="You are signed out")).to_be_visible()
    new_page.get_by_role("link", name="Sign in with Looker").click()
    expect(new_page.locator("#user-email")).to_have_text(analyst_email)
    assert not new_page.url.startswith(demo.looker_url)


def test_tokens_never_reach_the_page(demo: DemoStack, new_page: Page) -> None:
    """The user's Looker tokens appear in no answer the page receives, nor in its DOM or storage."""
    bodies: list[str] = []

    def keep_body(response: Response) -> None:
        if response.url.startswith(demo.bridge_url) and response.request.method != "OPTIONS":
            try:
                bodies.append(response.text())
            except PlaywrightError:  # redirects and 204s have no body
                pass
        bodies.append(" ".join(f"{k}: {v}" for k, v in response.headers.items()))

    new_page.on("response", keep_body)
    sign_in(new_page, demo, *credentials("analyst"))
    look_titles(new_page)
    new_page.locator("#looks li").first.get_by_role("button").click()
    expect(new_page.locator("#result-table tbody tr").first).to_be_attached()
    new_page.get_by_role("button", name="Open dashboard “Business pulse”").click()
    expect(new_page.locator('.tile[data-state="drawn"]')).to_have_count(
        len(seed_content().dashboards["1"].elements)
    )

    (cookie,) = session_cookies(new_page)
    assert demo.bridge_app is not None
    record = get_services(demo.bridge_app).store.load(cookie["value"])
    assert record is not None
    secrets = [t for t in (record.tokens.access_token, record.tokens.refresh_token) if t]
    assert len(record.tokens.access_token) >= 16
    page_state = new_page.evaluate(
        "[document.documentElement.outerHTML, document.cookie,"
        " JSON.stringify(localStorage), JSON.stringify(sessionStorage)].join('\\n')"
    )
    assert "looker_session" not in page_state  # HttpOnly: invisible to scripts
    assert len(bodies) > 3
    for secret in secrets:
        assert secret not in page_state
        assert not any(secret in body for body in bodies)
