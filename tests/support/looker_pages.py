"""Steps through the emulator's sign-in pages in Chromium, as a person would take them."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect


def fill_looker_sign_in(
    page: Page, looker_url: str, email: str, password: str, back_in_app: Locator, lands_on: str
) -> None:
    """Looker's sign-in form, its approval page when this is the user's first time with the app
    (Looker asks once per user and app), then back to ``lands_on`` (``back_in_app`` is visible
    there)."""
    page.wait_for_url(f"{looker_url}/login?**")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.locator("#login-submit").click()
    approve = page.locator("#approve-allow")
    expect(approve.or_(back_in_app)).to_be_visible()
    if approve.is_visible():
        approve.click()
    page.wait_for_url(re.compile("^" + re.escape(lands_on) + "$"))
