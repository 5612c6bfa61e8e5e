"""The runtime seam: how a plugin starts a server and hands over a live MCP session."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import anyio
from mcp import ClientSession


@dataclass
class Connection:
    """A running server with an initialized MCP session.

    ``exited`` is set when the server goes away on its own; ``exit_code`` then says how,
    and ``stderr_tail`` the last lines it wrote, secrets scrubbed.
    """

    session: ClientSession
    pid: int | None
    exited: anyio.Event
    exit_code: int | None = None
    stderr_tail: str = ""


class Runtime(Protocol):
    """Starts one server; entering ``connect()`` gives a live session, leaving it stops and
    reaps the server (TERM to the process group, a grace period, then KILL)."""

    def connect(self) -> AbstractAsyncContextManager[Connection]: ...
