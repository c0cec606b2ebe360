"""Looker's API 4.0 on the emulator's API host, one module per resource.

To add an operation, add a view to its resource's module (one per resource: ``users``,
``folders``, ``looks``, ``dashboards``, ``lookml_models``, ``queries``, ``query_tasks``,
``sql_queries``, ``roles``, ``groups``, ``user_attributes``, ``color_collections``,
``client_apps``, ``embed``, ``versions``) with :func:`~.common.authed` and the rules of
:mod:`.permissions`; a new resource is a new module whose ``bp`` is listed in :data:`BLUEPRINTS`.
The API host (:mod:`oauth_bridge.emulator.api_host`) calls :func:`init_app`.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from oauth_bridge.emulator.api40 import (
    client_apps,
    color_collections,
    dashboards,
    embed,
    folders,
    groups,
    lookml_models,
    looks,
    queries,
    query_tasks,
    roles,
    sql_queries,
    user_attributes,
    users,
    versions,
)
from oauth_bridge.emulator.api40.common import init_state
from oauth_bridge.emulator.state import EmulatorState

PREFIX = "/api/4.0"
BLUEPRINTS: tuple[Blueprint, ...] = (
    versions.bp,
    users.bp,
    roles.bp,
    groups.bp,
    user_attributes.bp,
    folders.bp,
    looks.bp,
    dashboards.bp,
    lookml_models.bp,
    queries.bp,
    query_tasks.bp,
    sql_queries.bp,
    client_apps.bp,
    color_collections.bp,
    embed.bp,
)


def init_app(app: Flask, state: EmulatorState) -> None:
    """Serve every resource under ``/api/4.0`` on ``app``, over ``state``."""
    init_state(app, state)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=PREFIX)
