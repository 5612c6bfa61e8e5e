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


def describe_exit(exit_code: int | None, stderr_tail: str) -> str:
    """How a server went away, in words for ``last_error`` and start failures."""
    text = f"the server exited with code {exit_code}"
    return text + (f"; its last output:\n{stderr_tail}" if stderr_tail else "")


class Runtime(Protocol):
    """Starts one server; entering ``connect()`` gives a live session, leaving it stops and
    reaps the server (TERM to the process group, a grace period, then KILL)."""

    def connect(self) -> AbstractAsyncContextManager[Connection]: ...
