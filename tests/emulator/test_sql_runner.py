"""SQL Runner (issue 13): save a statement, read it back, run it, as apps with their own SQL do.

Through the official looker-sdk and raw HTTP against the running emulator. The rows are those of
the ``orders`` explore (one table, ``demo.orders``), so a SQL Runner result and a query over the
same dimensions agree; roles without ``use_sql_runner`` (the Viewer) are refused.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from looker_sdk import error as sdk_error
from looker_sdk import models40

from oauth_bridge.emulator.orders_table import row
from oauth_bridge.emulator.spec import keys
from oauth_bridge.emulator.sql_runner import DEFAULT_ROWS
from tests.emulator.conftest import SDK, Call


def test_sdk_saves_reads_and_runs_a_statement(sdk_for: Callable[[str], SDK]) -> None:
    sdk = sdk_for("analyst")
    created = sdk.create_sql_query(
        models40.SqlQueryCreate(
            connection_name="thelook_db", sql="SELECT id, status FROM demo.orders LIMIT 3"
        )
    )
    assert isinstance(created, models40.SqlQuery) and created.slug
    assert created.connection and created.connection.name == "thelook_db"
    assert created.creator and created.creator.id == "2" and created.run_count == 0
    rows = json.loads(sdk.run_sql_query(created.slug, "json"))
    expected = [row(["orders.id", "orders.status"], n) for n in (1, 2, 3)]
    assert rows == [{"id": r["orders.id"], "status": r["orders.status"]} for r in expected]
    table = list(csv.reader(io.StringIO(sdk.run_sql_query(created.slug, "csv"))))
    assert table == [["id", "status"]] + [
        [str(r["orders.id"]), r["orders.status"]] for r in expected
    ]
    again = sdk.sql_query(created.slug)
    assert again.sql == created.sql and again.run_count == 2 and again.last_run_at


def test_a_model_names_the_connection_and_star_is_every_column(
    as_user: Callable[[str], Call],
) -> None:
    analyst = as_user("analyst")
    created = analyst(
        "POST", "/sql_queries", json={"model_name": "finance", "sql": "select * from orders"}
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert set(body) == set(keys("SqlQuery"))
    assert (body["model_name"], body["connection"]["name"]) == ("finance", "thelook_db")
    assert body["browser_limit"] == DEFAULT_ROWS
    ran = analyst("POST", f"/sql_queries/{body['slug']}/run/json")
    assert ran.status_code == 200
    rows = ran.json()
    assert len(rows) == DEFAULT_ROWS  # no LIMIT: SQL Runner's browser limit
    first = row(["orders.id", "orders.created_date", "orders.status", "orders.amount"], 1)
    assert rows[0] == dict(
        zip(["id", "created_at", "status", "amount"], first.values(), strict=True)
    )
    download = analyst("POST", f"/sql_queries/{body['slug']}/run/csv", params={"download": "true"})
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="sql_runner_{body["slug"]}.csv"'
    )
    assert download.text.splitlines()[0] == "id,created_at,status,amount"


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("DELETE FROM demo.orders", "syntax error"),
        ("SELECT id FROM demo.users", 'relation "demo.users" does not exist'),
        ("SELECT id, secret FROM demo.orders", 'column "secret" does not exist'),
        ("SELECT id FROM demo.orders LIMIT 999999999", "LIMIT 999999999 is more than"),
    ],
)
def test_a_statement_the_database_refuses_answers_looker_error(
    as_user: Callable[[str], Call], sql: str, error: str
) -> None:
    analyst = as_user("analyst")
    slug = analyst("POST", "/sql_queries", json={"connection_name": "thelook_db", "sql": sql})
    assert slug.status_code == 200  # saving does not run it
    ran = analyst("POST", f"/sql_queries/{slug.json()['slug']}/run/json")
    assert ran.status_code == 200
    [only] = ran.json()
    assert only["looker_error"].startswith("SQL Error: ") and error in only["looker_error"]
    as_text = analyst("POST", f"/sql_queries/{slug.json()['slug']}/run/txt")
    assert as_text.text.startswith("SQL Error: ") and error in as_text.text


def test_sql_runner_is_refused_without_use_sql_runner_and_bad_bodies_answer_422(
    as_user: Callable[[str], Call], sdk_for: Callable[[str], SDK]
) -> None:
    analyst, viewer = as_user("analyst"), as_user("viewer")
    roles = {role["name"]: role["permission_set"]["permissions"] for role in
             as_user("admin")("GET", "/roles").json()}  # fmt: skip
    assert "use_sql_runner" in roles["Developer"] and "use_sql_runner" not in roles["Viewer"]
    good = {"connection_name": "thelook_db", "sql": "SELECT id FROM demo.orders LIMIT 1"}
    slug = analyst("POST", "/sql_queries", json=good).json()["slug"]
    assert viewer("POST", "/sql_queries", json=good).status_code == 403
    assert viewer("GET", f"/sql_queries/{slug}").status_code == 403
    assert viewer("POST", f"/sql_queries/{slug}/run/json").status_code == 403
    with pytest.raises(sdk_error.SDKError):
        sdk_for("viewer").create_sql_query(
            models40.SqlQueryCreate(connection_name=good["connection_name"], sql=good["sql"])
        )
    assert analyst("GET", "/sql_queries/nope").status_code == 404
    assert analyst("POST", f"/sql_queries/{slug}/run/xlsx").status_code == 400
    neither = analyst("POST", "/sql_queries", json={"sql": "SELECT id FROM demo.orders"})
    assert neither.status_code == 422
    assert neither.json()["errors"][0]["field"] == "connection_name"
    no_sql = analyst("POST", "/sql_queries", json={"connection_name": "thelook_db"})
    assert no_sql.status_code == 422 and no_sql.json()["errors"][0]["field"] == "sql"
    wrong_type = analyst("POST", "/sql_queries", json={**good, "sql": ["SELECT 1"]})
    assert wrong_type.status_code == 422
    unknown = analyst("POST", "/sql_queries", json={**good, "connection_name": "other_db"})
    assert unknown.status_code == 404
    assert analyst("POST", "/sql_queries", json={**good, "model_name": "nope"}).status_code == 404
