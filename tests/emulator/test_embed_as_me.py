"""``create_embed_url_as_me`` (issue 13): a one-time embed URL that the UI host honours once.

Through the official looker-sdk and raw HTTP against the running emulator: the URL opens an
embed session as the API caller and redirects to the ``/embed`` target, whose page names the
user and shows only what their role sees; a second use, a late use or a changed URL is refused;
the session lasts ``session_length``; embed pages may be framed only by the embedded domain
allowlist.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests
from looker_sdk import models40

from oauth_bridge.emulator import EmulatorServer, value_formats
from oauth_bridge.emulator.orders_table import TABLE_ROWS, row
from oauth_bridge.emulator.ui_embed import EMBED_COOKIE
from tests.emulator.conftest import SDK, Call
from tests.support.emulator import get_code, pkce_pair


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _embed_url(call: Call, target: str, **params: object) -> str:
    answer = call("POST", "/embed/token_url/me", json={"target_url": target, **params})
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"url"}
    return str(answer.json()["url"])


def test_the_sdk_gets_a_url_that_opens_the_dashboard_as_the_caller_once(
    emulator: EmulatorServer, sdk_for: Callable[[str], SDK], browser: requests.Session
) -> None:
    sdk = sdk_for("analyst")
    target = f"{emulator.ui_url}/embed/dashboards/1?Status=complete"
    answer = sdk.create_embed_url_as_me(models40.EmbedParams(target_url=target))
    assert isinstance(answer, models40.EmbedUrlResponse) and answer.url
    assert answer.url.startswith(f"{emulator.ui_url}/login/embed/%2Fembed%2Fdashboards%2F1")
    opened = browser.get(answer.url, timeout=10)
    assert opened.status_code == 200, opened.text
    assert urlsplit(opened.url).path == "/embed/dashboards/1"
    assert urlsplit(opened.url).query == "Status=complete"
    page = opened.text
    assert 'id="embed-user" data-user-id="2">Ann Analyst</strong>' in page
    assert "analyst@example.com" in page and "Business pulse" in page
    for title in ("Orders by day", "Order status"):
        assert f"<h2>{title}</h2>" in page
    first = row(["orders.created_date", "orders.status", "orders.amount"], 1)
    amount = value_formats.render(first["orders.amount"], "usd")
    cells = f"<td>1</td><td>{first['orders.created_date']}</td><td>{first['orders.status']}</td>"
    assert cells + f"<td>{amount}</td>" in page  # the orders tile, amounts as the LookML formats
    assert f"<td>{TABLE_ROWS}</td>" in page  # the single-value tile counts every order
    assert browser.cookies.get(EMBED_COOKIE, path="/embed")
    assert browser.get(f"{emulator.ui_url}/embed/looks/2", timeout=10).status_code == 200
    with requests.Session() as other_browser:
        reused = other_browser.get(answer.url, timeout=10, allow_redirects=False)
    assert reused.status_code == 403 and 'data-error="embed_url_invalid"' in reused.text
    assert EMBED_COOKIE not in reused.headers.get("Set-Cookie", "")


def test_the_embed_session_sees_what_the_role_sees_and_nothing_without_it(
    emulator: EmulatorServer, as_user: Callable[[str], Call], browser: requests.Session
) -> None:
    viewer = as_user("viewer")
    finance = browser.get(_embed_url(viewer, f"{emulator.ui_url}/embed/dashboards/2"), timeout=10)
    assert finance.status_code == 404  # the URL was honoured; the viewer may not see finance
    assert "Vic Viewer" not in finance.text
    shared = browser.get(f"{emulator.ui_url}/embed/dashboards/1", timeout=10)
    assert shared.status_code == 200 and "Vic Viewer" in shared.text
    assert "Orders by day" in shared.text
    assert browser.get(f"{emulator.ui_url}/embed/looks/3", timeout=10).status_code == 404
    with requests.Session() as stranger:
        nobody = stranger.get(f"{emulator.ui_url}/embed/dashboards/1", timeout=10)
    assert nobody.status_code == 401 and 'data-error="embed_session"' in nobody.text
    assert emulator.state.delete_user("3")
    gone = browser.get(f"{emulator.ui_url}/embed/dashboards/1", timeout=10)
    assert gone.status_code == 401  # deleting the user ends their embed sessions


def test_late_changed_and_short_lived_urls_are_refused(
    emulator: EmulatorServer, as_user: Callable[[str], Call], browser: requests.Session
) -> None:
    analyst = as_user("analyst")
    target = f"{emulator.ui_url}/embed/dashboards/1"
    changed = _embed_url(analyst, target).replace("dashboards%2F1", "dashboards%2F2")
    refused = browser.get(changed, timeout=10)
    assert refused.status_code == 403 and 'data-error="embed_url_invalid"' in refused.text
    restored = changed.replace("dashboards%2F2", "dashboards%2F1")
    assert browser.get(restored, timeout=10).status_code == 403  # a changed URL is used up
    emulator.state.update_config(embed_url_ttl=0.3)
    late = _embed_url(analyst, target)
    time.sleep(0.5)
    assert browser.get(late, timeout=10).status_code == 403
    emulator.state.update_config(embed_url_ttl=300)
    brief = browser.get(_embed_url(analyst, target, session_length=1), timeout=10)
    assert brief.status_code == 200
    time.sleep(1.3)
    assert browser.get(f"{emulator.ui_url}/embed/dashboards/1", timeout=10).status_code == 401


def test_force_logout_login_ends_the_browsers_looker_session_unless_false(
    emulator: EmulatorServer,
    as_user: Callable[[str], Call],
    client_id: str,
    browser: requests.Session,
) -> None:
    analyst, target = as_user("analyst"), f"{emulator.ui_url}/embed/looks/1"
    for force, still_signed_in in ((False, True), (None, False)):
        get_code(emulator, "viewer", client_id, pkce_pair()[1], http=browser)
        home = browser.get(f"{emulator.ui_url}/", timeout=10).text
        assert 'id="looker-user">viewer@example.com' in home
        params = {} if force is None else {"force_logout_login": force}
        opened = browser.get(_embed_url(analyst, target, **params), timeout=10)
        assert opened.status_code == 200 and "Ann Analyst" in opened.text
        home = browser.get(f"{emulator.ui_url}/", timeout=10).text
        assert ('id="looker-user">viewer@example.com' in home) is still_signed_in


def test_embed_pages_may_be_framed_by_the_allowlist_alone(
    emulator: EmulatorServer, as_user: Callable[[str], Call], browser: requests.Session
) -> None:
    analyst, target = as_user("analyst"), f"{emulator.ui_url}/embed/dashboards/1"
    page = browser.get(_embed_url(analyst, target), timeout=10)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    emulator.state.update_config(cors_origins=("https://portal.example",))
    page = browser.get(target, timeout=10)
    assert "frame-ancestors https://portal.example;" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    login = browser.get(f"{emulator.ui_url}/login", timeout=10)
    assert login.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "target_url"),
        ({"target_url": "https://elsewhere.example/embed/dashboards/1"}, "target_url"),
        ({"target_url": "{ui}/dashboards/1"}, "target_url"),
        ({"target_url": "{ui}/embed/dashboards/1#x"}, "target_url"),
        ({"target_url": "{ui}/embed/dashboards/1", "session_length": 0}, "session_length"),
        ({"target_url": "{ui}/embed/dashboards/1", "session_length": 2_592_001}, "session_length"),
        ({"target_url": "{ui}/embed/dashboards/1", "session_length": "60"}, "session_length"),
        ({"target_url": "{ui}/embed/dashboards/1", "session_length": True}, "session_length"),
        (
            {"target_url": "{ui}/embed/dashboards/1", "force_logout_login": "no"},
            "force_logout_login",
        ),
    ],
)
def test_bad_embed_params_answer_422_naming_the_field(
    emulator: EmulatorServer, as_user: Callable[[str], Call], body: dict[str, object], field: str
) -> None:
    sent = {k: v.format(ui=emulator.ui_url) if isinstance(v, str) else v for k, v in body.items()}
    answer = as_user("analyst")("POST", "/embed/token_url/me", json=sent)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    no_token = requests.post(
        f"{emulator.api_url}/api/4.0/embed/token_url/me",
        json={"target_url": f"{emulator.ui_url}/embed/dashboards/1"},
        timeout=10,
    )
    assert no_token.status_code == 401
