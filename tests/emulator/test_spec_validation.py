"""Requests checked against the spec (issue 13): Looker's 422 "Validation Failed" on a bad one.

Against the running emulator, signed in: parameters of the wrong type, missing or mistyped
bodies and properties (nested ones by their dotted path) answer the spec's ``ValidationError``
naming the field; what an SDK read may be written back as it came (``readOnly`` keys included);
a caller without a token hears 401 first, and an operation the emulator does not serve 501.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from looker_sdk import models40

from oauth_bridge.emulator import EmulatorServer
from tests.emulator.conftest import SDK, Call

QUERY = {"model": "thelook", "view": "orders", "fields": ["orders.id"]}


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "field", "code"),
    [
        ("GET", "/lookml_models", {"limit": "ten"}, None, "limit", "invalid"),
        ("GET", "/dashboards/search", {"filter_or": "maybe"}, None, "filter_or", "invalid"),
        (
            "POST",
            "/queries/run/json",
            {"apply_formatting": "1"},
            QUERY,
            "apply_formatting",
            "invalid",
        ),
        ("POST", "/queries", {}, None, "body", "missing"),
        ("POST", "/queries", {}, ["not", "an", "object"], "body", "invalid"),
        ("POST", "/queries", {}, {**QUERY, "fields": "orders.id"}, "fields", "invalid"),
        ("POST", "/queries", {}, {**QUERY, "fields": ["orders.id", 7]}, "fields[1]", "invalid"),
        ("POST", "/queries", {}, {"model": "thelook"}, "view", "missing"),
        ("POST", "/queries", {}, {**QUERY, "total": "yes"}, "total", "invalid"),
        ("POST", "/embed/token_url/me", {}, {"target_url": None}, "target_url", "invalid"),
        (
            "PATCH",
            "/looks/1",
            {},
            {"query": {"model": 5, "view": "orders"}},
            "query.model",
            "invalid",
        ),
    ],
)
def test_a_request_the_spec_refuses_answers_422_naming_the_field(
    as_user: Callable[[str], Call],
    emulator: EmulatorServer,
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
    field: str,
    code: str,
) -> None:
    before = emulator.state.content.queries.copy()
    kwargs: dict[str, Any] = {"params": params}
    if body is not None:
        kwargs["json"] = body
    answer = as_user("admin")(method, path, **kwargs)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert set(error) == {"message", "errors", "documentation_url"}
    assert error["message"] == "Validation Failed"
    [detail] = error["errors"]
    assert (detail["field"], detail["code"]) == (field, code)
    assert set(detail) == {"field", "code", "message", "documentation_url"}  # the spec's
    # ValidationErrorDetail
    assert emulator.state.content.queries == before  # nothing was made


def test_what_the_sdk_read_can_be_written_back(
    as_user: Callable[[str], Call], sdk_for: Callable[[str], SDK]
) -> None:
    admin = as_user("admin")
    for path in ("/looks/1", "/users/3"):
        read = admin("GET", path).json()
        written = admin("PATCH", path, json=read)
        assert written.status_code == 200, (path, written.text)
    sdk = sdk_for("analyst")
    look = sdk.update_look("2", models40.WriteLookWithQuery(title="Status of orders"))
    assert look.title == "Status of orders"


def test_401_comes_before_422_and_501_before_either(
    emulator: EmulatorServer, as_user: Callable[[str], Call]
) -> None:
    anonymous = requests.post(f"{emulator.api_url}/api/4.0/queries", json=[], timeout=10)
    assert anonymous.status_code == 401
    not_served = as_user("admin")("POST", "/alerts", json={"cron": 5})
    assert not_served.status_code == 501 and "create_alert" in not_served.json()["message"]
