"""Where sign-in may send the browser back to: relative paths or exactly an allowed origin."""

from __future__ import annotations

import pytest

from oauth_bridge.errors import InvalidReturnTo
from oauth_bridge.security import validate_return_to

ALLOWED = ("https://allowed.example", "http://localhost:5173")

HOSTILE = [
    # protocol-relative and backslash forms
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "\\evil.example",
    "/\\/evil.example",
    "/.\\evil",
    # encoded slashes and backslashes, single and double
    "/%2f/evil.example",
    "/%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%5cevil.example",
    "/%5Cevil.example",
    "%5c%5cevil.example",
    "/%252f%252fevil.example",
    "/%25252f/evil.example",
    "/%255cevil.example",
    # whitespace and control characters, raw and encoded
    "/%09/evil.example",
    "/\t/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/%0d%0aSet-Cookie:x=1",
    "/%0a/evil.example",
    "/%00/evil.example",
    "/\x00",
    "/\x7f",
    "/%7f",
    "/\u00a0/evil.example",
    "/\u2028",
    "/\ufeff/evil.example",
    "/%e2%80%a8",
    # other schemes
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "javascript%3Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://allowed.example/",
    "blob:https://allowed.example/uuid",
    # scheme without slashes or host
    "https:evil.example",
    "https:/evil.example",
    "http:allowed.example",
    "https:",
    "https://",
    # origin look-alikes
    "https://allowed.example.evil",
    "https://allowed.example.evil/",
    "https://evil.example/https://allowed.example",
    "https://evilallowed.example",
    "https://allowed.examplé",
    "https://xn--allowed-example.evil",
    "https://allowed\u3002example",
    "https://allowed．example",
    "https://ａllowed.example",
    "http://allowed.example",
    "https://allowed.example:8443",
    "https://allowed.example:badport",
    "http://localhost:5174/",
    "http://127.0.0.1:5173/",
    # userinfo
    "https://allowed.example@evil.example",
    "https://allowed.example:pw@evil.example/",
    "https://user@allowed.example/",
    "https://evil.example#@allowed.example",
    "https://evil.example?@allowed.example",
    "https://evil.example\\@allowed.example",
    # relative forms that are not a single leading slash
    "evil.example",
    "./evil",
    "../evil",
    "?next=/",
    "#top",
    # unicode slashes before the host
    "/\u2215evil.example",
    "\uff0f\uff0fevil.example",
    # too long
    "/" + "a" * 5000,
]

VALID = [
    ("/", "/"),
    ("/dashboards/1", "/dashboards/1"),
    ("/looks?id=1&x=%2F", "/looks?id=1&x=%2F"),
    ("/app#section", "/app#section"),
    ("/caf%C3%A9", "/caf%C3%A9"),
    ("https://allowed.example", "https://allowed.example"),
    ("https://allowed.example/after/sign-in?x=1", "https://allowed.example/after/sign-in?x=1"),
    ("https://ALLOWED.example/", "https://ALLOWED.example/"),
    ("http://localhost:5173/#/home", "http://localhost:5173/#/home"),
]


def test_at_least_sixty_hostile_values() -> None:
    assert len(set(HOSTILE)) == len(HOSTILE) >= 60


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_return_to_is_refused(value: str) -> None:
    with pytest.raises(InvalidReturnTo):
        validate_return_to(value, allowed_origins=ALLOWED)


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_relative_paths_and_allowed_origins_are_kept(value: str, expected: str) -> None:
    assert validate_return_to(value, allowed_origins=ALLOWED) == expected


@pytest.mark.parametrize("value", [None, ""])
def test_nothing_asked_means_home(value: str | None) -> None:
    assert validate_return_to(value, allowed_origins=ALLOWED) == "/"


def test_no_allowed_origins_refuses_every_absolute_url() -> None:
    with pytest.raises(InvalidReturnTo):
        validate_return_to("https://allowed.example/", allowed_origins=())
    assert validate_return_to("/home", allowed_origins=()) == "/home"


def test_refusal_is_a_400_json_error() -> None:
    with pytest.raises(InvalidReturnTo) as caught:
        validate_return_to("//evil.example", allowed_origins=ALLOWED)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_return_to"
