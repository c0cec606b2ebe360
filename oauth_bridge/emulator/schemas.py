"""JSON for the Looker 4.0 schemas the emulator serves, field names and types as in the spec.

Field lists follow ``Looker.4.0.oas.json`` (sdk-codegen ``spec/``, API 4.0.26.12): ``User``,
``LookWithQuery``, ``Dashboard``, ``Folder``, ``Query``, ``OauthClientApp``, ``ApiVersion``,
``LookmlModel`` and ``LookmlModelExplore``; those vendored in :mod:`.spec_schemas` are
completed with every key the spec lists (:func:`~oauth_bridge.emulator.spec.complete`).
Ids are strings; fields this fake has no data for are ``null``, as Looker sends them.
"""

from __future__ import annotations

from typing import Any

from oauth_bridge.emulator import lookml
from oauth_bridge.emulator.records import ClientApp, iso
from oauth_bridge.emulator.seed import (
    EDIT_ROLES,
    ROLE_IDS,
    Content,
    Dashboard,
    DashboardElement,
    Folder,
    Look,
    Query,
    User,
    group_ids_of,
)
from oauth_bridge.emulator.spec import complete

CREATED_AT = "2024-01-02T03:04:05.000+00:00"


def select_fields(body: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Looker's ``fields=`` query parameter: keep only the named top-level fields."""
    if not fields:
        return body
    wanted = {name.strip() for name in fields.split(",") if name.strip()}
    return {key: value for key, value in body.items() if key in wanted}


def user_json(user: User, api_url: str) -> dict[str, Any]:
    return {
        "can": {"show": True, "index": True, "show_details": True, "index_details": True},
        "avatar_url": None,
        "avatar_url_without_sizing": None,
        "credentials_api3": [
            {"id": str(n + 1), "client_id": cid, "created_at": CREATED_AT, "is_disabled": False}
            for n, (cid, _) in enumerate(user.api3)
        ],
        "credentials_email": {
            "email": user.email,
            "created_at": CREATED_AT,
            "is_disabled": user.is_disabled,
        },
        "credentials_embed": [],
        "display_name": user.display_name,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "group_ids": group_ids_of(user.id),
        "home_folder_id": "1",
        "id": user.id,
        "is_disabled": user.is_disabled,
        "locale": user.locale,
        "personal_folder_id": None,
        "presumed_looker_employee": False,
        "role_ids": [ROLE_IDS[user.role]],
        "sessions": [],
        "ui_state": None,
        "verified_looker_employee": False,
        "roles_externally_managed": False,
        "is_service_account": False,
        "url": f"{api_url}/api/4.0/users/{user.id}",
    }


def user_public(user: User, api_url: str) -> dict[str, Any]:
    return {
        "can": {},
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name,
        "avatar_url": None,
        "url": f"{api_url}/api/4.0/users/{user.id}",
    }


def folder_base(folder: Folder) -> dict[str, Any]:
    return {
        "name": folder.name,
        "parent_id": folder.parent_id,
        "id": folder.id,
        "content_metadata_id": folder.id,
        "created_at": CREATED_AT,
        "creator_id": "1",
        "child_count": 0,
        "external_id": None,
        "is_embed": False,
        "is_embed_shared_root": False,
        "is_embed_users_root": False,
        "is_personal": False,
        "is_personal_descendant": False,
        "is_shared_root": folder.id == "1",
        "is_users_root": False,
        "can": {"index": True, "show": True},
    }


def query_json(query: Query, api_url: str) -> dict[str, Any]:
    body = {
        "can": {"run": True, "see_results": True},
        "id": query.id,
        "model": query.model,
        "view": query.view,
        "fields": list(query.fields),
        "pivots": None,
        "fill_fields": None,
        "filters": None,
        "sorts": [],
        "limit": str(query.limit),
        "column_limit": None,
        "total": False,
        "row_total": None,
        "subtotals": None,
        "vis_config": {"type": "looker_grid"},
        "slug": query.slug_or_default,
        "client_id": None,
        "url": f"/explore/{query.model}/{query.view}?qid={query.slug_or_default}",
        "query_timezone": "UTC",
        "has_table_calculations": False,
    }
    return complete("Query", body | query.settings)


def lookml_model_json(model: lookml.Model) -> dict[str, Any]:
    """``LookmlModel``, its explores as ``LookmlModelNavExplore``."""
    explores = [
        {"name": e.name, "description": e.description, "label": e.label, "hidden": False}
        for e in model.explores
    ]
    body = {
        "can": {"index": True, "show": True},
        "allowed_db_connection_names": [model.connection_name],
        "explores": explores,
        "has_content": bool(explores),
        "label": model.label,
        "name": model.name,
        "project_name": model.project_name,
        "unlimited_db_connections": False,
    }
    return complete("LookmlModel", body)


def explore_field_json(f: lookml.Field, explore: lookml.Explore) -> dict[str, Any]:
    """``LookmlModelExploreField`` for one dimension or measure."""
    view_label = explore.label
    return {
        "align": "right" if f.is_numeric else "left",
        "can_filter": True,
        "category": "measure" if f.measure else "dimension",
        "description": f.description,
        "dimension_group": f.dimension_group,
        "enumerations": None,
        "field_group_label": None,
        "has_allowed_values": False,
        "hidden": False,
        "is_filter": False,
        "is_fiscal": False,
        "is_numeric": f.is_numeric,
        "is_timeframe": f.dimension_group is not None,
        "can_time_filter": f.dimension_group is not None,
        "label": f"{view_label} {f.label_short}",
        "label_short": f.label_short,
        "measure": f.measure,
        "name": f.name,
        "parameter": False,
        "permanent": None,
        "primary_key": f.primary_key,
        "project_name": "thelook",
        "requires_refresh_on_sort": False,
        "scope": f.view,
        "sortable": True,
        "source_file": f"{f.view}.view.lkml",
        "source_file_path": f"thelook/{f.view}.view.lkml",
        "sql": f.sql,
        "suggestable": not f.is_numeric and not f.measure,
        "suggest_dimension": None if f.measure else f.name,
        "suggest_explore": None if f.measure else explore.name,
        "tags": [],
        "type": f.type,
        "value_format": None,
        "value_format_name": f.value_format_name,
        "view": f.view,
        "view_label": view_label,
        "dynamic": False,
        "original_view": f.view,
    }


def lookml_explore_json(model: lookml.Model, explore: lookml.Explore, role: str) -> dict[str, Any]:
    """``LookmlModelExplore`` with its fieldset; LookML links only for roles that develop."""
    develops = role in EDIT_ROLES
    fields = [explore_field_json(f, explore) for f in explore.fields]
    body = {
        "id": f"{model.name}::{explore.name}",
        "name": explore.name,
        "description": explore.description,
        "label": explore.label,
        "title": explore.label,
        "scopes": [explore.name],
        "can_total": True,
        "can_develop": develops,
        "can_see_lookml": develops,
        "lookml_link": f"/projects/{model.project_name}/files/{explore.name}.view.lkml"
        if develops
        else None,
        "can_save": True,
        "can_explain": False,
        "can_pivot_in_db": True,
        "can_subtotal": True,
        "has_timezone_support": True,
        "supports_cost_estimate": False,
        "connection_name": model.connection_name,
        "dialect_name": "mysql",
        "null_sort_treatment": "low",
        "source_file": f"{model.name}.model.lkml",
        "project_name": model.project_name,
        "model_name": model.name,
        "view_name": explore.name,
        "hidden": False,
        "sql_table_name": explore.sql_table_name,
        "access_filter_fields": [],
        "access_filters": [],
        "aliases": [],
        "always_filter": [],
        "conditionally_filter": [],
        "index_fields": [],
        "sets": [],
        "tags": [],
        "errors": [],
        "fields": {
            "dimensions": [f for f in fields if not f["measure"]],
            "measures": [f for f in fields if f["measure"]],
            "filters": [],
            "parameters": [],
        },
        "joins": [],
        "group_label": model.label,
        "always_join": [],
    }
    return complete("LookmlModelExplore", body)


def look_json(look: Look, content: Content, role: str, api_url: str) -> dict[str, Any]:
    query = content.queries[look.query_id]
    edit = role in EDIT_ROLES
    return {
        "can": {"show": True, "run": True, "update": edit, "destroy": edit},
        "content_metadata_id": look.id,
        "id": look.id,
        "title": look.title,
        "user_id": look.user_id,
        "content_favorite_id": None,
        "created_at": CREATED_AT,
        "deleted": look.deleted,
        "description": look.description,
        "embed_url": f"{api_url}/embed/looks/{look.id}",
        "is_run_on_load": False,
        "model": {"id": query.model, "label": query.model.title()},
        "public": look.public,
        "query_id": look.query_id,
        "folder": folder_base(content.folders[look.folder_id]),
        "folder_id": look.folder_id,
        "updated_at": CREATED_AT,
        "view_count": 0,
        "is_owner_disabled": False,
        "query": query_json(query, api_url),
        "url": f"/looks/{look.id}",
    }


def dashboard_element_json(
    dashboard: Dashboard, element: DashboardElement, content: Content, role: str, api_url: str
) -> dict[str, Any]:
    """``DashboardElement``: a look's tile or a query tile, with its ``query`` either way
    (Looker's components library reads the tile's query to find a dashboard's queries)."""
    look = content.looks.get(element.look_id) if element.look_id else None
    query_id = content.element_query_id(element)
    query = content.queries[query_id] if query_id else None
    query_body = query_json(query, api_url) if query is not None else None
    body = {
        "can": {},
        "dashboard_id": dashboard.id,
        "id": element.id,
        "look": look_json(look, content, role, api_url) if look is not None else None,
        "look_id": element.look_id,
        "query": query_body,
        "query_id": query_id,
        "result_maker": None
        if query_body is None
        else {"query": query_body, "query_id": query_id, "vis_config": query_body["vis_config"]},
        "title": element.title,
        "title_hidden": False,
        "title_text": element.title,
        "type": "vis",
    }
    return complete("DashboardElement", body)


def dashboard_layout_json(dashboard: Dashboard, content: Content) -> dict[str, Any]:
    """The dashboard's one active ``DashboardLayout``: where each element sits."""
    layout_id = dashboard.id
    components = []
    for element in dashboard.elements:
        query_id = content.element_query_id(element)
        vis = content.queries[query_id].settings.get("vis_config", {}) if query_id else {}
        component: dict[str, Any] = {
            "can": {},
            "id": element.id,
            "dashboard_layout_id": layout_id,
            "dashboard_element_id": element.id,
            "row": element.tile.row,
            "column": element.tile.column,
            "width": element.tile.width,
            "height": element.tile.height,
            "deleted": False,
            "element_title": element.title,
            "element_title_hidden": False,
            "vis_type": vis.get("type"),
        }
        components.append(complete("DashboardLayoutComponent", component))
    body = {
        "can": {},
        "id": layout_id,
        "dashboard_id": dashboard.id,
        "type": "newspaper",
        "active": True,
        "deleted": False,
        "dashboard_title": dashboard.title,
        "dashboard_layout_components": components,
    }
    return complete("DashboardLayout", body)


def dashboard_json(
    dashboard: Dashboard, content: Content, role: str, api_url: str
) -> dict[str, Any]:
    edit = role in EDIT_ROLES
    elements = [
        dashboard_element_json(dashboard, element, content, role, api_url)
        for element in dashboard.elements
        if element.look_id is None or element.look_id in content.looks
    ]
    return {
        "can": {"show": True, "update": edit, "destroy": edit},
        "content_metadata_id": dashboard.id,
        "description": dashboard.description,
        "hidden": False,
        "id": dashboard.id,
        "model": None,
        "query_timezone": "UTC",
        "readonly": not edit,
        "refresh_interval": None,
        "folder": folder_base(content.folders[dashboard.folder_id]),
        "title": dashboard.title,
        "user_id": dashboard.user_id,
        "slug": f"dash{dashboard.id}",
        "created_at": CREATED_AT,
        "dashboard_elements": elements,
        "dashboard_filters": [],
        "dashboard_layouts": [dashboard_layout_json(dashboard, content)],
        "deleted": False,
        "folder_id": dashboard.folder_id,
        "view_count": 0,
        "url": f"/dashboards/{dashboard.id}",
    }


def folder_json(
    folder: Folder, looks: list[dict[str, Any]], dashboards: list[dict[str, Any]]
) -> dict[str, Any]:
    return {**folder_base(folder), "looks": looks, "dashboards": dashboards}


def app_json(app: ClientApp, users: dict[str, User], api_url: str) -> dict[str, Any]:
    before = app.tokens_invalid_before
    return {
        "can": {},
        "client_guid": app.client_guid,
        "redirect_uri": app.redirect_uri,
        "redirect_uris": [app.redirect_uri],
        "display_name": app.display_name,
        "description": app.description,
        "enabled": app.enabled,
        "group_id": app.group_id,
        "tokens_invalid_before": iso(before) if before is not None else None,
        "activated_users": [
            user_public(users[uid], api_url) for uid in sorted(app.activated_users) if uid in users
        ],
    }


def versions_json(ui_url: str, api_url: str) -> dict[str, Any]:
    current = {
        "version": "4.0",
        "full_version": "4.0.26.12",
        "status": "current",
        "swagger_url": f"{api_url}/api/4.0/swagger.json",
    }
    return {
        "looker_release_version": "26.12.0",
        "current_version": current,
        "supported_versions": [current],
        "api_server_url": api_url,
        "web_server_url": ui_url,
    }
