"""``/folders``: the folders a user's role sees, each with the looks and dashboards in it;
search over them and a folder's children."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.api40.common import authed, current_state, ok, with_fields
from oauth_bridge.emulator.api40.permissions import content, visible_folder
from oauth_bridge.emulator.api40.search import search_answer
from oauth_bridge.emulator.seed import User

bp = Blueprint("emulator_api40_folders", __name__)


def folder_with_content(user: User, folder_id: str) -> dict[str, Any]:
    """The folder's JSON with its live looks and its dashboards, as ``user``'s role sees them."""
    everything, api_url = content(), current_state().api_url
    looks = [
        schemas.look_json(look, everything, user.role, api_url)
        for look in everything.looks.values()
        if look.folder_id == folder_id and not look.deleted
    ]
    dashboards = [
        schemas.dashboard_json(d, everything, user.role, api_url)
        for d in everything.dashboards.values()
        if d.folder_id == folder_id
    ]
    return schemas.folder_json(everything.folders[folder_id], looks, dashboards)


@bp.get("/folders")
@authed
def all_folders(user: User) -> Response:
    folders = [f for f in content().folders.values() if user.role in f.roles]
    return ok([folder_with_content(user, f.id) for f in folders])


SEARCH_FILTERS = ("name", "id", "parent_id", "creator_id", "is_shared_root", "is_users_root")
"""``search_folders`` filters the seed data can answer."""


@bp.get("/folders/search")
@authed
def search_folders(user: User) -> Response:
    folders = [f for f in content().folders.values() if user.role in f.roles]
    return search_answer([folder_with_content(user, f.id) for f in folders], SEARCH_FILTERS)


@bp.get("/folders/<folder_id>/children")
@authed
def folder_children(user: User, folder_id: str) -> Response:
    visible_folder(user, folder_id)
    children = [
        f for f in content().folders.values() if f.parent_id == folder_id and user.role in f.roles
    ]
    return search_answer([folder_with_content(user, f.id) for f in children])


@bp.get("/folders/<folder_id>")
@authed
def folder(user: User, folder_id: str) -> Response:
    visible_folder(user, folder_id)
    return with_fields(folder_with_content(user, folder_id))


@bp.get("/folders/<folder_id>/looks")
@authed
def folder_looks(user: User, folder_id: str) -> Response:
    visible_folder(user, folder_id)
    return ok(folder_with_content(user, folder_id)["looks"])


@bp.get("/folders/<folder_id>/dashboards")
@authed
def folder_dashboards(user: User, folder_id: str) -> Response:
    visible_folder(user, folder_id)
    return ok(folder_with_content(user, folder_id)["dashboards"])
