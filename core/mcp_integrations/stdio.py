"""An MCP session over a child's stdin/stdout, with the child's pid, exit and stderr.

The SDK's ``stdio_client`` hides the process; a supervisor needs its pid, its exit code
the moment it dies, its stderr in a log with secrets scrubbed, and a TERM-grace-KILL stop
of its whole process group. The message framing (one JSON-RPC message a line) is the SDK's.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
import mcp_types
from anyio.abc import Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession
from mcp.shared.message import SessionMessage

from mcp_integrations import containment, leftovers, processes
from mcp_integrations.containment import Tree
from mcp_integrations.errors import StartFailed
from mcp_integrations.lines import LineTooLong, RotatingLog, read_lines
from mcp_integrations.models import OutputLimits
from mcp_integrations.redact import Redactor
from mcp_integrations.runtime import (
    LEGACY,
    ClientHandlers,
    Connection,
    describe_exit,
    negotiate,
)

STDERR_TAIL_LINES = 20
EXIT_SETTLE_SECS = 0.5
#: How long after its exit a server's last stderr lines are awaited (a child may hold it).
STDERR_SETTLE_SECS = 0.3


class _StderrLog:
    """Copies the server's stderr to its log, scrubbed, in lines of bounded length, keeping
    the last ones. The log is rotated, and a write that fails (a full disk) drops the line
    and counts it: logging never stops a server."""

    def __init__(self, path: Path, redact: Redactor, limits: OutputLimits) -> None:
        self.log = RotatingLog(path, limits.log_max_bytes, limits.log_backups)
        self.redact = redact
        self.line_bytes = limits.stderr_line_bytes
        self.tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    async def pump(self, process: Process) -> None:
        assert process.stderr is not None
        with self.log, suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            async for piece in read_lines(process.stderr, self.line_bytes, "split"):
                clean = self.redact.line(piece.decode("utf-8", "replace"))
                self.tail.append(clean)
                self.log.write(clean)

    def text(self) -> str:
        return "\n".join(self.tail)


async def _read_stdout(
    server: _Server, sink: MemoryObjectSendStream[SessionMessage | Exception]
) -> None:
    stdout = server.process.stdout
    assert stdout is not None
    async with sink:
        try:
            async for line in read_lines(stdout, server.limits.max_message_bytes):
                if not line.strip():
                    continue
                try:
                    message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except ValueError as exc:
                    await sink.send(exc)
                else:
                    await sink.send(SessionMessage(message))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return
        except LineTooLong as exc:
            server.broke(
                f"the server sent a message larger than {exc.limit} bytes "
                "(the integration's max_message_bytes)"
            )
            return
        server.broke("the server closed its output (stdout)")


async def _write_stdin(server: _Server, source: MemoryObjectReceiveStream[SessionMessage]) -> None:
    stdin = server.process.stdin
    assert stdin is not None
    async with source:
        try:
            async for item in source:
                data = item.message.model_dump_json(by_alias=True, exclude_unset=True)
                await stdin.send((data + "\n").encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            server.broke("the server closed its input (stdin)")


async def _initialize(
    session: ClientSession, exited: anyio.Event, limit: float, protocol: str
) -> None:
    """Run the MCP handshake, giving up when the server exits first or ``limit`` seconds pass."""
    error: Exception | None = None
    with anyio.move_on_after(limit) as scope:
        async with anyio.create_task_group() as tg:

            async def handshake() -> None:
                nonlocal error
                try:
                    await negotiate(session, protocol)
                except Exception as exc:
                    error = exc
                    with anyio.move_on_after(EXIT_SETTLE_SECS):
                        await exited.wait()
                tg.cancel_scope.cancel()

            async def watch() -> None:
                await exited.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(handshake)
            tg.start_soon(watch)
    if exited.is_set():
        raise _Exited
    if error is not None:
        raise StartFailed(f"the MCP handshake failed: {error}") from error
    if scope.cancelled_caught:
        raise StartFailed(f"the server did not answer the MCP handshake in {limit:g}s")


class _Exited(Exception):
    """The server exited during the handshake."""


@asynccontextmanager
async def _single_errors() -> AsyncIterator[None]:
    """Let a lone error out of a task group as itself, so callers can catch it by type."""
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if error is group:
            raise
        raise error from None


class _Server:
    """One spawned server: its exit, watched; its stderr, logged; its stdio, watched too,
    since a server can end the session and live on."""

    def __init__(
        self, process: Process, tree: Tree, stderr: _StderrLog, limits: OutputLimits
    ) -> None:
        self.process = process
        self.tree = tree
        self.stderr = stderr
        self.limits = limits
        self.exited = anyio.Event()
        self.exit_code: int | None = None
        #: Why the session ended while the process may still run.
        self.broken: str | None = None
        self._broken = anyio.Event()
        self._stderr_done = anyio.Event()
        #: Told how the server ended, before anyone waiting on ``exited`` wakes.
        self.connection: Connection | None = None
        self._told = False

    def broke(self, reason: str) -> None:
        if self.broken is None:
            self.broken = reason
            self._broken.set()

    async def watch_stdio(self) -> None:
        """A session that ended is a lost server, unless the process exits within a moment
        (then its exit code says more)."""
        await self._broken.wait()
        with anyio.move_on_after(EXIT_SETTLE_SECS):
            await self.exited.wait()
            return
        self.end()

    async def pump_stderr(self) -> None:
        try:
            await self.stderr.pump(self.process)
        finally:
            self._stderr_done.set()

    async def watch_exit(self) -> None:
        code = await processes.wait_exit(self.process)
        if self.exited.is_set():
            return
        with anyio.move_on_after(STDERR_SETTLE_SECS):
            await self._stderr_done.wait()
        self.exit_code = code
        self.end()

    def end(self) -> None:
        """The server is gone: the connection says how first, then ``exited`` is set, so
        status can say ``crashed`` at once, before the rest of the tree is stopped."""
        if self.exited.is_set():
            return
        self.tell()
        self.exited.set()

    def tell(self) -> None:
        """Put the exit code and the last words on the connection, once; a reason given by
        ``lose()`` (no answer to pings) comes first."""
        if self.connection is None or self._told:
            return
        self._told = True
        self.connection.exit_code = self.exit_code
        reasons = (self.connection.stderr_tail, self.why())
        self.connection.stderr_tail = "\n".join(r for r in reasons if r)

    def why(self) -> str:
        """What the server's last words and a broken session say about its end."""
        lost = self.broken if self.exit_code is None else None
        return "\n".join(r for r in (lost, self.stderr.text()) if r)

    async def stop(self, grace: float) -> None:
        """Stop the tree and reap the server (the watchers may be cancelled already)."""
        await containment.stop(self.process, self.tree, grace)
        with anyio.move_on_after(grace), suppress(Exception):
            await self.process.aclose()


@asynccontextmanager
async def stdio_connection(
    command: Sequence[str],
    env: Mapping[str, str],
    workdir: Path,
    *,
    redact: Redactor,
    grace: float,
    start_timeout: float,
    handlers: ClientHandlers,
    cwd: Path | None = None,
    limits: OutputLimits | None = None,
    protocol: str = LEGACY,
) -> AsyncIterator[Connection]:
    """Start ``command`` (in ``cwd``, else ``workdir``, where its log is), hand over an
    initialized session; on exit stop and reap the group."""
    limits = limits or OutputLimits()
    tree = Tree.for_workdir(workdir)
    try:
        process = await processes.spawn(tree.launch(command), {**env, **tree.env()}, cwd or workdir)
    except OSError as exc:
        tree.release()
        raise StartFailed(redact(f"cannot run {command[0]!r}: {exc.strerror or exc}")) from exc
    except BaseException:
        tree.release()
        raise
    # Kept until the tree is stopped and reaped, for the next hub if this one is killed.
    leftovers.record(workdir, process.pid, tree.cgroup)
    server = _Server(process, tree, _StderrLog(workdir / "server.log", redact, limits), limits)
    to_session, from_server = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_server, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    try:
        async with _single_errors(), anyio.create_task_group() as tg:
            tg.start_soon(_read_stdout, server, to_session)
            tg.start_soon(_write_stdin, server, from_session)
            tg.start_soon(server.pump_stderr)
            tg.start_soon(server.watch_exit)
            tg.start_soon(server.watch_stdio)
            try:
                async with handlers.session(from_server, to_server) as session:
                    try:
                        await _initialize(session, server.exited, start_timeout, protocol)
                    except _Exited:
                        raise StartFailed.exited(
                            server.exit_code, describe_exit(server.exit_code, server.why())
                        ) from None
                    except StartFailed as exc:
                        raise StartFailed(redact(exc.message)) from exc
                    connection = Connection(
                        session=session,
                        pid=process.pid,
                        exited=server.exited,
                        log_dropped=lambda: server.stderr.log.dropped,
                    )
                    server.connection = connection
                    try:
                        yield connection
                    finally:
                        server.tell()
            finally:
                with anyio.CancelScope(shield=True):
                    await server.stop(grace)
                tg.cancel_scope.cancel()
    finally:
        leftovers.forget(workdir, process.pid)
        for stream in (to_session, from_server, to_server, from_session):
            stream.close()
