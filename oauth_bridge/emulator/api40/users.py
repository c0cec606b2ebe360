"""Users and API sessions: ``/login`` (API3 credentials, sudo), ``/session``, ``/user``, ``/users``.

An Admin sees and changes every user; anyone else sees only themselves and may change only
their own name and locale. Disabling or deleting a user ends all of that user's tokens (the
state does it), as on Looker.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.api40.common import (
    authed,
    authenticate,
    check_types,
    current_state,
    each_with_fields,
    json_body,
    no_content,
    ok,
    with_fields,
)
from oauth_bridge.emulator.api40.permissions import admin_required, user_for
from oauth_bridge.emulator.errors import forbidden, not_found
from oauth_bridge.emulator.seed import ADMIN, User
from oauth_bridge.emulator.spec import complete

bp = Blueprint("emulator_api40_users", __name__)


@bp.post("/login")
def login() -> Response:
    form = request.form if request.form else request.args
    answer = current_state().api3_login(form.get("client_id", ""), form.get("client_secret", ""))
    if answer is None:
        raise not_found()
    return ok(answer)


@bp.post("/login/<user_id>")
@authed
def login_user(user: User, user_id: str) -> Response:
    admin_required(user)
    answer = current_state().sudo_login(user_id)
    if answer is None:
        raise not_found()
    return ok(answer)


@bp.get("/session")
def session() -> Response:
    """``ApiSession``: always the production workspace; ``sudo_user_id`` on a sudo token."""
    user, record = authenticate(current_state())
    body = {
        "can": {"view": True, "update": True},
        "workspace_id": "production",
        "sudo_user_id": user.id if record.kind == "sudo" else None,
    }
    return with_fields(complete("ApiSession", body))


@bp.get("/user")
@authed
def me(user: User) -> Response:
    return with_fields(schemas.user_json(user, current_state().api_url))


@bp.get("/users")
@authed
def all_users(user: User) -> Response:
    state = current_state()
    users = list(state.users.values()) if user.role == ADMIN else [user]
    return each_with_fields([schemas.user_json(u, state.api_url) for u in users])


@bp.get("/users/<user_id>")
@authed
def get_user(user: User, user_id: str) -> Response:
    return with_fields(schemas.user_json(user_for(user, user_id), current_state().api_url))


@bp.patch("/users/<user_id>")
@authed
def update_user(user: User, user_id: str) -> Response:
    state = current_state()
    target = state.users.get(user_id)
    if target is None:
        raise not_found()
    body = json_body()
    check_types(body, {"first_name": str, "last_name": str, "locale": str, "is_disabled": bool})
    if user.role != ADMIN and (target.id != user.id or "is_disabled" in body):
        raise forbidden()
    for name in ("first_name", "last_name", "locale"):
        if isinstance(body.get(name), str):
            setattr(target, name, body[name])
    if "is_disabled" in body:
        state.disable_user(target.id, bool(body["is_disabled"]))
    return with_fields(schemas.user_json(target, state.api_url))


@bp.delete("/users/<user_id>")
@authed
def delete_user(user: User, user_id: str) -> Response:
    admin_required(user)
    if not current_state().delete_user(user_id):
        raise not_found()
    return no_content()
