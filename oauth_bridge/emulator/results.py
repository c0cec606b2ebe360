"""A query's answer written in one of Looker's result formats, in batches: a 5,000,000-row CSV
never sits in memory.

The formats are those of the spec's ``run_query``: ``json``; ``json_detail`` (cells with
``value`` and ``rendered``, field metadata, pivots, ``totals_data``); ``json_bi`` (the spec's
``JsonBi``: ``metadata`` and ``rows``, which it recommends); ``csv`` and ``txt``; ``html`` and
``md`` tables; and ``sql``, the SQL instead of the rows. ``apply_formatting`` renders values with
their fields' ``value_format_name``. The writer reports progress to the state, so a test can see
that an answer was still being produced when its first bytes arrived.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from oauth_bridge.emulator import value_formats
from oauth_bridge.emulator.query_engine import ROW_TOTAL_KEY, Column, Result, Row
from oauth_bridge.emulator.state import EmulatorState

FORMATS = {
    "json": "application/json",
    "json_detail": "application/json",
    "json_bi": "application/json",
    "csv": "text/csv",
    "txt": "text/plain",
    "html": "text/html",
    "md": "text/markdown",
    "sql": "text/plain",
}
EXTENSIONS = {
    "json": "json", "json_detail": "json", "json_bi": "json", "csv": "csv", "txt": "txt",
    "html": "html", "md": "md", "sql": "sql",
}  # fmt: skip
"""The file extension of each format, for ``Content-Disposition`` on downloads."""
_BATCH = 500
_BI_FIELD_KEYS = (
    "sql", "view", "dimension_group", "category", "field_group_label", "name", "type",
    "view_label", "label", "field_group_variant", "hidden", "description",
)  # fmt: skip
"""The spec's required keys of ``JsonBiField``."""


def write(
    state: EmulatorState, result: Result, result_format: str, apply_formatting: bool = False
) -> Iterator[bytes]:
    """The answer body of ``result`` in ``result_format`` (one of :data:`FORMATS`)."""
    state.stream_progress(started=True)
    if result_format == "sql":
        yield result.sql.encode("utf-8")
    elif result_format in ("csv", "txt", "html", "md"):
        yield from _tabular(state, result, result_format, apply_formatting)
    else:
        yield from _json(state, result, result_format, apply_formatting)
    state.stream_progress(done=True)


def _format_of(column: Column) -> str | None:
    return column.field.value_format_name if column.field is not None else None


def _plain(value: Any, format_name: str | None, apply_formatting: bool) -> Any:
    if not apply_formatting:
        return value
    rendered = value_formats.render(value, format_name)
    return value if rendered is None else rendered


def _cell(value: Any, format_name: str | None) -> dict[str, Any]:
    rendered = value_formats.render(value, format_name)
    return {"value": value} if rendered is None else {"value": value, "rendered": rendered}


def _batches(state: EmulatorState, rows: Iterable[Row]) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for item in rows:
        batch.append(item)
        if len(batch) == _BATCH:
            yield batch
            state.stream_progress(rows=len(batch))
            batch = []
    if batch:
        yield batch
        state.stream_progress(rows=len(batch))


def _convert(result: Result, cell: Callable[[Any, str | None], Any]) -> Callable[[Row], Row]:
    """A function that turns one row's values into cells, pivoted measures key by key."""
    formats = {c.name: _format_of(c) for c in result.dimensions + result.measures}
    pivoted = {c.name for c in result.measures} if result.pivots else set()

    def convert(values: Row) -> Row:
        return {
            name: {k: cell(v, formats.get(name)) for k, v in value.items()}
            if name in pivoted
            else cell(value, formats.get(name))
            for name, value in values.items()
        }

    return convert


def _json(
    state: EmulatorState, result: Result, result_format: str, apply_formatting: bool
) -> Iterator[bytes]:
    if result_format == "json_detail":
        convert = _convert(result, _cell)
        head = json.dumps(_detail_meta(result))[:-1] + ', "data": ['
        totals = None if result.totals is None else convert(result.totals)
        tail = "]}" if totals is None else '], "totals_data": ' + json.dumps(totals) + "}"
    else:
        convert = _convert(result, lambda v, f: _plain(v, f, apply_formatting))
        if result_format == "json_bi":
            head = '{"metadata": ' + json.dumps(_bi_meta(result)) + ', "rows": ['
            tail = "]}"
        else:
            head, tail = "[", "]"
    yield head.encode("utf-8")
    first = True
    for batch in _batches(state, result.rows):
        chunk = ",".join(json.dumps(convert(r), separators=(",", ":")) for r in batch)
        yield (("" if first else ",") + chunk).encode("utf-8")
        first = False
    yield tail.encode("utf-8")


def _pivots_json(result: Result, with_labels: bool) -> list[dict[str, Any]]:
    pivots = []
    for pivot in result.pivot_values:
        entry: dict[str, Any] = {
            "key": pivot.key,
            "is_total": False,
            "data": pivot.data,
            "sort_values": pivot.data,
        }
        if with_labels:
            entry["labels"] = {k: str(v) for k, v in pivot.data.items()}
        pivots.append(entry)
    if result.row_total:
        total = {"key": ROW_TOTAL_KEY, "is_total": True, "data": {}, "sort_values": {}}
        pivots.append(total | ({"labels": {}} if with_labels else {}))
    return pivots


def _detail_meta(result: Result) -> dict[str, Any]:
    """``json_detail``'s metadata, as Looker's visualization API reads it (``fields`` with
    ``measure_like`` and ``dimension_like``; ``pivots``; ``has_totals``) — the custom
    visualization API reference, looker-open-source/custom_visualizations_v2."""
    dimensions = [c.meta for c in result.dimensions]
    measures = [c.meta for c in result.measures]
    pivots = [c.meta for c in result.pivots]
    return {
        "fields": {
            "dimensions": dimensions,
            "measures": measures,
            "pivots": pivots,
            "table_calculations": [],
            "dimension_like": dimensions,
            "measure_like": measures,
        },
        "pivots": _pivots_json(result, with_labels=True),
        "has_totals": result.totals is not None,
        "has_row_totals": result.row_total,
        "has_subtotals": False,
        "columns_truncated": result.columns_truncated,
        "applied_filters": {
            name: {
                "field": next((c.meta for c in _all(result) if c.name == name), None),
                "value": value,
            }
            for name, value in result.filters.items()
        },  # fmt: skip
        "applied_filter_expression": None,
        "number_format": "1,234.56",
        "null_sort_treatment": "low",
        "timezone": "UTC",
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sql": result.sql,
    }


def _all(result: Result) -> list[Column]:
    return result.dimensions + result.pivots + result.measures


def _bi_meta(result: Result) -> dict[str, Any]:
    """The spec's ``JsonBiMetadata`` (every required key)."""

    def bi(columns: list[Column]) -> list[dict[str, Any]]:
        return [{k: c.meta.get(k) for k in _BI_FIELD_KEYS} for c in columns]

    return {
        "big_query_metadata": {"total_bytes_processed": 0, "backend_cache_hit": False},
        "fields": {
            "dimensions": bi(result.dimensions),
            "measures": bi(result.measures),
            "pivots": bi(result.pivots),
            "table_calculations": [],
        },
        "pivots": _pivots_json(result, with_labels=False),
        "has_subtotals": False,
        "has_totals": result.totals is not None,
        "columns_truncated": "true" if result.columns_truncated else "false",
        "filter_expression": "",
        "filters": result.filters,
        "sql": result.sql,
    }


class _FlatColumn(NamedTuple):
    name: str
    label: str
    measure: str
    pivot_key: str | None
    format_name: str | None

    def get(self, values: Row) -> Any:
        value = values.get(self.measure)
        if self.pivot_key is None:
            return value
        return (value or {}).get(self.pivot_key)


def _flat_columns(result: Result) -> list[_FlatColumn]:
    """The columns of a flat table; a pivoted measure is one column per pivot key, named
    ``measure|key``."""
    columns = [
        _FlatColumn(c.name, c.meta.get("label") or c.name, c.name, None, _format_of(c))
        for c in result.dimensions
    ]
    keys = [p.key for p in result.pivot_values] + ([ROW_TOTAL_KEY] * result.row_total)
    for c in result.measures:
        label = c.meta.get("label") or c.name
        if not result.pivots:
            columns.append(_FlatColumn(c.name, label, c.name, None, _format_of(c)))
            continue
        for key in keys:
            shown = "Row Total" if key == ROW_TOTAL_KEY else key
            columns.append(
                _FlatColumn(f"{c.name}|{key}", f"{label} {shown}", c.name, key, _format_of(c))
            )
    return columns


def preview(result: Result, rows: int) -> tuple[list[str], list[list[str]]]:
    """The column labels and the first ``rows`` rows as formatted text (a page's table)."""
    columns = _flat_columns(result)
    labels = [c.label for c in columns]
    body = []
    for n, item in enumerate(result.rows):
        if n >= rows:
            break
        body.append([_text(_plain(c.get(item), c.format_name, True)) for c in columns])
    return labels, body


def _tabular(
    state: EmulatorState, result: Result, result_format: str, apply_formatting: bool
) -> Iterator[bytes]:
    columns = _flat_columns(result)
    human = result_format in ("html", "md")
    render = apply_formatting or human

    def values(item: Row) -> list[Any]:
        return [_plain(c.get(item), c.format_name, render) for c in columns]

    if result_format in ("csv", "txt"):
        buffer = io.StringIO()
        writer = csv.writer(
            buffer, delimiter="," if result_format == "csv" else "\t", lineterminator="\n"
        )
        writer.writerow([c.name for c in columns])
        for batch in _batches(state, result.rows):
            writer.writerows(values(item) for item in batch)
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
        return
    labels = [c.label for c in columns]
    if result_format == "html":
        yield f"<table>\n<thead>{_html_row('th', labels)}</thead>\n<tbody>\n".encode()
        for batch in _batches(state, result.rows):
            yield "".join(_html_row("td", values(item)) for item in batch).encode("utf-8")
        yield b"</tbody>\n</table>\n"
        return
    yield (_md_row(labels) + _md_row(["---"] * len(labels))).encode("utf-8")
    for batch in _batches(state, result.rows):
        yield "".join(_md_row(values(item)) for item in batch).encode("utf-8")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _html_row(tag: str, cells: list[Any]) -> str:
    inner = "".join(f"<{tag}>{html.escape(_text(v))}</{tag}>" for v in cells)
    return f"<tr>{inner}</tr>\n"


def _md_row(cells: list[Any]) -> str:
    escaped = [_text(v).replace("\\", "\\\\").replace("|", "\\|") for v in cells]
    return "| " + " | ".join(escaped) + " |\n"
