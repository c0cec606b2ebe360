"""Who may see what: the fake's permission rules, in one place for every resource module.

Admin may do everything; Developer sees all content, edits looks and runs ad-hoc queries; Viewer
sees only the Shared folder's content and edits nothing. Content a user may not see answers 404
(Looker hides it); visible content a user may not change answers 403. Admin-only resources
(client apps) answer 404 to others, as the spec lists no 403 for them.

Call these inside an :func:`~.common.authed` view: they read the content under the state's lock.
"""

from __future__ import annotations

from oauth_bridge.emulator import lookml
from oauth_bridge.emulator.api40.common import current_state
from oauth_bridge.emulator.errors import forbidden, not_found
from oauth_bridge.emulator.seed import ADMIN, EDIT_ROLES, Content, Dashboard, Look, Query, User

MODELS = {name: model.roles for name, model in lookml.MODELS.items()}
"""LookML models and the roles that may query them."""


def content() -> Content:
    """The current content; read per call, as a reset swaps the whole object."""
    return current_state().content


def admin_only(user: User) -> None:
    """404 for anyone but an Admin (Looker hides admin resources)."""
    if user.role != ADMIN:
        raise not_found()


def admin_required(user: User) -> None:
    """403 for anyone but an Admin, where Looker answers that a user may not."""
    if user.role != ADMIN:
        raise forbidden()


def user_for(user: User, user_id: str) -> User:
    """The user ``user_id``, or 404 unless it exists and ``user`` is an Admin or that user."""
    target = current_state().users.get(user_id)
    if target is None or (user.role != ADMIN and target.id != user.id):
        raise not_found()
    return target


def may_edit(user: User) -> None:
    """403 for a role that may not change content or run ad-hoc queries."""
    if user.role not in EDIT_ROLES:
        raise forbidden()


def may_use_sql_runner(user: User) -> None:
    """403 for a role without Looker's ``use_sql_runner`` (the Viewer's; see :mod:`.roles`)."""
    if user.role not in EDIT_ROLES:
        raise forbidden()


def sees_folder(user: User, folder_id: str) -> bool:
    folder = content().folders.get(folder_id)
    return folder is not None and user.role in folder.roles


def visible_folder(user: User, folder_id: str) -> None:
    """404 unless ``user`` sees the folder."""
    if not sees_folder(user, folder_id):
        raise not_found()


def look_for(user: User, look_id: str) -> Look:
    """The look, or 404 when it is deleted or in a folder ``user`` does not see."""
    look = content().looks.get(look_id)
    if look is None or look.deleted or not sees_folder(user, look.folder_id):
        raise not_found()
    return look


def dashboard_for(user: User, dashboard_id: str) -> Dashboard:
    """The dashboard, or 404 when it is in a folder ``user`` does not see."""
    dashboard = content().dashboards.get(dashboard_id)
    if dashboard is None or not sees_folder(user, dashboard.folder_id):
        raise not_found()
    return dashboard


def query_for(user: User, query_id: str) -> Query:
    """The query, or 404 when its model is not one ``user``'s role may query."""
    return _queryable(user, content().queries.get(query_id))


def query_for_slug(user: User, slug: str) -> Query:
    """The query with ``slug``, or 404 as :func:`query_for`."""
    found = next((q for q in content().queries.values() if q.slug_or_default == slug), None)
    return _queryable(user, found)


def _queryable(user: User, query: Query | None) -> Query:
    if query is None or user.role not in MODELS.get(query.model, frozenset()):
        raise not_found()
    return query


def model_for(user: User, name: str) -> lookml.Model:
    """The LookML model, or 404 when ``user``'s role may not see it (Looker hides it)."""
    model = lookml.MODELS.get(name)
    if model is None or user.role not in model.roles:
        raise not_found()
    return model
