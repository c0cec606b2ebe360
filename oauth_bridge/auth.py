"""Sign-in with Looker: login, callback, session info, logout (and optional token mediation).

The pending login (state, PKCE verifier, return_to) lives sealed in the browser's short-lived login
cookie (:mod:`oauth_bridge.login_cookie`) for at most ten minutes, so an anonymous ``/auth/login``
writes nothing to Redis; only that browser carries it, and it is used once (taken out of the
cookie, and marked used in the store once Looker accepted the code). The callback makes a
brand-new session id, so a session id planted before sign-in is worthless. Pages a person lands
on answer HTML; everything an SPA calls answers JSON.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from oauth_bridge.config import Settings
from oauth_bridge.cookies import request_cookie
from oauth_bridge.errors import (
    BridgeError,
    InvalidLoginState,
    InvalidReturnTo,
    InvalidSignInCode,
    MalformedBody,
    NotFound,
    OriginRejected,
    StoreUnavailable,
    UpstreamError,
    error_response,
)
from oauth_bridge.login_cookie import MAX_RETURN_TO, PendingLogins
from oauth_bridge.looker.client import TokenRequestRejected
from oauth_bridge.models import PendingLogin, SessionRecord
from oauth_bridge.pages import page, page_headers
from oauth_bridge.popup_login import (
    CHALLENGE_RE,
    POPUP_PAGE_CSP,
    HandoffCodec,
    popup_page,
    verifier_matches,
)
from oauth_bridge.request_body import framing_of, open_body
from oauth_bridge.security import require_csrf, validate_return_to
from oauth_bridge.services import get_services
from oauth_bridge.tokens import LOGIN_URL

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, url_prefix="/auth")

_ERROR_CODE = re.compile(r"[a-z_]{1,64}")

MAX_REDEEM_BODY = 4096
"""A redemption is a code and a verifier: a few hundred bytes of JSON."""


@bp.after_request
def _never_cache(response: BaseResponse) -> BaseResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/login")
def login() -> BaseResponse:
    """Start a sign-in: seal state + verifier into the login cookie, send the browser to Looker."""
    # No return_to: back to the app (settings.home_url), else the bridge's root.
    asked = request.args.get("return_to") or get_services().settings.home_url
    return_to = validate_return_to(asked, allowed_origins=_return_origins())
    if len(return_to) > MAX_RETURN_TO:
        raise InvalidReturnTo(f"return_to may be at most {MAX_RETURN_TO} characters long.")
    return _start_login(return_to=return_to)


@bp.get("/popup/login")
def popup_login() -> BaseResponse:
    """Start a sign-in in a popup opened by a framed SPA (:mod:`oauth_bridge.popup_login`).

    ``origin`` is the framed SPA's own origin: the only window the popup's answer is posted to,
    so it must be the bridge's or one of ``CORS_ORIGINS``. ``challenge`` is S256 of a verifier
    that only the frame holds.
    """
    origin = request.args.get("origin", "")
    challenge = request.args.get("challenge", "")
    if origin not in _return_origins():
        return _popup_error(
            OriginRejected(
                "This app's origin may not sign in through this bridge: add it to "
                "OAUTH_BRIDGE_CORS_ORIGINS (exactly, e.g. https://app.example.com)."
            )
        )
    if not CHALLENGE_RE.fullmatch(challenge):
        return _popup_error(
            InvalidLoginState(
                "challenge must be base64url(SHA-256(verifier)) without padding (43 characters)."
            )
        )
    return _start_login(return_to="", opener_origin=origin, challenge=challenge)


def _start_login(*, return_to: str, opener_origin: str = "", challenge: str = "") -> BaseResponse:
    services = get_services()
    settings = services.settings
    # Nothing is written for a sign-in under way, but one cannot finish while the store is
    # away: say so now (503) rather than after the person has typed a password at Looker.
    services.store.ping()
    logins = _pending_logins(settings)
    authorization = services.looker.authorization_request()
    kept = logins.added(
        logins.read(request_cookie(settings.login_cookie_name)),
        PendingLogin(
            state=authorization.state,
            code_verifier=authorization.code_verifier,
            return_to=return_to,
            created_at=time.time(),
            opener_origin=opener_origin,
            challenge=challenge,
        ),
    )
    response = redirect(authorization.url, code=302)
    _set_login_cookie(response, kept)
    return response


@bp.get("/callback")
def callback() -> BaseResponse:
    """Finish a sign-in: check state, trade the code, make a new session, go to return_to."""
    services = get_services()
    settings = services.settings
    state = request.args.get("state", "")
    if not state or len(state) > 256:
        return _callback_error(InvalidLoginState())
    logins = _pending_logins(settings)
    carried = request_cookie(settings.login_cookie_name)
    pending, others = logins.take(logins.read(carried), state)
    if pending is None:
        return _already_signed_in() or _callback_error(_no_pending_login(settings, carried))
    # From here on this browser's cookie no longer carries the login, whatever the outcome.
    response = _hand_to_frame(pending) if pending.in_popup else _finish_login(pending, state)
    _set_login_cookie(response, others)
    return response


def _finish_login(pending: PendingLogin, state: str) -> BaseResponse:
    """The callback's answer for a top-level login this browser did start with ``state``."""
    try:
        if get_services().store.login_used(state):  # a copy of the cookie, replayed
            return _already_signed_in() or _callback_error(InvalidLoginState())
    except StoreUnavailable as exc:
        return _callback_error(exc)

    if "error" in request.args:
        return redirect(_with_query(pending.return_to, auth_error=_looker_error()), code=302)

    code = request.args.get("code", "")
    if not code or len(code) > 2048:
        return _callback_error(InvalidLoginState("Looker sent no authorization code."))
    try:
        cookie_value, _record = _sign_in(pending, code)
    except (InvalidLoginState, UpstreamError, StoreUnavailable) as exc:
        return _callback_error(exc)
    response = redirect(pending.return_to, code=302)
    _set_session_cookie(response, cookie_value)
    return response


def _hand_to_frame(pending: PendingLogin) -> BaseResponse:
    """The callback's answer in a popup: post a sealed one-time code to the frame that opened it.

    Looker's code is not traded here but at the redemption, so a sign-in that never reaches the
    frame leaves no token and no session behind.
    """
    if "error" in request.args:
        return _popup_page(pending, {"error": _looker_error()}, "Sign-in cancelled")
    code = request.args.get("code", "")
    if not code or len(code) > 2048:
        return _popup_page(pending, {"error": "no_code"}, "Sign-in did not complete")
    handoff = _handoffs(get_services().settings).seal(pending, code)
    return _popup_page(pending, {"code": handoff}, "Signed in")


def _no_pending_login(settings: Settings, carried: str | None) -> InvalidLoginState:
    """Why this callback matches no sign-in of this browser, as precisely as the bridge can tell.

    The usual operator mistake is a bridge behind plain http with ``COOKIE_SECURE=true``: the
    browser keeps the Secure login cookie to itself, so it never comes back (issue 14).
    """
    if carried is not None:
        return InvalidLoginState()
    if settings.cookie_secure and request.scheme == "http":
        log.warning(
            "sign-in failed: the login cookie did not come back because this request arrived "
            "over plain http and OAUTH_BRIDGE_COOKIE_SECURE=true makes the cookie Secure; serve "
            "the bridge over https (set PROXY_FIX_HOPS behind a TLS proxy) or COOKIE_SECURE=false "
            "for plain-http development"
        )
        return InvalidLoginState(
            "The sign-in cookie did not come back: this page is served over plain http, and the "
            "bridge's cookies are Secure (browsers keep them off http). The bridge's operator "
            "must serve it over https, or set OAUTH_BRIDGE_COOKIE_SECURE=false for development."
        )
    log.info("sign-in failed: the callback arrived without the login cookie")
    return InvalidLoginState(
        "The sign-in cookie did not come back to the bridge: the sign-in was started in another "
        "browser or too long ago, or this browser blocks the bridge's cookies. Start again."
    )


def _already_signed_in() -> BaseResponse | None:
    """A stale or replayed callback (Back, then the login form again) from a browser that is
    signed in already: back to the app rather than a dead end. Nothing is signed in by it."""
    try:
        get_services().tokens.current_session()
    except BridgeError:
        return None
    return redirect(get_services().settings.home_url or "/", code=302)


def _looker_error() -> str:
    """The ``error`` Looker sent back, if it is a plain OAuth error code."""
    error = request.args.get("error", "")
    return error if _ERROR_CODE.fullmatch(error) else "access_denied"


def _sign_in(pending: PendingLogin, code: str) -> tuple[str, SessionRecord]:
    """Trade Looker's ``code``, make a brand-new session, return its cookie value and record.

    Raises :class:`InvalidLoginState` when the sign-in was already used or Looker refuses the
    code, :class:`UpstreamError` or :class:`StoreUnavailable` when a part is away; every token
    obtained before a failure is revoked.
    """
    services = get_services()
    try:
        tokens = services.looker.exchange_code(code, pending.code_verifier)
    except TokenRequestRejected as exc:
        log.info("authorization code refused by Looker: %s", exc.error)
        raise InvalidLoginState("Looker refused this sign-in; please start again.") from None
    # Written only now that Looker accepted the code: anonymous callbacks write nothing.
    try:
        first_use = services.store.mark_login_used(
            pending.state, _pending_logins(services.settings).remaining_ms(pending)
        )
    except StoreUnavailable:
        services.looker.revoke(tokens.access_token)
        raise
    if not first_use:
        services.looker.revoke(tokens.access_token)  # a parallel replay won the race
        raise InvalidLoginState()
    try:
        user = services.looker.current_user(tokens.access_token)
    except UpstreamError:
        services.looker.revoke(tokens.access_token)  # no session will hold it
        raise

    previous = request_cookie(services.settings.cookie_name)
    try:
        if previous:
            _end_previous_session(previous)
        cookie_value, record = services.store.create(user, tokens)
    except StoreUnavailable:
        services.looker.revoke(tokens.access_token)
        raise
    log.info("signed in user %s", user.id)
    return cookie_value, record


@bp.post("/popup/redeem")
def popup_redeem() -> BaseResponse:
    """Finish a popup sign-in in the frame: the sealed code and the frame's verifier in, the
    session cookie out (set in this response, so it lands in the frame's cookie partition).

    Every way a code can be wrong (forged, expired, used, for another origin, without the
    verifier) answers the same 400, so a guess learns nothing.
    """
    services = get_services()
    require_csrf()
    with open_body(framing_of(request.environ), services.settings) as body:
        raw = body.read_all(MAX_REDEEM_BODY)
    try:
        fields = json.loads(raw)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise MalformedBody('Send JSON: {"code": "…", "verifier": "…"}.')
    handoff = _handoffs(services.settings).open(fields.get("code"))
    if (
        handoff is None
        or request.headers.get("Origin") != handoff.login.opener_origin
        or not verifier_matches(fields.get("verifier"), handoff.login.challenge)
        or services.store.login_used(handoff.login.state)
    ):
        raise InvalidSignInCode()
    cookie_value, record = _sign_in(handoff.login, handoff.looker_code)
    response = jsonify(_session_body(record))
    _set_session_cookie(response, cookie_value)
    return response


@bp.get("/session")
def session_info() -> BaseResponse:
    """Who is signed in; never the token."""
    services = get_services()
    try:
        active = services.tokens.current_session()
    except BridgeError as exc:
        if exc.status != 401:
            raise
        return error_response(
            401,
            "not_authenticated",
            _cross_site_hint(services.settings) or exc.message,
            extra={"authenticated": False, "login_url": LOGIN_URL},
        )
    return jsonify(_session_body(active.record))


def _cross_site_hint(settings: Settings) -> str | None:
    """Why a cross-site SPA is never signed in, when that is the likely reason.

    A ``SameSite=Lax`` cookie is not sent on a ``fetch`` from another site (Chromium's
    ``Sec-Fetch-Site: cross-site``), so such an SPA sees 401 after every sign-in and, if it
    redirects on 401, signs in forever (issue 14).
    """
    if settings.cookie_samesite == "None" or request_cookie(settings.cookie_name) is not None:
        return None
    if request.headers.get("Sec-Fetch-Site") != "cross-site":
        return None
    return (
        "No session cookie came with this request because it comes from another site: with "
        "OAUTH_BRIDGE_COOKIE_SAMESITE=Lax the browser sends the bridge's cookie only to pages of "
        "the same site (app.example.com and bridge.example.com are; localhost and 127.0.0.1 "
        "are not). Serve the app and the bridge from one site, or see docs/embedding.md. "
        "Signing in again will not help."
    )


def _session_body(record: SessionRecord) -> dict[str, object]:
    """What an SPA may know of its session: who, until when, and where Looker is. Never the token.

    ``looker_url`` is Looker's web UI: signing out of the bridge does not end the user's
    Looker session there (its own cookie, 30 minutes or 30 days by default: Looker's
    "Persistent Sessions" admin page), and Looker skips its approval page for an app the
    user already approved, so an SPA that offers "sign in as someone else" links there.
    """
    settings = get_services().settings
    ends_at = min(
        record.created_at + settings.session_max_age, time.time() + settings.session_idle_timeout
    )
    return {
        "authenticated": True,
        "user": {
            "id": record.user.id,
            "display_name": record.user.display_name,
            "email": record.user.email,
        },
        "expires_at": datetime.fromtimestamp(ends_at, UTC).isoformat(timespec="seconds"),
        "looker_url": settings.looker_url,
    }


@bp.post("/logout")
def logout() -> BaseResponse:
    """Revoke at Looker, end the session (or all of the user's), clear the cookie. Idempotent."""
    require_csrf()
    services = get_services()
    settings = services.settings
    everywhere = request.args.get("everywhere", "").lower() in ("1", "true", "yes")
    cookie_value = request_cookie(settings.cookie_name)
    if everywhere and cookie_value and (current := services.store.load(cookie_value)):
        # Before this session is deleted, so that a failure here can be retried with the same
        # cookie. Ends this session too, each session's grant at Looker (the store hands the
        # escrowed tokens to looker.revoke_grants), and marks the user so that a session the
        # index missed is refused on its next load.
        count = services.store.delete_user_sessions(current.user.id)
        log.info("signed out user %s everywhere (%d sessions)", current.user.id, count)
    ended = services.store.delete(cookie_value) if cookie_value else None
    revoked = True
    if ended is not None:
        revoked = services.looker.revoke_grant(ended.tokens)
        log.info("signed out user %s", ended.user.id)
    if revoked:
        response = Response(status=204)
    else:
        response = jsonify(
            {
                "signed_out": True,
                "looker_revoked": False,
                "message": (
                    "You are signed out of the bridge, but Looker could not be reached to "
                    "revoke the token; it stays unusable here and expires at Looker on its own."
                ),
            }
        )
    _clear_session_cookie(response)
    return response


@bp.get("/token")
def token() -> BaseResponse:
    """Token mediation (off by default): a short-lived access token for direct CORS calls."""
    services = get_services()
    if not services.settings.token_mediation:
        raise NotFound("Token mediation is turned off on this bridge.")
    require_csrf()
    active = services.tokens.current_session()
    tokens = services.tokens.fresh_tokens(active)
    expires_in = max(0, int(tokens.expires_at - time.time()))
    return jsonify(
        {"access_token": tokens.access_token, "token_type": "Bearer", "expires_in": expires_in}
    )


@functools.cache
def _pending_logins_for(secret_key: str, ttl: int, max_logins: int) -> PendingLogins:
    return PendingLogins(secret_key, ttl=ttl, max_logins=max_logins)


@functools.cache
def _handoffs_for(secret_key: str) -> HandoffCodec:
    return HandoffCodec(secret_key)


def _handoffs(settings: Settings) -> HandoffCodec:
    """The popup codes' codec for these settings (its key is derived once per process)."""
    return _handoffs_for(settings.secret_key)


def _pending_logins(settings: Settings) -> PendingLogins:
    """The login cookie's codec for these settings (its key is derived once per process)."""
    return _pending_logins_for(
        settings.secret_key, settings.pending_login_ttl, settings.max_pending_logins
    )


def _set_login_cookie(response: BaseResponse, kept: list[PendingLogin]) -> None:
    """Write the sign-ins still under way into the login cookie, or remove it when none is."""
    settings = get_services().settings
    # Lax: the callback is a top-level GET navigation coming back from Looker.
    common: dict[str, Any] = {
        "path": "/",
        "secure": settings.cookie_secure,
        "httponly": True,
        "samesite": "Lax",
    }
    if not kept:
        response.delete_cookie(settings.login_cookie_name, **common)
        return
    logins = _pending_logins(settings)
    response.set_cookie(
        settings.login_cookie_name,
        logins.encode(kept),
        max_age=logins.max_age(kept),
        **common,
    )


def _return_origins() -> tuple[str, ...]:
    settings = get_services().settings
    return (settings.bridge_origin, *settings.cors_origins)


def _end_previous_session(cookie_value: str) -> None:
    """A new sign-in in this browser ends whatever session it carried before."""
    services = get_services()
    previous = services.store.delete(cookie_value)
    if previous is not None:
        services.looker.revoke(previous.tokens.access_token)


def _set_session_cookie(response: BaseResponse, value: str) -> None:
    settings = get_services().settings
    response.set_cookie(
        settings.cookie_name,
        value,
        max_age=settings.session_max_age,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite=settings.cookie_samesite,
        partitioned=settings.cookie_samesite == "None",
    )


def _clear_session_cookie(response: BaseResponse) -> None:
    settings = get_services().settings
    response.delete_cookie(
        settings.cookie_name,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite=settings.cookie_samesite,
        partitioned=settings.cookie_samesite == "None",
    )


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _popup_page(pending: PendingLogin, message: dict[str, str], title: str) -> BaseResponse:
    """The page a popup sign-in ends on: it posts ``message`` to the frame, then closes."""
    done = (
        "You are signed in; this window closes by itself."
        if "code" in message
        else "The sign-in did not complete; the app that opened this window says what next."
    )
    message = {**message, "challenge": pending.challenge}  # which of the frame's attempts
    body = popup_page(origin=pending.opener_origin, message=message, title=title, done=done)
    response = Response(body, status=200, mimetype="text/html")
    page_headers(response, POPUP_PAGE_CSP)
    # The popup must keep its opener to post to it: no Cross-Origin-Opener-Policy isolation.
    response.headers["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response


def _popup_error(error: BridgeError) -> BaseResponse:
    """A popup that cannot start is a page a person sees: say why, in HTML, with the status."""
    body = _POPUP_ERROR_PAGE.format(message=html.escape(error.message))
    response = Response(body, status=error.status, mimetype="text/html")
    page_headers(response)
    return response


_POPUP_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in cannot start</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto">
<h1>Sign-in cannot start</h1><p>{message}</p>
<p>Close this window; the app that opened it needs a change by its developer.</p></body></html>"""


def _callback_error(error: BridgeError) -> BaseResponse:
    """The callback is a page a person lands on: answer HTML, with the same status."""
    home = get_services().settings.home_url
    links = [("Start again", LOGIN_URL)]
    if home:
        links.append(("Back to the app", home))
    return page(
        title="Sign-in did not complete",
        message=error.message,
        status=error.status,
        links=links,
        code=error.code,
        headers=error.headers,
    )
