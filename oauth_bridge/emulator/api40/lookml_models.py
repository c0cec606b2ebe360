"""``/lookml_models``: the seed LookML models and their explores, with fields, per role.

What an app builds its field pickers from; the models come from :mod:`oauth_bridge.emulator.lookml`.
A model the caller's role may not see answers 404, as Looker hides it.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from oauth_bridge.emulator import lookml, schemas
from oauth_bridge.emulator.api40.common import authed, each_with_fields, with_fields
from oauth_bridge.emulator.api40.permissions import model_for
from oauth_bridge.emulator.errors import invalid, not_found
from oauth_bridge.emulator.seed import User

bp = Blueprint("emulator_api40_lookml_models", __name__)


def _count(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"{name} must be an integer.") from None
    if value < 0:
        raise invalid(name, f"{name} must not be negative.")
    return value


@bp.get("/lookml_models")
@authed
def all_lookml_models(user: User) -> Response:
    models = [schemas.lookml_model_json(m) for m in lookml.visible_models(user.role)]
    offset = _count("offset") or 0
    limit = _count("limit")
    return each_with_fields(models[offset : None if limit is None else offset + limit])


@bp.get("/lookml_models/<model_name>")
@authed
def lookml_model(user: User, model_name: str) -> Response:
    return with_fields(schemas.lookml_model_json(model_for(user, model_name)))


@bp.get("/lookml_models/<model_name>/explores/<explore_name>")
@authed
def lookml_model_explore(user: User, model_name: str, explore_name: str) -> Response:
    model = model_for(user, model_name)
    explore = model.explore(explore_name)
    if explore is None:
        raise not_found()
    return with_fields(schemas.lookml_explore_json(model, explore, user.role))
