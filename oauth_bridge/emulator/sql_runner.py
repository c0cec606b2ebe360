"""The SQL the emulator's SQL Runner understands: ``SELECT cols FROM demo.orders [LIMIT n]``.

There is no database behind the emulator; its one table is the ``orders`` explore's
``sql_table_name`` (``demo.orders``), whose columns are the ``${TABLE}.x`` of the LookML
dimensions, and whose row *n* is the row :func:`oauth_bridge.emulator.orders_table.row` makes, so a
SQL Runner result agrees with an explore query over the same rows. Any other statement is a
database error, answered as Looker answers one (``SQL Error: …``).

Written by hand, not with a SQL parser library: the grammar is one statement of four words,
and an app built against the emulator needs the error path as much as the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from oauth_bridge.emulator import lookml
from oauth_bridge.emulator.orders_table import row
from oauth_bridge.emulator.query_engine import Column, Result

TABLE = lookml.ORDERS.sql_table_name
COLUMNS: dict[str, str] = {}
"""Column name → the LookML dimension whose value it holds (``created_at`` → the date, the
first of its dimension group's timeframes)."""
for _f in lookml.ORDERS_FIELDS:
    if _f.sql and _f.sql.startswith("${TABLE}.") and not _f.measure:
        COLUMNS.setdefault(_f.sql.removeprefix("${TABLE}."), _f.name)

GRAMMAR = f"SELECT <columns or *> FROM {TABLE} [LIMIT n]"  # noqa: S608 (a message, not SQL)
"""What the SQL Runner runs, as its syntax error says."""
DEFAULT_ROWS = 5000
"""Rows a statement without ``LIMIT`` answers: SQL Runner's ``browser_limit``."""

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_STATEMENT = re.compile(
    rf"\s*select\s+(?P<columns>\*|{_IDENT}(?:\s*,\s*{_IDENT})*)"
    rf"\s+from\s+(?P<table>{_IDENT}(?:\.{_IDENT})?)"
    r"(?:\s+limit\s+(?P<limit>\d{1,9}))?\s*;?\s*",
    re.IGNORECASE,
)


class SqlError(ValueError):
    """What the database would say about a statement; the text follows ``SQL Error: ``."""


@dataclass(frozen=True)
class Statement:
    columns: tuple[str, ...]
    """Column names as the result's keys, in the statement's order."""
    fields: tuple[str, ...]
    """The LookML dimension of each column (what :func:`~.orders_table.row` answers)."""
    limit: int


def parse(sql: str, max_rows: int) -> Statement:
    """The statement ``sql`` is, or :class:`SqlError`; ``LIMIT`` above ``max_rows`` is refused."""
    found = _STATEMENT.fullmatch(sql)
    if found is None:
        raise SqlError(f"syntax error: the emulator's SQL Runner runs only {GRAMMAR}")
    table = found["table"].lower()
    if table not in (TABLE, TABLE.rsplit(".", 1)[-1]):
        raise SqlError(f'relation "{found["table"]}" does not exist')
    if found["columns"] == "*":
        columns = tuple(COLUMNS)
    else:
        columns = tuple(name.strip().lower() for name in found["columns"].split(","))
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        raise SqlError(f'column "{unknown[0]}" does not exist')
    limit = DEFAULT_ROWS if found["limit"] is None else int(found["limit"])
    if limit > max_rows:
        raise SqlError(f"LIMIT {limit} is more than the emulator's {max_rows} rows")
    return Statement(columns, tuple(COLUMNS[name] for name in columns), limit)


def result(statement: Statement, sql: str) -> Result:
    """The rows ``statement`` selects, as a :class:`~.query_engine.Result` any format writes.
    A column's metadata is the database's: its name and type, no LookML label or format."""
    columns = []
    for name, field_name in zip(statement.columns, statement.fields, strict=True):
        field = lookml.ORDERS.field(field_name)
        numeric = field is not None and field.is_numeric
        meta = {
            "name": name, "label": name, "label_short": name, "sql": name, "view": None,
            "type": "number" if numeric else "string", "is_numeric": numeric,
            "category": "dimension", "hidden": False, "description": None,
            "dimension_group": None, "field_group_label": None, "field_group_variant": None,
            "view_label": None,
        }  # fmt: skip
        columns.append(Column(name, meta))

    def rows() -> Iterator[dict[str, object]]:
        fields = list(statement.fields)
        for n in range(1, statement.limit + 1):
            values = row(fields, n)
            yield {c.name: values[f] for c, f in zip(columns, fields, strict=True)}

    return Result(dimensions=columns, measures=[], rows=rows(), sql=sql)
