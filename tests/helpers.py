"""Helpers for tests: a throwaway ASGI server on loopback, and a connector's MCP session."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TextIO

import uvicorn
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_asgi(app: Any, *, timeout: float = 10.0) -> Iterator[str]:
    """Run ``app`` on a loopback port in a thread; yields its base URL, stops it on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
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
