"""Dashboard elements, content search, roles and ``session``: shapes and rules, raw HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.emulator.conftest import Call
from tests.support.emulator import assert_spec_keys

ROLES = ["admin", "analyst", "viewer"]


@pytest.mark.parametrize("who", ROLES)
def test_dashboard_elements_carry_their_query(as_user: Callable[[str], Call], who: str) -> None:
    call = as_user(who)
    response = call("GET", "/dashboards/1/dashboard_elements")
    assert response.status_code == 200, response.text
    elements = response.json()
    assert [e["look_id"] for e in elements] == ["1", "2"]
    for element in elements:
        assert_spec_keys("DashboardElement", element)
        assert element["query"]["id"] == element["query_id"] == element["look"]["query_id"]
        assert_spec_keys("Query", element["query"])
    assert elements[0]["query"]["model"] == "thelook"
    finance = call("GET", "/dashboards/2/dashboard_elements")
    assert finance.status_code == (404 if who == "viewer" else 200)
    if who != "viewer":
        assert [e["query"]["model"] for e in finance.json()] == ["finance"]


def test_dashboard_elements_fields_and_unknown(as_user: Callable[[str], Call]) -> None:
    call = as_user("admin")
    only = call("GET", "/dashboards/1/dashboard_elements", params={"fields": "id,query_id"})
    assert only.json() == [{"id": "11", "query_id": "1"}, {"id": "12", "query_id": "2"}]
    assert call("GET", "/dashboards/99/dashboard_elements").status_code == 404


def test_dashboard_also_lists_complete_elements(as_user: Callable[[str], Call]) -> None:
    dashboard = as_user("viewer")("GET", "/dashboards/1").json()
    for element in dashboard["dashboard_elements"]:
        assert_spec_keys("DashboardElement", element)
        assert element["query"]["id"] == element["query_id"]
