"""``/oauth_client_apps``: register, read, change and delete OAuth client apps (Admin only).

What the bridge's ``register-client`` command calls. Changing a redirect URI, disabling or
deleting an app ends the tokens it gave out (the state does it), as on Looker.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.api40.common import (
    authed,
    check_types,
    current_state,
    each_with_fields,
    json_body,
    no_content,
    with_fields,
)
from oauth_bridge.emulator.api40.permissions import admin_only
from oauth_bridge.emulator.errors import LookerError, invalid, not_found
from oauth_bridge.emulator.records import Conflict
from oauth_bridge.emulator.seed import User

bp = Blueprint("emulator_api40_client_apps", __name__)


def _exists(guid: str) -> None:
    if current_state().apps.get(guid) is None:
        raise not_found()


def _answer(guid: str) -> Response:
    state = current_state()
    return with_fields(schemas.app_json(state.apps[guid], state.users, state.api_url))


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``body`` to set; one ``redirect_uri`` from either of Looker's two names."""
    check_types(
        body,
        {
            "redirect_uri": str,
            "redirect_uris": list,
            "display_name": str,
            "description": str,
            "group_id": str,
        },
    )
    if "enabled" in body and not isinstance(body["enabled"], bool):
        raise invalid("enabled", "enabled must be a boolean.")
    changes: dict[str, Any] = {
        name: body[name]
        for name in ("display_name", "description", "enabled", "group_id")
        if name in body and body[name] is not None
    }
    uris = body.get("redirect_uris") or ([body["redirect_uri"]] if body.get("redirect_uri") else [])
    if uris:
        if not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in uris):
            raise invalid("redirect_uri", "redirect_uri must be an absolute http(s) URL.")
        changes["redirect_uri"] = uris[0]
    return changes


@bp.get("/oauth_client_apps")
@authed
def all_apps(user: User) -> Response:
    admin_only(user)
    state = current_state()
    return each_with_fields(
        [schemas.app_json(a, state.users, state.api_url) for a in state.apps.values()]
    )


@bp.get("/oauth_client_apps/<guid>")
@authed
def get_app(user: User, guid: str) -> Response:
    admin_only(user)
    _exists(guid)
    return _answer(guid)


@bp.post("/oauth_client_apps/<guid>")
@authed
def register_app(user: User, guid: str) -> Response:
    admin_only(user)
    changes = _changes(json_body())
    if "redirect_uri" not in changes:
        raise invalid("redirect_uri", "redirect_uri is required.", code="missing")
    state = current_state()
    try:
        state.register_client_app(guid, changes.pop("redirect_uri"))
    except Conflict:
        raise LookerError(409, "An OAuth client app with this client_guid exists.") from None
    state.update_app(guid, **changes)
    return _answer(guid)


@bp.patch("/oauth_client_apps/<guid>")
@authed
def update_app(user: User, guid: str) -> Response:
    admin_only(user)
    _exists(guid)
    changes = _changes(json_body())
    state = current_state()
    if changes.get("redirect_uri") == state.apps[guid].redirect_uri:
        del changes["redirect_uri"]
    state.update_app(guid, **changes)
    return _answer(guid)


@bp.delete("/oauth_client_apps/<guid>")
@authed
def delete_app(user: User, guid: str) -> Response:
    admin_only(user)
    if not current_state().delete_app(guid):
        raise not_found()
    return no_content()


@bp.delete("/oauth_client_apps/<guid>/tokens")
@authed
def invalidate_tokens(user: User, guid: str) -> Response:
    admin_only(user)
    if not current_state().invalidate_app_tokens(guid):
        raise not_found()
    return no_content()


@bp.post("/oauth_client_apps/<guid>/users/<user_id>")
@authed
def activate_app_user(user: User, guid: str, user_id: str) -> Response:
    admin_only(user)
    if not current_state().set_app_user(guid, user_id, active=True):
        raise not_found()
    return _answer(guid)


@bp.delete("/oauth_client_apps/<guid>/users/<user_id>")
@authed
def deactivate_app_user(user: User, guid: str, user_id: str) -> Response:
    admin_only(user)
    if not current_state().set_app_user(guid, user_id, active=False):
        raise not_found()
    return no_content()
