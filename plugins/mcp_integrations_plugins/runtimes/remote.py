"""The ``remote`` runtime: an MCP server already running elsewhere, over streamable HTTP or
SSE, through the SDK's clients. There is no process: ``pid`` is None, the server is
``running`` while the session answers, and a lost session is a crash like any other, so
reconnection follows the restart policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
from mcp.client.session import IncomingMessage
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

from mcp_integrations import hookimpl
from mcp_integrations.errors import StartFailed
from mcp_integrations.models import LaunchSpec
from mcp_integrations.redact import Redactor
from mcp_integrations.runtime import (
    FORGOTTEN,
    ClientHandlers,
    Connection,
    negotiate,
    ping,
    session_forgotten,
)

START_TIMEOUT_SECS = 30.0
#: How often the hub checks that the server still knows its session, and how long it waits.
PING_INTERVAL_SECS = 5.0
PING_TIMEOUT_SECS = 10.0
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)
Streams = tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if session_forgotten(exc):
        return FORGOTTEN
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass
class RemoteRuntime:
    spec: LaunchSpec
    start_timeout: float
    ping_interval: float

    async def _open(self, stack: AsyncExitStack) -> Streams:
        assert self.spec.url is not None
        headers = dict(self.spec.headers)
        if self.spec.transport == "sse":
            return await stack.enter_async_context(
                sse_client(self.spec.url, headers=headers, timeout=HTTP_TIMEOUT.connect or 30.0)
            )
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT)
        )
        return await stack.enter_async_context(
            streamable_http_client(self.spec.url, http_client=http)
        )

    async def _watch(self, connection: Connection) -> None:
        while not connection.exited.is_set():
            await anyio.sleep(self.ping_interval)
            try:
                with anyio.fail_after(PING_TIMEOUT_SECS):
                    await ping(connection.session)
            except Exception as exc:
                connection.lose(_reason(exc))

    @asynccontextmanager
    async def connect(self, handlers: ClientHandlers) -> AsyncIterator[Connection]:
        redact = Redactor(self.spec.secret_values())
        exited = anyio.Event()
        connection: Connection | None = None
        inner = handlers.message

        async def on_message(message: IncomingMessage) -> None:
            """A transport failure ends the connection; the rest is the relay's."""
            if isinstance(message, Exception) and connection is not None:
                connection.lose(_reason(message))
            elif inner is not None:
                await inner(message)

        started = body_failed = False
        try:
            async with AsyncExitStack() as stack:
                try:
                    read, write = await self._open(stack)
                    session = await stack.enter_async_context(
                        dataclasses.replace(handlers, message=on_message).session(read, write)
                    )
                    with anyio.fail_after(self.start_timeout):
                        await negotiate(session, self.spec.protocol)
                except TimeoutError:
                    raise StartFailed(
                        f"{self.spec.url} did not answer the MCP handshake in "
                        f"{self.start_timeout:g}s"
                    ) from None
                connection = Connection(session=session, pid=None, exited=exited)
                started = True
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._watch, connection)
                    try:
                        yield connection
                    except BaseException as exc:
                        # cancelled by the transport's own task group as it failed: the
                        # transport's error, below, says what happened
                        body_failed = not isinstance(exc, anyio.get_cancelled_exc_class())
                        raise
                    finally:
                        connection.stderr_tail = redact(connection.stderr_tail)
                        tg.cancel_scope.cancel()
        except Exception as exc:
            if body_failed:
                raise
            if not started:
                raise StartFailed(redact(_start_failure(self.spec.url, exc))) from None
            # The transport's own failure as it closes, after the session was lost or
            # stopped: the connection already says what happened.
            if connection is not None:
                connection.lose(redact(_reason(next(_leaves(exc), exc))))
        except BaseExceptionGroup as group:
            cancelled = group.subgroup(anyio.get_cancelled_exc_class()) is not None
            if body_failed or not started or cancelled:
                raise
            if connection is not None:
                connection.lose(redact(_reason(next(_leaves(group), group))))


def _start_failure(url: str | None, exc: BaseException) -> str:
    """Why the session never came up, from what the transport and the session raised."""
    leaves = list(_leaves(exc))
    known = [e for e in leaves if isinstance(e, StartFailed)]
    if known:
        return known[0].message
    return f"cannot reach {url}: {_reason(leaves[0] if leaves else exc)}"


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


@hookimpl
def create_runtime(spec: LaunchSpec, workdir: Path) -> RemoteRuntime | None:
    if spec.runtime != "remote" or spec.url is None:
        return None
    return RemoteRuntime(spec, START_TIMEOUT_SECS, PING_INTERVAL_SECS)
