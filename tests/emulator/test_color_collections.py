"""Color collections (issue 13): what an app colours its charts with, through the official SDK."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from looker_sdk import error as sdk_error
from looker_sdk import models40

from tests.emulator.conftest import SDK, Call


def test_every_user_reads_the_collections_and_the_default(sdk_for: Callable[[str], SDK]) -> None:
    sdk = sdk_for("viewer")
    collections = sdk.all_color_collections()
    assert [c.id for c in collections] == ["emulator-okabe-ito", "emulator-greys"]
    assert all(isinstance(c, models40.ColorCollection) for c in collections)
    default = sdk.default_color_collection()
    assert default.id == "emulator-okabe-ito"
    palette = default.categoricalPalettes[0]  # type: ignore[index]
    assert palette.type == "Categorical" and palette.colors[0] == "#E69F00"  # type: ignore[index]
    ramp = default.sequentialPalettes[0].stops  # type: ignore[index]
    assert [(s.color, s.offset) for s in ramp] == [("#F7FBFF", 0), ("#08306B", 100)]  # type: ignore[union-attr]
    assert [c.id for c in sdk.color_collections_standard()] == [c.id for c in collections]
    assert sdk.color_collections_custom() == []
    assert sdk.color_collection("emulator-greys").label == "Emulator Greys"
    with pytest.raises(sdk_error.SDKError, match="Not found"):
        sdk.color_collection("no-such-collection")


def test_fields_and_sign_in(as_user: Callable[[str], Call], emulator: object) -> None:
    analyst = as_user("analyst")
    cut = analyst("GET", "/color_collections/emulator-greys", params={"fields": "id,label"})
    assert cut.json() == {"id": "emulator-greys", "label": "Emulator Greys"}
    listed = analyst("GET", "/color_collections", params={"fields": "id"}).json()
    assert listed == [{"id": "emulator-okabe-ito"}, {"id": "emulator-greys"}]
