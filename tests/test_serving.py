"""Connections with limits, against a real hub: slow headers and stalled bodies are cut off,
a flood of half-sent requests cannot take every file descriptor, and clients that leave
cost one log line."""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import pytest

from mcp_integrations.cli import parser, settings_from
from tests.helpers import free_port, wait_until
from tests.serve import Served, serve

FLOOD = 1100
#: The flood holds one socket a connection in this test process, and a few to spare.
OWN_FILES = FLOOD + 300


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_to_close(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the hub sends until it closes the connection (TimeoutError if it doesn't)."""
    sock.settimeout(timeout)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def closed_by_hub(sock: socket.socket) -> bool:
    """True once the hub has closed ``sock`` (reset: it never read what was sent)."""
    try:
        return read_to_close(sock, timeout=5) == b""
    except ConnectionResetError:
        return True


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response with a ``content-length``: its head and its body."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def upload_head(length: int, path: str = "/integrations/install") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def fresh_client_healthy(hub: Served) -> bool:
    """``/health`` answers 200 on a new connection (``hub.http`` may hold an older one)."""
    try:
        return httpx.get(f"http://127.0.0.1:{hub.port}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_takes_the_limits_as_flags() -> None:
    args = parser().parse_args(["serve"])
    settings = settings_from(args, {})
    assert (settings.header_timeout, settings.body_timeout) == (10, 30)
    assert settings.max_connections is None
    flags = ["--header-timeout", "2.5", "--body-timeout", "4", "--max-connections", "7"]
    settings = settings_from(parser().parse_args(["serve", *flags]), {})
    assert (settings.header_timeout, settings.body_timeout, settings.max_connections) == (2.5, 4, 7)
    for flag in ("--header-timeout", "--body-timeout", "--max-connections"):
        with pytest.raises(SystemExit):
            parser().parse_args(["serve", flag, "0"])


def test_slow_request_headers_close_the_connection(tmp_path: Path) -> None:
    with serve(sys.executable, tmp_path / "data", args=["--header-timeout", "1"]) as hub:
        with connect(hub.port) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.")
            started = time.monotonic()
            assert read_to_close(sock) == b""
            assert 0.8 < time.monotonic() - started < 5

        with connect(hub.port) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["status"] == "ok"
            sock.sendall(b"GET /hea")
            started = time.monotonic()
            assert read_to_close(sock) == b""
            # Sooner than the keep-alive timeout (5 s), which the sent bytes have stopped.
            assert 0.8 < time.monotonic() - started < 4


def test_a_stalled_body_is_answered_408(tmp_path: Path) -> None:
    with serve(sys.executable, tmp_path / "data", args=["--body-timeout", "1"]) as hub:
        with connect(hub.port) as sock:
            sock.sendall(upload_head(1000) + b'{"source": "comm')
            started = time.monotonic()
            response = read_to_close(sock)
            assert time.monotonic() - started > 0.8
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
        assert b"connection: close" in head.lower()
        assert json.loads(body)["error"]["code"] == "request_timeout"
        assert hub.http.get("/integrations").json() == {"integrations": []}


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("/integrations/install", "client went away during POST /integrations/install"),
        ("/mcp", "Error handling POST request: the client went away"),
    ],
)
def test_an_aborted_upload_is_one_line_without_a_traceback(
    tmp_path: Path, path: str, line: str
) -> None:
    log = tmp_path / "hub.log"
    with serve(sys.executable, tmp_path / "data", log=log) as hub:
        with connect(hub.port) as sock:
            sock.sendall(upload_head(100_000, path) + b"x" * 5000)
        wait_until(lambda: line in log.read_text(), what="the aborted upload's line")
        assert hub.http.get("/health").status_code == 200
        wait_until(lambda: '"GET /health' in log.read_text(), what="the next request's line")
        text = log.read_text()
    assert text.count(line) == 1
    assert "Traceback" not in text and "Exception in ASGI" not in text and " 500" not in text


@pytest.fixture
def own_files() -> Iterator[None]:
    """Enough descriptors in this process for the flood, the previous limit restored after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < OWN_FILES:
        pytest.skip(f"the hard open-files limit ({hard}) is too low for {FLOOD} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, OWN_FILES), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def half_sent_requests(port: int, count: int, stack: ExitStack) -> list[socket.socket]:
    """``count`` connections that each sent part of a request line, held open by ``stack``."""
    socks = [stack.enter_context(connect(port)) for _ in range(count)]
    for sock in socks:
        with suppress(BrokenPipeError, ConnectionResetError):  # closed already: past the cap
            sock.sendall(b"GET /heal")
    return socks


@pytest.mark.usefixtures("own_files")
def test_a_flood_of_half_sent_requests_leaves_the_hub_reachable(tmp_path: Path) -> None:
    log = tmp_path / "hub.log"
    args = ["--header-timeout", "3"]
    with serve(sys.executable, tmp_path / "data", args=args, log=log, nofile=(1024, 1024)) as hub:
        with ExitStack() as held:
            socks = half_sent_requests(hub.port, FLOOD, held)
            wait_until(lambda: "connection limit" in log.read_text(), what="the cap to be reached")
            # The default cap is a quarter of the limit: 256 connections, plus the hub's own.
            assert len(os.listdir(f"/proc/{hub.process.pid}/fd")) < 256 + 100
            assert not fresh_client_healthy(hub)
            wait_until(
                lambda: fresh_client_healthy(hub), what="the hub to answer once headers are late"
            )
            assert all(closed_by_hub(sock) for sock in socks)
        assert fresh_client_healthy(hub)
        text = log.read_text()
    trouble = [
        line for line in text.splitlines() if "Too many open files" in line or "limit" in line
    ]
    assert 1 <= len(trouble) <= 3, trouble
    assert "connection limit reached" in trouble[0]
    assert "Traceback" not in text


ACCEPTING_SERVER = """
import asyncio, logging, sys
from mcp_integrations.serving import quiet_log_floods

logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
failures = 0

def count(record):
    global failures
    failures += "out of system resource" in str(record.msg)
    return True

logging.getLogger("asyncio").addFilter(count)
quiet_log_floods()

async def main():
    held = []
    await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", int(sys.argv[1]))
    while failures < 150:
        await asyncio.sleep(0.05)
    print("failed accepts:", failures, flush=True)

asyncio.run(main())
"""


def test_accept_errors_are_logged_once_per_interval(tmp_path: Path) -> None:
    """asyncio logs each ``accept()`` that finds no descriptor, with a traceback: over 100 a
    second while connections wait; the hub lets one line through per 10 s."""
    port, log = free_port(), tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", ACCEPTING_SERVER, str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)),
        )
    try:
        with ExitStack() as held:

            def listening() -> bool:
                try:
                    held.enter_context(connect(port))
                except ConnectionRefusedError:
                    return False
                return True

            wait_until(listening, what="the server to listen")
            for _ in range(99):
                held.enter_context(connect(port))
            process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    failed = re.search(r"failed accepts: (\d+)", text)
    assert failed and int(failed[1]) >= 150, text
    lines = [line for line in text.splitlines() if "out of system resource" in line]
    assert len(lines) == 1 and "Too many open files" in lines[0], text
    assert "Traceback" not in text


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard < 256:
        pytest.skip(f"no finite hard open-files limit to test with ({hard})")
    with serve(sys.executable, tmp_path / "data", nofile=(hard // 2, hard)) as hub:
        limits = Path(f"/proc/{hub.process.pid}/limits").read_text()
        found = re.search(r"^Max open files +(\d+) +(\d+)", limits, re.MULTILINE)
        assert found and (int(found[1]), int(found[2])) == (hard, hard), limits
