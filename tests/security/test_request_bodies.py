"""Request bodies and slow clients, against gunicorn as the Procfile runs it (raw sockets).

A refused request is answered before its body is read and its connection closed; a signed-in
body is streamed to Looker, bounded in memory, time and number; a malformed or truncated body is a
400 (or an aborted upstream request), never a 500 and never a shorter body passed on as whole.
Figures from a bigger run are in docs/security.md ("Request bodies and slow clients").
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer
from tests.support.bridge import SEED_USERS
from tests.support.emulator import browser_sign_in
from tests.support.gunicorn import GunicornFactory, Instance
from tests.support.security_tools import CSRF

MIB = 1024 * 1024
COOKIE = "looker_session"  # the gunicorn fixture runs with COOKIE_SECURE=false


# --------------------------------------------------------------------------- helpers
def sign_in(instance: Instance, who: str = "admin") -> str:
    """A signed-in session cookie value on ``instance``."""
    with requests.Session() as http:
        page = browser_sign_in(
            http, f"{instance.url}/auth/login?return_to=/auth/session", *SEED_USERS[who]
        )
        assert page.status_code == 200, page.text[:300]
        return str(http.cookies[COOKIE])


def head(
    instance: Instance,
    method: str,
    path: str,
    *,
    cookie: str = "",
    length: int | None = None,
    chunked: bool = False,
    csrf: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: localhost:{instance.port}"]
    if csrf:
        lines += [f"{name}: {value}" for name, value in CSRF.items()]
    if cookie:
        lines.append(f"Cookie: {COOKIE}={cookie}")
    lines.append("Content-Type: application/json")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def connect(instance: Instance, timeout: float = 15) -> socket.socket:
    return socket.create_connection(("127.0.0.1", instance.port), timeout=timeout)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body, read until the server closes."""
    chunks: list[bytes] = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass  # the server closed with our unread body in its buffer: what it sent is read
    raw = b"".join(chunks)
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), raw[:200]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        size_line, _, rest = body.partition(b"\r\n")
        body = rest[: int(size_line, 16)]
    return int(lines[0].split()[1]), headers, body


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"])


def worker_pids(instance: Instance) -> list[int]:
    pid = instance.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert children, "gunicorn has no workers"
    return [int(child) for child in children]


def memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def wait_for(condition: object, what: str, timeout: float = 20) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def log_lines(instance: Instance, needle: str) -> list[str]:
    return [line for line in instance.output().splitlines() if needle in line]


def reached_looker(emulator: EmulatorServer, method: str, path: str) -> list[int]:
    """Body sizes of the requests Looker (the emulator) received whole for ``method path``."""
    log = emulator.state.request_log
    return [r.body_size for r in log if (r.method, r.path) == (method, path)]


@dataclass
class Bridge:
    instance: Instance
    emulator: EmulatorServer


Start = Callable[..., Bridge]


@pytest.fixture
def start(
    gunicorn_factory: GunicornFactory, emulator_factory: Callable[..., EmulatorServer]
) -> Start:
    """``start(gunicorn_args=(), **settings)``: a gunicorn bridge logging warnings and up, with
    its emulator."""

    def start_one(gunicorn_args: tuple[str, ...] = (), **settings: str) -> Bridge:
        emulator = emulator_factory(token_ttl=3600)
        instance = gunicorn_factory(
            emulator=emulator, gunicorn_args=gunicorn_args, LOG_LEVEL="WARNING", **settings
        )
        return Bridge(instance, emulator)

    return start_one


def memory_growth(
    worker: int, count: int, upload: Callable[[threading.Barrier], None]
) -> dict[str, int]:
    """Run ``count`` uploads at once; each waits on the barrier with all but its last byte sent.
    The worker's growth in KiB: resident while they wait, peak, and resident after."""
    before = memory_kib(worker, "VmRSS")
    barrier = threading.Barrier(count + 1, timeout=120)
    threads = [threading.Thread(target=upload, args=(barrier,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    during = memory_kib(worker, "VmRSS")
    for thread in threads:
        thread.join(timeout=120)
    return {
        "during": during - before,
        "peak": memory_kib(worker, "VmHWM") - before,
        "after": memory_kib(worker, "VmRSS") - before,
    }


# --------------------------------------------------------------------------- item 1
@pytest.mark.parametrize(
    ("cookie", "csrf", "path", "length", "status", "code"),
    [
        ("", True, "/api/4.0/looks", 5 * MIB, 401, "not_authenticated"),
        ("not-a-session.x", True, "/api/4.0/looks", 5 * MIB, 401, "not_authenticated"),
        ("", False, "/api/4.0/looks", 5 * MIB, 403, "csrf_header_missing"),
        ("", True, "/api/4.0/looks/%2e%2e/token", 5 * MIB, 400, "invalid_path"),
        ("", True, "/api/4.0/looks", 50 * MIB, 413, "payload_too_large"),
    ],
)
def test_a_refused_request_is_answered_before_its_body_arrives_and_closed(
    start: Start,
    cookie: str,
    csrf: bool,
    path: str,
    length: int,
    status: int,
    code: str,
) -> None:
    """The body is never sent: an answer can only come if the bridge did not wait for it."""
    bridge = start(MAX_BODY_BYTES=str(10 * MIB))
    instance = bridge.instance
    with connect(instance) as sock:
        sock.sendall(head(instance, "POST", path, cookie=cookie, length=length, csrf=csrf))
        answer_status, headers, body = read_answer(sock)  # read until the server closes
    assert (answer_status, error_code(body)) == (status, code)
    assert headers["connection"] == "close"
    assert reached_looker(bridge.emulator, "POST", "/api/4.0/looks") == []


def test_big_anonymous_bodies_leave_worker_memory_bounded(start: Start) -> None:
    """100 anonymous connections each declaring and sending 4 MiB (under a 10 MiB limit)."""
    bridge = start(gunicorn_args=("--workers", "1"), MAX_BODY_BYTES=str(10 * MIB))
    instance = bridge.instance
    (worker,) = worker_pids(instance)
    body = b"x" * (4 * MIB)
    statuses: list[int] = []

    def upload(all_but_last_byte_sent: threading.Barrier) -> None:
        with connect(instance, timeout=60) as sock:
            try:
                sock.sendall(head(instance, "POST", "/api/4.0/looks", length=len(body)))
                sock.sendall(body[:-1])
            except OSError:
                pass  # refused and closed before the body was in: the point
            all_but_last_byte_sent.wait()
            try:
                sock.sendall(body[-1:])
            except OSError:
                pass
            try:
                statuses.append(read_answer(sock)[0])
            except (OSError, AssertionError):
                pass

    grown = memory_growth(worker, 100, upload)
    assert max(grown.values()) < 48 * 1024, grown  # KiB; reading the bodies would be 400 MiB
    assert statuses and set(statuses) == {401}, statuses
    assert reached_looker(bridge.emulator, "POST", "/api/4.0/looks") == []


def test_signed_in_uploads_are_streamed_not_held(start: Start) -> None:
    """60 signed-in uploads of 1 MiB each, all in flight at once, reach Looker whole while the
    worker holds far less than the 60 MiB they add up to."""
    bridge = start(gunicorn_args=("--workers", "1"))
    instance = bridge.instance
    cookie = sign_in(instance)
    (worker,) = worker_pids(instance)
    body = b'"' + b"x" * (MIB - 2) + b'"'
    statuses: list[int] = []

    def upload(in_flight: threading.Barrier) -> None:
        with connect(instance, timeout=60) as sock:
            sock.sendall(head(instance, "POST", "/api/4.0/uploads", cookie=cookie, length=MIB))
            sock.sendall(body[:-1])
            in_flight.wait()
            sock.sendall(body[-1:])
            statuses.append(read_answer(sock)[0])

    grown = memory_growth(worker, 60, upload)
    assert statuses == [404] * 60  # Looker's answer to each complete upload
    assert reached_looker(bridge.emulator, "POST", "/api/4.0/uploads") == [MIB] * 60
    assert max(grown.values()) < 32 * 1024, grown  # KiB; holding them whole peaks near 70 MiB


# --------------------------------------------------------------------------- item 3
def test_bad_chunk_size_is_a_400_with_one_log_line(start: Start) -> None:
    bridge = start()
    instance = bridge.instance
    cookie = sign_in(instance)
    # a good chunked upload goes on to Looker whole
    with connect(instance) as sock:
        sock.sendall(head(instance, "POST", "/api/4.0/uploads", cookie=cookie, chunked=True))
        sock.sendall(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        assert read_answer(sock)[0] == 404
    assert reached_looker(bridge.emulator, "POST", "/api/4.0/uploads") == [11]
    for who in ("anonymous", "signed-in"):
        with connect(instance) as sock:
            sock.sendall(
                head(
                    instance,
                    "POST",
                    "/api/4.0/looks",
                    cookie=cookie if who == "signed-in" else "",
                    chunked=True,
                )
            )
            sock.sendall(b"zz\r\nhello\r\n0\r\n\r\n")
            status, headers, body = read_answer(sock)
        expected = (400, "malformed_body") if who == "signed-in" else (401, "not_authenticated")
        assert (status, error_code(body)) == expected, body
        assert headers["content-type"] == "application/json"
    assert reached_looker(bridge.emulator, "POST", "/api/4.0/looks") == []
    assert len(log_lines(instance, "malformed_body")) == 1, instance.output()[-3000:]
    assert "Traceback" not in instance.output()
    assert " ERROR " not in instance.output() and '"ERROR"' not in instance.output()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_cut_short_never_reaches_looker_as_complete(start: Start, framing: str) -> None:
    """The client declares 5,000 bytes (or sends chunks) and hangs up after 109."""
    bridge = start()
    instance = bridge.instance
    cookie = sign_in(instance)
    sent = b'{"title": "' + b"t" * 96 + b'"}'
    assert len(sent) == 109
    with connect(instance) as sock:
        if framing == "chunked":
            sock.sendall(head(instance, "PATCH", "/api/4.0/looks/1", cookie=cookie, chunked=True))
            sock.sendall(b"%x\r\n%s\r\n" % (len(sent), sent))
        else:
            sock.sendall(head(instance, "PATCH", "/api/4.0/looks/1", cookie=cookie, length=5000))
            sock.sendall(sent)
        time.sleep(0.5)  # let the bridge start on it, then hang up mid-body
    wait_for(
        lambda: (
            log_lines(instance, "incomplete_body")
            or "Traceback" in instance.output()
            or reached_looker(bridge.emulator, "PATCH", "/api/4.0/looks/1")
        ),
        "the bridge dealt with the early end",
    )
    assert reached_looker(bridge.emulator, "PATCH", "/api/4.0/looks/1") == []
    assert len(log_lines(instance, "incomplete_body")) == 1
    assert "Traceback" not in instance.output()
    with requests.get(
        f"{instance.url}/api/4.0/looks/1",
        headers={**CSRF, "Cookie": f"{COOKIE}={cookie}"},
        timeout=15,
    ) as look:
        assert look.status_code == 200
        assert look.json()["title"] != "t" * 96


# --------------------------------------------------------------------------- item 2
@contextmanager
def trickling(sockets: list[socket.socket], seconds: float) -> Iterator[dict[int, int]]:
    """Send each socket's body one byte per second for ``seconds``; yields the statuses read
    back (by socket index) once the trickle ends."""
    statuses: dict[int, int] = {}
    stop = threading.Event()

    def trickle() -> None:
        open_ones = dict(enumerate(sockets))
        deadline = time.monotonic() + seconds
        while open_ones and time.monotonic() < deadline and not stop.is_set():
            for index, sock in list(open_ones.items()):
                try:
                    sock.send(b"a")
                except OSError:
                    del open_ones[index]  # answered and closed by the bridge
            stop.wait(1)

    thread = threading.Thread(target=trickle, name="trickle")
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(timeout=30)
        read_until = time.monotonic() + 20
        for index, sock in enumerate(sockets):
            try:
                sock.settimeout(max(0.1, read_until - time.monotonic()))
                statuses[index] = read_answer(sock)[0]
            except (OSError, AssertionError):
                statuses[index] = 0


def test_slow_bodies_do_not_stall_the_bridge(start: Start) -> None:
    """300 anonymous and 60 signed-in connections sending a body a byte a second, plus 50 sending
    their headers that slowly, against 2 workers x 100 connections: /healthz and a signed-in GET
    still answer, anonymous bodies are refused at once, signed-in ones are bounded in number
    (503) and in time (408), and none reaches Looker."""
    bridge = start(
        BODY_READ_TIMEOUT="3",
        MAX_BODY_UPLOADS="20",
        gunicorn_args=("--worker-connections", "100"),
    )
    instance = bridge.instance
    cookie = sign_in(instance)
    with ExitStack() as stack:
        anonymous = [stack.enter_context(connect(instance)) for _ in range(300)]
        signed_in = [stack.enter_context(connect(instance)) for _ in range(60)]
        slow_headers = [stack.enter_context(connect(instance)) for _ in range(50)]
        for sock in anonymous:
            sock.sendall(head(instance, "POST", "/api/4.0/slow", length=1000))
        for sock in signed_in:
            sock.sendall(head(instance, "POST", "/api/4.0/slow", cookie=cookie, length=1000))
        for sock in slow_headers:
            sock.sendall(b"POST /api/4.0/slow HTTP/1.1\r\nHost: x\r\n")
        with trickling(anonymous + signed_in + slow_headers, seconds=8) as statuses:
            time.sleep(1)
            for _ in range(3):
                with requests.get(f"{instance.url}/healthz", timeout=10) as health:
                    assert health.status_code == 200
                with requests.get(
                    f"{instance.url}/api/4.0/user",
                    headers={**CSRF, "Cookie": f"{COOKIE}={cookie}"},
                    timeout=10,
                ) as user:
                    assert user.status_code == 200
                time.sleep(1)
    anonymous_statuses = {statuses[i] for i in range(300)}
    signed_in_statuses = [statuses[300 + i] for i in range(60)]
    assert anonymous_statuses == {401}
    assert set(signed_in_statuses) <= {408, 503}, signed_in_statuses
    assert 408 in signed_in_statuses and signed_in_statuses.count(408) <= 40
    assert reached_looker(bridge.emulator, "POST", "/api/4.0/slow") == []
