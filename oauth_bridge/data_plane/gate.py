"""The bridge's answer to nginx's ``auth_request``: may this API call go, and with which token.

nginx sends the browser's request headers (no body) to :data:`VERIFY_PATH` with the method and
raw URI in :data:`ORIGINAL_METHOD_HEADER` / :data:`ORIGINAL_URI_HEADER` and the gate secret in
:data:`GATE_HEADER`. The gate runs the embedded proxy's own checks, in its order: Origin and CSRF
header, path and query rules, allowlisted header values, then the session (and a refresh when
the token is due, under the same lock). It answers:

- ``204`` with the user's access token in :data:`TOKEN_HEADER` (nginx puts it in the upstream
  ``Authorization`` header and never in an answer) and the request id in ``X-Request-Id``;
- ``401`` for everything else, with the refusal's code in :data:`REFUSAL_HEADER` for the logs:
  nginx then hands the whole request to the embedded proxy, which refuses it with its usual JSON
  error, CORS headers and status (or, if things changed in between, serves it). ``auth_request``
  understands only 2xx, 401 and 403, so the gate never answers anything else for a call.

Without the right gate secret the endpoint is a plain 404, so reaching the bridge directly (not
through nginx, which marks the location ``internal``) learns nothing and gets no token.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from oauth_bridge.config import Settings
from oauth_bridge.data_plane.secret import GATE_HEADER, carries_secret
from oauth_bridge.errors import BridgeError, NotFound, error_response
from oauth_bridge.proxy import METHODS, forwarded_headers, target_from_request_uri
from oauth_bridge.security import require_csrf
from oauth_bridge.services import get_services

log = logging.getLogger(__name__)

bp = Blueprint("gate", __name__)

VERIFY_PATH = "/_oauth_bridge/verify"
TOKEN_HEADER = "X-Oauth-Bridge-Token"  # noqa: S105 - a header name
REFUSAL_HEADER = "X-Oauth-Bridge-Refusal"
ORIGINAL_METHOD_HEADER = "X-Original-Method"
ORIGINAL_URI_HEADER = "X-Original-URI"


class GateClosed(NotFound):
    """A verify call without the gate secret: not nginx, so there is nothing here."""


class NotForTheGate(BridgeError):
    """A call the fast path does not take (a preflight, an unknown method): the bridge answers."""

    status = 401
    code = "not_for_the_gate"
    default_message = "This call is answered by the bridge itself."


def _check_gate_secret(settings: Settings) -> None:
    if not carries_secret(settings, GATE_HEADER):
        raise GateClosed()


def _admit() -> str:
    """The checks of :func:`oauth_bridge.proxy.forward`, in its order; the token to send."""
    services = get_services()
    settings = services.settings
    if request.headers.get(ORIGINAL_METHOD_HEADER) not in METHODS:
        raise NotForTheGate()
    require_csrf(settings)
    target_from_request_uri(request.headers.get(ORIGINAL_URI_HEADER, ""))
    forwarded_headers()
    active = services.tokens.current_session()
    return services.tokens.access_token(active)


@bp.route(VERIFY_PATH, methods=["GET"])
def verify() -> Response:
    _check_gate_secret(get_services().settings)
    token = _admit()
    response = Response(status=204)
    response.headers[TOKEN_HEADER] = token
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(Exception)
def _refused(error: Exception) -> Response:
    """Every refusal as the 401 nginx understands; the secret check's 404 stays a 404.

    Also catches what the app's ``before_request`` hooks raise for this route (an untrusted
    Host, say): any other status would make nginx answer 500 instead of asking the bridge.
    """
    if isinstance(error, GateClosed):
        return error.to_response()
    code = error.code if isinstance(error, BridgeError) else "internal_error"
    if not isinstance(error, BridgeError):
        log.exception("verify failed", exc_info=error)
    response = error_response(401, "refused", "The bridge answers this call itself.")
    response.headers[REFUSAL_HEADER] = code
    return response
