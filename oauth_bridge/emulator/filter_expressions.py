"""Looker filter expressions (a query's ``filters``) for the emulator's seed table.

The syntax is Looker's (https://cloud.google.com/looker/docs/filter-expressions): a comma
separates alternatives, which match if any does; a leading ``-`` (strings) or ``NOT``/``!=``
(numbers) excludes; ``NULL`` and ``EMPTY`` are words. Covered here, by field kind:

- strings: ``a,b``, ``-a``, ``%part%`` and ``pre%`` wildcards, ``NULL``, ``EMPTY`` (and their
  ``-`` forms), ``^,`` for a literal comma;
- numbers: ``5``, ``>5``, ``>=5``, ``<5``, ``<=5``, ``NOT 5``, ``!=5``, ``>=1 AND <=9``,
  intervals ``[1,5]`` ``(1,5)`` ``[1,5)``, ``NULL``, ``NOT NULL``;
- dates: ``2024``, ``2024-03``, ``2024-03-05`` (``/`` too), ``after X``, ``before X``,
  ``X to Y``, ``today``, ``yesterday``, ``this month``/``year``, ``last N days``/``weeks``/
  ``months``/``years``, ``N days ago``, ``NULL``.

Anything else is refused with a message rather than ignored, so an app never shows unfiltered
numbers as filtered ones. Written by hand: no maintained Python parser of Looker's filter
syntax exists (Looker's own, ``@looker/filter-expressions``, is TypeScript).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from oauth_bridge.emulator.lookml import Field

Value = str | int | float | None
Test = Callable[[Value], bool]


class FilterError(ValueError):
    """A filter expression the emulator does not understand; the text says which part."""


@dataclass(frozen=True)
class Condition:
    test: Test
    sql: str
    """The SQL of the test with ``{c}`` for the column."""


@dataclass(frozen=True)
class Filter:
    """One field's filter: a value passes if any include matches (or none are given) and no
    exclude does."""

    field: Field
    expression: str
    includes: tuple[Condition, ...]
    excludes: tuple[Condition, ...]

    def __call__(self, value: Value) -> bool:
        if self.includes and not any(c.test(value) for c in self.includes):
            return False
        return not any(c.test(value) for c in self.excludes)

    def sql(self, column: str) -> str:
        """The filter as a SQL condition on ``column`` (for the ``sql`` result format)."""
        parts = []
        if self.includes:
            parts.append("(" + " OR ".join(c.sql.format(c=column) for c in self.includes) + ")")
        parts += [f"NOT ({c.sql.format(c=column)})" for c in self.excludes]
        return " AND ".join(parts)


def parse(field: Field, expression: str) -> Filter:
    """The filter ``expression`` on ``field``, or :class:`FilterError`."""
    if not isinstance(expression, str):
        raise FilterError("a filter value must be a string")
    if field.type.startswith("date"):
        alternative = _date_alternative
    elif field.is_numeric:
        alternative = _number_alternative
    else:
        alternative = _string_alternative
    includes: list[Condition] = []
    excludes: list[Condition] = []
    for part in _split(expression):
        condition, excluded = alternative(part)
        (excludes if excluded else includes).append(condition)
    return Filter(field, expression, tuple(includes), tuple(excludes))


def _split(expression: str) -> list[str]:
    """Alternatives at top-level commas; ``^,`` is a literal comma and brackets group."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    chars = iter(expression)
    for char in chars:
        if char == "^":
            current.append(next(chars, ""))
            continue
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth <= 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()] or [""]


def _is_null(value: Value) -> bool:
    return value is None


_NULL = Condition(_is_null, "{c} IS NULL")


def _string_alternative(part: str) -> tuple[Condition, bool]:
    excluded = part.startswith("-")
    text = part[1:] if excluded else part
    if text == "NULL":
        return _NULL, excluded
    if text == "EMPTY":
        return Condition(lambda v: v is None or v == "", "({c} IS NULL OR {c} = '')"), excluded
    if "%" in text:
        pattern = re.compile(".*".join(re.escape(piece) for piece in text.split("%")), re.I)
        return Condition(
            lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None,
            "{c} LIKE " + _quote(text),
        ), excluded
    return Condition(lambda v: v is not None and str(v).lower() == text.lower(),
                     "{c} = " + _quote(text)), excluded  # fmt: skip


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_COMPARISON = re.compile(r"(>=|<=|!=|<>|>|<|=)?\s*(-?\d+(?:\.\d+)?)")
_INTERVAL = re.compile(r"([\[(])\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*([\])])")


def _number_alternative(part: str) -> tuple[Condition, bool]:
    upper = part.upper()
    if upper == "NULL":
        return _NULL, False
    if upper == "NOT NULL":
        return _NULL, True
    excluded = False
    if upper.startswith("NOT "):
        excluded, part = True, part[4:].strip()
    interval = _INTERVAL.fullmatch(part)
    if interval:
        low, high = float(interval[2]), float(interval[3])
        low_in, high_in = interval[1] == "[", interval[4] == "]"
        return Condition(
            lambda v: (
                _number(v) is not None
                and (low <= _n(v) if low_in else low < _n(v))
                and (_n(v) <= high if high_in else _n(v) < high)
            ),
            f"{{c}} {'>=' if low_in else '>'} {interval[2]} AND "
            f"{{c}} {'<=' if high_in else '<'} {interval[3]}",
        ), excluded
    pieces = [p.strip() for p in re.split(r"\s+AND\s+", part, flags=re.I)]
    comparisons = [_COMPARISON.fullmatch(p) for p in pieces]
    if not all(comparisons):
        raise FilterError(f"{part!r} is not a number filter the emulator understands")
    tests: list[Test] = []
    sqls: list[str] = []
    for found in comparisons:
        assert found is not None  # noqa: S101 - checked just above, for the type checker
        operator, number = found[1] or "=", float(found[2])
        if operator in ("!=", "<>"):
            excluded, operator = not excluded, "="
        tests.append(_comparison(operator, number))
        sqls.append(f"{{c}} {operator} {found[2]}")
    return Condition(lambda v: all(t(v) for t in tests), " AND ".join(sqls)), excluded


def _number(value: Value) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _n(value: Value) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _comparison(operator: str, number: float) -> Test:
    compare: dict[str, Callable[[float], bool]] = {
        "=": lambda v: v == number,
        ">": lambda v: v > number,
        ">=": lambda v: v >= number,
        "<": lambda v: v < number,
        "<=": lambda v: v <= number,
    }
    check = compare[operator]
    return lambda v: _number(v) is not None and check(_n(v))


_DAY = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_MONTH = re.compile(r"(\d{4})[-/](\d{1,2})")
_YEAR = re.compile(r"\d{4}")
_UNITS = {"day": 1, "week": 7}


def _date_alternative(part: str) -> tuple[Condition, bool]:
    text = " ".join(part.lower().split())
    if text == "null":
        return _NULL, False
    if text == "not null":
        return _NULL, True
    if text.startswith("after "):
        start, _ = _period(text[6:])
        return _between(start, None), False
    if text.startswith("before "):
        start, _ = _period(text[7:])
        return _between(None, start), False
    if " to " in text:
        first, second = text.split(" to ", 1)
        return _between(_period(first)[0], _period(second)[0]), False
    return _between(*_period(text)), False


def _between(start: date | None, end: date | None) -> Condition:
    """Dates in ``[start, end)``; a month value counts from its first day."""

    def test(value: Value) -> bool:
        if not isinstance(value, str):
            return False
        day = _as_day(value)
        return (start is None or day >= start) and (end is None or day < end)

    bounds = []
    if start is not None:
        bounds.append(f"{{c}} >= '{start.isoformat()}'")
    if end is not None:
        bounds.append(f"{{c}} < '{end.isoformat()}'")
    sql = " AND ".join(bounds)
    return Condition(test, sql or "TRUE")


def _as_day(value: str) -> date:
    year, month, day = ([*map(int, value.split("-")), 1, 1])[:3]
    return date(year, month, day)


def _period(text: str) -> tuple[date, date]:
    """The days ``text`` names, as ``[start, end)``."""
    text = text.strip()
    try:
        if found := _DAY.fullmatch(text):
            day = date(int(found[1]), int(found[2]), int(found[3]))
            return day, day + timedelta(days=1)
        if found := _MONTH.fullmatch(text):
            first = date(int(found[1]), int(found[2]), 1)
            return first, _add_months(first, 1)
        if _YEAR.fullmatch(text):
            return date(int(text), 1, 1), date(int(text) + 1, 1, 1)
    except ValueError as exc:
        raise FilterError(f"{text!r} is not a date: {exc}") from None
    return _relative(text)


def _relative(text: str) -> tuple[date, date]:
    today = date.today()
    if text == "today":
        return today, today + timedelta(days=1)
    if text == "yesterday":
        return today - timedelta(days=1), today
    if text == "this month":
        first = today.replace(day=1)
        return first, _add_months(first, 1)
    if text == "this year":
        return date(today.year, 1, 1), date(today.year + 1, 1, 1)
    found = re.fullmatch(r"(last )?(\d+) (day|week|month|year)s?( ago)?", text)
    if found and bool(found[1]) != bool(found[4]):
        count, unit = int(found[2]), found[3]
        if found[4]:  # "3 days ago": that one day (or week, month, year)
            start = _back(today, count, unit)
            return start, _back(start, -1, unit)
        return _back(today + timedelta(days=1), count, unit), today + timedelta(days=1)
    raise FilterError(f"{text!r} is not a date filter the emulator understands")


def _back(day: date, count: int, unit: str) -> date:
    if unit in _UNITS:
        return day - timedelta(days=count * _UNITS[unit])
    months = count * (12 if unit == "year" else 1)
    return _add_months(day, -months)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
