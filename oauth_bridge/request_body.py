"""Request bodies for the proxy: read only once a request is allowed, streamed, and bounded.

The proxy checks cookie, session, CSRF header, Origin and path *before* it touches a body, so an
anonymous or refused request costs no body bytes at all (see docs/security.md, "Request bodies
and slow clients"). A body that is read goes through :class:`RequestBody`:

- exactly its framing: ``Content-Length`` bytes, no more (the next request's bytes stay on the
  socket) and no fewer (a client that hangs up early gives :class:`IncompleteBody`, never a
  shorter body passed on as if whole); a chunked body up to its last chunk;
- at most ``MAX_BODY_BYTES`` (413), in chunks of :data:`CHUNK_SIZE`, so a streamed upload holds
  one chunk, not the whole body;
- within ``BODY_READ_TIMEOUT`` seconds from its first read: a watchdog shuts the socket's read
  side at the deadline, which wakes a read that is waiting for a trickling client (a per-read
  socket timeout would not: a byte every few seconds resets it);
- while holding one of the worker's :class:`UploadGate` slots (503 with ``Retry-After`` when they
  are all taken), so bodies in flight in one process hold at most
  ``MAX_BODY_UPLOADS`` x a chunk (plus what the server reads ahead) and at most that many of the
  worker's connections.

A body left unread (a refusal, or Looker answering before it had it all) would otherwise be
drained by gunicorn byte by byte before the next request on the connection; :class:`CloseUnread`
makes the server close the connection after the answer instead.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, cast

from flask import Flask, current_app
from werkzeug.wsgi import get_content_length

from oauth_bridge.config import Settings
from oauth_bridge.errors import (
    BridgeError,
    IncompleteBody,
    MalformedBody,
    PayloadTooLarge,
    RequestTimeout,
    UploadsBusy,
)

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
"""What one read asks for, and what one streamed upload holds in this process at a time."""
REPLAY_BODY_LIMIT = 64 * 1024
"""Largest body a GET or HEAD may carry: it is held whole so the request can be replayed."""
EXTENSION_KEY = "oauth_bridge.request_body"
_CONSUMED = "oauth_bridge.body_consumed"
"""Set in the WSGI environ once the body has been read to its end."""

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Framing:
    """How the client said its body ends: a ``Content-Length``, chunked, or no body."""

    length: int | None
    chunked: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.length)


def framing_of(environ: dict[str, Any]) -> Framing:
    """The request's body framing, as the server parsed it (chunked wins over a length)."""
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "")
    chunked = isinstance(encoding, str) and "chunked" in encoding.lower()
    return Framing(length=None if chunked else get_content_length(environ), chunked=chunked)


def check_declared_size(framing: Framing, limit: int) -> None:
    """413 for a declared length over ``limit``, before a byte of the body is read."""
    if framing.length is not None and framing.length > limit:
        raise PayloadTooLarge()


class UploadGate:
    """At most ``size`` request bodies read at once in this worker process.

    Bounds the memory held by bodies in flight and the share of the worker's connections that
    uploads can hold, whoever sends them. Non-blocking: a full gate answers 503 at once rather
    than queueing more slow clients behind the slow ones.
    """

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)

    def take(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise UploadsBusy()

    def give_back(self) -> None:
        self._slots.release()


class RequestBody:
    """One request's body, read from the client once, chunk by chunk, under a deadline.

    Use it as a context manager around the upstream call: leaving it stops the watchdog and gives
    the gate slot back. Reading errors come out as :class:`BridgeError` subclasses (never
    ``OSError``), so urllib3 does not mistake them for an upstream failure: it drops the upstream
    connection mid-request and Looker never sees a complete request.
    """

    def __init__(
        self,
        environ: dict[str, Any],
        framing: Framing,
        *,
        limit: int,
        timeout: float,
        gate: UploadGate,
    ) -> None:
        self.environ = environ
        self.framing = framing
        self.limit = limit
        self.timeout = timeout
        self._gate = gate
        self._holding = False
        self._watchdog: threading.Timer | None = None
        self._expired = False

    def __enter__(self) -> RequestBody:
        if self.framing.has_body:
            self._gate.take()
            self._holding = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_watchdog()
        if self._holding:
            self._holding = False
            self._gate.give_back()

    def upstream_headers(self) -> dict[str, str]:
        """``Content-Length`` when the client declared one; a chunked body goes on chunked."""
        if self.framing.length is not None and self.framing.has_body:
            return {"Content-Length": str(self.framing.length)}
        return {}

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives; raises instead of ending early, so nothing half-sent looks
        complete."""
        if not self.framing.has_body:
            self.environ[_CONSUMED] = True
            return
        stream = cast(IO[bytes], self.environ["wsgi.input"])
        remaining = self.framing.length
        size = 0
        self._start_watchdog()
        while remaining is None or remaining > 0:
            wanted = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
            data = self._read(stream, wanted)
            if not data:
                if remaining is not None:
                    raise self._refused(IncompleteBody(), "ended early")
                break
            size += len(data)
            if size > self.limit:
                raise PayloadTooLarge()
            if remaining is not None:
                remaining -= len(data)
            yield data
        self._stop_watchdog()
        self.environ[_CONSUMED] = True

    def read_all(self, limit: int) -> bytes:
        """The whole body, for a request that may be replayed; 413 beyond ``limit``."""
        check_declared_size(self.framing, limit)
        self.limit = min(self.limit, limit)
        return b"".join(self.chunks())

    # -------------------------------------------------------------------------- internals
    def _read(self, stream: IO[bytes], wanted: int) -> bytes:
        try:
            return stream.read(wanted)
        except OSError as exc:  # a reset, the watchdog, gunicorn's NoMoreData (early end)
            raise self._refused(IncompleteBody(), type(exc).__name__) from None
        except Exception as exc:  # the server's parse errors: bad chunk size, bad trailer
            raise self._refused(MalformedBody(), type(exc).__name__) from None

    def _refused(self, error: BridgeError, detail: str) -> BridgeError:
        if self._expired:
            error = RequestTimeout()
        log.warning("request body refused (%s): %s", error.code, detail)
        return error

    def _start_watchdog(self) -> None:
        sock = self.environ.get("gunicorn.socket") or self.environ.get("werkzeug.socket")
        if not isinstance(sock, socket.socket) or self._watchdog is not None:
            return
        self._watchdog = threading.Timer(self.timeout, self._expire, args=(sock,))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self, sock: socket.socket) -> None:
        self._expired = True
        try:
            sock.shutdown(socket.SHUT_RD)  # wakes the waiting read with end-of-stream
        except OSError:
            pass  # already closed

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()


def open_body(framing: Framing, settings: Settings) -> RequestBody:
    """This request's body under the app's gate and the configured limit and deadline."""
    from flask import request

    gate: UploadGate = current_app.extensions[EXTENSION_KEY]
    return RequestBody(
        request.environ,
        framing,
        limit=settings.max_body_bytes,
        timeout=settings.body_read_timeout,
        gate=gate,
    )


class CloseUnread:
    """WSGI middleware: close the connection after answering a request whose body was not read.

    Left on a keep-alive connection, the unread bytes are the next thing the server reads: gunicorn
    drains them before parsing the next request, so a refused anonymous upload would still be
    received in full. A WSGI application may not send hop-by-hop headers (PEP 3333), so this asks
    the server itself: gunicorn's ``start_response`` is a method of its response object, whose
    ``force_close`` its own workers use (it then answers ``Connection: close``); Werkzeug's
    development server closes every connection anyway.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if framing_of(environ).has_body and not environ.get(_CONSUMED):
                server_response = getattr(start_response, "__self__", None)
                force_close = getattr(server_response, "force_close", None)
                if callable(force_close):
                    force_close()
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def init_app(app: Flask, settings: Settings) -> None:
    """Give ``app`` its upload gate and close connections whose body stayed unread."""
    app.extensions[EXTENSION_KEY] = UploadGate(settings.max_body_uploads)
    app.wsgi_app = CloseUnread(app.wsgi_app)  # type: ignore[method-assign]
