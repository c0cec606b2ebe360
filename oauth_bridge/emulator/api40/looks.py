"""``/looks``: list, search, read, change, delete and run the looks a user's role sees.

Changing or deleting needs an editing role (:func:`~.permissions.may_edit`); a look moves only
into a folder the user sees. Running a look runs its saved query (:mod:`.queries`).
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
    row_limit,
    with_fields,
)
from oauth_bridge.emulator.api40.permissions import content, look_for, may_edit, sees_folder
from oauth_bridge.emulator.api40.queries import run_results
from oauth_bridge.emulator.api40.search import search_answer
from oauth_bridge.emulator.errors import invalid
from oauth_bridge.emulator.seed import Look, User

bp = Blueprint("emulator_api40_looks", __name__)


def _answer(user: User, look: Look) -> Response:
    return with_fields(schemas.look_json(look, content(), user.role, current_state().api_url))


SEARCH_FILTERS = tuple("id title description folder_id user_id view_count deleted query_id".split())
"""``search_looks`` filters the seed data can answer."""


def _visible(user: User) -> list[dict[str, Any]]:
    everything, api_url = content(), current_state().api_url
    return [
        schemas.look_json(look, everything, user.role, api_url)
        for look in everything.looks.values()
        if not look.deleted and sees_folder(user, look.folder_id)
    ]


@bp.get("/looks")
@authed
def all_looks(user: User) -> Response:
    return each_with_fields(_visible(user))


@bp.get("/looks/search")
@authed
def search_looks(user: User) -> Response:
    """``Look`` objects: a search answers without the ``LookWithQuery`` query."""
    found = [{k: v for k, v in look.items() if k != "query"} for look in _visible(user)]
    return search_answer(found, SEARCH_FILTERS)


@bp.get("/looks/<look_id>")
@authed
def look(user: User, look_id: str) -> Response:
    return _answer(user, look_for(user, look_id))


@bp.patch("/looks/<look_id>")
@authed
def update_look(user: User, look_id: str) -> Response:
    target = look_for(user, look_id)
    may_edit(user)
    body = json_body()
    check_types(body, {"title": str, "description": str, "folder_id": str, "public": bool})
    if "title" in body and not str(body["title"] or "").strip():
        raise invalid("title", "title must not be blank.", code="missing")
    if "folder_id" in body and not sees_folder(user, str(body["folder_id"])):
        raise invalid("folder_id", "folder_id is not a folder you can see.")
    for name in ("title", "description", "folder_id", "public"):
        if name in body and body[name] is not None:
            setattr(target, name, body[name])
    return _answer(user, target)


@bp.delete("/looks/<look_id>")
@authed
def delete_look(user: User, look_id: str) -> Response:
    look_for(user, look_id)
    may_edit(user)
    del content().looks[look_id]
    return no_content()


@bp.get("/looks/<look_id>/run/<result_format>")
@authed
def run_look(user: User, look_id: str, result_format: str) -> Response:
    query = content().queries[look_for(user, look_id).query_id]
    return run_results(query, result_format, row_limit(query.limit))
