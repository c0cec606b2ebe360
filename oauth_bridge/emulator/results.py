"""Query results made up row by row and streamed: a 5,000,000-row CSV never sits in memory.

Rows are deterministic (row *n* is always the same), so a test can check any line it reads.
The generator reports progress to the state, so a test can see that the answer was still being
produced when its first bytes arrived.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from oauth_bridge.emulator.state import EmulatorState

FORMATS = {
    "json": "application/json",
    "json_detail": "application/json",
    "csv": "text/csv",
    "txt": "text/plain",
}
_STATUSES = ("complete", "pending", "cancelled", "returned")
_BATCH = 500


def row(fields: list[str], n: int) -> dict[str, str | int | float]:
    """Row ``n`` (1-based) of any query over the ``orders`` view: one order, so its measures are
    that order's (the fields of :data:`oauth_bridge.emulator.lookml.ORDERS_FIELDS`)."""
    values: dict[str, str | int | float] = {
        "orders.id": n,
        "orders.created_date": f"2024-{(n % 12) + 1:02d}-{(n % 28) + 1:02d}",
        "orders.status": _STATUSES[n % len(_STATUSES)],
        "orders.amount": round((n * 7919) % 100_000 / 100, 2),
    }
    values["orders.count"] = 1
    values["orders.total_amount"] = values["orders.amount"]
    return {name: values.get(name, f"{name}-{n}") for name in fields}


def stream(
    state: EmulatorState,
    fields: list[str],
    rows: int,
    result_format: str,
    names: list[str] | None = None,
) -> Iterator[bytes]:
    """The answer body for ``rows`` rows in one of :data:`FORMATS`, in batches.

    ``names`` are the columns' names in the answer when they are not the fields' (SQL Runner
    names its columns as the statement does)."""
    state.stream_progress(started=True)
    named = _Columns(fields, names or fields)
    if result_format in ("csv", "txt"):
        yield from _delimited(state, named, rows, "," if result_format == "csv" else "\t")
    else:
        yield from _json(state, named, rows, detail=result_format == "json_detail")
    state.stream_progress(done=True)


class _Columns:
    """The fields a row is made of and the names it is answered under."""

    def __init__(self, fields: list[str], names: list[str]) -> None:
        self.fields = fields
        self.names = names

    def row(self, n: int) -> dict[str, str | int | float]:
        values = row(self.fields, n)
        if self.names is self.fields:  # the common case, kept cheap for long streams
            return values
        return {name: values[f] for name, f in zip(self.names, self.fields, strict=True)}


def _delimited(
    state: EmulatorState, columns: _Columns, rows: int, delimiter: str
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns.names)
    for start in range(1, rows + 1, _BATCH):
        end = min(start + _BATCH, rows + 1)
        for n in range(start, end):
            writer.writerow(columns.row(n).values())
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        state.stream_progress(rows=end - start)
    if rows == 0:
        yield buffer.getvalue().encode("utf-8")


def _json(state: EmulatorState, columns: _Columns, rows: int, detail: bool) -> Iterator[bytes]:
    if detail:
        dimensions = [{"name": name} for name in columns.names]
        meta = {"fields": {"dimensions": dimensions, "measures": []}}
        yield (json.dumps(meta)[:-1] + ', "data": [').encode("utf-8")
    else:
        yield b"["
    for start in range(1, rows + 1, _BATCH):
        end = min(start + _BATCH, rows + 1)
        items = (
            columns.row(n) if not detail else {k: {"value": v} for k, v in columns.row(n).items()}
            for n in range(start, end)
        )
        chunk = ",".join(json.dumps(item, separators=(",", ":")) for item in items)
        yield ((b"," if start > 1 else b"") + chunk.encode("utf-8"))
        state.stream_progress(rows=end - start)
    yield b"]}" if detail else b"]"
