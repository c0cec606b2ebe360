"""``/dashboards``: list and read the dashboards a user's role sees, search them, and
read their elements."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.api40.common import authed, current_state, each_with_fields, with_fields
from oauth_bridge.emulator.api40.permissions import content, dashboard_for, sees_folder
from oauth_bridge.emulator.api40.search import search_answer
from oauth_bridge.emulator.seed import User

bp = Blueprint("emulator_api40_dashboards", __name__)


SEARCH_FILTERS = tuple(
    "id slug title description folder_id deleted user_id view_count content_metadata_id".split()
)
"""``search_dashboards`` filters the seed data can answer."""


def _visible(user: User) -> list[dict[str, Any]]:
    everything, api_url = content(), current_state().api_url
    return [
        schemas.dashboard_json(d, everything, user.role, api_url)
        for d in everything.dashboards.values()
        if sees_folder(user, d.folder_id)
    ]


@bp.get("/dashboards")
@authed
def all_dashboards(user: User) -> Response:
    return each_with_fields(_visible(user))


@bp.get("/dashboards/search")
@authed
def search_dashboards(user: User) -> Response:
    return search_answer(_visible(user), SEARCH_FILTERS)


@bp.get("/dashboards/<dashboard_id>")
@authed
def dashboard(user: User, dashboard_id: str) -> Response:
    found = dashboard_for(user, dashboard_id)
    return with_fields(schemas.dashboard_json(found, content(), user.role, current_state().api_url))


@bp.get("/dashboards/<dashboard_id>/dashboard_elements")
@authed
def dashboard_dashboard_elements(user: User, dashboard_id: str) -> Response:
    found = dashboard_for(user, dashboard_id)
    body = schemas.dashboard_json(found, content(), user.role, current_state().api_url)
    return each_with_fields(body["dashboard_elements"])
