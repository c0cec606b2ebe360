"""Plumbing for bench/run.py: start and stop servers, drive wrk, read a worker's memory.

Everything here talks to real processes on loopback; nothing is simulated. Servers are started in
their own process group so stopping one also stops its workers, and only the groups this module
started are ever signalled.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@dataclass
class Service:
    """A server process (and its children) started by the benchmark."""

    name: str
    argv: Sequence[str]
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = REPO_ROOT
    log_dir: Path = Path("/tmp")
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, timeout: float = 30.0) -> Service:
        env = {**os.environ, **self.env}
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            wait_port(self.port, timeout, self.proc)
        except Exception:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} did not start; log tail:\n{tail}") from None
        return self

    def child_pids(self) -> list[int]:
        """Direct children of the server process (gunicorn's or node cluster's workers)."""
        if self.proc is None:
            return []
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # the command name may hold spaces; the parent pid follows its closing ")"
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                found.append(int(stat.parent.name))
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and its workers so far."""
        if self.proc is None:
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.proc.pid, *self.child_pids()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / ticks

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        self.proc = None

    def __enter__(self) -> Service:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_tool(command: str, package: str) -> str:
    """The path of ``command``, installing Debian's ``package`` with apt-get when missing."""
    found = shutil.which(command)
    if found:
        return found
    print(f"installing {package} with apt-get (needed: {command})", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)
    found = shutil.which(command)
    if not found:
        raise RuntimeError(f"{command} is still missing after installing {package}")
    return found


def _node_modules_match_lock(peers: Path) -> bool:
    """True when npm's record of what is installed (node_modules/.package-lock.json) names the
    same packages at the same versions as package-lock.json."""
    try:
        lock = json.loads((peers / "package-lock.json").read_text())["packages"]
        installed = json.loads((peers / "node_modules" / ".package-lock.json").read_text())
    except (OSError, ValueError, KeyError):
        return False
    wanted = {k: v.get("version") for k, v in lock.items() if k}
    have = {k: v.get("version") for k, v in installed.get("packages", {}).items() if k}
    return wanted == have


def ensure_node_modules() -> None:
    """``npm ci`` in bench/peers when its node_modules is missing or differs from the lock."""
    peers = BENCH_DIR / "peers"
    if _node_modules_match_lock(peers):
        return
    ensure_tool("node", "nodejs")
    npm = ensure_tool("npm", "npm")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=peers, check=True
    )


def run_wrk(
    url: str, connections: int, seconds: int, headers: Mapping[str, str] | None = None
) -> dict[str, float]:
    """One wrk run; returns rps, p50/p90/p99/max in ms, requests and error counts."""
    wrk = ensure_tool("wrk", "wrk")
    argv = [
        wrk,
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH_DIR / "wrk_report.lua"),
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result: dict[str, float] = json.loads(line[len("WRK_JSON ") :])
            return result
    raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")


def proc_status_kib(pid: int, field_name: str) -> int:
    """A ``VmRSS``/``VmHWM`` style figure (KiB) from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (writing 5 to clear_refs); False when not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class BurstResult:
    ok: int
    failed: int
    wall_seconds: float
    statuses: dict[str, int]
    failure_samples: list[str]


async def _one_request(
    port: int, path: str, headers: Mapping[str, str], timeout: float
) -> tuple[str, str]:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), timeout=timeout
    )
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n{head}"
        writer.write((request + "Connection: close\r\n\r\n").encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=timeout)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    status_line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ")
    status = parts[1] if len(parts) > 1 else "no_answer"
    body = data.partition(b"\r\n\r\n")[2][:300].decode("utf-8", "replace")
    return status, body


async def _burst(
    port: int, path: str, headers: Mapping[str, str], count: int, timeout: float
) -> BurstResult:
    start = time.monotonic()
    results = await asyncio.gather(
        *(_one_request(port, path, headers, timeout) for _ in range(count)),
        return_exceptions=True,
    )
    wall = time.monotonic() - start
    statuses: dict[str, int] = {}
    samples: list[str] = []
    for result in results:
        if isinstance(result, BaseException):
            key, body = type(result).__name__, str(result)
        else:
            key, body = result
        statuses[key] = statuses.get(key, 0) + 1
        if key != "200" and len(samples) < 3:
            samples.append(f"{key} {body}")
    ok = statuses.get("200", 0)
    return BurstResult(ok, count - ok, wall, statuses, samples)


def burst(
    port: int, path: str, headers: Mapping[str, str], count: int, timeout: float = 60.0
) -> BurstResult:
    """``count`` simultaneous GETs, each on its own connection; counts the 200 answers."""
    return asyncio.run(_burst(port, path, headers, count, timeout))


def download(port: int, path: str, headers: Mapping[str, str]) -> tuple[int, float]:
    """GET ``path`` and discard the body; returns (bytes, seconds)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        start = time.monotonic()
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"download of {path} answered {response.status}")
        total = 0
        while chunk := response.read(1024 * 1024):
            total += len(chunk)
        response.close()
        return total, time.monotonic() - start
    finally:
        conn.close()


FIXED_USER_JSON = '{"id":"1","display_name":"Ada Admin","email":"admin@example.com"}'
"""What the fixed upstream answers to ``GET /api/4.0/user`` (issue 12: the upstream costs ~0)."""


def _nginx_conf(directory: Path, workers: int, server_block: str) -> str:
    """A complete nginx.conf runnable unprivileged: pid, logs and temp paths under ``directory``."""
    temps = "\n".join(
        f"    {name}_temp_path {directory / (name + '_temp')};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes {workers};
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temps}
{server_block}
}}
"""


def nginx_service(name: str, port: int, server_block: str, log_dir: Path, workers: int) -> Service:
    """nginx (``daemon off;``, own prefix dir) running ``server_block`` inside its http block."""
    directory = log_dir / f"{name}-nginx"
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(_nginx_conf(directory, workers, server_block))
    nginx = ensure_tool("nginx", "nginx")
    argv = [nginx, "-p", str(directory), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"]
    return Service(name, argv, port, log_dir=log_dir)


def fixed_upstream(port: int, log_dir: Path, workers: int) -> Service:
    """``GET /api/4.0/user`` answered by nginx itself with a fixed JSON (the limit leg)."""
    block = f"""    server {{
        listen 127.0.0.1:{port};
        location = /api/4.0/user {{
            default_type application/json;
            return 200 '{FIXED_USER_JSON}';
        }}
    }}"""
    return nginx_service("a_fixed_upstream", port, block, log_dir, workers)


def bare_nginx_proxy(
    port: int, upstream_port: int, token: str, log_dir: Path, workers: int
) -> Service:
    """A bare ``proxy_pass`` with a fixed token: the floor of any proxy hop."""
    block = f"""    upstream fixed {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location /api/4.0/ {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Cookie "";
            proxy_set_header Authorization "Bearer {token}";
            proxy_pass http://fixed;
        }}
    }}"""
    return nginx_service("b_nginx_proxy", port, block, log_dir, workers)
