"""Dashboards in the demo SPA, in headless Chromium: tiles placed by the layout, drawn as charts.

Every expected number is worked out here from the emulator's seed table
(:mod:`oauth_bridge.emulator.orders_table`, brute force over one period, scaled), and read back
from what the page drew: the single values' text, the ARIA labels Vega gives each SVG mark, and
the table's cells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from oauth_bridge.demo import DemoStack
from oauth_bridge.emulator.orders_table import PERIOD, STATUSES, TABLE_ROWS, WEIGHT, order
from oauth_bridge.emulator.seed import credentials, seed_content
from oauth_bridge.emulator.value_formats import render
from tests.browser.test_demo_spa import ConsoleWatch, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(demo_factory: Callable[..., DemoStack]) -> DemoStack:
    return demo_factory()


def open_dashboard(page: Page, title: str) -> None:
    page.get_by_role("button", name=f"Open dashboard “{title}”").click()
    expect(page.locator("#dashboard-title")).to_have_text(title)
    expect(page.locator("#dashboard")).not_to_have_attribute("aria-busy", "true", timeout=20_000)


def period_sums(*names: str) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], float]]:
    """Counts and revenue of the whole table grouped by ``names``, from one period."""
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    cents: dict[tuple[str, ...], int] = defaultdict(int)
    for n in range(PERIOD, 2 * PERIOD):
        values = order(n)
        key = tuple(str(values[name]) for name in names)
        counts[key] += WEIGHT
        cents[key] += round(float(values["orders.amount"] or 0) * 100) * WEIGHT
    return counts, {key: total / 100 for key, total in cents.items()}


def marks(page: Page, element_id: str) -> list[dict[str, str]]:
    """The values Vega drew for each mark of a tile, from the marks' ARIA labels."""
    labels = page.locator(
        f'.tile[data-element-id="{element_id}"] svg g.role-mark > [role="graphics-symbol"]'
    )
    found = []
    for text in labels.evaluate_all("els => els.map(e => e.getAttribute('aria-label') || '')"):
        found.append(dict(part.split(": ", 1) for part in text.split("; ") if ": " in part))
    return found


def tile(page: Page, element_id: str) -> Any:
    return page.locator(f'.tile[data-element-id="{element_id}"]')


def test_analyst_sees_every_tile_drawn_with_the_seed_numbers(
    demo: DemoStack, new_page: Page, tmp_path: Path
) -> None:
    watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("analyst"))
    open_dashboard(new_page, "Business pulse")
    seeded = seed_content().dashboards["1"].elements
    expect(new_page.locator(".tile")).to_have_count(len(seeded))
    expect(new_page.locator('.tile[data-state="drawn"]')).to_have_count(len(seeded))
    new_page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    _, revenue = period_sums()
    total = render(revenue[()], "usd")
    expect(tile(new_page, "11").locator(".single-value")).to_have_text(f"{TABLE_ROWS:,}")
    expect(tile(new_page, "12").locator(".single-value")).to_have_text(str(total))
    expect(tile(new_page, "13").locator(".single-value")).to_have_text(str(total))

    _, by_status = period_sums("orders.status")
    pie = {m["Status"]: m["Total Amount"] for m in marks(new_page, "14")}
    assert pie == {s: render(by_status[(s,)], "usd") for s in STATUSES}
    column = {m["Status"]: m["Count"] for m in marks(new_page, "15")}
    assert column == {s: f"{TABLE_ROWS // 4:,}" for s in STATUSES}

    counts, by_month = period_sums("orders.created_month")
    line = {m["Created Month"]: m["Total Amount"] for m in marks(new_page, "16")}
    assert line == {k[0]: render(v, "usd") for k, v in by_month.items()}
    bars = {m["Created Month"]: m["Count"] for m in marks(new_page, "18")}
    assert bars == {k[0]: f"{v:,}" for k, v in counts.items()}
    by_both, _ = period_sums("orders.created_month", "orders.status")
    area = {(m["Created Month"], m["Status"]): m["Count"] for m in marks(new_page, "17")}
    assert area == {k: f"{v:,}" for k, v in by_both.items()}
    assert len(area) == 12 * len(STATUSES)

    table = tile(new_page, "19").locator("table")
    first = order(1)
    expect(table.locator("tbody tr")).to_have_count(10)
    assert table.locator("tbody tr").first.locator("td").all_inner_texts() == [
        "1", str(first["orders.created_date"]), str(first["orders.status"]),
        render(first["orders.amount"], "usd"),
    ]  # fmt: skip
    # the layout's places: the line chart spans the grid, the first row holds three tiles
    boxes = {e.id: tile(new_page, e.id).bounding_box() for e in seeded}
    assert all(box is not None for box in boxes.values())
    assert boxes["11"]["y"] == boxes["12"]["y"] == boxes["13"]["y"]
    assert boxes["11"]["x"] < boxes["12"]["x"] < boxes["13"]["x"]
    grid = new_page.locator("#dashboard-grid").bounding_box()
    assert grid is not None and boxes["16"]["width"] > 0.95 * grid["width"]
    assert watch.errors(allow_401=True) == []


def test_viewer_sees_the_finance_tile_refused_and_no_finance_dashboard(
    demo: DemoStack, new_page: Page, tmp_path: Path
) -> None:
    watch = ConsoleWatch(new_page, demo.bridge_url)
    sign_in(new_page, demo, *credentials("viewer"))
    expect(new_page.get_by_role("button", name="Open dashboard “Finance overview”")).to_have_count(
        0
    )
    open_dashboard(new_page, "Business pulse")
    seeded = seed_content().dashboards["1"].elements
    expect(new_page.locator('.tile[data-state="drawn"]')).to_have_count(len(seeded) - 1)
    refused = new_page.locator('.tile[data-state="refused"]')
    expect(refused).to_have_count(1)
    assert refused.get_attribute("data-element-id") == "13"  # the tile on the finance model
    expect(refused).to_contain_text("You may not see this tile's data.")
    expect(tile(new_page, "11").locator(".single-value")).to_have_text(f"{TABLE_ROWS:,}")
    new_page.screenshot(path=str(tmp_path / "viewer-dashboard.png"), full_page=True)
    # Looker's 404 for the finance query is the one console line Chromium logs for it
    unexpected = [
        e for e in watch.errors(allow_401=True)
        if not ("status of 404" in e and "/queries/10/run/json_detail" in e)
    ]  # fmt: skip
    assert unexpected == []


def test_a_dashboard_fits_a_phone(demo: DemoStack, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        watch = ConsoleWatch(page, demo.bridge_url)
        sign_in(page, demo, *credentials("analyst"))
        open_dashboard(page, "Business pulse")
        expect(page.locator('.tile[data-state="drawn"]')).to_have_count(
            len(seed_content().dashboards["1"].elements)
        )
        page.screenshot(path=str(tmp_path / "phone-dashboard.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        lefts = {round(box["x"]) for box in (t.bounding_box() for t in page.locator(".tile").all())
                 if box}  # fmt: skip
        assert len(lefts) == 1  # one tile per row
        assert marks(page, "15"), "the column chart is drawn at phone width too"
        assert watch.errors(allow_401=True) == []
    finally:
        context.close()
