"""Sign-ins under way, kept sealed in the browser's short-lived login cookie instead of in Redis.

An anonymous ``/auth/login`` must cost the shared store nothing: each one would otherwise be a
key an outsider can make by the thousand (issue 11, item 4). So the pending logins (state, PKCE
verifier, return_to, start time) travel in one cookie, sealed with AES-GCM under a key derived
from ``SECRET_KEY`` (:class:`~oauth_bridge.crypto.CookieSealer`): the browser can neither read the
verifier nor change a return_to, and only the browser that started a sign-in carries it, which is
what binds the state to that browser. Single use across copies of the cookie is the store's job
(:meth:`~oauth_bridge.sessions.PendingLoginStore.mark_login_used`), done only once Looker has
accepted the code.

A browser holds at most ``MAX_PENDING_LOGINS``; a new one drops the oldest, so stray same-site
``<img src=/auth/login>`` tags cannot lock the person out (item 5). The cookie value stays under
:data:`COOKIE_VALUE_BUDGET` bytes (browsers keep about 4 KB per cookie), which is why
:data:`MAX_RETURN_TO` bounds return_to here.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Callable, Sequence

from oauth_bridge.crypto import CookieSealer, InvalidCiphertext, derive_key
from oauth_bridge.models import PendingLogin

MAX_RETURN_TO = 1024
"""Longest return_to a sign-in may carry: at least two such sign-ins fit in one cookie, five
when their return_to is under about 400 characters."""

COOKIE_VALUE_BUDGET = 3800
"""Most bytes of cookie value written; with the cookie's name it stays under 4,096."""

_PURPOSE = b"oauth_bridge/login-cookie/1"
_AAD = b"oauth_bridge/pending-logins/1"


class PendingLogins:
    """Reads and writes the login cookie's value: the live pending logins, oldest first."""

    def __init__(
        self,
        secret_key: str,
        *,
        ttl: int,
        max_logins: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sealer = CookieSealer(derive_key(secret_key, _PURPOSE))
        self.ttl = ttl
        self.max_logins = max_logins
        self._clock = clock

    def read(self, cookie_value: str | None) -> list[PendingLogin]:
        """The live logins the cookie carries; empty for a missing, expired, forged or old-format
        cookie (hostile input never raises)."""
        if not cookie_value or len(cookie_value) > 2 * COOKIE_VALUE_BUDGET:
            return []
        try:
            entries = json.loads(self._sealer.open(cookie_value, _AAD))
            logins = [_login_from(entry) for entry in entries]
        except (InvalidCiphertext, ValueError, TypeError):
            return []
        now = self._clock()
        return [login for login in logins if now < login.created_at + self.ttl]

    def take(
        self, logins: Sequence[PendingLogin], state: str
    ) -> tuple[PendingLogin | None, list[PendingLogin]]:
        """The login started with ``state`` and the others; ``(None, logins)`` when none was."""
        wanted = state.encode("utf-8", "surrogatepass")
        for position, login in enumerate(logins):
            if hmac.compare_digest(login.state.encode("utf-8"), wanted):
                return login, [*logins[:position], *logins[position + 1 :]]
        return None, list(logins)

    def added(self, logins: Sequence[PendingLogin], login: PendingLogin) -> list[PendingLogin]:
        """``logins`` plus ``login``, the oldest dropped beyond the count and the byte budget.

        The newest always stays: a person's own click must work whatever came before it.
        """
        kept = [*logins, login][-self.max_logins :]
        while len(kept) > 1 and len(self.encode(kept)) > COOKIE_VALUE_BUDGET:
            kept = kept[1:]
        return kept

    def encode(self, logins: Sequence[PendingLogin]) -> str:
        body = json.dumps([_entry_of(x) for x in logins], separators=(",", ":")).encode("ascii")
        return self._sealer.seal(body, _AAD)

    def max_age(self, logins: Sequence[PendingLogin]) -> int:
        """Seconds until the newest of ``logins`` expires (the cookie's ``Max-Age``)."""
        newest = max((login.created_at for login in logins), default=self._clock())
        return max(1, math.ceil(newest + self.ttl - self._clock()))

    def remaining_ms(self, login: PendingLogin) -> int:
        """Milliseconds ``login`` stays valid (at least 1): how long its use is remembered."""
        return max(1, math.ceil((login.created_at + self.ttl - self._clock()) * 1000))


def _entry_of(login: PendingLogin) -> list[str | float]:
    """A login as the cookie's JSON carries it; a popup sign-in adds its origin and challenge."""
    entry: list[str | float] = [
        login.state,
        login.code_verifier,
        login.return_to,
        round(login.created_at, 3),
    ]
    if login.in_popup:
        entry += [login.opener_origin, login.challenge]
    return entry


def _login_from(entry: object) -> PendingLogin:
    """The reverse of :func:`_entry_of`; ValueError or TypeError for any other shape."""
    if not isinstance(entry, list) or len(entry) not in (4, 6):
        raise ValueError("not a pending login")
    state, verifier, return_to, created, *popup = entry
    origin, challenge = (str(popup[0]), str(popup[1])) if popup else ("", "")
    return PendingLogin(
        str(state), str(verifier), str(return_to), float(created), origin, challenge
    )
