"""The demo's two small web servers: the SPA's static files (with ``config.js`` and a strict CSP)
and the portal page on another site that frames the SPA.

The CSP allows the SPA's own files and, for a folder of your own (``demo --spa-dir``), exactly the
inline ``<script>`` and ``<style>`` elements its HTML pages hold, by their SHA-256 hashes (CSP
Level 2 hash sources): an inline module script as docs/proxy.md prints it runs, an injected one
does not, and ``'unsafe-inline'`` is never needed.
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from pathlib import Path

from flask import Flask, Response, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from oauth_bridge.errors import ConfigError


class _InlineBlocks(HTMLParser):
    """The text of each inline ``<script>`` (no ``src``) and ``<style>`` element of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._open: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._open, self._text = self.scripts, []
        elif tag == "style":
            self._open, self._text = self.styles, []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag in ("script", "style"):
            self._open.append("".join(self._text))
            self._open = None


def _hash_source(text: str) -> str:
    """A CSP hash source: the browser hashes the element's text exactly as it is in the file."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def inline_hashes(html: str) -> tuple[list[str], list[str]]:
    """The CSP hash sources of a page's inline scripts and of its inline styles."""
    parser = _InlineBlocks()
    parser.feed(html)
    parser.close()
    return (
        sorted({_hash_source(text) for text in parser.scripts}),
        sorted({_hash_source(text) for text in parser.styles}),
    )


def content_security_policy(
    bridge_url: str, frame_ancestors: tuple[str, ...] = (), html: str = ""
) -> str:
    """A strict CSP for the SPA: its own scripts and styles (and the inline ones of ``html``, by
    hash), network calls to itself and the bridge, framed only by the portal origins named."""
    ancestors = " ".join(frame_ancestors) or "'none'"
    scripts, styles = inline_hashes(html) if html else ([], [])
    script_src = " ".join(["'self'", *scripts])
    style_src = " ".join(["'self'", *styles])
    return (
        f"default-src 'none'; script-src {script_src}; style-src {style_src}; "
        f"img-src 'self' data:; connect-src 'self' {bridge_url}; base-uri 'none'; "
        f"form-action 'none'; frame-ancestors {ancestors}"
    )


PORTAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example portal · oauth_bridge demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #eef1f5; color: #1d2433; }}
header {{ background: #2c3e66; color: #fff; padding: .8rem 1.2rem; }}
header p {{ margin: .2rem 0 0; opacity: .85; font-size: .9rem; }}
main {{ padding: 1rem; }}
iframe {{ width: 100%; height: 80vh; border: 1px solid #c5cbd6; border-radius: 6px;
  background: #fff; }}
</style></head>
<body><header><strong>Example portal</strong>
<p>This page is on another site than the app: it embeds the demo app from {spa} in an iframe.</p>
</header>
<main><iframe id="app-frame" title="Looker content (embedded app)" src="{spa}"></iframe></main>
</body></html>"""


def create_portal_app(spa_url: str, spa_origin: str) -> Flask:
    """A page on another site that frames the SPA, as a customer's portal would."""
    app = Flask("oauth_bridge_demo_portal", static_folder=None)
    page = PORTAL_PAGE.format(spa=spa_url)
    # No script of its own; it may frame only the SPA. No default-src: a portal's own calls are
    # its business, and the bridge must refuse them by itself (CORS, Origin, CSRF header).
    csp = (
        f"script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        f"style-src 'unsafe-inline'; frame-src {spa_origin}"
    )

    @app.get("/")
    def index() -> Response:
        response = Response(page, mimetype="text/html")
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


def create_spa_app(
    static_dir: Path, bridge_url: str, frame_ancestors: tuple[str, ...] = ()
) -> Flask:
    """A tiny static server for the SPA that also serves ``config.js`` naming the bridge.

    ``/config.js`` is always the demo's own (``export const BRIDGE_URL``), whatever the folder
    holds, so an SPA finds the bridge the demo started on whatever port it got.
    """
    app = Flask(__name__, static_folder=None)
    config_js = (
        "// Written by `oauth-bridge demo`: where this SPA finds the bridge.\n"
        f"export const BRIDGE_URL = {_js_string(bridge_url)};\n"
    )
    csp = content_security_policy(bridge_url, frame_ancestors)

    def html_page(name: str) -> Response:
        """An HTML page of the folder, with a CSP that allows exactly its inline blocks."""
        path = safe_join(str(static_dir), name)  # None for a path that leaves static_dir
        if path is None or not Path(path).is_file():
            raise NotFound()
        text = Path(path).read_text(encoding="utf-8")
        response = Response(text, mimetype="text/html")
        response.headers["Content-Security-Policy"] = content_security_policy(
            bridge_url, frame_ancestors, text
        )
        return response

    @app.get("/")
    def index() -> Response:
        return html_page("index.html")

    @app.get("/config.js")
    def config() -> Response:
        return Response(config_js, mimetype="text/javascript")

    @app.get("/<path:name>")
    def asset(name: str) -> Response:
        if name.endswith((".html", ".htm")):
            return html_page(name)
        # send_from_directory refuses paths that leave static_dir.
        return send_from_directory(static_dir, name)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Cache-Control"] = "no-cache"
        return response

    return app


def _js_string(value: str) -> str:
    """A JavaScript string literal for a URL we built ourselves (no quotes or backslashes)."""
    if any(ch in value for ch in "\"'\\<>\n\r"):
        raise ConfigError(f"unexpected characters in URL {value!r}")
    return f'"{value}"'
