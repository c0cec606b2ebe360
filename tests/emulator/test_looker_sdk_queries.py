"""The official looker-sdk against the emulator's LookML models, explores and queries, per role."""

from __future__ import annotations

import json
from collections.abc import Callable

import looker_sdk
import pytest
from looker_sdk import error as sdk_error
from looker_sdk import models40

from oauth_bridge.emulator.lookml import ORDERS_FIELDS

SDK = looker_sdk.methods40.Looker40SDK


@pytest.mark.parametrize("who", ["admin", "analyst", "viewer"])
def test_sdk_reads_models_and_explore_fields(sdk_for: Callable[[str], SDK], who: str) -> None:
    sdk = sdk_for(who)
    models = sdk.all_lookml_models()
    assert all(isinstance(m, models40.LookmlModel) for m in models)
    names = sorted(str(m.name) for m in models)
    assert names == (["thelook"] if who == "viewer" else ["finance", "thelook"])
    model = sdk.lookml_model("thelook")
    assert model.explores and model.explores[0].name == "orders"
    explore = sdk.lookml_model_explore("thelook", "orders")
    assert isinstance(explore, models40.LookmlModelExplore)
    assert explore.fields and explore.fields.dimensions and explore.fields.measures
    dimensions = explore.fields.dimensions
    assert [d.name for d in dimensions] == DIMENSIONS
    assert all(isinstance(d, models40.LookmlModelExploreField) for d in dimensions)
    kinds = [(d.type, d.is_numeric) for d in dimensions]
    assert kinds[:2] == [("number", True), ("date_date", False)]
    assert [m.name for m in explore.fields.measures] == ["orders.count", "orders.total_amount"]
    assert explore.fields.measures[0].label_short == "Count"
    if who == "viewer":
        with pytest.raises(sdk_error.SDKError):
            sdk.lookml_model_explore("finance", "orders")


@pytest.mark.parametrize("who", ["admin", "analyst"])
def test_sdk_creates_finds_and_runs_a_query(sdk_for: Callable[[str], SDK], who: str) -> None:
    sdk = sdk_for(who)
    body = models40.WriteQuery(
        model="thelook",
        view="orders",
        fields=["orders.created_date", "orders.total_amount"],
        sorts=["orders.created_date"],
        limit="4",
    )
    created = sdk.create_query(body)
    assert isinstance(created, models40.Query)
    assert created.id and created.slug and created.fields == body.fields
    rows = sdk.run_query(created.id, "json")
    assert isinstance(rows, str)
    parsed = json.loads(rows)
    assert len(parsed) == 4 and list(parsed[0]) == body.fields
    assert sdk.query_for_slug(created.slug).id == created.id
    assert sdk.query(created.id).slug == created.slug
    with pytest.raises(sdk_error.SDKError) as bad:
        sdk.create_query(models40.WriteQuery(model="thelook", view="orders", fields=["x.y"]))
    assert "Validation Failed" in str(bad.value)


DIMENSIONS = [f.name for f in ORDERS_FIELDS if not f.measure]


def test_sdk_viewer_may_not_create_but_reads_by_slug(sdk_for: Callable[[str], SDK]) -> None:
    viewer = sdk_for("viewer")
    body = models40.WriteQuery(model="thelook", view="orders", fields=["orders.id"])
    with pytest.raises(sdk_error.SDKError) as refused:
        viewer.create_query(body)
    assert "Forbidden" in str(refused.value)
    slug = sdk_for("analyst").create_query(body).slug
    assert slug
    found = viewer.query_for_slug(slug)
    assert found.model == "thelook"
    assert viewer.run_query(str(found.id), "csv").splitlines()[0] == "orders.id"
