"""``/groups``: the seed groups, as Looker's ``Group`` objects, and their users.

An Admin sees every group; other users see the groups they belong to (the emulator's reading of
Looker's ``see_groups`` permission, which only the Admin role has here), and 404 for the rest.
``search_groups`` takes Looker's search parameters (:mod:`.search`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from oauth_bridge.emulator.api40.common import authed, current_state, each_with_fields, with_fields
from oauth_bridge.emulator.api40.search import search_answer
from oauth_bridge.emulator.errors import not_found
from oauth_bridge.emulator.schemas import user_json
from oauth_bridge.emulator.seed import ADMIN, GROUPS, Group, User
from oauth_bridge.emulator.spec import complete

bp = Blueprint("emulator_api40_groups", __name__)


def _visible(user: User) -> list[Group]:
    return [g for g in GROUPS if user.role == ADMIN or user.id in g.user_ids]


def group_json(group: Group, user: User) -> dict[str, Any]:
    members = [uid for uid in group.user_ids if uid in current_state().users]
    body = {
        "can": {"show": True, "index": True, "update": user.role == ADMIN},
        "can_add_to_content_metadata": True,
        "contains_current_user": user.id in group.user_ids,
        "external_group_id": None,
        "externally_managed": False,
        "id": group.id,
        "include_by_default": group.id == "1",
        "name": group.name,
        "user_count": len(members),
    }
    return complete("Group", body)


def _group_for(user: User, group_id: str) -> Group:
    for group in _visible(user):
        if group.id == group_id:
            return group
    raise not_found()


@bp.get("/groups")
@authed
def all_groups(user: User) -> Response:
    wanted = {i.strip() for i in request.args.get("ids", "").split(",") if i.strip()}
    groups = [g for g in _visible(user) if not wanted or g.id in wanted]
    return search_answer([group_json(g, user) for g in groups])


@bp.get("/groups/search")
@authed
def search_groups(user: User) -> Response:
    bodies = [group_json(g, user) for g in _visible(user)]
    return search_answer(bodies, ("id", "name", "external_group_id", "externally_managed"))


@bp.get("/groups/<group_id>")
@authed
def group(user: User, group_id: str) -> Response:
    return with_fields(group_json(_group_for(user, group_id), user))


@bp.get("/groups/<group_id>/users")
@authed
def all_group_users(user: User, group_id: str) -> Response:
    found = _group_for(user, group_id)
    state = current_state()
    members = [state.users[uid] for uid in sorted(found.user_ids) if uid in state.users]
    if user.role != ADMIN:  # others see themselves in their own groups, no one else
        members = [m for m in members if m.id == user.id]
    return each_with_fields([user_json(m, state.api_url) for m in members])
