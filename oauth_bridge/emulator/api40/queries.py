"""``/queries``: create queries, read them by id or slug and run them, or run an ad-hoc one.

Results are made up and streamed by :mod:`oauth_bridge.emulator.results`; :func:`run_results`
is the one way a view answers with rows (looks use it too).
"""

from __future__ import annotations

import secrets
import string

from flask import Blueprint, Response, request

from oauth_bridge.emulator import query_engine, schemas
from oauth_bridge.emulator.api40.common import (
    authed,
    current_state,
    json_body,
    row_limit,
    with_fields,
)
from oauth_bridge.emulator.api40.permissions import (
    MODELS,
    content,
    may_edit,
    query_for,
    query_for_slug,
)
from oauth_bridge.emulator.api40.query_body import new_query
from oauth_bridge.emulator.errors import LookerError, not_found
from oauth_bridge.emulator.results import FORMATS, write
from oauth_bridge.emulator.seed import Query, User

bp = Blueprint("emulator_api40_queries", __name__)


def run_results(query: Query, result_format: str, rows: int) -> Response:
    """``query``'s answer, at most ``rows`` rows (-1: all), in ``result_format``, streamed (400
    for an unknown format); the request's ``apply_formatting`` renders values as Looker does."""
    if result_format not in FORMATS:
        raise LookerError(400, f"Unsupported result format: {result_format}")
    result = query_engine.run(query, rows, schemas.explore_field_json)
    formatting = request.args.get("apply_formatting", "").lower() == "true"
    body = write(current_state(), result, result_format, formatting)
    return Response(body, mimetype=FORMATS[result_format])


SLUG_CHARS = string.ascii_letters + string.digits


def new_slug(length: int) -> str:
    """A random slug of ``length`` letters and digits (queries', SQL Runner queries')."""
    return "".join(secrets.choice(SLUG_CHARS) for _ in range(length))


@bp.post("/queries")
@authed
def create_query(user: User) -> Response:
    """Looker's ``create_query``: needs ``explore`` (403 for a Viewer), answers the new query."""
    may_edit(user)
    queries = content().queries
    query_id = str(max((int(k) for k in queries if k.isdigit()), default=0) + 1)
    slug = new_slug(22)
    created = new_query(user, json_body(), query_id, slug)
    queries[query_id] = created
    return with_fields(schemas.query_json(created, current_state().api_url))


@bp.get("/queries/slug/<slug>")
@authed
def slug_query(user: User, slug: str) -> Response:
    return with_fields(schemas.query_json(query_for_slug(user, slug), current_state().api_url))


@bp.get("/queries/<query_id>")
@authed
def query(user: User, query_id: str) -> Response:
    return with_fields(schemas.query_json(query_for(user, query_id), current_state().api_url))


@bp.get("/queries/<query_id>/run/<result_format>")
@authed
def run_query(user: User, query_id: str, result_format: str) -> Response:
    found = query_for(user, query_id)
    return run_results(found, result_format, row_limit(found.limit))


@bp.post("/queries/run/<result_format>")
@authed
def run_inline_query(user: User, result_format: str) -> Response:
    """Looker's ``run_inline_query``: the body is a new query (checked as ``create_query``
    checks one, ``orders.id`` when it names no fields), run without being saved."""
    may_edit(user)
    body = json_body()
    if isinstance(body.get("model"), str) and body["model"] not in MODELS:
        raise not_found()
    inline = new_query(user, {"fields": ["orders.id"]} | body, "inline", "inline")
    return run_results(inline, result_format, row_limit(inline.limit))
