"""The few HTML pages a person may see on the bridge itself, in the demo SPA's style.

People reach the bridge by top-level navigation only on the sign-in path (``/auth/login``,
``/auth/callback``), on its root, and when a link or a typo brings them there. Those answers are
pages with a way back to the app; everything an SPA calls keeps answering JSON
(:func:`wants_page` tells them apart). The pages carry no script and may not be framed.
"""

from __future__ import annotations

import html

from flask import Blueprint, Response, current_app, redirect, request
from werkzeug.wrappers import Response as BaseResponse

LOGIN_PATH = "/auth/login"

bp = Blueprint("pages", __name__)

PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

_STYLE = (
    "body{margin:0;background:#f4f6fa;color:#1d2330;font-family:system-ui,-apple-system,"
    '"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;line-height:1.5}'
    "main{max-width:34rem;margin:4rem auto;padding:1.5rem 1.75rem;background:#fff;"
    "border:1px solid #d9dde5;border-radius:10px}"
    "h1{font-size:1.3rem;margin:0 0 .75rem}p{margin:.5rem 0}.code{color:#5b6474;font-size:.85rem}"
    "a.button{display:inline-block;margin:.75rem .75rem 0 0;padding:.45rem .9rem;border-radius:"
    "10px;background:#1a5fd0;color:#fff;text-decoration:none}a.plain{color:#1a5fd0}"
)


def wants_page() -> bool:
    """Whether this request is a browser navigation that should get a page rather than JSON.

    ``Sec-Fetch-Mode: navigate`` is sent by every current browser on a top-level navigation
    (Fetch Metadata); the Looker API paths always answer JSON, whoever asks.
    """
    if request.path.startswith("/api/"):
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate" and request.headers.get("Sec-Fetch-Dest") == "document"
    # No Fetch Metadata (an old browser or a tool): a page only when HTML is preferred.
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > 0


def page(
    *,
    title: str,
    message: str,
    status: int,
    links: list[tuple[str, str]],
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An HTML page with ``message`` and ``links`` (label, URL; the first is the main action)."""
    buttons = "".join(
        f'<a class="{"button" if index == 0 else "plain"}" href="{html.escape(url)}">'
        f"{html.escape(label)}</a> "
        for index, (label, url) in enumerate(links)
    )
    detail = f'<p class="code">Error code: {html.escape(code)}</p>' if code else ""
    body = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(message)}</p>{detail}<p>{buttons}</p></main></body></html>"
    )
    response = Response(body, status=status, mimetype="text/html")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    page_headers(response)
    return response


def page_headers(response: BaseResponse, csp: str = PAGE_CSP) -> None:
    """No script, no framing (``frame-ancestors`` does not fall back to ``default-src``)."""
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"


_TITLES = {
    400: "This link did not work",
    401: "You are not signed in",
    403: "This is not allowed",
    404: "Nothing here",
    405: "Nothing here",
    429: "Too many attempts",
}


def home_url() -> str | None:
    """Where "back to the app" goes (settings ``home_url``), read from the running app."""
    from oauth_bridge.services import get_services  # services needs the app; pages do not

    return get_services(current_app).settings.home_url


def error_page(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """A bridge error as a page, for a person who navigated here (JSON for everyone else)."""
    home = home_url()
    links = [("Back to the app", home)] if home else []
    if request.path.startswith("/auth/") or status == 401:
        links.append(("Sign in with Looker", LOGIN_PATH))
    title = _TITLES.get(status, "The bridge cannot do this right now")
    response = page(
        title=title, message=message, status=status, links=links, code=code, headers=headers
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def root() -> BaseResponse:
    """People who open the bridge's own address go to the app it serves."""
    from oauth_bridge.errors import error_response  # page or JSON, by who is asking

    home = home_url()
    if home:
        return redirect(home, code=302)
    return error_response(
        404,
        "no_app_here",
        "This address is the Looker bridge of an app, not the app itself; its operator can "
        "set OAUTH_BRIDGE_APP_URL to send people here on to the app.",
    )
