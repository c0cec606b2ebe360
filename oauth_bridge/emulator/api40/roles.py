"""``/roles`` and ``/users/{id}/roles``: the three seed roles, as Looker's ``Role`` objects.

Listing every role is an Admin's (others get 404, as for other admin resources); a user may read
their own roles, an Admin anyone's. Each role's permission set says what :mod:`.permissions`
lets it do, and its model set the LookML models it may query.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from oauth_bridge.emulator.api40.common import authed, current_state, each_with_fields
from oauth_bridge.emulator.api40.permissions import MODELS, admin_only, user_for
from oauth_bridge.emulator.seed import ADMIN, DEVELOPER, ROLE_IDS, VIEWER, User
from oauth_bridge.emulator.spec import complete

bp = Blueprint("emulator_api40_roles", __name__)

SEEING = ("access_data", "see_looks", "see_user_dashboards", "see_lookml_dashboards")
PERMISSIONS = {
    VIEWER: SEEING,
    DEVELOPER: (*SEEING, "explore", "save_content", "see_lookml", "develop", "use_sql_runner"),
    ADMIN: (
        *SEEING,
        "explore",
        "save_content",
        "see_lookml",
        "develop",
        "use_sql_runner",
        "administer",
    ),
}
"""Looker permission names for what each seed role may do here."""


def role_json(name: str, api_url: str) -> dict[str, Any]:
    """``Role`` with its ``PermissionSet`` and ``ModelSet`` (built in, one each per role)."""
    role_id, everything = ROLE_IDS[name], name == ADMIN
    url = f"{api_url}/api/4.0"
    body = {
        "can": {"show": True, "index": True, "update": False},
        "id": role_id,
        "name": name,
        "permission_set": {
            "can": {},
            "all_access": everything,
            "built_in": True,
            "id": role_id,
            "name": name,
            "permissions": list(PERMISSIONS[name]),
            "url": f"{url}/permission_sets/{role_id}",
        },
        "permission_set_id": role_id,
        "model_set": {
            "can": {},
            "all_access": everything,
            "built_in": True,
            "id": role_id,
            "models": sorted(model for model, roles in MODELS.items() if name in roles),
            "name": "All" if everything else name,
            "url": f"{url}/model_sets/{role_id}",
        },
        "model_set_id": role_id,
        "internal": False,
        "url": f"{url}/roles/{role_id}",
        "users_url": f"{url}/roles/{role_id}/users",
    }
    return complete("Role", body)


@bp.get("/roles")
@authed
def all_roles(user: User) -> Response:
    admin_only(user)
    wanted = {i.strip() for i in request.args.get("ids", "").split(",") if i.strip()}
    api_url = current_state().api_url
    return each_with_fields(
        [role_json(name, api_url) for name, rid in ROLE_IDS.items() if not wanted or rid in wanted]
    )


@bp.get("/users/<user_id>/roles")
@authed
def user_roles(user: User, user_id: str) -> Response:
    return each_with_fields([role_json(user_for(user, user_id).role, current_state().api_url)])
