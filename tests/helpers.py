"""Helpers for tests: a throwaway ASGI server on loopback, and a connector's MCP session."""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TextIO

import uvicorn
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_asgi(app: Any, *, timeout: float = 10.0, lifespan: bool = False) -> Iterator[str]:
    """Run ``app`` on a loopback port in a thread; yields its base URL, stops it on exit
    (with ``lifespan``, after its shutdown has run: the hub's stops its servers)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on" if lifespan else "off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test ASGI server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        assert not thread.is_alive(), "the ASGI server did not shut down"


@asynccontextmanager
async def connector_session(
    module: str, env: Mapping[str, str], errlog: TextIO = sys.stderr
) -> AsyncIterator[ClientSession]:
    """An initialized MCP session with ``python -m module`` as a real child process, which
    ends when the block does. Pass ``errlog`` (a real file) to capture its stderr."""
    params = StdioServerParameters(command=sys.executable, args=["-m", module], env=dict(env))
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


TOY_SERVER = Path(__file__).parent / "servers" / "toy.py"
TOY_TOOLS = (
    "echo",
    "crash",
    "freeze",
    "pid",
    "add",
    "slow",
    "chatty",
    "sample",
    "ask_name",
    "roots",
    "grow",
)


def toy_install(integration_id: str = "toy", **env: str) -> dict[str, Any]:
    """An install body for the toy MCP server, run as a script by this interpreter."""
    return {
        "source": "command",
        "id": integration_id,
        "command": [sys.executable, str(TOY_SERVER)],
        "env": env,
    }


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def live_children(marker: str) -> list[int]:
    """Live child processes of this test process whose command line contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and marker in cmdline and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def fill_disk(folder: Path) -> Path:
    """Write a file in ``folder`` until its disk refuses with ENOSPC; the file, to delete
    when the disk should have room again."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler
