"""``/versions``: the discovery document SDKs read before anything else (no sign-in needed)."""

from __future__ import annotations

from flask import Blueprint, Response

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.api40.common import current_state, with_fields

bp = Blueprint("emulator_api40_versions", __name__)


@bp.get("/versions")
def versions() -> Response:
    state = current_state()
    return with_fields(schemas.versions_json(state.ui_url, state.api_url))
