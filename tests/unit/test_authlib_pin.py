"""Authlib is pinned to the minor versions whose private methods ``looker/client.py`` overrides.

``LookerOAuth2Session`` replaces Authlib's ``OAuth2Client._http_post`` and ``_fetch_token`` to send
JSON to Looker's ``/api/token``. Private methods may change in any release, so each supported
minor version was read (``authlib/oauth2/client.py`` and ``integrations/requests_client``): from
1.3 to 1.9 both methods, their callers (``fetch_token``, ``_refresh_token``) and the requests
session's ``__init__``/``request`` are unchanged. A new Authlib minor fails here, loudly, until
someone reads it the same way and widens ``SUPPORTED_MINORS`` and the pin in pyproject.toml.
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.client import OAuth2Client
from packaging.requirements import Requirement

from oauth_bridge.looker.client import LookerOAuth2Session

SUPPORTED_MINORS = frozenset((1, minor) for minor in range(3, 10))
"""(major, minor) versions checked against ``LookerOAuth2Session``'s overrides."""

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
EMPTY = inspect.Parameter.empty


def _parameters(function: Callable[..., Any]) -> list[tuple[str, inspect._ParameterKind, object]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_installed_authlib_is_a_supported_version() -> None:
    installed = version("authlib")
    major, minor = (int(part) for part in installed.split(".")[:2])
    if (major, minor) not in SUPPORTED_MINORS:
        checked = ", ".join(f"{a}.{b}" for a, b in sorted(SUPPORTED_MINORS))
        pytest.fail(
            f"Authlib {installed} is installed, but oauth_bridge/looker/client.py overrides "
            "Authlib's private OAuth2Client._http_post and _fetch_token and was only checked "
            f"against Authlib {checked}. Read authlib/oauth2/client.py of {installed}: if those "
            "methods and their callers are unchanged, add the version to SUPPORTED_MINORS here "
            "and widen the Authlib pin in pyproject.toml; otherwise adapt LookerOAuth2Session.",
            pytrace=False,
        )


def test_pyproject_pins_exactly_the_supported_minors() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (pin,) = [Requirement(d) for d in dependencies if Requirement(d).name.lower() == "authlib"]
    lowest, highest = min(SUPPORTED_MINORS), max(SUPPORTED_MINORS)
    for major, minor in SUPPORTED_MINORS:
        assert pin.specifier.contains(f"{major}.{minor}.0"), (pin, major, minor)
        assert pin.specifier.contains(f"{major}.{minor}.99"), (pin, major, minor)
    assert not pin.specifier.contains(f"{lowest[0]}.{lowest[1] - 1}.99"), pin
    assert not pin.specifier.contains(f"{highest[0]}.{highest[1] + 1}.0"), pin


def test_overridden_private_methods_keep_their_parameters() -> None:
    http_post = [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, EMPTY),
        ("url", inspect.Parameter.POSITIONAL_OR_KEYWORD, EMPTY),
        ("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("auth", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("headers", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("kwargs", inspect.Parameter.VAR_KEYWORD, EMPTY),
    ]
    fetch_token = [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, EMPTY),
        ("url", inspect.Parameter.POSITIONAL_OR_KEYWORD, EMPTY),
        ("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, ""),
        ("headers", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("auth", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("method", inspect.Parameter.POSITIONAL_OR_KEYWORD, "POST"),
        ("kwargs", inspect.Parameter.VAR_KEYWORD, EMPTY),
    ]
    assert _parameters(OAuth2Client._http_post) == http_post
    assert _parameters(OAuth2Client._fetch_token) == fetch_token
    # The overrides take exactly what Authlib passes them.
    assert _parameters(LookerOAuth2Session._http_post) == http_post
    assert _parameters(LookerOAuth2Session._fetch_token) == fetch_token


def test_what_the_overrides_rely_on_is_still_there() -> None:
    # The token requests reach the overrides: fetch_token -> _fetch_token, refresh -> _http_post.
    assert "self._fetch_token(" in inspect.getsource(OAuth2Client.fetch_token)
    assert "self._http_post(" in inspect.getsource(OAuth2Client._refresh_token)
    assert "default_timeout" in inspect.signature(OAuth2Session.__init__).parameters
    assert "withhold_token" in inspect.signature(OAuth2Session.request).parameters
    oauth = LookerOAuth2Session(client_id="pin-test", default_timeout=(1.0, 1.0))
    try:
        assert oauth.session is oauth
        assert oauth.default_timeout == (1.0, 1.0)
        assert "access_token_response" in oauth.compliance_hook
        assert callable(oauth.parse_response_token)
    finally:
        oauth.close()
