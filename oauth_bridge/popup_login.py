"""Sign-in for an SPA inside a cross-site iframe: a popup, a sealed one-time code, a redemption.

Looker's sign-in pages refuse to be framed, and a cookie that a top-level page sets lands in the
bridge's own cookie partition, never in the partition of the portal that frames the SPA. So a
framed SPA signs in like this (docs/embedding.md has the reasoning and the alternatives weighed):

1. The frame makes a one-time ``verifier`` of its own and opens ``/auth/popup/login`` in a popup
   with ``origin`` (its own origin, which must be the bridge's or one of ``CORS_ORIGINS``) and
   ``challenge`` = base64url(SHA-256(verifier)).
2. The popup goes through Looker like the top-level flow (state and PKCE in the login cookie).
   At ``/auth/callback`` the bridge does **not** trade Looker's code yet: it seals the code, the
   bridge's own PKCE verifier, the frame's challenge and origin into a :class:`Handoff`
   (AES-GCM under a key derived from ``SECRET_KEY``), valid :data:`HANDOFF_TTL` seconds, and
   answers a page that posts it to ``window.opener`` aimed at exactly that origin.
3. The frame redeems it with its verifier in a credentialed ``POST /auth/popup/redeem``; only
   then does the bridge trade Looker's code, make the session, and set the session cookie - in
   that response, so the browser keeps it in the frame's own partition.

Nothing is written for a sign-in that is never redeemed, and no token exists before the
redemption. A leaked code opens nothing without the verifier, which never leaves the frame; the
code is bound to the frame's origin; Looker's code and the store's used-state mark make it
single-use. A page the popup was opened by, other than the frame named, receives nothing: the
browser delivers a message only to a window of the target origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from oauth_bridge.crypto import CookieSealer, InvalidCiphertext, derive_key
from oauth_bridge.models import PendingLogin

HANDOFF_TTL = 60
"""Seconds a sealed code may be redeemed after the callback: the frame redeems it at once, and
Looker's own authorization code, inside it, is short-lived too (the emulator's lives 60 s)."""

MESSAGE_TYPE = "oauth_bridge:popup_login"
"""The ``type`` of every message the popup posts; the SDK ignores messages of any other type."""

CHALLENGE_RE = re.compile(r"[A-Za-z0-9_-]{43}")
"""base64url of a SHA-256 digest, unpadded (RFC 7636 §4.2, the S256 method)."""

VERIFIER_RE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
"""RFC 7636 §4.1's code_verifier alphabet and length."""

MAX_CODE_LENGTH = 2048

_PURPOSE = b"oauth_bridge/popup-handoff/1"
_AAD = b"oauth_bridge/popup-handoff/1"


def challenge_of(verifier: str) -> str:
    """S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: object, challenge: str) -> bool:
    """Whether ``verifier`` (hostile input) is the one ``challenge`` was made from."""
    if not isinstance(verifier, str) or not VERIFIER_RE.fullmatch(verifier):
        return False
    return hmac.compare_digest(challenge_of(verifier), challenge)


@dataclass(frozen=True)
class Handoff:
    """What a redemption needs to finish the sign-in the popup started."""

    login: PendingLogin
    """The popup's pending login (state, the bridge's PKCE verifier, the frame's origin)."""
    looker_code: str
    issued_at: float


class HandoffCodec:
    """Seals and opens the one-time codes the popup hands to the frame."""

    def __init__(
        self, secret_key: str, *, ttl: int = HANDOFF_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self._sealer = CookieSealer(derive_key(secret_key, _PURPOSE))
        self.ttl = ttl
        self._clock = clock

    def seal(self, login: PendingLogin, looker_code: str) -> str:
        body = json.dumps(
            [
                login.state,
                login.code_verifier,
                login.opener_origin,
                login.challenge,
                round(login.created_at, 3),
                looker_code,
                round(self._clock(), 3),
            ],
            separators=(",", ":"),
        ).encode("utf-8")
        return self._sealer.seal(body, _AAD)

    def open(self, code: object) -> Handoff | None:
        """The handoff sealed in ``code`` while it is valid; None for anything else (hostile input
        never raises)."""
        if not isinstance(code, str) or not code or len(code) > MAX_CODE_LENGTH:
            return None
        try:
            state, verifier, origin, challenge, created, looker_code, issued = json.loads(
                self._sealer.open(code, _AAD)
            )
            handoff = Handoff(
                login=PendingLogin(
                    state=str(state),
                    code_verifier=str(verifier),
                    return_to="",
                    created_at=float(created),
                    opener_origin=str(origin),
                    challenge=str(challenge),
                ),
                looker_code=str(looker_code),
                issued_at=float(issued),
            )
        except (InvalidCiphertext, ValueError, TypeError):
            return None
        age = self._clock() - handoff.issued_at
        if not 0 <= age < self.ttl:
            return None
        return handoff

    def remaining_ms(self, handoff: Handoff) -> int:
        """Milliseconds ``handoff`` stays redeemable (at least 1)."""
        left = handoff.issued_at + self.ttl - self._clock()
        return max(1, math.ceil(left * 1000))


# The page the popup ends on. Its one script is fixed text, allowed by its hash, so the page needs
# no nonce and nothing in it is built from input; the data it posts is a JSON island.
_SCRIPT = """
const data = JSON.parse(document.getElementById("handoff").textContent);
const note = document.getElementById("note");
const opener = window.opener;
if (opener && !opener.closed) {
  opener.postMessage(data.message, data.origin);
  note.textContent = data.done;
  window.setTimeout(() => window.close(), 50);
} else {
  note.textContent = data.lost;
}
"""

SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

POPUP_PAGE_CSP = (
    f"default-src 'none'; script-src '{SCRIPT_HASH}'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto">
<h1>{title}</h1><p id="note">{waiting}</p>
<script type="application/json" id="handoff">{data}</script>
<script>{script}</script></body></html>"""

LOST_OPENER = (
    "This window lost its link to the app that opened it, so the sign-in cannot reach it. "
    "Close this window and press Sign in again in the app; if that keeps happening, open the "
    "app in a tab of its own."
)


def popup_page(*, origin: str, message: dict[str, str], title: str, done: str) -> str:
    """The HTML that posts ``message`` to the window that opened the popup, at ``origin`` only.

    ``origin`` must already be an allowed origin: the browser delivers the message only if the
    opener's document is of exactly that origin, so no other page ever receives the code.
    """
    island = json.dumps(
        {
            "origin": origin,
            "message": {"type": MESSAGE_TYPE, **message},
            "done": done,
            "lost": LOST_OPENER,
        },
        separators=(",", ":"),
    )
    # Inside <script>, only "</" could end the element early; escape the characters that matter.
    island = island.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _PAGE.format(
        title=html.escape(title),
        waiting=html.escape("Finishing the sign-in…"),
        data=island,
        script=_SCRIPT,
    )
