"""The runtime seam: how a plugin starts a server and hands over a live MCP session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import mcp_types as types
from mcp import ClientSession
from mcp.client.session import (
    ElicitationFnT,
    ListRootsFnT,
    LoggingFnT,
    MessageHandlerFnT,
    SamplingFnT,
)
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CLIENT_CAPABILITIES_META_KEY


@dataclass
class Connection:
    """A running server with an initialized MCP session.

    ``exited`` is set when the server goes away on its own; ``exit_code`` then says how,
    and ``stderr_tail`` the last lines it wrote, secrets scrubbed. ``pid`` is None for a
    server with no process here (remote); ``container_id`` is set for a container.
    """

    session: ClientSession
    pid: int | None
    exited: anyio.Event
    exit_code: int | None = None
    stderr_tail: str = ""
    container_id: str | None = None
    #: How many lines of the server's log were dropped (a full disk): counted, not fatal.
    log_dropped: Callable[[], int] = lambda: 0

    def lose(self, reason: str) -> None:
        """The server is gone, for ``reason`` (a remote one stopped answering or forgot the
        session); the supervisor treats it as a crash and reconnects by its policy."""
        if not self.exited.is_set():
            self.stderr_tail = reason
            self.exited.set()


@dataclass(frozen=True)
class ClientHandlers:
    """What the hub's client session does with what a server sends unasked: requests for
    sampling, elicitation and roots, log messages and other notifications. Given, they
    are also what the hub declares it can do, so servers show every tool they have."""

    sampling: SamplingFnT | None = None
    elicitation: ElicitationFnT | None = None
    list_roots: ListRootsFnT | None = None
    logging: LoggingFnT | None = None
    message: MessageHandlerFnT | None = None

    def session(
        self, read: ReadStream[SessionMessage | Exception], write: WriteStream[SessionMessage]
    ) -> ClientSession:
        kwargs: dict[str, Any] = {
            "sampling_callback": self.sampling,
            "elicitation_callback": self.elicitation,
            "list_roots_callback": self.list_roots,
            "logging_callback": self.logging,
            "message_handler": self.message,
        }
        return HubSession(read, write, **{k: v for k, v in kwargs.items() if v is not None})


#: Capabilities the client behind the request in flight did not declare.
_withheld: ContextVar[frozenset[str]] = ContextVar("withheld", default=frozenset())


@contextmanager
def withholding(capabilities: frozenset[str]) -> Iterator[None]:
    """While the block runs, requests to a 2026-07-28 server do not declare
    ``capabilities`` (``sampling``...): the client the hub calls for lacks them."""
    token = _withheld.set(capabilities)
    try:
        yield
    finally:
        _withheld.reset(token)


Stamp = Callable[[dict[str, Any], Any], None]


class HubSession(ClientSession):
    """A client session that, on a stateless wire, declares per request what the client
    behind it can do, not what the hub can: a 2026-07-28 server reads a request's
    capabilities to decide what it may ask for. The SDK stamps every request with the
    capabilities of the session; this narrows that stamp."""

    @property
    def _stamp(self) -> Stamp:
        return self._narrowed

    @_stamp.setter
    def _stamp(self, stamp: Stamp) -> None:
        def narrowed(data: dict[str, Any], opts: Any) -> None:
            stamp(data, opts)
            meta = (data.get("params") or {}).get("_meta") or {}
            declared = meta.get(CLIENT_CAPABILITIES_META_KEY)
            withheld = _withheld.get()
            if isinstance(declared, dict) and withheld:
                meta[CLIENT_CAPABILITIES_META_KEY] = {
                    k: v for k, v in declared.items() if k not in withheld
                }

        self._narrowed = narrowed


_FORGOTTEN_WORDS = ("not found", "terminated", "expired", "unknown")


def session_forgotten(exc: BaseException) -> bool:
    """The server answered that it does not know the session (HTTP 404 on streamable HTTP):
    it restarted, or dropped the session; a new session will do."""
    if not isinstance(exc, MCPError) or exc.code not in (types.INVALID_REQUEST, -32001):
        return False
    message = exc.error.message.lower()
    return "session" in message and any(word in message for word in _FORGOTTEN_WORDS)


FORGOTTEN = "the server no longer knows the session (HTTP 404); reconnecting"


def describe_exit(exit_code: int | None, stderr_tail: str) -> str:
    """How a server went away, in words for ``last_error`` and start failures."""
    if exit_code is None:
        return f"the connection to the server was lost: {stderr_tail or 'no reason given'}"
    text = f"the server exited with code {exit_code}"
    return text + (f"; its last output:\n{stderr_tail}" if stderr_tail else "")


class Runtime(Protocol):
    """Starts one server; entering ``connect()`` gives a live session made by
    ``handlers.session``, leaving it stops and reaps the server (TERM to the process
    group, a grace period, then KILL)."""

    def connect(self, handlers: ClientHandlers) -> AbstractAsyncContextManager[Connection]: ...


LEGACY = "2025-11-25"
MODERN = "2026-07-28"
#: What an integration's ``protocol`` option may be: ``auto`` speaks 2026-07-28 to a
#: server that offers it (``server/discover``) and 2025-11-25 to one that does not.
PROTOCOLS = (LEGACY, MODERN, "auto")


def is_modern(version: str | None) -> bool:
    """A stateless revision (2026-07-28 and later): no session to ask back on, no ping."""
    return version is not None and version >= MODERN


async def negotiate(session: ClientSession, protocol: str) -> None:
    """Open the session in the revision ``protocol`` asks for: the handshake of
    2025-11-25, or the ``server/discover`` of 2026-07-28 (falling back to the handshake
    under ``auto`` when the server does not know it)."""
    if protocol == LEGACY:
        await session.initialize()
        return
    try:
        await session.discover()
    except (MCPError, RuntimeError):
        if protocol != "auto":
            raise
        await session.initialize()


async def ping(session: ClientSession) -> None:
    """Is the server there: ``ping`` on 2025-11-25, a fresh ``server/discover`` (which is
    not cached) on 2026-07-28, which has no ping."""
    version = session.protocol_version
    if version is not None and is_modern(version):
        await session.send_discover(version)
    else:
        await session.send_ping()
