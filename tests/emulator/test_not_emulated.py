"""The emulator knows all of Looker's API 4.0 operations and names the ones it does not serve.

Every operation of the vendored spec table is either served (a route of the API app matches its
method and path) or, asked over HTTP with a valid token, answers 501 in Looker's error shape with
its operationId in the message, which the official looker-sdk passes on in its ``SDKError``.
The table itself is generated from the spec (``python -m oauth_bridge.emulator.spec_vendor``).
Paths that are no operation of the spec stay Looker's plain 404 "Not found".
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from looker_sdk import error as sdk_error
from werkzeug.exceptions import MethodNotAllowed, NotFound

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.api40 import query_tasks
from oauth_bridge.emulator.api_host import create_api_app
from oauth_bridge.emulator.operations import Operation, all_operations, example_path, match
from oauth_bridge.emulator.spec_operations import OPERATIONS
from oauth_bridge.emulator.spec_vendor import operations
from tests.emulator.conftest import SDK, Call


def _served(emulator: EmulatorServer) -> set[str]:
    """The operationIds a route of the API app answers (matched in-process: nothing is sent)."""
    adapter = create_api_app(emulator.state).url_map.bind("localhost")
    served = set()
    for operation in all_operations():
        try:
            adapter.match(f"/api/4.0{example_path(operation)}", method=operation.method)
        except (NotFound, MethodNotAllowed):
            continue
        served.add(operation.operation_id)
    # the route of query_task also matches this literal path; its view answers it as not emulated
    served -= query_tasks.SHADOWED
    return served


def test_the_table_is_the_whole_spec() -> None:
    """483 operations in Looker 4.0.26.12, each path matched back to its own operation."""
    operation_ids = [row[2] for row in OPERATIONS]
    assert len(operation_ids) == 483 and len(set(operation_ids)) == 483
    for operation in all_operations():
        assert match(operation.method, example_path(operation)) == operation, operation
    # a literal segment wins over a parameter, as Looker routes them
    assert match("GET", "/query_tasks/multi_results") == Operation(
        "GET", "/query_tasks/multi_results", "query_task_multi_results"
    )
    assert match("GET", "/query_tasks/abc").operation_id == "query_task"  # type: ignore[union-attr]
    assert match("GET", "/no_such_thing") is None
    assert match("TRACE", "/users") is None


def test_the_generator_lists_every_operation_in_the_spec_order() -> None:
    """``spec_vendor.operations`` on a small spec: each method of each path, nothing else."""
    spec = {
        "paths": {
            "/looks/{look_id}": {
                "parameters": [{"name": "look_id"}],
                "get": {"operationId": "look"},
                "delete": {"operationId": "delete_look"},
            },
            "/looks": {"post": {"operationId": "create_look"}, "summary": "not an operation"},
        }
    }
    assert operations(spec) == [
        ("GET", "/looks/{look_id}", "look"),
        ("DELETE", "/looks/{look_id}", "delete_look"),
        ("POST", "/looks", "create_look"),
    ]


def test_every_operation_is_served_or_named_as_not_emulated(
    emulator: EmulatorServer, as_user: Callable[[str], Call]
) -> None:
    admin = as_user("admin")
    served = _served(emulator)
    assert {"me", "all_users", "dashboard", "run_inline_query", "versions"} <= served
    not_served = [op for op in all_operations() if op.operation_id not in served]
    assert len(served) + len(not_served) == 483 and not_served
    before = emulator.state.request_count
    for operation in not_served:
        answer = admin(operation.method, example_path(operation), json={})
        assert answer.status_code == 501, (operation, answer.status_code, answer.text[:200])
        body = answer.json()
        assert set(body) == {"message", "documentation_url"}, body
        assert body["message"].startswith(f"Not emulated: {operation.operation_id} ("), body
        assert f"{operation.method} /api/4.0{operation.path}" in body["message"]
    assert emulator.state.request_count == before + len(not_served)


def test_not_emulated_still_needs_a_token_and_unknown_paths_stay_404(
    emulator: EmulatorServer, as_user: Callable[[str], Call]
) -> None:
    operation = next(op for op in all_operations() if op.operation_id not in _served(emulator))
    url = f"{emulator.api_url}/api/4.0{example_path(operation)}"
    anonymous = requests.request(operation.method, url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["message"] == "Requires authentication."
    admin = as_user("admin")
    for path in ("/no_such_thing", "/users/1/no_such_part", "/dashboards/1/2/3/4"):
        missing = admin("GET", path)
        assert missing.status_code == 404 and missing.json()["message"] == "Not found", path


@pytest.mark.parametrize(
    ("call", "operation_id"),
    [
        (lambda sdk: sdk.all_themes(), "all_themes"),
        (lambda sdk: sdk.all_connections(), "all_connections"),
        (lambda sdk: sdk.all_datagroups(), "all_datagroups"),
    ],
)
def test_the_official_sdk_reports_the_operation_by_name(
    sdk_for: Callable[[str], SDK], call: Callable[[SDK], object], operation_id: str
) -> None:
    sdk = sdk_for("admin")
    with pytest.raises(sdk_error.SDKError) as raised:
        call(sdk)
    assert f"Not emulated: {operation_id} (" in str(raised.value)
