"""Async query tasks (issue 13): create, poll, fetch, as Looker's dashboards run their tiles.

Through the official looker-sdk and raw HTTP against the running emulator: a task of a saved
query the caller may run is ``running`` for the configured time (202 from its results), then
``complete`` with the rows ``run_query`` gives; a task is its creator's alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from looker_sdk import models40

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.spec import keys
from tests.emulator.conftest import SDK, Call


def test_a_task_runs_then_answers_the_rows_of_its_query(
    emulator: EmulatorServer, sdk_for: Callable[[str], SDK]
) -> None:
    emulator.state.update_config(query_task_seconds=0.4)
    sdk = sdk_for("analyst")
    task = sdk.create_query_task(
        body=models40.WriteCreateQueryTask(query_id="1", result_format=models40.ResultFormat.csv),
        limit=3,
    )
    assert isinstance(task, models40.QueryTask) and task.id and len(task.id) == 32
    assert (task.query_id, task.result_format, task.status) == ("1", "csv", "running")
    assert task.query is not None and task.query.model == "thelook"
    assert sdk.query_task(task.id).status == "running"
    deadline = time.monotonic() + 10
    while sdk.query_task(task.id).status != "complete":
        assert time.monotonic() < deadline, "the task never completed"
        time.sleep(0.1)
    csv_text = sdk.query_task_results(task.id)
    assert csv_text == sdk.run_query("1", "csv", limit=3)
    assert len(csv_text.splitlines()) == 4  # header and the three rows of the task's limit


def test_results_answer_202_while_running_and_tasks_are_their_creators(
    emulator: EmulatorServer, as_user: Callable[[str], Call]
) -> None:
    emulator.state.update_config(query_task_seconds=30)
    analyst, viewer, admin = as_user("analyst"), as_user("viewer"), as_user("admin")
    created = analyst("POST", "/query_tasks", json={"query_id": "1", "result_format": "json"})
    assert created.status_code == 200
    task = created.json()
    assert set(task) == set(keys("QueryTask"))
    running = analyst("GET", f"/query_tasks/{task['id']}/results")
    assert running.status_code == 202 and running.content == b""
    for other in (viewer, admin):
        assert other("GET", f"/query_tasks/{task['id']}").status_code == 404
        assert other("GET", f"/query_tasks/{task['id']}/results").status_code == 404
    emulator.state.update_config(query_task_seconds=0)
    quick = analyst(
        "POST", "/query_tasks", params={"fields": "id,status"},
        json={"query_id": "1", "result_format": "json"},
    ).json()  # fmt: skip
    assert quick["status"] == "complete" and set(quick) == {"id", "status"}
    rows = analyst("GET", f"/query_tasks/{quick['id']}/results").json()
    assert rows == analyst("GET", "/queries/1/run/json").json()


def test_bad_task_requests_answer_like_looker(as_user: Callable[[str], Call]) -> None:
    analyst = as_user("analyst")
    missing = analyst("POST", "/query_tasks", json={"query_id": "1"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "result_format"
    bad_format = analyst("POST", "/query_tasks", json={"query_id": "1", "result_format": "nope"})
    assert bad_format.status_code == 400
    unknown = analyst("POST", "/query_tasks", json={"query_id": "999", "result_format": "csv"})
    assert unknown.status_code == 404
    assert analyst("GET", "/query_tasks/" + "0" * 32).status_code == 404
    wrong_type = analyst(
        "POST", "/query_tasks", json={"query_id": "1", "result_format": "csv", "deferred": "yes"}
    )
    assert wrong_type.status_code == 422
