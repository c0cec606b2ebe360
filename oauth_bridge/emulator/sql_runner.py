"""The SQL the emulator's SQL Runner understands: ``SELECT cols FROM demo.orders [LIMIT n]``.

There is no database behind the emulator; its one table is the ``orders`` explore's
``sql_table_name`` (``demo.orders``), whose columns are the ``${TABLE}.x`` of the LookML
dimensions, and whose row *n* is the row :func:`oauth_bridge.emulator.results.row` makes, so a
SQL Runner result agrees with an explore query over the same rows. Any other statement is a
database error, answered as Looker answers one (``SQL Error: …``).

Written by hand, not with a SQL parser library: the grammar is one statement of four words,
and an app built against the emulator needs the error path as much as the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oauth_bridge.emulator import lookml

TABLE = lookml.ORDERS.sql_table_name
COLUMNS: dict[str, str] = {
    f.sql.removeprefix("${TABLE}."): f.name
    for f in lookml.ORDERS_FIELDS
    if f.sql and f.sql.startswith("${TABLE}.") and not f.measure
}
"""Column name → the LookML dimension whose value it holds (``created_at`` → the date)."""

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
    """The LookML dimension of each column (what :func:`~.results.row` answers)."""
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
