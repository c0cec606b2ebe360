"""``/user_attributes`` and ``/users/{id}/attribute_values``: Looker's user attributes.

Seven seed attributes (:data:`~oauth_bridge.emulator.seed.USER_ATTRIBUTES`): Looker's built-in
``email``, ``first_name``, ``last_name``, ``name`` and ``locale``, filled from each user's own
record, and two of the instance's own. Defining attributes is an Admin's (``all_user_attributes``
and ``user_attribute`` answer 404 to others, as for other admin resources); a user reads their
own values, an Admin anyone's, which is how an app or extension learns the signed-in user's
attributes. Values are answered as Looker orders its search path: a value set on the user
(``source`` ``"User"``), else the attribute's default (``"Default"``); built-ins are
``"System"``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from oauth_bridge.emulator.api40.common import authed, each_with_fields, with_fields
from oauth_bridge.emulator.api40.permissions import admin_only, user_for
from oauth_bridge.emulator.api40.search import search_answer
from oauth_bridge.emulator.errors import not_found
from oauth_bridge.emulator.seed import USER_ATTRIBUTES, User, UserAttribute
from oauth_bridge.emulator.spec import complete

bp = Blueprint("emulator_api40_user_attributes", __name__)


def attribute_json(attribute: UserAttribute) -> dict[str, Any]:
    body = {
        "can": {"show": True, "index": True, "update": not attribute.is_system},
        "id": attribute.id,
        "name": attribute.name,
        "label": attribute.label,
        "type": attribute.type,
        "default_value": attribute.default_value,
        "is_system": attribute.is_system,
        "is_permanent": attribute.is_system,
        "value_is_hidden": False,
        "user_can_view": True,
        "user_can_edit": False,
        "hidden_value_domain_whitelist": None,
    }
    return complete("UserAttribute", body)


def _value_for(attribute: UserAttribute, user: User) -> tuple[str | None, str | None]:
    """(value, source) as Looker's search path finds it first, or (None, None) when unset."""
    if attribute.is_system:
        own = {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "name": user.display_name,
            "locale": user.locale,
        }
        return own[attribute.name], "System"
    for user_id, value in attribute.user_values:
        if user_id == user.id:
            return value, "User"
    if attribute.default_value is not None:
        return attribute.default_value, "Default"
    return None, None


def value_json(attribute: UserAttribute, user: User, rank: int) -> dict[str, Any]:
    value, source = _value_for(attribute, user)
    body = {
        "can": {"show": True, "index": True},
        "name": attribute.name,
        "label": attribute.label,
        "rank": rank if value is not None else None,
        "value": value,
        "user_id": user.id,
        "user_can_edit": False,
        "value_is_hidden": False,
        "user_attribute_id": attribute.id,
        "source": source,
        "hidden_value_domain_whitelist": None,
    }
    return complete("UserAttributeWithValue", body)


@bp.get("/user_attributes")
@authed
def all_user_attributes(user: User) -> Response:
    admin_only(user)
    return search_answer([attribute_json(a) for a in USER_ATTRIBUTES])


@bp.get("/user_attributes/<attribute_id>")
@authed
def user_attribute(user: User, attribute_id: str) -> Response:
    admin_only(user)
    for attribute in USER_ATTRIBUTES:
        if attribute.id == attribute_id:
            return with_fields(attribute_json(attribute))
    raise not_found()


@bp.get("/users/<user_id>/attribute_values")
@authed
def user_attribute_user_values(user: User, user_id: str) -> Response:
    target = user_for(user, user_id)
    wanted = {i.strip() for i in request.args.get("user_attribute_ids", "").split(",") if i.strip()}
    include_unset = request.args.get("include_unset", "").lower() == "true"
    answers = []
    for attribute in USER_ATTRIBUTES:
        if wanted and attribute.id not in wanted:
            continue
        body = value_json(attribute, target, rank=1)
        if body["value"] is None and not include_unset:
            continue
        answers.append(body)
    return each_with_fields(answers)
