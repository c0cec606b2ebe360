"""The demo SPA's ad-hoc query in headless Chromium: Looker's explore as the signed-in user.

The analyst picks fields of the explore Looker describes, runs the query through the bridge
(``run_inline_query``) and sees a chart and a table whose numbers are the seed table's; the
viewer, whose Looker role lacks ``explore``, sees Looker's 403 as a message.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from oauth_bridge.demo import DemoStack
from oauth_bridge.emulator.orders_table import STATUSES, TABLE_ROWS
from oauth_bridge.emulator.seed import credentials
from tests.browser.test_demo_spa import ConsoleWatch, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(demo_factory: Callable[..., DemoStack]) -> DemoStack:
    return demo_factory()


def choose(page: Page, explore: str, fields: list[str]) -> None:
    page.locator("#explore-choice").select_option(explore)
    for label in fields:
        box = page.locator("#explore-form .field-choice", has_text=label).locator("input")
        expect(box).to_be_visible()
        box.check()
    page.get_by_role("button", name="Run query").click()


def test_analyst_runs_an_ad_hoc_query_and_sees_a_chart_and_a_table(
    demo: DemoStack, new_page: Page
) -> None:
    watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("analyst"))
    options = new_page.locator("#explore-choice option")
    expect(options).to_have_text(["Finance › Orders", "The Look › Orders"])  # the role's models
    choose(new_page, "thelook::orders", ["Status", "Count"])
    bars = new_page.locator('#explore-chart svg g.role-mark > [role="graphics-symbol"]')
    expect(bars).to_have_count(len(STATUSES))
    labels = bars.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    drawn = dict(
        (parts["Status"], parts["Count"])
        for parts in (dict(p.split(": ", 1) for p in label.split("; ")) for label in labels)
    )
    assert drawn == {s: f"{TABLE_ROWS // 4:,}" for s in STATUSES}
    rows = new_page.locator("#explore-table tbody tr")
    expect(rows).to_have_count(len(STATUSES))
    assert new_page.locator("#explore-table thead th").all_inner_texts() == [
        "Orders Status", "Orders Count",
    ]  # fmt: skip
    assert watch.errors(allow_401=True) == []


def test_the_viewer_sees_lookers_refusal_to_explore(demo: DemoStack, new_page: Page) -> None:
    watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("viewer"))
    expect(new_page.locator("#explore-choice option")).to_have_count(1)  # no finance model
    choose(new_page, "thelook::orders", ["Status", "Count"])
    message = new_page.locator("#explore-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("Looker refused to run this query")
    expect(message).to_contain_text("may not explore")
    expect(new_page.locator("#explore-result")).to_be_hidden()
    expect(new_page.locator("#content")).to_be_visible()  # the rest of the page carries on
    # Chromium logs the 403 fetch; that line is the only console error
    unexpected = [
        e for e in watch.errors(allow_401=True)
        if not ("status of 403" in e and "/queries/run/json_detail" in e)
    ]  # fmt: skip
    assert unexpected == []
