"""Groups and user attributes (issue 13), through the official looker-sdk and raw HTTP.

What an app reads to adapt to the signed-in user: the groups they are in, and their user
attributes' values, in Looker's ``Group`` and ``UserAttributeWithValue`` shapes with every key
the spec lists; an Admin sees every group and defines attributes, others see their own.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from looker_sdk import error as sdk_error
from looker_sdk import models40

from oauth_bridge.emulator.spec import keys
from tests.emulator.conftest import SDK, Call


def test_an_admin_sees_every_group_and_others_their_own(sdk_for: Callable[[str], SDK]) -> None:
    # one SDK at a time: looker-sdk reads its LOOKERSDK_* settings when it first signs in
    admin = sdk_for("admin")
    everything = admin.all_groups()
    assert [(g.id, g.name, g.user_count) for g in everything] == [
        ("1", "All Users", 3),
        ("2", "Analysts", 1),
        ("3", "Finance", 1),
    ]
    assert all(isinstance(g, models40.Group) for g in everything)
    assert admin.group("3").name == "Finance"
    analyst = sdk_for("analyst")
    mine = analyst.all_groups()
    assert [(g.name, g.contains_current_user) for g in mine] == [
        ("All Users", True),
        ("Analysts", True),
    ]
    assert analyst.me().group_ids == ["1", "2"]
    viewer = sdk_for("viewer")
    assert [g.name for g in viewer.all_groups()] == ["All Users"]
    with pytest.raises(sdk_error.SDKError, match="Not found"):
        viewer.group("3")
    assert viewer.me().group_ids == ["1"]


def test_search_groups_filters_sorts_pages_and_cuts_fields(as_user: Callable[[str], Call]) -> None:
    admin = as_user("admin")
    found = admin("GET", "/groups/search", params={"name": "ana%"}).json()
    assert [g["name"] for g in found] == ["Analysts"]
    ordered = admin("GET", "/groups/search", params={"sorts": "name desc", "limit": "2"}).json()
    assert [g["name"] for g in ordered] == ["Finance", "Analysts"]
    paged = admin("GET", "/groups", params={"offset": "1", "limit": "1", "fields": "id,name"})
    assert paged.json() == [{"id": "2", "name": "Analysts"}]
    either = admin(
        "GET", "/groups/search", params={"name": "finance", "id": "2", "filter_or": "true"}
    ).json()
    assert sorted(g["id"] for g in either) == ["2", "3"]


def test_group_users_and_every_spec_key(as_user: Callable[[str], Call]) -> None:
    admin, analyst = as_user("admin"), as_user("analyst")
    members = admin("GET", "/groups/1/users", params={"fields": "id,email"}).json()
    assert [m["email"] for m in members] == [
        "admin@example.com",
        "analyst@example.com",
        "viewer@example.com",
    ]
    assert [m["id"] for m in analyst("GET", "/groups/1/users").json()] == ["2"]
    assert analyst("GET", "/groups/3/users").status_code == 404
    group = admin("GET", "/groups/2").json()
    assert set(group) == set(keys("Group")) and group["external_group_id"] is None


def test_user_attribute_values_follow_lookers_search_path(
    sdk_for: Callable[[str], SDK], as_user: Callable[[str], Call]
) -> None:
    analyst = sdk_for("analyst")
    mine = {v.name: (v.value, v.source) for v in analyst.user_attribute_user_values("2")}
    assert mine == {
        "email": ("analyst@example.com", "System"),
        "first_name": ("Ann", "System"),
        "last_name": ("Analyst", "System"),
        "name": ("Ann Analyst", "System"),
        "locale": ("en", "System"),
        "region": ("EMEA", "Default"),
        "sales_team": ("North", "User"),
    }
    viewer = sdk_for("viewer")
    theirs = {v.name: v.value for v in viewer.user_attribute_user_values("3")}
    assert theirs["region"] == "AMER" and "sales_team" not in theirs
    only = models40.DelimSequence(["7"])  # the SDK sends it as "7"
    unset = viewer.user_attribute_user_values("3", include_unset=True, user_attribute_ids=only)
    assert [(v.name, v.value, v.source, v.user_id) for v in unset] == [
        ("sales_team", None, None, "3")
    ]
    with pytest.raises(sdk_error.SDKError, match="Not found"):
        viewer.user_attribute_user_values("2")  # another user's values are the Admin's
    admin_view = as_user("admin")(
        "GET", "/users/3/attribute_values", params={"user_attribute_ids": "6"}
    ).json()
    assert [(v["name"], v["value"]) for v in admin_view] == [("region", "AMER")]


def test_attribute_definitions_are_the_admins(
    sdk_for: Callable[[str], SDK], as_user: Callable[[str], Call]
) -> None:
    admin = sdk_for("admin")
    attributes = admin.all_user_attributes(sorts="name")
    assert [a.name for a in attributes] == sorted(a.name for a in attributes)
    assert len(attributes) == 7 and {a.name for a in attributes if not a.is_system} == {
        "region",
        "sales_team",
    }
    region = admin.user_attribute("6")
    assert (region.type, region.default_value, region.is_system) == ("string", "EMEA", False)
    for who in ("analyst", "viewer"):
        assert as_user(who)("GET", "/user_attributes").status_code == 404
        assert as_user(who)("GET", "/user_attributes/6").status_code == 404
    value = as_user("analyst")("GET", "/users/2/attribute_values").json()[0]
    assert set(value) == set(keys("UserAttributeWithValue"))
    definition = as_user("admin")("GET", "/user_attributes/1").json()
    assert set(definition) == set(keys("UserAttribute"))
