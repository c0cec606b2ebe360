"""The request line the bridge sends to Looker is the one urllib3's PoolManager would build.

The proxy sends through the API host's connection pool with a ready request target (cheaper than
``PoolManager.urlopen`` parsing the whole URL on every call); these checks read the request line
a real socket server receives and compare it with ``parse_url(full URL).request_uri``, for API
URLs with and without a path and queries with characters urllib3 percent-encodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
from urllib3.util import parse_url

from oauth_bridge.services import get_services
from tests.support.bridge import BridgeServer
from tests.support.fake_looker import FakeLooker, session_cookie

OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\n{}"
)
QUERIES = ["", "fields=id,email", 'filter="<a>"|^`{x}&q=%2B%26', "a=1?b=2"]


@pytest.fixture
def fake() -> Iterator[FakeLooker]:
    server = FakeLooker(OK)
    yield server
    server.close()


def request_target(raw: bytes) -> str:
    line = raw.split(b"\r\n", 1)[0].decode("ascii")
    method, target, version = line.split(" ")
    assert (method, version) == ("GET", "HTTP/1.1")
    return target


@pytest.mark.parametrize("base_path", ["", "/looker", "/looker/", "/a/../looker", "/looker/.."])
def test_request_line_matches_pool_manager(
    bridge_factory: Callable[..., BridgeServer], fake: FakeLooker, base_path: str
) -> None:
    bridge = bridge_factory(looker_api_url=fake.url + base_path)
    cookies = session_cookie(bridge)
    for query in QUERIES:
        suffix = f"?{query}" if query else ""
        with requests.get(
            f"{bridge.url}/api/4.0/user{suffix}",
            headers={"X-Looker-AppId": "target-test"},
            cookies=cookies,
            timeout=20,
        ) as response:
            assert response.status_code == 200, response.text
        expected = parse_url(f"{bridge.settings.looker_api_url}/api/4.0/user{suffix}").request_uri
        assert request_target(fake.requests[-1]) == expected
    upstream = get_services(bridge.app).upstream
    # Only a base path whose dot segments merge with the API path needs PoolManager's way.
    assert (upstream.pool is None) == (base_path == "/looker/..")


def test_proxy_session_target_matches_pool_manager(
    bridge_factory: Callable[..., BridgeServer], fake: FakeLooker
) -> None:
    bridge = bridge_factory(looker_api_url=fake.url + "/looker")
    target = f"{bridge.settings.looker_api_url}/api/4.0/users/2?fields=id,{{x}}"
    with requests.get(
        f"{bridge.url}/api/proxy",
        headers={"X-Looker-AppId": "target-test", "X-Forwarded-For": target},
        cookies=session_cookie(bridge),
        timeout=20,
    ) as response:
        assert response.status_code == 200, response.text
    assert request_target(fake.requests[-1]) == parse_url(target).request_uri
    assert request_target(fake.requests[-1]) == "/looker/api/4.0/users/2?fields=id,%7Bx%7D"
