"""``/api/4.0/*`` on the API host: the subset of Looker's API the bridge, demo and tests use.

Permission rules of the fake: Admin may do everything; Developer sees all content, edits looks
and runs ad-hoc queries; Viewer sees only the Shared folder's content and edits nothing.
Content a user may not see answers 404 (Looker hides it); visible content a user may not change
answers 403. Admin-only resources (client apps) answer 404 to others, as the spec lists no 403
for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.config import MAX_RESULT_ROWS
from oauth_bridge.emulator.errors import LookerError, forbidden, invalid, not_found, unauthenticated
from oauth_bridge.emulator.results import FORMATS, stream
from oauth_bridge.emulator.seed import ADMIN, EDIT_ROLES, Content, Dashboard, Look, Query, User
from oauth_bridge.emulator.state import AccessRecord, Conflict, EmulatorState

MODELS = {"thelook": frozenset({ADMIN, "Developer", "Viewer"}), "finance": EDIT_ROLES}
"""LookML models and the roles that may query them."""


def bearer_token() -> str | None:
    """The token of ``Authorization: Bearer X`` or ``Authorization: token X`` (both work)."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    return None


def authenticate(state: EmulatorState) -> tuple[User, AccessRecord]:
    token = bearer_token()
    found = state.token_user(token) if token else None
    if found is None:
        raise unauthenticated()
    return found


def read_json() -> Any:
    """Flask's silent JSON parse, also silent for bodies nested too deep for Python's parser
    (json raises RecursionError there, not ValueError, and a 500 is not what Looker answers)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def json_body() -> dict[str, Any]:
    body = read_json()
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object.", code="missing")
    return body


def _check_types(body: dict[str, Any], types: dict[str, type]) -> None:
    for name, kind in types.items():
        if name in body and body[name] is not None and not isinstance(body[name], kind):
            raise invalid(name, f"{name} must be a {kind.__name__}.")
        if kind is bool and name in body and not isinstance(body[name], bool):
            raise invalid(name, f"{name} must be a boolean.")


def _ok(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _no_content() -> Response:
    return Response(status=204)


def _fields(body: dict[str, Any]) -> Response:
    return _ok(schemas.select_fields(body, request.args.get("fields")))


def _limit(default: int) -> int:
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid("limit", "limit must be an integer.") from None
    if value < 0 or value > MAX_RESULT_ROWS:
        raise invalid("limit", f"limit must be between 0 and {MAX_RESULT_ROWS}.")
    return value


def create_api40(state: EmulatorState) -> Blueprint:
    """The blueprint mounted at ``/api/4.0``."""
    bp = Blueprint("emulator_api40", __name__)

    def content() -> Content:
        return state.content  # read per call: a reset swaps the whole object

    def api_url() -> str:
        return state.api_url

    def admin_only(user: User) -> None:
        if user.role != ADMIN:
            raise not_found()

    def look_for(user: User, look_id: str) -> Look:
        look = content().looks.get(look_id)
        if look is None or look.deleted or not _sees_folder(user, look.folder_id):
            raise not_found()
        return look

    def _sees_folder(user: User, folder_id: str) -> bool:
        folder = content().folders.get(folder_id)
        return folder is not None and user.role in folder.roles

    def dashboard_for(user: User, dashboard_id: str) -> Dashboard:
        dashboard = content().dashboards.get(dashboard_id)
        if dashboard is None or not _sees_folder(user, dashboard.folder_id):
            raise not_found()
        return dashboard

    def query_for(user: User, query_id: str) -> Query:
        query = content().queries.get(query_id)
        if query is None or user.role not in MODELS.get(query.model, frozenset()):
            raise not_found()
        return query

    def run(query: Query, result_format: str, rows: int) -> Response:
        if result_format not in FORMATS:
            raise LookerError(400, f"Unsupported result format: {result_format}")
        body = stream(state, list(query.fields), rows, result_format)
        return Response(body, mimetype=FORMATS[result_format])

    def authed(view: Callable[..., Response]) -> Callable[..., Response]:
        def wrapper(**kwargs: Any) -> Response:
            user, _ = authenticate(state)
            with state.lock:
                return view(user, **kwargs)

        wrapper.__name__ = view.__name__
        return wrapper

    # ------------------------------------------------------------------ discovery
    @bp.get("/versions")
    def versions() -> Response:
        return _fields(schemas.versions_json(state.ui_url, state.api_url))

    # ------------------------------------------------------------------ sessions
    @bp.post("/login")
    def login() -> Response:
        form = request.form if request.form else request.args
        answer = state.api3_login(form.get("client_id", ""), form.get("client_secret", ""))
        if answer is None:
            raise not_found()
        return _ok(answer)

    @bp.post("/login/<user_id>")
    @authed
    def login_user(user: User, user_id: str) -> Response:
        if user.role != ADMIN:
            raise forbidden()
        answer = state.sudo_login(user_id)
        if answer is None:
            raise not_found()
        return _ok(answer)

    # ------------------------------------------------------------------ users
    @bp.get("/user")
    @authed
    def me(user: User) -> Response:
        return _fields(schemas.user_json(user, api_url()))

    @bp.get("/users")
    @authed
    def all_users(user: User) -> Response:
        users = list(state.users.values()) if user.role == ADMIN else [user]
        fields = request.args.get("fields")
        return _ok([schemas.select_fields(schemas.user_json(u, api_url()), fields) for u in users])

    @bp.get("/users/<user_id>")
    @authed
    def get_user(user: User, user_id: str) -> Response:
        target = state.users.get(user_id)
        if target is None or (user.role != ADMIN and target.id != user.id):
            raise not_found()
        return _fields(schemas.user_json(target, api_url()))

    @bp.patch("/users/<user_id>")
    @authed
    def update_user(user: User, user_id: str) -> Response:
        target = state.users.get(user_id)
        if target is None:
            raise not_found()
        body = json_body()
        _check_types(
            body, {"first_name": str, "last_name": str, "locale": str, "is_disabled": bool}
        )
        if user.role != ADMIN and (target.id != user.id or "is_disabled" in body):
            raise forbidden()
        for name in ("first_name", "last_name", "locale"):
            if isinstance(body.get(name), str):
                setattr(target, name, body[name])
        if "is_disabled" in body:
            state.disable_user(target.id, bool(body["is_disabled"]))
        return _fields(schemas.user_json(target, api_url()))

    @bp.delete("/users/<user_id>")
    @authed
    def delete_user(user: User, user_id: str) -> Response:
        if user.role != ADMIN:
            raise forbidden()
        if not state.delete_user(user_id):
            raise not_found()
        return _no_content()

    # ------------------------------------------------------------------ folders
    @bp.get("/folders")
    @authed
    def all_folders(user: User) -> Response:
        folders = [f for f in content().folders.values() if user.role in f.roles]
        return _ok([folder_with_content(user, f.id) for f in folders])

    def folder_with_content(user: User, folder_id: str) -> dict[str, Any]:
        folder = content().folders[folder_id]
        looks = [
            schemas.look_json(look, content(), user.role, api_url())
            for look in content().looks.values()
            if look.folder_id == folder_id and not look.deleted
        ]
        dashboards = [
            schemas.dashboard_json(d, content(), user.role, api_url())
            for d in content().dashboards.values()
            if d.folder_id == folder_id
        ]
        return schemas.folder_json(folder, looks, dashboards)

    @bp.get("/folders/<folder_id>")
    @authed
    def folder(user: User, folder_id: str) -> Response:
        if not _sees_folder(user, folder_id):
            raise not_found()
        return _fields(folder_with_content(user, folder_id))

    @bp.get("/folders/<folder_id>/looks")
    @authed
    def folder_looks(user: User, folder_id: str) -> Response:
        if not _sees_folder(user, folder_id):
            raise not_found()
        return _ok(folder_with_content(user, folder_id)["looks"])

    @bp.get("/folders/<folder_id>/dashboards")
    @authed
    def folder_dashboards(user: User, folder_id: str) -> Response:
        if not _sees_folder(user, folder_id):
            raise not_found()
        return _ok(folder_with_content(user, folder_id)["dashboards"])

    # ------------------------------------------------------------------ looks
    @bp.get("/looks")
    @authed
    def all_looks(user: User) -> Response:
        looks = [
            schemas.select_fields(
                schemas.look_json(look, content(), user.role, api_url()),
                request.args.get("fields"),
            )
            for look in content().looks.values()
            if not look.deleted and _sees_folder(user, look.folder_id)
        ]
        return _ok(looks)

    @bp.get("/looks/<look_id>")
    @authed
    def look(user: User, look_id: str) -> Response:
        return _fields(schemas.look_json(look_for(user, look_id), content(), user.role, api_url()))

    @bp.patch("/looks/<look_id>")
    @authed
    def update_look(user: User, look_id: str) -> Response:
        target = look_for(user, look_id)
        if user.role not in EDIT_ROLES:
            raise forbidden()
        body = json_body()
        _check_types(body, {"title": str, "description": str, "folder_id": str, "public": bool})
        if "title" in body and not str(body["title"] or "").strip():
            raise invalid("title", "title must not be blank.", code="missing")
        if "folder_id" in body and not _sees_folder(user, str(body["folder_id"])):
            raise invalid("folder_id", "folder_id is not a folder you can see.")
        for name in ("title", "description", "folder_id", "public"):
            if name in body and body[name] is not None:
                setattr(target, name, body[name])
        return _fields(schemas.look_json(target, content(), user.role, api_url()))

    @bp.delete("/looks/<look_id>")
    @authed
    def delete_look(user: User, look_id: str) -> Response:
        look_for(user, look_id)
        if user.role not in EDIT_ROLES:
            raise forbidden()
        del content().looks[look_id]
        return _no_content()

    @bp.get("/looks/<look_id>/run/<result_format>")
    @authed
    def run_look(user: User, look_id: str, result_format: str) -> Response:
        query = content().queries[look_for(user, look_id).query_id]
        return run(query, result_format, _limit(query.limit))

    # ------------------------------------------------------------------ dashboards
    @bp.get("/dashboards")
    @authed
    def all_dashboards(user: User) -> Response:
        fields = request.args.get("fields")
        return _ok(
            [
                schemas.select_fields(
                    schemas.dashboard_json(d, content(), user.role, api_url()), fields
                )
                for d in content().dashboards.values()
                if _sees_folder(user, d.folder_id)
            ]
        )

    @bp.get("/dashboards/<dashboard_id>")
    @authed
    def dashboard(user: User, dashboard_id: str) -> Response:
        found = dashboard_for(user, dashboard_id)
        return _fields(schemas.dashboard_json(found, content(), user.role, api_url()))

    # ------------------------------------------------------------------ queries
    @bp.get("/queries/<query_id>")
    @authed
    def query(user: User, query_id: str) -> Response:
        return _fields(schemas.query_json(query_for(user, query_id), api_url()))

    @bp.get("/queries/<query_id>/run/<result_format>")
    @authed
    def run_query(user: User, query_id: str, result_format: str) -> Response:
        found = query_for(user, query_id)
        return run(found, result_format, _limit(found.limit))

    @bp.post("/queries/run/<result_format>")
    @authed
    def run_inline_query(user: User, result_format: str) -> Response:
        if user.role not in EDIT_ROLES:
            raise forbidden()
        body = json_body()
        for name in ("model", "view"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise invalid(name, f"{name} is required.", code="missing")
        if body["model"] not in MODELS:
            raise not_found()
        fields = body.get("fields") or ["orders.id"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise invalid("fields", "fields must be a list of strings.")
        default = body.get("limit") or "500"
        try:
            rows = int(default)
        except (TypeError, ValueError):
            raise invalid("limit", "limit must be an integer string.") from None
        inline = Query("inline", body["model"], body["view"], fields, rows)
        return run(inline, result_format, _limit(min(rows, MAX_RESULT_ROWS)))

    # ------------------------------------------------------------------ OAuth client apps
    def app_or_404(guid: str) -> Any:
        found = state.apps.get(guid)
        if found is None:
            raise not_found()
        return found

    def app_answer(guid: str) -> Response:
        return _fields(schemas.app_json(state.apps[guid], state.users, api_url()))

    def app_changes(body: dict[str, Any]) -> dict[str, Any]:
        _check_types(
            body,
            {
                "redirect_uri": str,
                "redirect_uris": list,
                "display_name": str,
                "description": str,
                "group_id": str,
            },
        )
        if "enabled" in body and not isinstance(body["enabled"], bool):
            raise invalid("enabled", "enabled must be a boolean.")
        changes: dict[str, Any] = {
            name: body[name]
            for name in ("display_name", "description", "enabled", "group_id")
            if name in body and body[name] is not None
        }
        uris = body.get("redirect_uris") or (
            [body["redirect_uri"]] if body.get("redirect_uri") else []
        )
        if uris:
            if not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in uris):
                raise invalid("redirect_uri", "redirect_uri must be an absolute http(s) URL.")
            changes["redirect_uri"] = uris[0]
        return changes

    @bp.get("/oauth_client_apps")
    @authed
    def all_apps(user: User) -> Response:
        admin_only(user)
        fields = request.args.get("fields")
        return _ok(
            [
                schemas.select_fields(schemas.app_json(a, state.users, api_url()), fields)
                for a in state.apps.values()
            ]
        )

    @bp.get("/oauth_client_apps/<guid>")
    @authed
    def get_app(user: User, guid: str) -> Response:
        admin_only(user)
        app_or_404(guid)
        return app_answer(guid)

    @bp.post("/oauth_client_apps/<guid>")
    @authed
    def register_app(user: User, guid: str) -> Response:
        admin_only(user)
        changes = app_changes(json_body())
        if "redirect_uri" not in changes:
            raise invalid("redirect_uri", "redirect_uri is required.", code="missing")
        try:
            state.register_client_app(guid, changes.pop("redirect_uri"))
        except Conflict:
            raise LookerError(409, "An OAuth client app with this client_guid exists.") from None
        state.update_app(guid, **changes)
        return app_answer(guid)

    @bp.patch("/oauth_client_apps/<guid>")
    @authed
    def update_app(user: User, guid: str) -> Response:
        admin_only(user)
        app_or_404(guid)
        changes = app_changes(json_body())
        current = state.apps[guid]
        if changes.get("redirect_uri") == current.redirect_uri:
            del changes["redirect_uri"]
        state.update_app(guid, **changes)
        return app_answer(guid)

    @bp.delete("/oauth_client_apps/<guid>")
    @authed
    def delete_app(user: User, guid: str) -> Response:
        admin_only(user)
        if not state.delete_app(guid):
            raise not_found()
        return _no_content()

    @bp.delete("/oauth_client_apps/<guid>/tokens")
    @authed
    def invalidate_tokens(user: User, guid: str) -> Response:
        admin_only(user)
        if not state.invalidate_app_tokens(guid):
            raise not_found()
        return _no_content()

    @bp.post("/oauth_client_apps/<guid>/users/<user_id>")
    @authed
    def activate_app_user(user: User, guid: str, user_id: str) -> Response:
        admin_only(user)
        if not state.set_app_user(guid, user_id, active=True):
            raise not_found()
        return app_answer(guid)

    @bp.delete("/oauth_client_apps/<guid>/users/<user_id>")
    @authed
    def deactivate_app_user(user: User, guid: str, user_id: str) -> Response:
        admin_only(user)
        if not state.set_app_user(guid, user_id, active=False):
            raise not_found()
        return _no_content()

    return bp
