"""``/query_tasks``: Looker's async queries, as dashboards and Looker's components run them.

``create_query_task`` takes a saved query the caller may run and a result format; the task is
``running`` for :attr:`~oauth_bridge.emulator.config.EmulatorConfig.query_task_seconds` (0 by
default: ready at once), then ``complete``. ``query_task_results`` answers 202 while it runs, as
the spec says ("If the query task is still running or waiting to run, this function returns 202
Accepted"), then the rows as ``run_query`` would. A task is its creator's (404 for others).
``query_task_multi_results`` is not emulated.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response

from oauth_bridge.emulator.api40.common import (
    authed,
    check_types,
    current_state,
    json_body,
    row_limit,
    with_fields,
)
from oauth_bridge.emulator.api40.permissions import content, query_for
from oauth_bridge.emulator.api40.queries import run_results
from oauth_bridge.emulator.errors import LookerError, invalid, not_emulated, not_found
from oauth_bridge.emulator.operations import Operation
from oauth_bridge.emulator.results import FORMATS
from oauth_bridge.emulator.schemas import query_json
from oauth_bridge.emulator.seed import QueryTask, User
from oauth_bridge.emulator.spec import complete

bp = Blueprint("emulator_api40_query_tasks", __name__)
MULTI_RESULTS = "/query_tasks/multi_results"
SHADOWED = frozenset({"query_task_multi_results"})
"""Operations that a route of this module matches (``/query_tasks/{query_task_id}``) but whose
view answers as not emulated."""


def _status(task: QueryTask) -> str:
    return "complete" if time.monotonic() >= task.ready_at else "running"


def task_json(task: QueryTask) -> dict[str, Any]:
    state = current_state()
    query = content().queries.get(task.query_id)
    body = {
        "can": {"show": True, "cancel": True},
        "id": task.id,
        "query_id": task.query_id,
        "query": query_json(query, state.api_url) if query is not None else None,
        "status": _status(task),
        "source": task.source,
        "result_format": task.result_format,
        "look_id": task.look_id,
        "dashboard_id": task.dashboard_id,
        "result_source": "query",
        "cache": False,
        "cache_only": False,
        "force_production": True,
        "generate_links": False,
        "rebuild_pdts": False,
        "server_table_calcs": False,
    }
    return complete("QueryTask", body)


def _task_for(user: User, task_id: str) -> QueryTask:
    task = content().query_tasks.get(task_id)
    if task is None or task.user_id != user.id:
        raise not_found()
    return task


@bp.post("/query_tasks")
@authed
def create_query_task(user: User) -> Response:
    body = json_body()
    for name in ("query_id", "result_format"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise invalid(name, f"{name} is required.", code="missing")
    check_types(body, {"source": str, "look_id": str, "dashboard_id": str, "deferred": bool})
    if body["result_format"] not in FORMATS:
        raise LookerError(400, f"Unsupported result format: {body['result_format']}")
    query = query_for(user, body["query_id"])
    tasks = content().query_tasks
    task_id = f"{len(tasks) + 1:032x}"  # Looker's task ids are 32 hex digits
    task = QueryTask(
        id=task_id,
        query_id=query.id,
        user_id=user.id,
        result_format=body["result_format"],
        rows=row_limit(query.limit),
        ready_at=time.monotonic() + current_state().config.query_task_seconds,
        source=body.get("source"),
        look_id=body.get("look_id"),
        dashboard_id=body.get("dashboard_id"),
    )
    tasks[task_id] = task
    return with_fields(task_json(task))


@bp.get("/query_tasks/<task_id>")
@authed
def query_task(user: User, task_id: str) -> Response:
    if task_id == "multi_results":  # the spec's literal path, which this route also matches
        raise not_emulated(Operation("GET", MULTI_RESULTS, "query_task_multi_results"))
    return with_fields(task_json(_task_for(user, task_id)))


@bp.get("/query_tasks/<task_id>/results")
@authed
def query_task_results(user: User, task_id: str) -> Response:
    task = _task_for(user, task_id)
    if _status(task) != "complete":
        return Response(status=202)
    query = content().queries.get(task.query_id)
    if query is None:  # deleted since: Looker's "cached results ... expired"
        raise not_found()
    return run_results(query, task.result_format, task.rows)
