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
    state: EmulatorState, fields: list[str], rows: int, result_format: str
) -> Iterator[bytes]:
    """The answer body for ``rows`` rows in one of :data:`FORMATS`, in batches."""
    state.stream_progress(started=True)
    if result_format in ("csv", "txt"):
        yield from _delimited(state, fields, rows, "," if result_format == "csv" else "\t")
    else:
        yield from _json(state, fields, rows, detail=result_format == "json_detail")
    state.stream_progress(done=True)


def _delimited(
    state: EmulatorState, fields: list[str], rows: int, delimiter: str
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(fields)
    for start in range(1, rows + 1, _BATCH):
        end = min(start + _BATCH, rows + 1)
        for n in range(start, end):
            writer.writerow(row(fields, n).values())
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        state.stream_progress(rows=end - start)
    if rows == 0:
        yield buffer.getvalue().encode("utf-8")


def _json(state: EmulatorState, fields: list[str], rows: int, detail: bool) -> Iterator[bytes]:
    if detail:
        meta = {"fields": {"dimensions": [{"name": name} for name in fields], "measures": []}}
        yield (json.dumps(meta)[:-1] + ', "data": [').encode("utf-8")
    else:
        yield b"["
    for start in range(1, rows + 1, _BATCH):
        end = min(start + _BATCH, rows + 1)
        items = (
            row(fields, n) if not detail else {k: {"value": v} for k, v in row(fields, n).items()}
            for n in range(start, end)
        )
        chunk = ",".join(json.dumps(item, separators=(",", ":")) for item in items)
        yield ((b"," if start > 1 else b"") + chunk.encode("utf-8"))
        state.stream_progress(rows=end - start)
    yield b"]}" if detail else b"]"
