"""Section 5: complete sign-ins per second through the bridge against the Looker emulator.

Each simulated browser (a ``requests.Session``) signs in to the emulator once, by its HTML forms
(``/login``, then the app approval), like a person would. After that it is "already signed in to
Looker", so each further sign-in is what the bridge does per login: ``/auth/login`` (new pending
login, sealed in the login cookie) -> emulator ``/auth`` (302 with a code) -> ``/auth/callback``
(state check, code exchange at the emulator's ``/api/token``, used-state mark and new session in
Redis) -> ``/auth/session``.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlencode

import requests

from oauth_bridge.emulator.browser_login import browser_sign_in
from oauth_bridge.emulator.seed import SEED_BY_KEY

SIGN_IN_AS = SEED_BY_KEY["admin"]


def sign_in(browser: requests.Session, bridge_url: str) -> dict[str, Any]:
    """One complete sign-in, filling the emulator's forms if shown; returns /auth/session."""
    start = f"{bridge_url}/auth/login?{urlencode({'return_to': '/auth/session'})}"
    answer = browser_sign_in(browser, start, SIGN_IN_AS.email, SIGN_IN_AS.password, timeout=30)
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
