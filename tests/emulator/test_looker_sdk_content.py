"""The official looker-sdk against dashboard elements, content search, roles and session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from looker_sdk import error as sdk_error
from looker_sdk import models40

from oauth_bridge.emulator.seed import SEED_BY_KEY
from tests.emulator.conftest import SDK

ROLES = ["admin", "analyst", "viewer"]


@pytest.mark.parametrize("who", ROLES)
def test_sdk_dashboard_elements(sdk_for: Callable[[str], SDK], who: str) -> None:
    sdk = sdk_for(who)
    elements = sdk.dashboard_dashboard_elements("1")
    assert all(isinstance(e, models40.DashboardElement) for e in elements)
    # query tiles' own queries, and the looks' queries of look tiles (15 is look 2, 19 look 1)
    assert [e.query.id for e in elements if e.query] == [
        "4",
        "5",
        "10",
        "6",
        "2",
        "7",
        "8",
        "9",
        "1",
    ]
    if who == "viewer":
        with pytest.raises(sdk_error.SDKError):
            sdk.dashboard_dashboard_elements("2")
    else:
        assert [e.query_id for e in sdk.dashboard_dashboard_elements("2")] == ["10", "11", "3"]


@pytest.mark.parametrize("who", ROLES)
def test_sdk_searches_content(sdk_for: Callable[[str], SDK], who: str) -> None:
    sdk = sdk_for(who)
    hidden = who == "viewer"
    dashboards = sdk.search_dashboards(sorts="id")
    assert all(isinstance(d, models40.Dashboard) for d in dashboards)
    assert [d.id for d in dashboards] == (["1"] if hidden else ["1", "2"])
    assert [d.id for d in sdk.search_dashboards(title="business%")] == ["1"]
    looks = sdk.search_looks(sorts="title desc", limit=2)
    assert all(isinstance(look, models40.Look) for look in looks)
    assert [look.id for look in looks] == (["1", "2"] if hidden else ["3", "1"])
    assert [look.title for look in sdk.search_looks(id="2", fields="title")] == ["Order status"]
    folders = sdk.search_folders(name="%")
    assert all(isinstance(f, models40.Folder) for f in folders)
    assert [f.name for f in folders] == (["Shared"] if hidden else ["Shared", "Finance"])
    children = sdk.folder_children("1", offset=0, limit=10)
    assert [f.id for f in children] == ([] if hidden else ["2"])


@pytest.mark.parametrize("who", ROLES)
def test_sdk_roles_and_session(sdk_for: Callable[[str], SDK], who: str) -> None:
    sdk = sdk_for(who)
    me = SEED_BY_KEY[who]
    [role] = sdk.user_roles(me.id)
    assert isinstance(role, models40.Role) and role.name == me.role
    assert role.permission_set and role.permission_set.permissions
    if who == "admin":
        assert [r.name for r in sdk.all_roles()] == ["Admin", "Developer", "Viewer"]
    else:
        with pytest.raises(sdk_error.SDKError):
            sdk.all_roles()
    session = sdk.session()
    assert isinstance(session, models40.ApiSession)
    assert session.workspace_id == "production" and session.sudo_user_id is None
