"""Running the emulator: two threaded werkzeug servers (UI host, API host) over one state.

:class:`EmulatorServer` runs them in background threads for tests and the demo;
:func:`serve_forever` runs them in the foreground for ``oauth-bridge emulator`` and stops cleanly
on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from oauth_bridge.emulator.api_host import create_api_app
from oauth_bridge.emulator.config import EmulatorConfig
from oauth_bridge.emulator.seed import SEED_USERS
from oauth_bridge.emulator.state import EmulatorState
from oauth_bridge.emulator.ui_host import create_ui_app

log = logging.getLogger("oauth_bridge.emulator")


class _QuietHandler(WSGIRequestHandler):
    """Logs method, path (never the query string: it may hold codes) and status at DEBUG."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        log.debug("%s %s %s %s", self.address_string(), self.command, path, code)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        log.debug(message, *args)


class _Serving:
    def __init__(self, server: BaseWSGIServer, name: str) -> None:
        self.server = server
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.stopped = False

    def _run(self) -> None:
        self.server.serve_forever(poll_interval=0.05)  # quick shutdown between tests

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.thread.join(timeout=10)
            self.server.server_close()


class EmulatorServer:
    """A running emulator; ``port=0`` / ``api_port=0`` pick free ports.

    >>> with EmulatorServer(EmulatorConfig(), port=0, api_port=0) as emu:
    ...     emu.api_url  # doctest: +SKIP
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_port: int = 0,
    ) -> None:
        self.state = EmulatorState(config or EmulatorConfig())
        self.host = host
        self._ui = _Serving(self._make(host, port, create_ui_app(self.state)), "emulator-ui")
        self._api = _Serving(self._make(host, api_port, create_api_app(self.state)), "emulator-api")
        self.port = self._ui.server.server_port
        self.api_port = self._api.server.server_port
        self.ui_url = f"http://{host}:{self.port}"
        self.api_url = f"http://{host}:{self.api_port}"
        self.state.ui_url = self.ui_url
        self.state.api_url = self.api_url
        self._started = False

    @staticmethod
    def _make(host: str, port: int, app: Any) -> BaseWSGIServer:
        return make_server(host, port, app, threaded=True, request_handler=_QuietHandler)

    def start(self) -> EmulatorServer:
        if not self._started:
            self._started = True
            self._ui.thread.start()
            self._api.thread.start()
        return self

    def stop_api(self) -> None:
        """Take the API host down (the UI host keeps running): Looker's API is unreachable."""
        if self._started:
            self._api.stop()
        else:
            self._api.server.server_close()
            self._api.stopped = True

    def stop(self) -> None:
        for serving in (self._ui, self._api):
            if self._started:
                serving.stop()
            elif not serving.stopped:
                serving.stopped = True
                serving.server.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(
    config: EmulatorConfig, host: str = "127.0.0.1", port: int = 9000, api_port: int = 9001
) -> None:
    """Serve until Ctrl-C or SIGTERM; prints both URLs first."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_signal)
    with EmulatorServer(config, host, port, api_port) as emulator:
        print(f"Looker emulator UI host:  {emulator.ui_url}", flush=True)
        print(f"Looker emulator API host: {emulator.api_url}", flush=True)
        users = ", ".join(f"{user.email} / {user.password}" for user in SEED_USERS)
        print(f"Seed users: {users}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
