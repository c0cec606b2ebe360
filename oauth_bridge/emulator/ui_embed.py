"""The UI host's embed context: the one-time embed URL's sign-in and the ``/embed`` pages.

``GET /login/embed/{target}?embed_token=…`` (the URL :mod:`.api40.embed` answers) redeems the
URL once, starts an embed session as its user (a cookie on ``/embed`` only) and redirects to the
target; ``force_logout_login`` (Looker's default, true) also ends the browser's ordinary
emulator session. ``/embed/dashboards/{id}`` and ``/embed/looks/{id}`` show the content to that
user, with who they are, under the same rules as the API (404 for content their role does not
see). Embed pages may be framed only by the "embedded domain allowlist"
(:attr:`~oauth_bridge.emulator.config.EmulatorConfig.cors_origins`); every other UI page stays
unframeable.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request
from werkzeug.wrappers.response import Response as BaseResponse

from oauth_bridge.emulator import query_engine, schemas
from oauth_bridge.emulator.api40.embed import LOGIN_PREFIX, TOKEN_PARAM
from oauth_bridge.emulator.api40.permissions import dashboard_for, look_for, query_for
from oauth_bridge.emulator.errors import LookerError
from oauth_bridge.emulator.results import preview
from oauth_bridge.emulator.seed import User
from oauth_bridge.emulator.state import EmulatorState

EMBED_COOKIE = "emulator_embed_session"
PREVIEW_ROWS = 5
"""Rows of each tile's query the embed page shows."""


def frame_ancestors(state: EmulatorState) -> str:
    """The CSP ``frame-ancestors`` of an embed page: the allowlist, or nobody."""
    origins = state.config.cors_origins
    return " ".join(origins) if origins else "'none'"


def blueprint(state: EmulatorState, error_page: Any, session_cookie: str) -> Blueprint:
    """The embed routes; ``error_page(title, code, message)`` renders the host's error page and
    ``session_cookie`` is the ordinary session's cookie, which ``force_logout_login`` ends."""
    bp = Blueprint("emulator_ui_embed", __name__, template_folder="templates")

    def refused(status: int, code: str, message: str) -> Response:
        return Response(error_page("Embed", code, message), status=status, mimetype="text/html")

    @bp.get(f"{LOGIN_PREFIX}/<path:target>", merge_slashes=False)
    def embed_login(target: str) -> BaseResponse:
        """``target`` arrives decoded once, without its leading ``/`` (the rule's ``//``)."""
        g.embed_frameable = True
        grant = state.redeem_embed_url(request.args.get(TOKEN_PARAM, ""), "/" + target)
        if grant is None:
            return refused(
                403,
                "embed_url_invalid",
                "This embed URL was already used, has expired or was changed; "
                "ask the app for a new one.",
            )
        response = redirect(grant.target, code=302)
        sid = state.start_embed_session(grant.user_id, grant.session_length)
        response.set_cookie(
            EMBED_COOKIE,
            sid,
            max_age=grant.session_length,
            httponly=True,
            samesite="Lax",
            path="/embed",
        )
        if grant.force_logout_login:
            state.end_ui_session(request.cookies.get(session_cookie))
            response.delete_cookie(session_cookie, path="/")
        return response

    def embed_user() -> User | None:
        g.embed_frameable = True
        return state.embed_session_user(request.cookies.get(EMBED_COOKIE))

    def not_signed_in() -> Response:
        return refused(401, "embed_session", "No embed session: open a new embed URL.")

    def tile(user: User, tile_id: str, title: str, query_id: str | None) -> dict[str, Any]:
        """One tile's first rows, run as ``user``; a query the user may not run says so."""
        shown: dict[str, Any] = {"id": tile_id, "title": title, "labels": [], "rows": []}
        try:
            query = query_for(user, query_id or "")
        except LookerError:
            return shown | {"refused": True}
        result = query_engine.run(query, query.limit, schemas.explore_field_json)
        labels, rows = preview(result, PREVIEW_ROWS)
        return shown | {"labels": labels, "rows": rows, "refused": False}

    @bp.get("/embed/dashboards/<dashboard_id>")
    def embed_dashboard(dashboard_id: str) -> Response:
        user = embed_user()
        if user is None:
            return not_signed_in()
        with state.lock:
            try:
                dashboard = dashboard_for(user, dashboard_id)
            except LookerError:
                return refused(404, "not_found", "There is no such dashboard.")
            tiles = [
                tile(user, e.id, e.title, state.content.element_query_id(e))
                for e in dashboard.elements
            ]
        page = render_template(
            "embed.html", kind="dashboard", id=dashboard.id, title=dashboard.title,
            user=user, tiles=tiles,
        )  # fmt: skip
        return Response(page, mimetype="text/html")

    @bp.get("/embed/looks/<look_id>")
    def embed_look(look_id: str) -> Response:
        user = embed_user()
        if user is None:
            return not_signed_in()
        with state.lock:
            try:
                look = look_for(user, look_id)
            except LookerError:
                return refused(404, "not_found", "There is no such look.")
            tiles = [tile(user, look.id, look.title, look.query_id)]
        page = render_template(
            "embed.html", kind="look", id=look.id, title=look.title, user=user, tiles=tiles
        )
        return Response(page, mimetype="text/html")

    return bp
