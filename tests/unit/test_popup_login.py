"""The popup sign-in's codec and page: pure functions, no server."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from oauth_bridge.models import PendingLogin
from oauth_bridge.popup_login import (
    _SCRIPT,
    HANDOFF_TTL,
    MESSAGE_TYPE,
    SCRIPT_HASH,
    HandoffCodec,
    challenge_of,
    popup_page,
    verifier_matches,
)

# RFC 7636, Appendix B: the S256 example.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def login() -> PendingLogin:
    return PendingLogin(
        "state-1", "bridge-verifier", "", 999_990.0, "https://app.example", RFC_CHALLENGE
    )


def test_challenge_is_rfc_7636_s256() -> None:
    assert challenge_of(RFC_VERIFIER) == RFC_CHALLENGE
    assert verifier_matches(RFC_VERIFIER, RFC_CHALLENGE)


@pytest.mark.parametrize("bad", [None, 1, b"x", "", "a" * 42, "a" * 129, RFC_VERIFIER + "!"])
def test_verifier_matches_refuses_anything_else(bad: object) -> None:
    assert not verifier_matches(bad, RFC_CHALLENGE)


def test_handoff_round_trips_until_it_expires() -> None:
    clock = Clock()
    codec = HandoffCodec("k" * 32, clock=clock)
    code = codec.seal(login(), "looker-code")
    opened = codec.open(code)
    assert opened is not None
    assert opened.login == login() and opened.looker_code == "looker-code"
    assert "looker-code" not in code and "bridge-verifier" not in code
    clock.now += HANDOFF_TTL - 1
    assert codec.open(code) is not None
    clock.now += 1
    assert codec.open(code) is None


def test_handoff_from_another_key_or_tampered_is_refused() -> None:
    code = HandoffCodec("k" * 32).seal(login(), "looker-code")
    assert HandoffCodec("j" * 32).open(code) is None
    assert HandoffCodec("k" * 32).open(code[:-2] + ("AA" if code[-2:] != "AA" else "BB")) is None
    for hostile in (None, 5, "", "v1.", "v1." + "A" * 3000, "\u00e9" * 10):
        assert HandoffCodec("k" * 32).open(hostile) is None


def test_popup_page_script_is_the_hashed_one_and_data_cannot_end_it() -> None:
    page = popup_page(
        origin="https://app.example",
        message={"code": "</script><script>alert(1)</script>"},
        title="Signed <in>",
        done="done",
    )
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert scripts == [_SCRIPT]
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    assert SCRIPT_HASH == f"sha256-{digest}"
    island = re.search(r'id="handoff">(.*?)</script>', page, re.S)
    assert island is not None
    data = json.loads(island.group(1))
    assert data["origin"] == "https://app.example"
    assert data["message"] == {"type": MESSAGE_TYPE, "code": "</script><script>alert(1)</script>"}
    assert "Signed &lt;in&gt;" in page
