"""Queries answer with Looker's semantics over the seed table, in every result format.

Each expected number is worked out here from :func:`~oauth_bridge.emulator.orders_table.order`
by brute force over one period of the table (the emulator aggregates by its own grouping code),
scaled to the table's size, so a wrong grouping, filter, sort or total fails.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import requests
from looker_sdk import models40

from oauth_bridge.emulator.orders_table import PERIOD, STATUSES, TABLE_ROWS, WEIGHT, order
from oauth_bridge.emulator.value_formats import render

Call = Callable[..., requests.Response]
SDK = Any
PERIOD_ORDERS = [order(n) for n in range(1, PERIOD + 1)]


def inline(call: Call, result_format: str, body: dict[str, Any], **params: str) -> Any:
    response = call(
        "POST",
        f"/queries/run/{result_format}",
        json={"model": "thelook", "view": "orders", **body},
        params=params,
    )
    assert response.status_code == 200, response.text
    return response.json() if result_format.startswith("json") else response.text


def revenue_by(name: str) -> dict[str, float]:
    cents: dict[str, int] = defaultdict(int)
    for values in PERIOD_ORDERS:
        cents[str(values[name])] += round(float(values["orders.amount"] or 0) * 100) * WEIGHT
    return {key: total / 100 for key, total in cents.items()}


def test_dimensions_and_measures_group_over_the_whole_table(
    as_user: Callable[[str], Call],
) -> None:
    analyst = as_user("analyst")
    rows = inline(analyst, "json", {"fields": ["orders.status", "orders.count"]})
    assert sorted(r["orders.status"] for r in rows) == sorted(STATUSES)
    assert {r["orders.count"] for r in rows} == {TABLE_ROWS // len(STATUSES)}
    by_month = inline(analyst, "json", {"fields": ["orders.created_month", "orders.total_amount"]})
    expected = revenue_by("orders.created_month")
    assert len(by_month) == 12
    # Looker's default sort: the first date dimension, descending
    assert [r["orders.created_month"] for r in by_month] == sorted(expected, reverse=True)
    for r in by_month:
        assert r["orders.total_amount"] == pytest.approx(expected[r["orders.created_month"]])
    whole = inline(analyst, "json", {"fields": ["orders.total_amount", "orders.count"]})
    assert whole == [
        {
            "orders.total_amount": pytest.approx(sum(expected.values())),
            "orders.count": TABLE_ROWS,
        }
    ]
    # revenue rises through the year: the line chart of the seed dashboard has a slope
    months = sorted(expected)
    assert expected[months[-1]] > expected[months[0]]


def test_sorts_limits_and_unlimited(as_user: Callable[[str], Call]) -> None:
    analyst = as_user("analyst")
    body = {"fields": ["orders.status", "orders.total_amount"]}
    revenue = revenue_by("orders.status")
    by_default = inline(analyst, "json", body)  # no date: the first measure, descending
    assert [r["orders.status"] for r in by_default] == sorted(
        revenue, key=revenue.__getitem__, reverse=True
    )
    ascending = inline(analyst, "json", body | {"sorts": ["orders.status"]})
    assert [r["orders.status"] for r in ascending] == sorted(STATUSES)
    days = {"fields": ["orders.created_date", "orders.count"]}
    every_day = inline(analyst, "json", days | {"limit": "-1"})
    assert len(every_day) == 366  # 2024 is a leap year, and every day has orders
    assert sum(r["orders.count"] for r in every_day) == TABLE_ROWS
    assert len(inline(analyst, "json", days | {"limit": "5"})) == 5
    created = analyst("POST", "/queries", json={"model": "thelook", "view": "orders"} | days
                      | {"limit": "-1"})  # fmt: skip
    assert created.status_code == 200 and created.json()["limit"] == "-1"
    run = analyst("GET", f"/queries/{created.json()['id']}/run/json")
    assert len(run.json()) == 366
    listed = inline(analyst, "json", {"fields": ["orders.id"], "sorts": ["orders.id desc"]},
                    limit="3")  # fmt: skip
    assert [r["orders.id"] for r in listed] == [TABLE_ROWS, TABLE_ROWS - 1, TABLE_ROWS - 2]


def test_filters_use_looker_filter_expressions(as_user: Callable[[str], Call]) -> None:
    analyst = as_user("analyst")
    grouped = {"fields": ["orders.status", "orders.count"]}

    def statuses(expression: str) -> set[str]:
        rows = inline(analyst, "json", grouped | {"filters": {"orders.status": expression}})
        return {r["orders.status"] for r in rows}

    assert statuses("complete,pending") == {"complete", "pending"}
    assert statuses("-complete") == set(STATUSES) - {"complete"}
    assert statuses("%ed") == {"cancelled", "returned"}
    march = inline(
        analyst,
        "json",
        {"fields": ["orders.created_date", "orders.count"], "limit": "-1",
         "filters": {"orders.created_date": "2024-03"}},
    )  # fmt: skip
    assert len(march) == 31 and all(r["orders.created_date"][:7] == "2024-03" for r in march)
    listed = inline(
        analyst,
        "json",
        {"fields": ["orders.id", "orders.amount"], "limit": "50",
         "filters": {"orders.amount": ">=900"}},
    )  # fmt: skip
    expected = [v["orders.id"] for v in (order(n) for n in range(1, 200_000))
                if float(v["orders.amount"] or 0) >= 900][:50]  # fmt: skip
    assert [r["orders.id"] for r in listed] == expected
    big = inline(analyst, "json", grouped | {"filters": {"orders.count": ">1250000"}})
    assert big == []  # a measure filter applies to the groups (HAVING)
    refused = analyst(
        "POST",
        "/queries/run/json",
        json={"model": "thelook", "view": "orders", **grouped,
              "filters": {"orders.created_date": "every other tuesday"}},
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "filters.orders.created_date"


def test_pivots_totals_and_row_totals_in_json_detail(as_user: Callable[[str], Call]) -> None:
    body = {
        "fields": ["orders.created_month", "orders.status", "orders.count"],
        "pivots": ["orders.status"],
        "sorts": ["orders.created_month"],
        "total": True,
        "row_total": "right",
    }
    detail = inline(as_user("analyst"), "json_detail", body)
    assert [p["key"] for p in detail["pivots"]] == [*sorted(STATUSES), "$$$_row_total_$$$"]
    assert detail["pivots"][0]["data"] == {"orders.status": "cancelled"}
    assert [f["name"] for f in detail["fields"]["pivots"]] == ["orders.status"]
    assert [f["name"] for f in detail["fields"]["dimensions"]] == ["orders.created_month"]
    assert detail["has_totals"] is True and detail["has_row_totals"] is True
    expected: Counter[tuple[str, str]] = Counter()
    for values in PERIOD_ORDERS:
        expected[(str(values["orders.created_month"]), str(values["orders.status"]))] += WEIGHT
    january = detail["data"][0]
    assert january["orders.created_month"] == {"value": "2024-01"}
    for status in STATUSES:
        assert january["orders.count"][status] == {"value": expected[("2024-01", status)]}
    row_total = sum(expected[("2024-01", s)] for s in STATUSES)
    assert january["orders.count"]["$$$_row_total_$$$"] == {"value": row_total}
    totals = detail["totals_data"]["orders.count"]
    assert {k: v["value"] for k, v in totals.items()} == {
        **{s: TABLE_ROWS // 4 for s in STATUSES},
        "$$$_row_total_$$$": TABLE_ROWS,
    }
    plain = inline(as_user("analyst"), "json", body)
    assert plain[0]["orders.count"]["complete"] == expected[("2024-01", "complete")]


def test_json_detail_and_json_bi_describe_the_fields(as_user: Callable[[str], Call]) -> None:
    analyst = as_user("analyst")
    body = {"fields": ["orders.status", "orders.total_amount"], "sorts": ["orders.status"]}
    detail = inline(analyst, "json_detail", body)
    measure = detail["fields"]["measures"][0]
    assert (measure["name"], measure["label"], measure["label_short"]) == (
        "orders.total_amount", "Orders Total Amount", "Total Amount",
    )  # fmt: skip
    assert measure["is_numeric"] is True and measure["value_format_name"] == "usd"
    assert measure["type"] == "sum" and detail["fields"]["measure_like"] == [measure]
    assert detail["fields"]["dimensions"][0]["type"] == "string"
    cell = detail["data"][0]["orders.total_amount"]
    assert cell["rendered"] == render(cell["value"], "usd") and cell["rendered"].startswith("$")
    assert "GROUP BY 1" in detail["sql"] and detail["has_totals"] is False
    bi = inline(analyst, "json_bi", body)
    required = ["big_query_metadata", "fields", "pivots", "has_subtotals", "has_totals",
                "columns_truncated", "filter_expression", "filters", "sql"]  # fmt: skip
    assert set(required) <= set(bi["metadata"]), "JsonBiMetadata's required keys"
    bi_field = bi["metadata"]["fields"]["measures"][0]
    assert bi_field["name"] == "orders.total_amount" and bi_field["category"] == "measure"
    assert bi_field["label"] == "Orders Total Amount" and bi_field["view"] == "orders"
    assert bi["rows"] == inline(analyst, "json", body)


def test_apply_formatting_renders_values(as_user: Callable[[str], Call]) -> None:
    analyst = as_user("analyst")
    body = {"fields": ["orders.status", "orders.total_amount", "orders.count"],
            "sorts": ["orders.status"]}  # fmt: skip
    raw = inline(analyst, "json", body)
    shown = inline(analyst, "json", body, apply_formatting="true")
    for before, after in zip(raw, shown, strict=True):
        assert after["orders.total_amount"] == render(before["orders.total_amount"], "usd")
        assert after["orders.count"] == before["orders.count"]  # no format: the value
    text = inline(analyst, "csv", body, apply_formatting="true")
    first = list(csv.reader(io.StringIO(text)))[1]
    assert first[1] == shown[0]["orders.total_amount"]


def test_html_md_and_sql_formats(as_user: Callable[[str], Call]) -> None:
    analyst = as_user("analyst")
    body = {"fields": ["orders.status", "orders.count"], "sorts": ["orders.status"],
            "filters": {"orders.status": "-pending"}}  # fmt: skip
    page = inline(analyst, "html", body)
    assert "<th>Orders Status</th><th>Orders Count</th>" in page
    assert f"<tr><td>cancelled</td><td>{TABLE_ROWS // 4}</td></tr>" in page
    markdown = inline(analyst, "md", body).splitlines()
    assert markdown[:2] == ["| Orders Status | Orders Count |", "| --- | --- |"]
    assert len(markdown) == 5
    sql = inline(analyst, "sql", body)
    assert sql.startswith("SELECT\n    orders.status AS `orders.status`,")
    assert "FROM demo.orders AS orders" in sql and "NOT (orders.status = 'pending')" in sql
    assert "GROUP BY 1" in sql and "ORDER BY 1" in sql and sql.endswith("LIMIT 500")


def test_the_sdk_runs_an_inline_query_as_json_bi(sdk_for: Callable[[str], SDK]) -> None:
    sdk = sdk_for("analyst")
    answer = sdk.run_inline_query(
        "json_bi",
        models40.WriteQuery(
            model="thelook", view="orders", fields=["orders.status", "orders.count"]
        ),
    )
    parsed = json.loads(answer)
    assert {r["orders.status"] for r in parsed["rows"]} == set(STATUSES)
    assert parsed["metadata"]["fields"]["measures"][0]["name"] == "orders.count"
