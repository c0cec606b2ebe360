"""LookML models and explores, ``create_query`` and ``query_for_slug``: shapes, rules, per role."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer, lookml
from oauth_bridge.emulator.lookml import ORDERS_FIELDS
from oauth_bridge.emulator.orders_table import TABLE_ROWS, row
from oauth_bridge.emulator.seed import seed_content
from tests.support.emulator import assert_spec_keys

DOCS = "https://cloud.google.com/looker/docs/"
Call = Callable[..., requests.Response]


@pytest.mark.parametrize(
    ("who", "models"),
    [
        ("admin", ["finance", "thelook"]),
        ("analyst", ["finance", "thelook"]),
        ("viewer", ["thelook"]),
    ],
)
def test_all_lookml_models_lists_what_the_role_sees_with_every_spec_key(
    as_user: Callable[[str], Call], who: str, models: list[str]
) -> None:
    call = as_user(who)
    response = call("GET", "/lookml_models")
    assert response.status_code == 200
    body = response.json()
    assert [m["name"] for m in body] == models
    for model in body:
        assert_spec_keys("LookmlModel", model)
        assert [e["name"] for e in model["explores"]] == ["orders"]
        assert_spec_keys("LookmlModelNavExplore", model["explores"][0])
        assert model["has_content"] is True
    assert call("GET", "/lookml_models", params={"limit": 1}).json()[0]["name"] == models[0]
    assert len(call("GET", "/lookml_models", params={"offset": 1}).json()) == len(models) - 1
    assert call("GET", "/lookml_models", params={"fields": "name"}).json()[0] == {"name": models[0]}
    assert call("GET", "/lookml_models", params={"limit": "x"}).status_code == 422


DIMENSIONS = [f.name for f in ORDERS_FIELDS if not f.measure]


def test_lookml_model_and_explore_hide_what_the_role_may_not_see(
    as_user: Callable[[str], Call],
) -> None:
    viewer, analyst = as_user("viewer"), as_user("analyst")
    assert viewer("GET", "/lookml_models/thelook").json()["label"] == "The Look"
    assert viewer("GET", "/lookml_models/finance").status_code == 404
    assert viewer("GET", "/lookml_models/finance/explores/orders").status_code == 404
    assert analyst("GET", "/lookml_models/finance").status_code == 200
    missing = analyst("GET", "/lookml_models/thelook/explores/nope")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not found", "documentation_url": DOCS}
    assert analyst("GET", "/lookml_models/nope").status_code == 404


@pytest.mark.parametrize("who", ["admin", "analyst", "viewer"])
def test_explore_fields_are_the_columns_results_answer(
    as_user: Callable[[str], Call], who: str
) -> None:
    response = as_user(who)("GET", "/lookml_models/thelook/explores/orders")
    assert response.status_code == 200
    explore = response.json()
    assert_spec_keys("LookmlModelExplore", explore)
    assert_spec_keys("LookmlModelExploreFieldset", explore["fields"])
    assert (explore["id"], explore["model_name"], explore["view_name"]) == (
        "thelook::orders",
        "thelook",
        "orders",
    )
    assert explore["can_see_lookml"] is (who != "viewer")
    dimensions, measures = explore["fields"]["dimensions"], explore["fields"]["measures"]
    for field in dimensions + measures:
        assert_spec_keys("LookmlModelExploreField", field)
    assert [d["name"] for d in dimensions] == DIMENSIONS
    assert [m["name"] for m in measures] == ["orders.count", "orders.total_amount"]
    by_name = {f["name"]: f for f in dimensions + measures}
    assert by_name["orders.id"]["primary_key"] is True
    amount = by_name["orders.amount"]
    assert (amount["type"], amount["is_numeric"], amount["label"], amount["label_short"]) == (
        "number",
        True,
        "Orders Amount",
        "Amount",
    )
    assert amount["sql"] == "${TABLE}.amount" and amount["category"] == "dimension"
    assert by_name["orders.status"]["is_numeric"] is False
    assert by_name["orders.count"]["measure"] is True
    assert by_name["orders.count"]["category"] == "measure"
    # Every field the explore lists has a value in the emulator's rows, of the declared kind.
    values = row(list(by_name), 7)
    for name, field in by_name.items():
        assert isinstance(values[name], (int, float)) is field["is_numeric"], name
    only = as_user(who)("GET", "/lookml_models/thelook/explores/orders", params={"fields": "name"})
    assert only.json() == {"name": "orders"}


def test_create_query_is_stored_found_by_id_and_slug_and_runs(
    as_user: Callable[[str], Call],
) -> None:
    analyst = as_user("analyst")
    body = {
        "model": "thelook",
        "view": "orders",
        "fields": ["orders.status", "orders.count"],
        "sorts": ["orders.count desc"],
        "filters": {"orders.status": "complete"},
        "limit": "3",
    }
    response = analyst("POST", "/queries", json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert_spec_keys("Query", created)
    assert created["id"] not in ("1", "2", "3")
    assert created["fields"] == body["fields"] and created["limit"] == "3"
    assert created["sorts"] == ["orders.count desc"]
    assert created["filters"] == {"orders.status": "complete"}
    slug = created["slug"]
    assert isinstance(slug, str) and len(slug) >= 10 and slug.isalnum()
    assert analyst("GET", f"/queries/{created['id']}").json() == created
    assert analyst("GET", f"/queries/slug/{slug}").json() == created
    rows = analyst("GET", f"/queries/{created['id']}/run/csv").text
    parsed = list(csv.reader(io.StringIO(rows)))
    # grouped by status and filtered to one: one row, the count of the table's complete orders
    assert parsed == [body["fields"], ["complete", str(TABLE_ROWS // 4)]]
    again = analyst("POST", "/queries", json=body).json()
    assert again["id"] != created["id"] and again["slug"] != slug
    # The viewer may read a thelook query it did not create (content is shared), by slug too.
    viewer = as_user("viewer")
    assert viewer("GET", f"/queries/slug/{slug}").status_code == 200
    assert viewer("GET", "/queries/slug/q1").json()["id"] == "1"
    assert viewer("GET", "/queries/slug/q3").status_code == 404
    assert viewer("GET", "/queries/slug/nope").status_code == 404


def test_viewer_may_not_create_queries(as_user: Callable[[str], Call]) -> None:
    response = as_user("viewer")(
        "POST", "/queries", json={"model": "thelook", "view": "orders", "fields": ["orders.id"]}
    )
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden", "documentation_url": DOCS}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"view": "orders", "fields": ["orders.id"]}, "model"),
        ({"model": "thelook", "fields": ["orders.id"]}, "view"),
        ({"model": "thelook", "view": "orders"}, "fields"),
        ({"model": "thelook", "view": "orders", "fields": []}, "fields"),
        ({"model": "thelook", "view": "orders", "fields": "orders.id"}, "fields"),
        ({"model": "nope", "view": "orders", "fields": ["orders.id"]}, "model"),
        ({"model": "thelook", "view": "nope", "fields": ["orders.id"]}, "view"),
        ({"model": "thelook", "view": "orders", "fields": ["orders.nope"]}, "fields"),
        (
            {"model": "thelook", "view": "orders", "fields": ["orders.id"], "sorts": ["x desc"]},
            "sorts",
        ),
        (
            {"model": "thelook", "view": "orders", "fields": ["orders.id"], "filters": {"x": 1}},
            "filters",
        ),
        ({"model": "thelook", "view": "orders", "fields": ["orders.id"], "filters": []}, "filters"),
        ({"model": "thelook", "view": "orders", "fields": ["orders.id"], "limit": "x"}, "limit"),
        ({"model": "thelook", "view": "orders", "fields": ["orders.id"], "total": 1}, "total"),
    ],
)
def test_create_query_answers_a_bad_body_with_lookers_validation_error(
    as_user: Callable[[str], Call], body: dict[str, Any], field: str
) -> None:
    response = as_user("analyst")("POST", "/queries", json=body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["message"] == "Validation Failed" and error["documentation_url"] == DOCS
    assert [e["field"] for e in error["errors"]] == [field]
    assert set(error["errors"][0]) == {"field", "code", "message", "documentation_url"}


def test_create_query_needs_a_json_object_and_sign_in(
    as_user: Callable[[str], Call], emulator: EmulatorServer
) -> None:
    assert as_user("admin")("POST", "/queries", data="[1]").status_code == 422
    anonymous = requests.post(f"{emulator.api_url}/api/4.0/queries", json={}, timeout=10)
    assert anonymous.status_code == 401


def test_a_reset_forgets_created_queries(
    as_user: Callable[[str], Call], emulator: EmulatorServer
) -> None:
    admin = as_user("admin")
    created = admin(
        "POST", "/queries", json={"model": "finance", "view": "orders", "fields": ["orders.id"]}
    ).json()
    assert created["model"] == "finance"
    emulator.state.reset()
    assert set(emulator.state.content.queries) == set(seed_content().queries)


def test_seed_queries_now_carry_every_spec_key(as_user: Callable[[str], Call]) -> None:
    assert_spec_keys("Query", as_user("viewer")("GET", "/queries/1").json())
    assert set(lookml.MODELS) == {"thelook", "finance"}
