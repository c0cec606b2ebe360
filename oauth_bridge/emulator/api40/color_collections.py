"""``/color_collections``: the palettes an app colours its charts with, as Looker serves them.

Two standard collections, no custom ones; the first is the default. Any signed-in user may read
them (Looker's visualizations read them for everyone). The palettes are the emulator's own:
Okabe and Ito's colour-blind-safe set for categories, and two ramps; Looker's built-in
collections have other colours and ids.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from oauth_bridge.emulator.api40.common import authed, each_with_fields, ok, with_fields
from oauth_bridge.emulator.errors import not_found
from oauth_bridge.emulator.seed import User

bp = Blueprint("emulator_api40_color_collections", __name__)

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
GREYS = ["#111111", "#444444", "#777777", "#AAAAAA", "#DDDDDD"]


def _ramp(palette_id: str, label: str, kind: str, colors: list[str]) -> dict[str, Any]:
    last = len(colors) - 1
    stops = [{"color": c, "offset": round(100 * i / last)} for i, c in enumerate(colors)]
    return {"id": palette_id, "label": label, "type": kind, "stops": stops}


def _collection(collection_id: str, label: str, categorical: list[str]) -> dict[str, Any]:
    return {
        "id": collection_id,
        "label": label,
        "categoricalPalettes": [
            {
                "id": f"{collection_id}-categorical-0",
                "label": f"{label} Categorical",
                "type": "Categorical",
                "colors": categorical,
            }
        ],
        "sequentialPalettes": [
            _ramp(f"{collection_id}-sequential-0", "Blues", "Sequential", ["#F7FBFF", "#08306B"])
        ],
        "divergingPalettes": [
            _ramp(
                f"{collection_id}-diverging-0",
                "Blue to Red",
                "Diverging",
                ["#2166AC", "#F7F7F7", "#B2182B"],
            )
        ],
    }


COLLECTIONS = (
    _collection("emulator-okabe-ito", "Emulator Okabe-Ito", OKABE_ITO),
    _collection("emulator-greys", "Emulator Greys", GREYS),
)


@bp.get("/color_collections")
@authed
def all_color_collections(user: User) -> Response:
    return each_with_fields(list(COLLECTIONS))


@bp.get("/color_collections/standard")
@authed
def color_collections_standard(user: User) -> Response:
    return each_with_fields(list(COLLECTIONS))


@bp.get("/color_collections/custom")
@authed
def color_collections_custom(user: User) -> Response:
    return ok([])


@bp.get("/color_collections/default")
@authed
def default_color_collection(user: User) -> Response:
    return ok(COLLECTIONS[0])


@bp.get("/color_collections/<collection_id>")
@authed
def color_collection(user: User, collection_id: str) -> Response:
    for collection in COLLECTIONS:
        if collection["id"] == collection_id:
            return with_fields(collection)
    raise not_found()
