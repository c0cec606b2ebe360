"""The official looker-sdk against dashboard elements, content search, roles and session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from looker_sdk import error as sdk_error
from looker_sdk import models40

from tests.emulator.conftest import SDK

ROLES = ["admin", "analyst", "viewer"]


@pytest.mark.parametrize("who", ROLES)
def test_sdk_dashboard_elements(sdk_for: Callable[[str], SDK], who: str) -> None:
    sdk = sdk_for(who)
    elements = sdk.dashboard_dashboard_elements("1")
    assert all(isinstance(e, models40.DashboardElement) for e in elements)
    assert [e.query.id for e in elements if e.query] == ["1", "2"]
    if who == "viewer":
        with pytest.raises(sdk_error.SDKError):
            sdk.dashboard_dashboard_elements("2")
    else:
        assert [e.query_id for e in sdk.dashboard_dashboard_elements("2")] == ["3"]
