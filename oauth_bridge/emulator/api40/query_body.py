"""Check a ``create_query`` body (the spec's ``Query``) against the seed LookML.

Use it for any operation that takes a new query: it answers Looker's 422 ``ValidationError``
for a missing model, view or fields, a wrong type, or a model, explore or field the LookML does
not have, and otherwise gives the :class:`~oauth_bridge.emulator.seed.Query` to store.
"""

from __future__ import annotations

from typing import Any

from oauth_bridge.emulator import lookml, query_engine
from oauth_bridge.emulator.api40.common import check_types
from oauth_bridge.emulator.config import MAX_RESULT_ROWS
from oauth_bridge.emulator.errors import invalid
from oauth_bridge.emulator.seed import Query, User

DEFAULT_LIMIT = 500
SETTINGS: dict[str, type] = {
    "pivots": list,
    "fill_fields": list,
    "filters": dict,
    "filter_expression": str,
    "sorts": list,
    "column_limit": str,
    "total": bool,
    "row_total": str,
    "subtotals": list,
    "vis_config": dict,
    "filter_config": dict,
    "visible_ui_sections": str,
    "dynamic_fields": str,
    "client_id": str,
    "query_timezone": str,
}
"""Writable ``Query`` keys besides model, view, fields and limit, with their JSON types."""


def new_query(user: User, body: dict[str, Any], query_id: str, slug: str) -> Query:
    """The query ``body`` describes, or 422 (a model ``user`` may not see is unknown to it)."""
    for name in ("model", "view"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise invalid(name, f"{name} is required.", code="missing")
    fields = body.get("fields")
    if not fields:
        raise invalid("fields", "fields is required.", code="missing")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise invalid("fields", "fields must be a list of strings.")
    model = lookml.MODELS.get(body["model"])
    if model is None or user.role not in model.roles:
        raise invalid("model", f"Model '{body['model']}' not found.", code="not_found")
    explore = model.explore(body["view"])
    if explore is None:
        raise invalid("view", f"Explore '{body['view']}' not found.", code="not_found")
    check_types(body, {k: v for k, v in SETTINGS.items() if body.get(k) is not None})
    settings = {k: body[k] for k in SETTINGS if body.get(k) is not None}
    created = Query(query_id, model.name, explore.name, list(fields), _limit(body), slug, settings)
    query_engine.check(created)  # fields, pivots, filters and sorts, as a run would read them
    return created


def _limit(body: dict[str, Any]) -> int:
    raw = body.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid("limit", "limit must be an integer string.") from None
    if value < -1 or value > MAX_RESULT_ROWS:
        raise invalid("limit", f"limit must be -1 (unlimited) or between 0 and {MAX_RESULT_ROWS}.")
    return value
