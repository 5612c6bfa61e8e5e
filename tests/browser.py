"""A real headless Chromium, and a web server for the hostile page it visits, for tests of
what any site the user opens can make their browser do to the hub."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers import pid_alive, wait_until

CHROMIUM = Path("/usr/bin/chromium")

# No proxy from the environment, nothing fetched in the background. (Not
# --disable-crashpad-for-testing: Chromium 156's network service then crashes in a loop.)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-proxy-server",
)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
    }
)


def browser_processes(pgid: int, workdir: Path) -> list[int]:
    """Live processes (zombies aside) in process group ``pgid``, or whose command line names
    ``workdir``: the crash handler leaves the group, but its database is under our HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if (int(fields[2]) == pgid or str(workdir) in cmdline) and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


@dataclass
class Browser:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """The tail of Chromium's stderr, for failure messages."""
        return self.log.read_text(errors="replace")[-3000:]


@contextmanager
def chromium(
    url: str, workdir: Path, *, resolve: Mapping[str, str] | None = None
) -> Iterator[Browser]:
    """Chromium showing ``url`` in a fresh profile under ``workdir``, with the host names in
    ``resolve`` mapped to addresses (its own resolver; /etc/hosts untouched). On exit its
    process group and its crash handlers are killed; the test fails if any of it survives."""
    workdir.mkdir(parents=True, exist_ok=True)
    rules = ", ".join(f"MAP {name} {address}" for name, address in (resolve or {}).items())
    command = [
        str(CHROMIUM),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={workdir / 'profile'}",
        *([f"--host-resolver-rules={rules}"] if rules else []),
        url,
    ]
    log = workdir / "chromium.log"
    env = {**os.environ, "HOME": str(workdir)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
        )
    try:
        yield Browser(process, log)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

        def ended() -> bool:
            left = browser_processes(process.pid, workdir)
            for pid in left:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return not left

        wait_until(ended, what="every Chromium process to end")


@dataclass
class Exchange:
    """A request forwarded to the upstream, as the upstream saw it, and its answer."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    response_headers: dict[str, str]
    body: str


@dataclass
class Attacker:
    """The hostile site: its page at ``/``, the page's findings posted to ``/report``, and
    (with an ``upstream``) every other request forwarded there byte for byte, Host and Origin
    as the browser sent them -- what the hub receives once the site's name rebinds to it."""

    page: str
    upstream: tuple[str, int] | None = None
    forwarded: list[Exchange] = field(default_factory=list)
    _report: dict[str, Any] | None = None
    _reported: threading.Event = field(default_factory=threading.Event)

    def wait_report(self, browser: Browser, timeout: float = 30.0) -> dict[str, Any]:
        """The page's report, once it arrives; fail on the deadline or if Chromium died."""
        deadline = time.monotonic() + timeout
        while not self._reported.wait(0.05):
            if browser.process.poll() is not None:
                raise AssertionError(f"Chromium exited before reporting:\n{browser.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no report from the page in {timeout}s:\n{browser.output()}")
        assert self._report is not None
        return self._report

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if request.command == "GET" and path == "/":
            self._send(request, 200, self.page.encode(), "text/html; charset=utf-8")
        elif request.command == "POST" and path == "/report":
            self._report = json.loads(self._body(request) or b"null")
            self._reported.set()
            self._send(request, 204, b"", None)
        elif self.upstream is not None and path != "/favicon.ico":
            self._forward(request, self.upstream)
        else:
            self._send(request, 404, b"", None)

    @staticmethod
    def _body(request: BaseHTTPRequestHandler) -> bytes | None:
        length = int(request.headers.get("Content-Length") or 0)
        return request.rfile.read(length) if length else None

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str | None
    ) -> None:
        request.send_response(status)
        if content_type:
            request.send_header("Content-Type", content_type)
        request.send_header("Cache-Control", "no-store")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _forward(self, request: BaseHTTPRequestHandler, upstream: tuple[str, int]) -> None:
        body = self._body(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(*upstream, timeout=30)
        try:
            connection.putrequest(
                request.command, request.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        answer = {
            k: v
            for k, v in response.getheaders()
            if k.lower() not in HOP_BY_HOP | {"content-length", "date", "server"}
        }
        self.forwarded.append(
            Exchange(
                request.command,
                request.path,
                headers,
                response.status,
                answer,
                data.decode(errors="replace"),
            )
        )
        request.send_response(response.status)
        for name, value in answer.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


@contextmanager
def attacker_site(attacker: Attacker, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve ``attacker`` on ``host``:``port`` (0: any free port) in a thread; yields the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_request(self) -> None:
            attacker.handle(self)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_request

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
