"""What the proxy does with a Looker that misbehaves: garbage, hang-ups, redirects, cookies.

A small raw-socket server plays the API host and answers each request with fixed bytes. The
bridge is real; its session is created in the real Redis store (the token means nothing to this
fake host, which only records that it was asked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from tests.support.bridge import BridgeServer
from tests.support.fake_looker import FakeLooker, session_cookie

pytestmark = pytest.mark.both_data_planes  # embedded proxy, and nginx in front

API = {"X-Looker-AppId": "upstream-test"}

REDIRECT = (
    b"HTTP/1.1 302 Found\r\nLocation: http://evil.example/steal\r\nContent-Length: 0\r\n"
    b"Set-Cookie: looker=1; Path=/\r\n\r\n"
)
COOKIES = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"Set-Cookie: looker_session=stolen; Path=/\r\nConnection: keep-alive, X-Secret\r\n"
    b"X-Secret: internal\r\nKeep-Alive: timeout=5\r\nAccess-Control-Allow-Origin: *\r\n"
    b"Server: looker\r\n\r\n{}"
)


@pytest.fixture
def fake_looker() -> Iterator[Callable[[bytes | None], FakeLooker]]:
    started: list[FakeLooker] = []

    def start(answer: bytes | None) -> FakeLooker:
        started.append(FakeLooker(answer))
        return started[-1]

    yield start
    for fake in started:
        fake.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"THIS IS NOT HTTP\r\n\r\n",
        b"HTTP/1.1 abc Broken\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        None,
    ],
    ids=["not-http", "bad-status", "bad-length", "hang-up"],
)
def test_unusable_answers_are_502_json(
    bridge_factory: Callable[..., BridgeServer],
    fake_looker: Callable[[bytes | None], FakeLooker],
    answer: bytes | None,
    data_plane: str,
) -> None:
    fake = fake_looker(answer)
    bridge = bridge_factory(looker_api_url=fake.url)
    if data_plane == "nginx" and answer is not None:
        _nginx_passes_a_broken_answer_on(bridge, answer)
        assert len(fake.requests) == 1
        return
    with requests.get(
        f"{bridge.url}/api/4.0/user",
        headers={**API, "Origin": bridge.spa_origin},
        cookies=session_cookie(bridge),
        timeout=20,
    ) as response:
        assert response.status_code == 502
        assert response.json()["error"] == "looker_unavailable"
        assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
    assert len(fake.requests) == 1  # asked once, not retried
    assert fake.requests[0].startswith(b"GET /api/4.0/user HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer " + b"a" * 44 in fake.requests[0]


def _nginx_passes_a_broken_answer_on(bridge: BridgeServer, answer: bytes) -> None:
    """Debian 12's nginx 1.22 cannot refuse these (docs/operations.md, "Where nginx answers
    differently"): an answer with no valid status line goes to the browser as HTTP/0.9, raw
    bytes with no status line, which a browser's fetch takes as a network error; a non-numeric
    Content-Length is ignored and the body read to the close. Embedded mode answers 502."""

    def get() -> requests.Response:
        return requests.get(
            f"{bridge.url}/api/4.0/user",
            headers={**API, "Origin": bridge.spa_origin},
            cookies=session_cookie(bridge),
            timeout=20,
        )

    if answer.startswith(b"HTTP/1.1 200"):
        with get() as response:
            assert response.status_code == 200
            assert response.content == b""
        return
    with pytest.raises(requests.exceptions.ConnectionError, match="BadStatusLine"):
        get()


def test_redirects_are_not_followed_nor_passed_on(
    bridge_factory: Callable[..., BridgeServer],
    fake_looker: Callable[[bytes | None], FakeLooker],
) -> None:
    fake = fake_looker(REDIRECT)
    bridge = bridge_factory(looker_api_url=fake.url)
    with requests.post(
        f"{bridge.url}/api/4.0/looks",
        headers=API,
        json={"title": "x"},
        cookies=session_cookie(bridge),
        timeout=20,
        allow_redirects=False,
    ) as response:
        assert response.status_code == 302
        assert "Location" not in response.headers
        assert "Set-Cookie" not in response.headers
    assert len(fake.requests) == 1


def test_upstream_cookies_and_hop_by_hop_headers_stay_behind(
    bridge_factory: Callable[..., BridgeServer],
    fake_looker: Callable[[bytes | None], FakeLooker],
) -> None:
    fake = fake_looker(COOKIES)
    bridge = bridge_factory(looker_api_url=fake.url)
    with requests.get(
        f"{bridge.url}/api/4.0/user",
        headers={**API, "Origin": "http://evil.example"},
        cookies=session_cookie(bridge),
        timeout=20,
    ) as response:
        assert response.status_code == 403  # the foreign origin never got this far
    with requests.get(
        f"{bridge.url}/api/4.0/user",
        headers={**API, "Origin": bridge.spa_origin},
        cookies=session_cookie(bridge),
        timeout=20,
    ) as response:
        assert response.status_code == 200
        assert response.json() == {}
        assert "Set-Cookie" not in response.headers
        assert "X-Secret" not in response.headers
        assert "Keep-Alive" not in response.headers
        assert response.headers.get("Server", "").lower() != "looker"
        assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
    assert len(fake.requests) == 1


def test_an_answer_broken_off_midway_fails_visibly(
    bridge_factory: Callable[..., BridgeServer],
    fake_looker: Callable[[bytes | None], FakeLooker],
) -> None:
    """A truncated chunked body must not reach the browser as a complete one."""
    fake = fake_looker(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"6\r\na,b,c\n\r\n"
    )
    bridge = bridge_factory(looker_api_url=fake.url)
    with requests.get(
        f"{bridge.url}/api/4.0/looks/1/run/csv",
        headers=API,
        cookies=session_cookie(bridge),
        timeout=20,
        stream=True,
    ) as response:
        assert response.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            response.content  # noqa: B018 - reading the body is the point
