"""Which Looker API 4.0 operation a request is, by the spec's paths (:mod:`.spec_operations`).

The emulator serves a part of the API; for the rest it must say "this is Looker's operation X,
not emulated here" rather than a bare 404 that an SDK reports as "Not found", which reads as if
the object were missing. Matching follows the spec's templates: a literal segment beats a
parameter (``/query_tasks/multi_results`` before ``/query_tasks/{query_task_id}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from oauth_bridge.emulator.spec_operations import OPERATIONS

_PARAM = re.compile(r"\{[^/{}]+\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    """The spec's template under ``/api/4.0``, e.g. ``/dashboards/{dashboard_id}``."""
    operation_id: str


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[re.Pattern[str], Operation], ...]:
    rows = []
    for method, path, operation_id in OPERATIONS:
        pattern = "".join(
            "[^/]+" if _PARAM.fullmatch(part) else re.escape(part)
            for part in re.split(r"(\{[^/{}]+\})", path)
            if part
        )
        literal_segments = sum(1 for seg in path.split("/") if seg and not _PARAM.search(seg))
        rows.append((literal_segments, re.compile(pattern), Operation(method, path, operation_id)))
    rows.sort(key=lambda row: -row[0])  # stable: the spec's order among equals
    return tuple((pattern, op) for _, pattern, op in rows)


def all_operations() -> tuple[Operation, ...]:
    """Every operation of the spec, in its order."""
    return tuple(Operation(*row) for row in OPERATIONS)


def match(method: str, path: str) -> Operation | None:
    """The operation ``METHOD path`` (``path`` under ``/api/4.0``) is, or ``None``."""
    for pattern, operation in _table():
        if operation.method == method and pattern.fullmatch(path):
            return operation
    return None


def example_path(operation: Operation, value: str = "1") -> str:
    """``operation``'s path with every parameter set to ``value`` (for tests and listings)."""
    return _PARAM.sub(value, operation.path)
