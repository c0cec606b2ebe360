"""Looker's search parameters over a list of visible objects: filters, sorts, paging, fields.

Use it in a resource's ``search_*`` view (and ``folder_children``): build the JSON of what the
caller may see, then let :func:`search_answer` apply the request's query string. Filters match
Looker's way: case-insensitive, ``%`` a wildcard, ``filter_or=true`` to match any filter
instead of all. ``sorts`` is ``"title desc, id"``; ids and counts sort as numbers.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.api40.common import ok, row_limit
from oauth_bridge.emulator.config import MAX_RESULT_ROWS
from oauth_bridge.emulator.errors import invalid


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _matches(pattern: str, value: Any) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, _text(value), flags=re.IGNORECASE | re.DOTALL) is not None


def _filtered(bodies: list[dict[str, Any]], filters: tuple[str, ...]) -> list[dict[str, Any]]:
    given = {name: request.args[name] for name in filters if name in request.args}
    if not given:
        return bodies
    combine = any if request.args.get("filter_or", "").lower() == "true" else all
    return [b for b in bodies if combine(_matches(v, b.get(k)) for k, v in given.items())]


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Nulls first, then numbers (ids are numeric strings) by value, then text."""
    if value is None:
        return (0, 0.0, "")
    text = _text(value)
    if isinstance(value, int | float) or text.isdigit():
        return (1, float(text), "")
    return (2, 0.0, text.lower())


def _sorted(bodies: list[dict[str, Any]], sortable: set[str]) -> list[dict[str, Any]]:
    out = list(bodies)
    if not out:
        return out
    terms = [t.split() for t in request.args.get("sorts", "").split(",") if t.strip()]
    for term in reversed(terms):
        term = [term[0], *(word.lower() for word in term[1:])]
        name, desc = term[0], term[1:] == ["desc"]
        if name not in sortable or len(term) > 2 or term[1:] not in ([], ["asc"], ["desc"]):
            raise invalid("sorts", f"Cannot sort by {' '.join(term)}.")
        out.sort(key=lambda body: _sort_key(body.get(name)), reverse=desc)
    return out


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit():
        raise invalid(name, f"{name} must be a non-negative integer.")
    return int(raw)


def _page(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``limit``/``offset``, or the older ``per_page``/``page`` (pages count from 1)."""
    if "per_page" in request.args and "limit" not in request.args:
        per_page = _int_arg("per_page", MAX_RESULT_ROWS)
        start = (max(_int_arg("page", 1), 1) - 1) * per_page
        return bodies[start : start + per_page]
    start = _int_arg("offset", 0)
    return bodies[start : start + row_limit(MAX_RESULT_ROWS)]


def search_answer(bodies: list[dict[str, Any]], filters: tuple[str, ...] = ()) -> Response:
    """``bodies`` filtered by the request's ``filters`` parameters, sorted, paged and cut to
    ``fields``, as Looker answers a search."""
    sortable = {key for body in bodies for key in body}
    found = _page(_sorted(_filtered(bodies, filters), sortable))
    fields = request.args.get("fields")
    return ok([schemas.select_fields(body, fields) for body in found])
