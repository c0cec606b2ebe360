"""Dashboard elements, content search, roles and ``session``: shapes and rules, raw HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.seed import ROLE_IDS, SEED_BY_KEY, seed_content
from tests.emulator.conftest import Call
from tests.support.emulator import assert_spec_keys

ROLES = ["admin", "analyst", "viewer"]


@pytest.mark.parametrize("who", ROLES)
def test_dashboard_elements_carry_their_query(as_user: Callable[[str], Call], who: str) -> None:
    call = as_user(who)
    response = call("GET", "/dashboards/1/dashboard_elements")
    assert response.status_code == 200, response.text
    elements = response.json()
    seeded = seed_content().dashboards["1"].elements
    assert [(e["id"], e["look_id"]) for e in elements] == [(e.id, e.look_id) for e in seeded]
    for element in elements:
        assert_spec_keys("DashboardElement", element)
        assert element["query"]["id"] == element["query_id"]
        if element["look_id"]:  # a look's tile runs the look's query
            assert element["look"]["query_id"] == element["query_id"]
        else:  # a query tile has no look
            assert element["look"] is None
        assert element["result_maker"]["vis_config"] == element["query"]["vis_config"]
        assert_spec_keys("Query", element["query"])
    # every role sees the shared dashboard's finance tile listed; running it is another matter
    assert [e["query"]["model"] for e in elements].count("finance") == 1
    finance = call("GET", "/dashboards/2/dashboard_elements")
    assert finance.status_code == (404 if who == "viewer" else 200)
    if who != "viewer":
        assert {e["query"]["model"] for e in finance.json()} == {"finance"}


def test_dashboard_elements_fields_and_unknown(as_user: Callable[[str], Call]) -> None:
    call = as_user("admin")
    only = call("GET", "/dashboards/1/dashboard_elements", params={"fields": "id,query_id"})
    assert only.json()[:2] == [{"id": "11", "query_id": "4"}, {"id": "12", "query_id": "5"}]
    assert {"id": "15", "query_id": "2"} in only.json()  # a look's tile: the look's query
    assert call("GET", "/dashboards/99/dashboard_elements").status_code == 404


def test_dashboard_also_lists_complete_elements(as_user: Callable[[str], Call]) -> None:
    dashboard = as_user("viewer")("GET", "/dashboards/1").json()
    for element in dashboard["dashboard_elements"]:
        assert_spec_keys("DashboardElement", element)
        assert element["query"]["id"] == element["query_id"]


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [body["id"] for body in response.json()]


@pytest.mark.parametrize("who", ROLES)
def test_search_shows_only_what_the_role_sees(as_user: Callable[[str], Call], who: str) -> None:
    call = as_user(who)
    hidden = who == "viewer"
    assert ids(call("GET", "/dashboards/search")) == (["1"] if hidden else ["1", "2"])
    assert ids(call("GET", "/looks/search")) == (["1", "2"] if hidden else ["1", "2", "3"])
    assert ids(call("GET", "/folders/search")) == (["1"] if hidden else ["1", "2"])
    assert ids(call("GET", "/folders/1/children")) == ([] if hidden else ["2"])
    assert call("GET", "/folders/2/children").status_code == (404 if hidden else 200)
    assert ids(call("GET", "/dashboards/search", params={"folder_id": "2"})) == (
        [] if hidden else ["2"]
    )


def test_search_filters_sorts_pages_and_fields(as_user: Callable[[str], Call]) -> None:
    call = as_user("admin")
    assert ids(call("GET", "/dashboards/search", params={"title": "business%"})) == ["1"]
    assert ids(call("GET", "/dashboards/search", params={"title": "%OVERVIEW"})) == ["2"]
    assert ids(call("GET", "/dashboards/search", params={"title": "pulse"})) == []
    both = {"id": "1", "folder_id": "2", "filter_or": "true"}
    assert ids(call("GET", "/dashboards/search", params=both)) == ["1", "2"]
    assert ids(call("GET", "/dashboards/search", params={"id": "1", "folder_id": "2"})) == []
    assert ids(call("GET", "/looks/search", params={"sorts": "title desc"})) == ["3", "1", "2"]
    assert ids(call("GET", "/looks/search", params={"sorts": "folder_id desc, id"})) == [
        "3",
        "1",
        "2",
    ]
    page = {"sorts": "id desc", "limit": "1", "offset": "1"}
    assert ids(call("GET", "/looks/search", params=page)) == ["2"]
    assert ids(call("GET", "/looks/search", params={"per_page": "2", "page": "2"})) == ["3"]
    assert ids(call("GET", "/looks/search", params={"query_id": "3"})) == ["3"]
    looks = call("GET", "/looks/search", params={"fields": "id,title"}).json()
    assert looks[0] == {"id": "1", "title": "Orders by day"}
    assert "query" not in call("GET", "/looks/search").json()[0]
    assert ids(call("GET", "/folders/search", params={"name": "fin%"})) == ["2"]
    assert ids(call("GET", "/folders/search", params={"is_shared_root": "true"})) == ["1"]
    folders = call("GET", "/folders/search", params={"parent_id": "1", "fields": "id,name"})
    assert folders.json() == [{"id": "2", "name": "Finance"}]
    children = call("GET", "/folders/1/children", params={"fields": "name"}).json()
    assert children == [{"name": "Finance"}]


@pytest.mark.parametrize(
    "params",
    [{"sorts": "nope"}, {"sorts": "id sideways"}, {"limit": "x"}, {"offset": "-1"}],
)
def test_search_rejects_bad_params(as_user: Callable[[str], Call], params: dict[str, str]) -> None:
    response = as_user("admin")("GET", "/dashboards/search", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "Validation Failed"


@pytest.mark.parametrize("who", ROLES)
def test_roles_are_admin_only_and_own_roles_readable(
    as_user: Callable[[str], Call], who: str
) -> None:
    call = as_user(who)
    own_id, role = SEED_BY_KEY[who].id, SEED_BY_KEY[who].role
    everything = call("GET", "/roles")
    assert everything.status_code == (200 if who == "admin" else 404)
    own = call("GET", f"/users/{own_id}/roles")
    assert own.status_code == 200, own.text
    [mine] = own.json()
    assert mine["name"] == role and mine["id"] == ROLE_IDS[role]
    assert_spec_keys("Role", mine)
    assert_spec_keys("PermissionSet", mine["permission_set"])
    assert_spec_keys("ModelSet", mine["model_set"])
    assert ("explore" in mine["permission_set"]["permissions"]) == (who != "viewer")
    assert mine["model_set"]["models"] == (
        ["thelook"] if who == "viewer" else ["finance", "thelook"]
    )
    other = "1" if who != "admin" else "3"
    assert call("GET", f"/users/{other}/roles").status_code == (200 if who == "admin" else 404)


def test_all_roles_as_admin(as_user: Callable[[str], Call]) -> None:
    call = as_user("admin")
    roles = call("GET", "/roles").json()
    assert [(r["id"], r["name"]) for r in roles] == [
        ("2", "Admin"),
        ("3", "Developer"),
        ("4", "Viewer"),
    ]
    assert roles[0]["permission_set"]["all_access"] is True
    only = call("GET", "/roles", params={"ids": "4,3", "fields": "name"}).json()
    assert only == [{"name": "Developer"}, {"name": "Viewer"}]
    assert call("GET", "/users/99/roles").status_code == 404


@pytest.mark.parametrize("who", ROLES)
def test_session_is_production(as_user: Callable[[str], Call], who: str) -> None:
    response = as_user(who)("GET", "/session")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "can": {"view": True, "update": True},
        "workspace_id": "production",
        "sudo_user_id": None,
    }
    assert_spec_keys("ApiSession", response.json())


def test_session_names_the_sudo_user(
    as_user: Callable[[str], Call], emulator: EmulatorServer
) -> None:
    sudo = as_user("admin")("POST", "/login/3")
    assert sudo.status_code == 200, sudo.text
    headers = {"Authorization": f"Bearer {sudo.json()['access_token']}"}
    session = requests.get(f"{emulator.api_url}/api/4.0/session", headers=headers, timeout=10)
    assert session.json()["sudo_user_id"] == "3"
    anonymous = requests.get(f"{emulator.api_url}/api/4.0/session", timeout=10)
    assert anonymous.status_code == 401
