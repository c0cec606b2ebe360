"""``/embed/token_url/me``: ``create_embed_url_as_me``, an embed URL that signs in as the caller.

No embed secret and no embed user: the URL opens a Looker embed session as the API caller
themself, "restricted to content visible under the ``/embed`` context" (the operation's
description in the 4.0 spec). The ``target_url`` "must be a complete URL of a Looker Embedded UI
page - scheme, hostname, path starting with "/embed" and query params": here, a URL of the
emulator's UI host. The answer is opaque ("Any modification to this string will make the URL
unusable", ``EmbedUrlResponse.url``); the UI host (:mod:`oauth_bridge.emulator.ui_embed`)
honours it once, within :attr:`~oauth_bridge.emulator.config.EmulatorConfig.embed_url_ttl`.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Blueprint, Response

from oauth_bridge.emulator.api40.common import authed, current_state, json_body, ok
from oauth_bridge.emulator.embed_sessions import DEFAULT_SESSION_LENGTH, MAX_SESSION_LENGTH
from oauth_bridge.emulator.errors import invalid
from oauth_bridge.emulator.seed import User
from oauth_bridge.emulator.spec import complete

bp = Blueprint("emulator_api40_embed", __name__)

LOGIN_PREFIX = "/login/embed/"
"""Where an embed URL points: this prefix, then the target path and query, URL-encoded."""
TOKEN_PARAM = "embed_token"  # noqa: S105 (a parameter name, not a secret)


def embed_target(target_url: str, ui_url: str) -> str:
    """The ``/embed/…`` path and query of ``target_url``, or 422 unless it is a URL of the UI
    host ``ui_url`` whose path starts with ``/embed/``."""
    parts, ui = urlsplit(target_url), urlsplit(ui_url)
    if (parts.scheme, parts.netloc) != (ui.scheme, ui.netloc):
        raise invalid("target_url", f"target_url must be a complete URL of {ui_url}.")
    if not parts.path.startswith("/embed/") or parts.fragment:
        raise invalid("target_url", "target_url's path must start with /embed/ (no fragment).")
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.post("/embed/token_url/me")
@authed
def create_embed_url_as_me(user: User) -> Response:
    body = json_body()
    if not isinstance(body.get("target_url"), str) or not body["target_url"]:
        raise invalid("target_url", "target_url is required.", code="missing")
    length = body.get("session_length")
    if length is None:
        length = DEFAULT_SESSION_LENGTH
    if not 1 <= length <= MAX_SESSION_LENGTH:  # its type was checked against the spec
        raise invalid("session_length", f"session_length must be 1 to {MAX_SESSION_LENGTH}.")
    state = current_state()
    target = embed_target(body["target_url"], state.ui_url)
    force = body.get("force_logout_login", True)
    token = state.grant_embed_url(user.id, target, length, force)
    url = f"{state.ui_url}{LOGIN_PREFIX}{quote(target, safe='')}?{TOKEN_PARAM}={token}"
    return ok(complete("EmbedUrlResponse", {"url": url}))
