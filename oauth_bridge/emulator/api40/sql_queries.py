"""``/sql_queries``: SQL Runner, as an app that runs its own SQL on a Looker connection uses it.

``create_sql_query`` saves a statement under a new slug, on a connection named directly or
through a LookML model (the spec: "Either the ``connection_name`` or ``model_name`` parameter
MUST be provided"); it does not run it. ``run_sql_query`` runs it over the emulator's one table
(:mod:`oauth_bridge.emulator.sql_runner`) in the formats query runs take, and counts the run.
Only roles with ``use_sql_runner`` (Developer, Admin) may create, read or run one. A statement
the database refuses answers 200 with the error in the body, as Looker answers a query whose SQL
fails (``[{"looker_error": "SQL Error: …"}]``, seen by spectacles-ci/spectacles issue 67); in
the text formats the body is that message.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request

from oauth_bridge.emulator import lookml, schemas, sql_runner
from oauth_bridge.emulator.api40.common import (
    authed,
    current_state,
    json_body,
    with_fields,
)
from oauth_bridge.emulator.api40.permissions import content, may_use_sql_runner, model_for
from oauth_bridge.emulator.api40.queries import new_slug
from oauth_bridge.emulator.config import MAX_RESULT_ROWS
from oauth_bridge.emulator.errors import LookerError, invalid, not_found
from oauth_bridge.emulator.results import EXTENSIONS, FORMATS, write
from oauth_bridge.emulator.seed import SqlQuery, User
from oauth_bridge.emulator.spec import complete

bp = Blueprint("emulator_api40_sql_queries", __name__)

CONNECTIONS = frozenset(model.connection_name for model in lookml.MODELS.values())
"""The database connections the seed models run on."""
SLUG_LENGTH = 7


def sql_query_json(query: SqlQuery) -> dict[str, Any]:
    state = current_state()
    creator = state.users.get(query.user_id)
    body = {
        "can": {"run": True, "show": True, "download": True},
        "slug": query.slug,
        "last_runtime": query.last_runtime,
        "run_count": query.run_count,
        "browser_limit": sql_runner.DEFAULT_ROWS,
        "sql": query.sql,
        "last_run_at": query.last_run_at,
        "connection": {"can": {}, "name": query.connection_name, "pdts_enabled": False},
        "model_name": query.model_name,
        "creator": schemas.user_public(creator, state.api_url) if creator else None,
        "explore_url": None,
        "plaintext": False,
        "vis_config": query.vis_config,
        "result_maker_id": None,
    }
    return complete("SqlQuery", body)


def _connection(user: User, body: dict[str, Any]) -> tuple[str, str | None]:
    """(connection name, model name) of a create body: 422 without either, 404 for unknown."""
    model_name, connection_name = body.get("model_name"), body.get("connection_name")
    if not model_name and not connection_name:
        raise invalid("connection_name", "connection_name or model_name is required.", "missing")
    if model_name:
        model = model_for(user, model_name)
        if connection_name and connection_name != model.connection_name:
            raise invalid("connection_name", "connection_name is not model_name's connection.")
        return model.connection_name, model.name
    if connection_name not in CONNECTIONS:
        raise not_found()
    return connection_name, None


def _sql_query_for(user: User, slug: str) -> SqlQuery:
    may_use_sql_runner(user)
    found = content().sql_queries.get(slug)
    if found is None:
        raise not_found()
    return found


@bp.post("/sql_queries")
@authed
def create_sql_query(user: User) -> Response:
    may_use_sql_runner(user)
    body = json_body()
    if not (body.get("sql") or "").strip():
        raise invalid("sql", "sql is required.", code="missing")
    if body.get("connection_id") and not body.get("connection_name"):
        body["connection_name"] = body["connection_id"]  # the spec's deprecated spelling
    connection_name, model_name = _connection(user, body)
    queries = content().sql_queries
    slug = new_slug(SLUG_LENGTH)
    while slug in queries:
        slug = new_slug(SLUG_LENGTH)
    created = SqlQuery(
        slug, body["sql"], connection_name, model_name, user.id, body.get("vis_config")
    )
    queries[slug] = created
    return with_fields(sql_query_json(created))


@bp.get("/sql_queries/<slug>")
@authed
def sql_query(user: User, slug: str) -> Response:
    return with_fields(sql_query_json(_sql_query_for(user, slug)))


@bp.post("/sql_queries/<slug>/run/<result_format>")
@authed
def run_sql_query(user: User, slug: str, result_format: str) -> Response:
    saved = _sql_query_for(user, slug)
    if result_format not in FORMATS:
        raise LookerError(400, f"Unsupported result format: {result_format}")
    started = time.monotonic()
    saved.run_count += 1
    saved.last_run_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        statement = sql_runner.parse(saved.sql, MAX_RESULT_ROWS)
    except sql_runner.SqlError as error:
        saved.last_runtime = round(time.monotonic() - started, 3)
        return _database_error(f"SQL Error: {error}", result_format)
    body = write(current_state(), sql_runner.result(statement, saved.sql), result_format)
    saved.last_runtime = round(time.monotonic() - started, 3)
    response = Response(body, mimetype=FORMATS[result_format])
    if request.args.get("download", "").lower() == "true":
        name = f"sql_runner_{slug}.{EXTENSIONS[result_format]}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _database_error(message: str, result_format: str) -> Response:
    if FORMATS[result_format] == "application/json":
        return Response(json.dumps([{"looker_error": message}]), mimetype="application/json")
    return Response(message + "\n", mimetype=FORMATS[result_format])
