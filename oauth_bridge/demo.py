"""``oauth-bridge demo``: the Looker emulator, the bridge and the demo SPA, wired up on localhost.

Use it to see the product work without a Looker or a Redis of your own. Everything runs in this
process on threaded Werkzeug servers: the emulator (UI and API hosts on ``127.0.0.1``), the bridge
on ``http://localhost:<port>`` and the SPA from ``static/`` on ``http://localhost:<spa port>`` -
a different origin from the bridge, so the browser really does credentialed CORS. The OAuth client
is registered in the emulator through the same looker-sdk code as ``oauth-bridge register-client``.
Keys are random per run, so sessions never outlive the demo.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from cryptography.fernet import Fernet
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from oauth_bridge.config import Settings, load_settings, parse_origins
from oauth_bridge.demo_web import create_portal_app, create_spa_app
from oauth_bridge.emulator.seed import ADMIN_API3, SEED_USERS
from oauth_bridge.errors import ConfigError
from oauth_bridge.redis_url import answers_ping, delete_prefixed_keys

log = logging.getLogger(__name__)


DEMO_SPA_DIR = Path(__file__).resolve().parent.parent / "static"
"""The demo SPA of a source checkout."""


def find_static_dir(spa_dir: Path | None = None) -> Path:
    """The SPA's folder: ``spa_dir`` (``demo --spa-dir``), else ``OAUTH_BRIDGE_DEMO_STATIC``,
    else ``static/`` at the root of the source checkout the package runs from.

    The demo is a development tool run from a clone (``pip install -e .``), so the SPA is not
    shipped as package data.
    """
    if spa_dir is not None:
        candidate, source = spa_dir, "--spa-dir"
    elif override := os.environ.get("OAUTH_BRIDGE_DEMO_STATIC"):
        candidate, source = Path(override), "OAUTH_BRIDGE_DEMO_STATIC"
    else:
        candidate, source = DEMO_SPA_DIR, ""
    if not (candidate / "index.html").is_file():
        if source:
            raise ConfigError(
                f"{source} {candidate} has no index.html; point it at your SPA's folder"
            )
        raise ConfigError(
            f"the demo SPA is not at {candidate}; run the demo from a source checkout "
            "(pip install -e .) or give your SPA's folder with --spa-dir"
        )
    return candidate.resolve()


class _QuietHandler(WSGIRequestHandler):
    """No per-request log lines: callback URLs carry authorization codes."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class _Server:
    name: str
    server: BaseWSGIServer
    thread: threading.Thread


@dataclass
class DemoStack:
    """The three demo servers; :meth:`start` brings them up, :meth:`stop` takes them down.

    Tests use this directly (with real Redis and a key prefix of their own); ``run_demo`` adds
    the printed instructions and waits for Ctrl-C.
    """

    bridge_port: int = 8080
    spa_port: int = 8081
    emulator_port: int = 9000
    emulator_api_port: int = 9001
    token_ttl: int = 3600
    redis_url: str | None = None
    redis_key_prefix: str = field(
        default_factory=lambda: f"oauth_bridge:demo:{secrets.token_hex(6)}:"
    )
    static_dir: Path | None = None
    """The SPA's folder (default: :func:`find_static_dir`)."""
    spa_origins: tuple[str, ...] = ()
    """More origins whose SPAs may use the bridge (an SPA you serve yourself, e.g. a dev server),
    besides the demo's own SPA server."""
    portal_port: int | None = None
    """Also serve a portal page on another site that frames the SPA (``demo --portal``); the
    session cookie is then ``SameSite=None; Partitioned`` (Secure, which localhost allows)."""
    host: str = "127.0.0.1"
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    """Extra bridge settings (tests: e.g. ``refresh_margin``)."""
    settings: Settings | None = None
    bridge_app: Flask | None = None
    emulator: Any = None
    client_guid: str = ""
    _servers: list[_Server] = field(default_factory=list)

    @property
    def bridge_url(self) -> str:
        return f"http://localhost:{self.bridge_port}"

    @property
    def spa_url(self) -> str:
        return f"http://localhost:{self.spa_port}/"

    @property
    def spa_origin(self) -> str:
        return f"http://localhost:{self.spa_port}"

    @property
    def portal_url(self) -> str | None:
        """The portal page, on ``127.0.0.1``: another site than ``localhost`` for the browser."""
        return None if self.portal_port is None else f"http://127.0.0.1:{self.portal_port}/"

    @property
    def portal_origin(self) -> str | None:
        return None if self.portal_port is None else f"http://127.0.0.1:{self.portal_port}"

    @property
    def looker_url(self) -> str:
        return f"http://{self.host}:{self.emulator_port}"

    @property
    def looker_api_url(self) -> str:
        return f"http://{self.host}:{self.emulator_api_port}"

    def start(self) -> None:
        """Start emulator, register the client, start bridge and SPA; undo all on failure."""
        static_dir = self.static_dir or find_static_dir()
        try:
            self._start_emulator()
            redirect_uri = f"{self.bridge_url}/auth/callback"
            from oauth_bridge.looker.registration import register_client

            # Same code path as `oauth-bridge register-client`. verify_ssl=False: plain http.
            self.client_guid = register_client(
                base_url=self.looker_api_url,
                client_id=ADMIN_API3[0],
                client_secret=ADMIN_API3[1],
                redirect_uri=redirect_uri,
                verify_ssl=False,
                display_name="oauth_bridge demo",
            )
            framed = {"cookie_secure": True, "cookie_samesite": "None"} if self.portal_port else {}
            self.settings = load_settings(
                {},
                looker_url=self.looker_url,
                looker_api_url=self.looker_api_url,
                client_id=self.client_guid,
                redirect_uri=redirect_uri,
                secret_key=secrets.token_urlsafe(32),
                token_keys=(Fernet.generate_key(),),
                cors_origins=tuple(dict.fromkeys((self.spa_origin, *self.spa_origins))),
                app_url=self.spa_url,
                redis_url=self.redis_url,
                redis_key_prefix=self.redis_key_prefix,
                **{"cookie_secure": False, **framed, **self.settings_overrides},
            )
            from oauth_bridge.factory import create_app

            self.bridge_app = create_app(self.settings)
            self._serve("bridge", self.bridge_app, self.bridge_port, "--port")
            ancestors = (self.portal_origin,) if self.portal_origin else ()
            spa = create_spa_app(static_dir, self.bridge_url, ancestors)
            self._serve("SPA", spa, self.spa_port, "--spa-port")
            if self.portal_port is not None:
                portal = create_portal_app(self.spa_url, self.spa_origin)
                self._serve("portal", portal, self.portal_port, "--portal-port")
        except BaseException:
            self.stop()
            raise

    def _start_emulator(self) -> None:
        from oauth_bridge.emulator import EmulatorConfig, EmulatorServer

        config = EmulatorConfig(token_ttl=self.token_ttl)
        try:
            emulator = EmulatorServer(
                config, host=self.host, port=self.emulator_port, api_port=self.emulator_api_port
            )
        except (OSError, SystemExit) as exc:
            # Werkzeug exits (SystemExit) when a port is taken; say which flags change it.
            raise ConfigError(
                f"cannot serve the Looker emulator on ports {self.emulator_port} and "
                f"{self.emulator_api_port} (in use?); choose others with --emulator-port and "
                "--emulator-api-port"
            ) from exc
        self.emulator = emulator.start()
        # Port 0 means "any free port": remember the ones the emulator got.
        self.emulator_port, self.emulator_api_port = emulator.port, emulator.api_port

    def _serve(self, name: str, app: Flask, port: int, flag: str) -> None:
        try:
            server = make_server(self.host, port, app, threaded=True, request_handler=_QuietHandler)
        except (OSError, SystemExit) as exc:
            # Werkzeug exits (SystemExit) when the port is taken; say which flag changes it.
            raise ConfigError(
                f"cannot serve the {name} on port {port} (in use?); choose another with {flag}"
            ) from exc
        thread = threading.Thread(
            target=server.serve_forever, name=f"demo-{name}", kwargs={"poll_interval": 0.2}
        )
        thread.daemon = True
        thread.start()
        self._servers.append(_Server(name, server, thread))

    def stop(self) -> None:
        """Stop the servers (newest first) and forget this run's sessions."""
        while self._servers:
            entry = self._servers.pop()
            entry.server.shutdown()
            entry.server.server_close()
            entry.thread.join(timeout=5)
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        self._close_store()

    def _close_store(self) -> None:
        if self.bridge_app is not None:
            from oauth_bridge.factory import close_app

            close_app(self.bridge_app)
            self.bridge_app = None
        if self.settings is None:
            return
        if not delete_prefixed_keys(self.settings):
            log.warning("could not remove the demo's session keys from Redis")
        self.settings = None


def redis_if_reachable(url: str | None, out: TextIO) -> str | None:
    """The Redis URL when it answers a PING (any ``REDIS_URL`` form), else ``None`` with a
    one-line notice."""
    if not url:
        print(
            "Notice: OAUTH_BRIDGE_REDIS_URL is not set; sessions live in memory for this demo.",
            file=out,
        )
        return None
    if not answers_ping(url, timeout=1.0):
        print(
            "Notice: Redis at OAUTH_BRIDGE_REDIS_URL did not answer; sessions live in memory.",
            file=out,
        )
        return None
    return url


def describe(stack: DemoStack, store: str) -> str:
    """What the demo prints once it is ready: where to go and whom to sign in as."""
    users = "\n".join(
        f"    {user.email:<22} password {user.password:<16} ({user.role})" for user in SEED_USERS
    )
    lines = ["oauth_bridge demo is ready.", f"  Open the demo app:  {stack.spa_url}"]
    if stack.static_dir is not None and stack.static_dir != DEMO_SPA_DIR:
        lines.append(f"  (serving your SPA from {stack.static_dir})")
    if stack.spa_origins:
        also = ", ".join(stack.spa_origins)
        lines.append(f"  Also allowed:       {also}  (your own SPA servers)")
    if stack.portal_url:
        lines.append(
            f"  Or in a portal:     {stack.portal_url}  (another site frames the app; "
            "sign-in opens a pop-up)"
        )
    lines += [
        f"  Bridge:             {stack.bridge_url}  (sessions: {store})",
        f"  Looker emulator:    {stack.looker_url} (UI), {stack.looker_api_url} (API)",
        f"  OAuth client_guid:  {stack.client_guid}",
        "  Sign in as one of:",
        users,
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


@contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into a clean stop (main thread only, as Python requires)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


DEFAULT_PORTS = {
    "bridge": 8080,
    "spa": 8081,
    "portal": 8082,
    "emulator": 9000,
    "emulator_api": 9001,
}
"""The demo's ports when none is asked for; one that is taken is replaced by a free one."""


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (as Werkzeug binds: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def choose_ports(host: str, asked: dict[str, int | None], out: TextIO) -> dict[str, int]:
    """A port per server: the one asked for as given (a taken one then fails with its flag), or
    the default, or a free port with a notice when the default is taken. The emulator's two
    ports move together, so its API host stays next to its UI host when it can."""
    chosen: dict[str, int] = {}
    moved: list[str] = []
    for name, port in asked.items():
        if port is not None:
            chosen[name] = port
            continue
        default = DEFAULT_PORTS[name]
        if port_is_free(host, default) and default not in chosen.values():
            chosen[name] = default
        else:
            chosen[name] = free_port(host)
            moved.append(f"{name.replace('_', ' ')} {default} -> {chosen[name]}")
    if moved:
        print(
            f"Notice: default ports in use, using free ones instead: {', '.join(moved)}.", file=out
        )
    return chosen


def run_demo(
    *,
    host: str = "127.0.0.1",
    bridge_port: int | None = None,
    spa_port: int | None = None,
    emulator_port: int | None = None,
    emulator_api_port: int | None = None,
    token_ttl: int = 3600,
    redis_url: str | None = None,
    portal_port: int | None = None,
    portal: bool = False,
    spa_dir: Path | None = None,
    spa_origins: tuple[str, ...] = (),
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the demo until Ctrl-C/SIGTERM (or ``stop`` is set), then shut everything down.

    A port left ``None`` is its :data:`DEFAULT_PORTS` entry, or a free one when that is taken;
    a port asked for that is taken raises :class:`ConfigError` (one line naming its flag).
    ``redis_url`` defaults to ``OAUTH_BRIDGE_REDIS_URL``; an unreachable Redis falls back to the
    in-memory store with a notice. ``portal`` (or a ``portal_port``) also serves the portal page.
    ``spa_dir`` serves your own SPA instead of ``static/``; ``spa_origins`` (and
    ``OAUTH_BRIDGE_CORS_ORIGINS``) let SPAs you serve yourself use the bridge too.
    """
    out = out or sys.stdout
    stop = stop or threading.Event()
    static_dir = find_static_dir(spa_dir)
    if spa_dir is not None and (static_dir / "config.js").is_file():
        print(
            f"Notice: {static_dir / 'config.js'} is not served: /config.js is the demo's own "
            "(export const BRIDGE_URL).",
            file=out,
        )
    origins = parse_origins(os.environ.get("OAUTH_BRIDGE_CORS_ORIGINS", ""))
    for value in spa_origins:
        try:
            origins += parse_origins(value)
        except ConfigError:
            raise ConfigError(
                f"--spa-origin must be a bare origin like http://localhost:5173, got {value!r}"
            ) from None
    url = redis_if_reachable(redis_url or os.environ.get("OAUTH_BRIDGE_REDIS_URL"), out)
    asked: dict[str, int | None] = {
        "bridge": bridge_port,
        "spa": spa_port,
        "emulator": emulator_port,
        "emulator_api": emulator_api_port,
    }
    if portal or portal_port is not None:
        asked["portal"] = portal_port
    ports = choose_ports(host, asked, out)
    stack = DemoStack(
        bridge_port=ports["bridge"],
        spa_port=ports["spa"],
        emulator_port=ports["emulator"],
        emulator_api_port=ports["emulator_api"],
        token_ttl=token_ttl,
        redis_url=url,
        portal_port=ports.get("portal"),
        host=host,
        static_dir=static_dir,
        spa_origins=origins,
    )
    with _stop_signals(stop):
        stack.start()
        try:
            print(describe(stack, "Redis" if url else "in memory"), file=out, flush=True)
            while not stop.wait(0.5):
                pass
            print("Stopping the demo…", file=out, flush=True)
        finally:
            stack.stop()
    print("Demo stopped.", file=out, flush=True)
