"""The UI host: ``/auth``, ``/login`` and the approval page, as a person's browser sees Looker.

Mechanics follow Looker's own example client (sdk-codegen ``examples/python/oauth_session.py``):
``/auth`` sends a browser that is not signed in to ``/login``, which sets a ``CSRF-TOKEN`` cookie
(URL-encoded, readable by scripts) and takes ``csrf-token``, ``email``, ``password``; then back to
``/auth``; a user who has not approved the app gets a page that posts ``csrf-token`` and
``approve=true`` to the same ``/auth`` URL; then 302 to ``redirect_uri?code=…&state=…``.
An invalid client or redirect URI gets an HTML error page, never a redirect (RFC 6749 section
4.1.2.1; Looker's ``register_oauth_client_app`` docstring calls such requests forgeries).
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import quote, unquote, urlencode

from flask import Blueprint, Flask, Response, g, redirect, render_template, request
from werkzeug.wrappers.response import Response as BaseResponse

from oauth_bridge.emulator import ui_embed
from oauth_bridge.emulator.api40.common import init_state
from oauth_bridge.emulator.pkce import parse_challenge
from oauth_bridge.emulator.seed import User
from oauth_bridge.emulator.state import EmulatorState

SESSION_COOKIE = "emulator_ui_session"
CSRF_COOKIE = "CSRF-TOKEN"
ALLOWED_SCOPES = frozenset({"cors_api", "api"})
"""``cors_api``: the TypeScript SDK and Looker's docs; ``api``: Looker's Python example."""

_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _AuthRequest:
    """The query of an ``/auth`` request after the client and redirect URI were checked."""

    def __init__(self, app_name: str, client_id: str, redirect_uri: str, state: str | None):
        self.app_name = app_name
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.state = state
        self.challenge = b""

    def redirect_with(self, **params: str) -> BaseResponse:
        if self.state is not None:
            params["state"] = self.state
        joiner = "&" if "?" in self.redirect_uri else "?"
        return redirect(self.redirect_uri + joiner + urlencode(params), code=302)


def create_ui_app(state: EmulatorState) -> Flask:
    """The Flask app served on the emulator's UI host."""
    app = Flask(__name__)
    init_state(app, state)  # the embed pages read content under the API's permission rules
    app.register_blueprint(_blueprint(state))
    app.register_blueprint(ui_embed.blueprint(state, _error_page, SESSION_COOKIE))

    @app.after_request
    def _headers(response: Response) -> BaseResponse:
        headers = dict(_SECURITY_HEADERS)
        if g.get("embed_frameable"):  # framed by the embedded domain allowlist, no one else
            del headers["X-Frame-Options"]
            ancestors = ui_embed.frame_ancestors(state)
            headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
                "frame-ancestors 'none'", f"frame-ancestors {ancestors}"
            )
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(404)
    def _not_found(_: Exception) -> tuple[str, int]:
        return _error_page("Not found", "not_found", "There is no such page."), 404

    @app.errorhandler(405)
    def _not_allowed(_: Exception) -> tuple[str, int]:
        return _error_page("Not allowed", "method_not_allowed", "Method not allowed."), 405

    return app


def _error_page(title: str, code: str, message: str) -> str:
    return render_template("error.html", title=title, code=code, message=message)


def _blueprint(state: EmulatorState) -> Blueprint:
    bp = Blueprint("emulator_ui", __name__, template_folder="templates")

    def signed_in() -> User | None:
        return state.ui_session_user(request.cookies.get(SESSION_COOKIE))

    def csrf_value() -> tuple[str, bool]:
        """The browser's CSRF token (decoded) and whether the cookie must be (re)set."""
        cookie = request.cookies.get(CSRF_COOKIE)
        if cookie:
            return unquote(cookie), False
        if "csrf_token" not in g:  # one new token per response, shared by form and cookie
            # Standard base64, so the cookie needs URL-encoding, as Looker's does.
            g.csrf_token = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        return str(g.csrf_token), True

    def csrf_ok() -> bool:
        cookie = request.cookies.get(CSRF_COOKIE)
        sent = request.form.get("csrf-token", "")
        return bool(cookie) and secrets.compare_digest(unquote(cookie or ""), sent)

    def with_csrf(body: str, status: int = 200) -> BaseResponse:
        token, fresh = csrf_value()
        response = Response(body, status=status, mimetype="text/html")
        if fresh:
            response.set_cookie(CSRF_COOKIE, quote(token, safe=""), samesite="Lax", path="/")
        return response

    def validate(args: Any) -> _AuthRequest | BaseResponse:
        client_id = args.get("client_id", "")
        redirect_uri = args.get("redirect_uri", "")
        client = state.get_app(client_id)
        if client is None or not client.enabled:
            body = _error_page(
                "Invalid client", "invalid_client", "This application is not registered."
            )
            return Response(body, status=400, mimetype="text/html")
        if redirect_uri != client.redirect_uri:
            body = _error_page(
                "Invalid redirect URI",
                "invalid_redirect_uri",
                "The redirect URI does not match the application's registration.",
            )
            return Response(body, status=400, mimetype="text/html")
        auth = _AuthRequest(client.display_name or client_id, client_id, redirect_uri, None)
        auth.state = args.get("state")
        if args.get("response_type") != "code":
            return auth.redirect_with(
                error="unsupported_response_type", error_description="response_type must be code."
            )
        scopes = set(args.get("scope", "").split())
        if not scopes or not scopes <= ALLOWED_SCOPES:
            return auth.redirect_with(error="invalid_scope", error_description="Unknown scope.")
        if args.get("code_challenge_method") != "S256":
            return auth.redirect_with(
                error="invalid_request", error_description="code_challenge_method must be S256."
            )
        challenge = parse_challenge(args.get("code_challenge", ""))
        if challenge is None:
            return auth.redirect_with(
                error="invalid_request", error_description="code_challenge is malformed."
            )
        auth.challenge = challenge
        return auth

    def send_code(auth: _AuthRequest, user: User) -> BaseResponse:
        code = state.issue_code(auth.client_id, auth.redirect_uri, auth.challenge, user.id)
        return auth.redirect_with(code=code)

    def to_login() -> BaseResponse:
        return redirect("/login?" + urlencode({"return_to": request.full_path}), code=302)

    @bp.get("/")
    def home() -> BaseResponse:
        """Looker's web UI in one line: who is signed in here, and a way to log out.

        The Looker session outlives any app's: an app's sign-out revokes only its own token,
        and ``/auth`` skips the approval page for an app the user already approved. So this
        page is where a demo user goes to sign in to an app as someone else.
        """
        user = signed_in()
        token, _ = csrf_value()
        page = render_template("home.html", email=user.email if user else None, csrf_token=token)
        return with_csrf(page)

    @bp.get("/auth")
    def auth_get() -> BaseResponse:
        auth = validate(request.args)
        if isinstance(auth, BaseResponse):
            return auth
        user = signed_in()
        if user is None:
            return to_login()
        if state.is_app_user(auth.client_id, user.id):
            return send_code(auth, user)
        token, _ = csrf_value()
        page = render_template(
            "approve.html",
            app_name=auth.app_name,
            email=user.email,
            csrf_token=token,
            action=request.full_path,
        )
        return with_csrf(page)

    @bp.post("/auth")
    def auth_post() -> BaseResponse:
        auth = validate(request.args)
        if isinstance(auth, BaseResponse):
            return auth
        user = signed_in()
        if user is None:
            return to_login()
        if not csrf_ok():
            body = _error_page("Forbidden", "csrf", "The form expired; go back and try again.")
            return Response(body, status=403, mimetype="text/html")
        if request.form.get("approve") != "true":
            return auth.redirect_with(
                error="access_denied", error_description="The user denied access."
            )
        state.set_app_user(auth.client_id, user.id, active=True)
        return send_code(auth, user)

    def login_page(error: str | None = None, email: str = "", status: int = 200) -> BaseResponse:
        token, _ = csrf_value()
        page = render_template(
            "login.html", csrf_token=token, error=error, email=email, action=request.full_path
        )
        return with_csrf(page, status)

    @bp.get("/login")
    def login_get() -> BaseResponse:
        return login_page()

    @bp.post("/login")
    def login_post() -> BaseResponse:
        if not csrf_ok():
            return login_page("The form expired; please sign in again.", status=403)
        email = request.form.get("email", "")
        user = state.user_by_password(email, request.form.get("password", ""))
        if user is None:
            return login_page("Incorrect email or password.", email=email)
        response = redirect(_safe_return(request.args.get("return_to", "")), code=302)
        response.set_cookie(
            SESSION_COOKIE, state.start_ui_session(user.id), httponly=True, samesite="Lax", path="/"
        )
        return response

    @bp.post("/logout")
    def logout() -> BaseResponse:
        """Ends this browser's Looker session; a form post with the CSRF token, as Looker's own.

        Without the token another site could log the user out (login CSRF's twin).
        """
        if not csrf_ok():
            body = _error_page("Forbidden", "csrf", "The form expired; go back and try again.")
            return Response(body, status=403, mimetype="text/html")
        state.end_ui_session(request.cookies.get(SESSION_COOKIE))
        response = redirect("/", code=302)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return bp


def _safe_return(target: str) -> str:
    """Only back to this host's ``/auth``; anything else goes home (no open redirect)."""
    if target == "/auth" or target.startswith("/auth?"):
        return target
    return "/"
