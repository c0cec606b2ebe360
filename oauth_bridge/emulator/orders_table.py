"""The seed table ``demo.orders``: five million orders made up from their ids.

Order *n*'s values other than its id depend only on ``n % PERIOD``, and the table holds a whole
number of periods, so any aggregate over the table is :data:`WEIGHT` times the same aggregate
over one period. A grouped query therefore reads :data:`PERIOD` rows and its totals are exact,
while a query that lists orders streams any of the five million. Amounts rise through the year,
so a chart of revenue by month has a shape to check.
"""

from __future__ import annotations

from datetime import date, timedelta

from oauth_bridge.emulator.config import MAX_RESULT_ROWS

Value = str | int | float | None

STATUSES = ("complete", "pending", "cancelled", "returned")
TABLE_ROWS = MAX_RESULT_ROWS
"""Orders in the table: as many as the largest result a query may ask for."""
PERIOD = 1000
WEIGHT = TABLE_ROWS // PERIOD
"""How many orders each order of one period stands for."""
_FIRST_DAY = date(2024, 1, 1)


def amount_cents(n: int) -> int:
    """Order ``n``'s amount in cents (integers, so sums are exact)."""
    m = n % PERIOD
    month = (_FIRST_DAY + timedelta(days=m * 366 // PERIOD)).month
    return (m * 7919) % 50_000 + month * 2_500


def _period_values(m: int) -> dict[str, Value]:
    created = _FIRST_DAY + timedelta(days=m * 366 // PERIOD)
    amount = amount_cents(m) / 100
    return {
        "orders.created_date": created.isoformat(),
        "orders.created_month": created.isoformat()[:7],
        "orders.status": STATUSES[m % len(STATUSES)],
        "orders.amount": amount,
        "orders.count": 1,
        "orders.total_amount": amount,
    }


_PERIOD_ROWS = [_period_values(m) for m in range(PERIOD)]


def order(n: int) -> dict[str, Value]:
    """Every field's value for order ``n`` alone (1-based); its measures are that order's."""
    return {"orders.id": n, **_PERIOD_ROWS[n % PERIOD]}


def row(fields: list[str], n: int) -> dict[str, Value]:
    """Order ``n``'s values of ``fields``; a name the LookML lacks gets ``"<name>-<n>"``."""
    values = _PERIOD_ROWS[n % PERIOD]
    return {name: n if name == "orders.id" else values.get(name, f"{name}-{n}") for name in fields}


def one_period() -> list[dict[str, Value]]:
    """Orders ``PERIOD`` … ``2 * PERIOD - 1`` as :func:`order` gives them: one of each kind."""
    return [order(PERIOD + m) for m in range(PERIOD)]
