"""Run a query over the seed table with Looker's semantics.

Looker groups by every dimension of a query and aggregates its measures; a query that has the
primary key ``orders.id`` among its dimensions therefore lists orders (streamed, in id order,
any of the five million), and any other query reads one period of the table
(:mod:`oauth_bridge.emulator.orders_table`) and scales its aggregates, so its numbers are exact.
Filters (Looker's filter expressions), sorts (with Looker's default sort), pivots (with
``column_limit``), totals and row totals follow Looker's rules; the answer is a
:class:`Result` that :mod:`oauth_bridge.emulator.results` writes in any result format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from oauth_bridge.emulator import lookml
from oauth_bridge.emulator.errors import invalid
from oauth_bridge.emulator.filter_expressions import Filter, FilterError, parse
from oauth_bridge.emulator.orders_table import PERIOD, TABLE_ROWS, WEIGHT, one_period, order
from oauth_bridge.emulator.seed import Query

Value = str | int | float | None
Row = dict[str, Any]
PIVOT_KEY_SEPARATOR = "|FIELD|"
ROW_TOTAL_KEY = "$$$_row_total_$$$"
"""The pivot key under which a row's total across its pivots is answered (``row_total``)."""
UNSORTED = "__UNSORTED__"
DEFAULT_COLUMN_LIMIT = 50


@dataclass(frozen=True)
class Column:
    """One column of an answer: its key in a row, and what its metadata says about it."""

    name: str
    meta: dict[str, Any]
    field: lookml.Field | None = None


@dataclass(frozen=True)
class PivotValue:
    key: str
    data: dict[str, Value]


@dataclass
class Result:
    """An answer before it is written in a format: columns, pivots, rows (possibly a long
    stream), totals and the SQL that would have run."""

    dimensions: list[Column]
    measures: list[Column]
    rows: Iterable[Row]
    sql: str
    pivots: list[Column] = field(default_factory=list)
    pivot_values: list[PivotValue] = field(default_factory=list)
    totals: Row | None = None
    row_total: bool = False
    columns_truncated: bool = False
    filters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    explore: lookml.Explore
    dimensions: tuple[lookml.Field, ...]
    pivots: tuple[lookml.Field, ...]
    measures: tuple[lookml.Field, ...]
    filters: tuple[Filter, ...]
    sorts: tuple[tuple[lookml.Field, bool], ...]
    limit: int
    total: bool
    row_total: bool
    column_limit: int

    @property
    def lists_orders(self) -> bool:
        return any(f.primary_key for f in self.dimensions)


def run(query: Query, limit: int, describe: Any) -> Result:
    """``query``'s answer, at most ``limit`` rows (-1: every row); ``describe(field, explore)``
    gives a field's metadata (the explore field JSON), or 422 naming what is wrong."""
    plan = _plan(query, limit)
    columns = {
        f.name: Column(f.name, describe(f, plan.explore), f)
        for f in plan.dimensions + plan.pivots + plan.measures
    }
    period = [r for r in one_period() if _passes(plan, r, measures=False)]
    pivot_values, truncated = _pivot_values(plan, period)
    if plan.lists_orders:
        rows: Iterable[Row] = _listed(plan, pivot_values, bool(period))
    else:
        rows = _grouped(plan, period, pivot_values)
    totals = _aggregate(plan, period, pivot_values) if plan.total else None
    return Result(
        dimensions=[columns[f.name] for f in plan.dimensions],
        measures=[columns[f.name] for f in plan.measures],
        pivots=[columns[f.name] for f in plan.pivots],
        rows=rows,
        sql=_sql(plan),
        pivot_values=pivot_values,
        totals=totals,
        row_total=plan.row_total and bool(plan.pivots),
        columns_truncated=truncated,
        filters={f.field.name: f.expression for f in plan.filters},
    )


def check(query: Query) -> None:
    """422 naming the first thing in ``query`` a run would refuse (a field, filter or sort)."""
    _plan(query, 0)


def _plan(query: Query, limit: int) -> _Plan:
    explore = lookml.MODELS[query.model].explore(query.view)
    if explore is None:
        raise invalid("view", f"Explore '{query.view}' not found.", code="not_found")
    settings = query.settings

    def known(name: Any, key: str) -> lookml.Field:
        found = explore.field(name) if isinstance(name, str) else None
        if found is None:
            raise invalid(key, f"Unknown field: {name!r} is not in explore '{explore.name}'.")
        return found

    fields = [known(name, "fields") for name in query.fields]
    pivot_names = set(settings.get("pivots") or [])
    for name in pivot_names:
        if name not in query.fields or known(name, "pivots").measure:
            raise invalid("pivots", f"Pivot {name!r} must be one of the query's dimensions.")
    filters = []
    for name, expression in (settings.get("filters") or {}).items():
        try:
            filters.append(parse(known(name, "filters"), expression))
        except FilterError as error:
            raise invalid(f"filters.{name}", f"Filter on {name}: {error}.") from None
    dimensions = tuple(f for f in fields if not f.measure and f.name not in pivot_names)
    measures = tuple(f for f in fields if f.measure)
    column_limit = str(settings.get("column_limit") or DEFAULT_COLUMN_LIMIT)
    if not column_limit.isdigit() or int(column_limit) < 1:
        raise invalid("column_limit", "column_limit must be a positive integer string.")
    return _Plan(
        explore=explore,
        dimensions=dimensions,
        pivots=tuple(f for f in fields if f.name in pivot_names),
        measures=measures,
        filters=tuple(filters),
        sorts=_sorts(settings.get("sorts") or [], known, dimensions, measures),
        limit=TABLE_ROWS if limit < 0 else min(limit, TABLE_ROWS),
        total=bool(settings.get("total")),
        row_total=bool(settings.get("row_total")),
        column_limit=int(column_limit),
    )


def _sorts(
    sorts: list[str],
    known: Any,
    dimensions: tuple[lookml.Field, ...],
    measures: tuple[lookml.Field, ...],
) -> tuple[tuple[lookml.Field, bool], ...]:
    """The query's sorts, or Looker's default: the first date dimension descending, else the
    first measure descending, else the first dimension ascending ("Sorting data", Looker docs:
    https://cloud.google.com/looker/docs/sorting-data)."""
    if sorts == [UNSORTED]:
        return ()
    if sorts:
        parsed = []
        for sort in sorts:
            name, _, direction = str(sort).strip().partition(" ")
            parsed.append((known(name, "sorts"), direction.strip().lower() == "desc"))
        return tuple(parsed)
    dates = [f for f in dimensions if f.type.startswith("date")]
    if dates:
        return ((dates[0], True),)
    if measures:
        return ((measures[0], True),)
    return ((dimensions[0], False),) if dimensions else ()


def _passes(plan: _Plan, values: Row, measures: bool) -> bool:
    return all(f(values.get(f.field.name)) for f in plan.filters if f.field.measure == measures)


def _pivot_key(plan: _Plan, values: Row) -> str:
    return PIVOT_KEY_SEPARATOR.join(str(values[f.name]) for f in plan.pivots)


def _pivot_values(plan: _Plan, period: list[Row]) -> tuple[list[PivotValue], bool]:
    """The pivot columns the filtered table has, in ascending order, cut to ``column_limit``."""
    if not plan.pivots:
        return [], False
    found = {
        tuple(values[f.name] for f in plan.pivots): _pivot_key(plan, values) for values in period
    }
    ordered = [
        PivotValue(found[combo], {f.name: v for f, v in zip(plan.pivots, combo, strict=True)})
        for combo in sorted(found, key=lambda c: tuple(str(v) for v in c))
    ]
    return ordered[: plan.column_limit], len(ordered) > plan.column_limit


class _Sums:
    """Counts and amount sums of a group of orders, scaled to the whole table."""

    def __init__(self) -> None:
        self.count = 0
        self.cents = 0

    def add(self, values: Row, weight: int) -> None:
        self.count += weight
        self.cents += round(float(values["orders.amount"]) * 100) * weight

    def measure(self, f: lookml.Field) -> Value:
        if f.type == "count":
            return self.count
        if f.type == "sum":
            return self.cents / 100
        if f.type == "average":
            return round(self.cents / 100 / self.count, 6) if self.count else None
        raise AssertionError(f"measure type {f.type} has no aggregate")  # the seed LookML's


def _measures(plan: _Plan, by_pivot: dict[str, _Sums], pivots: list[PivotValue]) -> Row:
    """A row's measure values: plain, or by pivot key (with the row total when asked)."""
    if not plan.pivots:
        sums = by_pivot.get("", _Sums())
        return {f.name: sums.measure(f) for f in plan.measures}
    answer: Row = {}
    for f in plan.measures:
        cells: dict[str, Value] = {
            p.key: by_pivot[p.key].measure(f) if p.key in by_pivot else None for p in pivots
        }
        if plan.row_total:
            whole = _Sums()
            for sums in by_pivot.values():
                whole.count += sums.count
                whole.cents += sums.cents
            cells[ROW_TOTAL_KEY] = whole.measure(f)
        answer[f.name] = cells
    return answer


def _aggregate(plan: _Plan, period: list[Row], pivots: list[PivotValue]) -> Row:
    by_pivot: dict[str, _Sums] = {}
    for values in period:
        by_pivot.setdefault(_pivot_key(plan, values), _Sums()).add(values, WEIGHT)
    return _measures(plan, by_pivot, pivots)


def _grouped(plan: _Plan, period: list[Row], pivots: list[PivotValue]) -> list[Row]:
    groups: dict[tuple[Value, ...], dict[str, _Sums]] = {}
    for values in period:
        group = groups.setdefault(tuple(values[f.name] for f in plan.dimensions), {})
        group.setdefault(_pivot_key(plan, values), _Sums()).add(values, WEIGHT)
    rows = []
    for combo, by_pivot in groups.items():
        answer = {f.name: v for f, v in zip(plan.dimensions, combo, strict=True)}
        answer |= _measures(plan, by_pivot, pivots)
        if _passes(plan, _flat(answer), measures=True):
            rows.append(answer)
    return _sorted(plan, rows)[: plan.limit]


def _flat(answer: Row) -> Row:
    """A row with each pivoted measure as its total (what a measure filter or sort compares)."""
    return {
        k: sum(x for x in v.values() if isinstance(x, int | float)) if isinstance(v, dict) else v
        for k, v in answer.items()
    }


def _sorted(plan: _Plan, rows: list[Row]) -> list[Row]:
    flat = [(_flat(r), r) for r in rows]
    for f, descending in reversed(plan.sorts):
        # nulls sort low (``null_sort_treatment: low``); numbers and strings apart
        flat.sort(key=partial(_sort_key_of, f.name), reverse=descending)
    return [r for _, r in flat]


def _sort_key_of(name: str, pair: tuple[Row, Row]) -> tuple[int, float, str]:
    return _sort_key(pair[0].get(name))


def _sort_key(value: Value) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _listed(plan: _Plan, pivots: list[PivotValue], any_match: bool) -> Iterator[Row]:
    """Orders one by one, in id order (descending when the first sort says so), filtered."""
    if not any_match:
        return
    descending = bool(plan.sorts) and plan.sorts[0][0].primary_key and plan.sorts[0][1]
    ids = range(TABLE_ROWS, 0, -1) if descending else range(1, TABLE_ROWS + 1)
    names = [f.name for f in plan.dimensions]
    sent = 0
    for n in ids:
        if sent >= plan.limit:
            return
        values = order(n)
        if plan.filters and not (_passes(plan, values, False) and _passes(plan, values, True)):
            continue
        answer = {name: values[name] for name in names}
        if plan.pivots:
            sums = _Sums()
            sums.add(values, 1)
            answer |= _measures(plan, {_pivot_key(plan, values): sums}, pivots)
        else:
            answer |= {f.name: values[f.name] for f in plan.measures}
        sent += 1
        yield answer


def _sql(plan: _Plan) -> str:
    """The SQL Looker would send for the plan (MySQL dialect), for the ``sql`` format."""
    table = plan.explore.name
    selected = plan.dimensions + plan.pivots + plan.measures
    lines = ["SELECT"]
    lines.append(",\n".join(f"    {_expression(f, table)} AS `{f.name}`" for f in selected))
    lines.append(f"FROM {plan.explore.sql_table_name} AS {table}")
    where = [f.sql(_expression(f.field, table)) for f in plan.filters if not f.field.measure]
    having = [f.sql(_expression(f.field, table)) for f in plan.filters if f.field.measure]
    if where:
        lines.append("WHERE " + "\n    AND ".join(where))
    grouped = len(plan.dimensions) + len(plan.pivots)
    if grouped and plan.measures:
        lines.append("GROUP BY " + ", ".join(str(i) for i in range(1, grouped + 1)))
    if having:
        lines.append("HAVING " + "\n    AND ".join(having))
    if plan.sorts:
        position = {f.name: i for i, f in enumerate(selected, start=1)}
        order_by = [
            f"{position.get(f.name, _expression(f, table))}{' DESC' if d else ''}"
            for f, d in plan.sorts
        ]
        lines.append("ORDER BY " + ", ".join(order_by))
    lines.append(f"LIMIT {plan.limit}")
    return "\n".join(lines)


def _expression(f: lookml.Field, table: str) -> str:
    """A field's SQL: ``${TABLE}`` is the view's alias, ``${dimension}`` that dimension's."""
    column = re.sub(
        r"\$\{(\w+)\}",
        lambda m: table if m[1] == "TABLE" else f"{table}.{m[1]}",
        f.sql or "",
    )
    if f.type == "count":
        return f"COUNT(DISTINCT {table}.id)"
    if f.type == "sum":
        return f"COALESCE(SUM({column}), 0)"
    if f.type == "date_date":
        return f"DATE({column})"
    if f.type == "date_month":
        return f"DATE_FORMAT({column}, '%Y-%m')"
    return column


__all__ = ["PERIOD", "Column", "PivotValue", "Result", "check", "run"]
