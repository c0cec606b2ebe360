"""Section 5: complete sign-ins per second through the bridge against the Looker emulator.

Each simulated browser (a ``requests.Session``) signs in to the emulator once, by its HTML forms
(``/login``, then the app approval), like a person would. After that it is "already signed in to
Looker", so each further sign-in is what the bridge does per login: ``/auth/login`` (new pending
login in Redis) -> emulator ``/auth`` (302 with a code) -> ``/auth/callback`` (state check, code
exchange at the emulator's ``/api/token``, new session in Redis) -> ``/auth/session``.
"""

from __future__ import annotations

import threading
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import requests

EMAIL = "admin@example.com"
PASSWORD = "looker-admin"


class _FormParser(HTMLParser):
    """The first form's action and its input fields (hidden values and submit buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and not self._done:
            self._in_form = True
            self.action = values.get("action", "")
        elif self._in_form and tag in ("input", "button") and values.get("name"):
            name = values["name"]
            if tag == "button" and name in self.fields:
                return  # first button wins (the emulator's "Allow")
            self.fields[name] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def sign_in(browser: requests.Session, bridge_url: str) -> dict[str, Any]:
    """One complete sign-in, filling the emulator's forms if shown; returns /auth/session."""
    answer = browser.get(
        f"{bridge_url}/auth/login", params={"return_to": "/auth/session"}, timeout=30
    )
    for _ in range(4):
        if answer.headers.get("content-type", "").startswith("application/json"):
            break
        form = _FormParser()
        form.feed(answer.text)
        if form.action is None:
            raise RuntimeError(f"no form and no JSON at {answer.url} ({answer.status_code})")
        fields = dict(form.fields)
        if "email" in fields:
            fields.update(email=EMAIL, password=PASSWORD)
        if "approve" in fields:
            fields["approve"] = "true"
        answer.close()
        answer = browser.post(urljoin(answer.url, form.action), data=fields, timeout=30)
    with answer:
        if answer.status_code != 200:
            raise RuntimeError(f"sign-in ended at {answer.url} with {answer.status_code}")
        body: dict[str, Any] = answer.json()
    if not body.get("authenticated"):
        raise RuntimeError(f"sign-in did not authenticate: {body}")
    return body


def measure(bridge_url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """Sign-ins per second with ``concurrency`` browsers already signed in to the emulator."""
    browsers = [requests.Session() for _ in range(concurrency)]
    done = [0] * concurrency
    failures: list[str] = []
    try:
        for browser in browsers:
            sign_in(browser, bridge_url)  # first sign-in: forms and approval, not timed
        stop_at = time.monotonic() + seconds

        def loop(index: int) -> None:
            while time.monotonic() < stop_at:
                try:
                    sign_in(browsers[index], bridge_url)
                    done[index] += 1
                except Exception as exc:  # counted, and the first few kept for the report
                    if len(failures) < 5:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    return

        start = time.monotonic()
        threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
    finally:
        for browser in browsers:
            browser.close()
    return {
        "concurrency": concurrency,
        "seconds": elapsed,
        "sign_ins": sum(done),
        "sign_ins_per_second": sum(done) / elapsed,
        "failures": failures,
    }
