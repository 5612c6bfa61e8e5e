"""uvicorn with limits on connections, and the hub's answer to signals.

Each connection costs a file descriptor while it is open.
A client may open connections and send nothing, or half a request, and hold them forever;
past the open-files limit the hub can then accept nobody. So a connection must deliver its
request headers within ``header_timeout`` (the body's pace is the ``Guard``'s business),
connections past ``max_connections`` are closed as soon as they are accepted, the soft
open-files limit is raised to the hard one, and the lines such trouble makes are throttled.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import signal
import socket
import time
from types import FrameType
from typing import Any, cast

import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mcp_integrations.manager import Manager
from mcp_integrations.settings import DEFAULT_HEADER_TIMEOUT, Settings

logger = logging.getLogger("mcp_integrations.serving")
NOTICE_INTERVAL = 10.0
KEEP_ALIVE_TIMEOUT = 5
MAX_CONNECTIONS = 1000
_OUT_OF_FILES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Throttle:
    """Says yes at most once per ``interval`` seconds: for lines that could flood a log."""

    def __init__(self, interval: float = NOTICE_INTERVAL) -> None:
        self.interval = interval
        self._next = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.interval
        return True


class AcceptErrorFilter(logging.Filter):
    """Lets one "out of system resource" line of the event loop through per interval, as a
    single line: asyncio logs one with its traceback per failed ``accept()``."""

    def __init__(self, throttle: Throttle | None = None) -> None:
        super().__init__()
        self.throttle = throttle or Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        out_of_files = isinstance(exc, OSError) and exc.errno in _OUT_OF_FILES
        if not out_of_files and "out of system resource" not in str(record.msg):
            return True
        if not self.throttle.ready():
            return False
        line = record.getMessage().splitlines()[0] + (f": {exc}" if exc else "")
        record.msg = f"{line} (more such lines are left out for {NOTICE_INTERVAL:g} s)"
        record.args, record.exc_info, record.exc_text = (), None, None
        return True


class ClientGoneFilter(logging.Filter):
    """The MCP library logs a traceback when a client leaves while sending its body; this
    makes it one line at info, as the hub's own endpoints log it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ClientDisconnect):
            record.msg = f"{record.getMessage()}: the client went away"
            record.args, record.exc_info, record.exc_text = (), None, None
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


_limit_notice = Throttle()


class LimitedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools), closing a connection whose request headers take
    over ``header_timeout`` seconds from its start (or from the first byte of its next request
    on a kept-alive connection), and any connection opened past ``max_connections``."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    _header_timer: asyncio.TimerHandle | None = None

    @classmethod
    def limited(cls, header_timeout: float, max_connections: int) -> type[LimitedProtocol]:
        limits = {"header_timeout": header_timeout, "max_connections": max_connections}
        return type(cls.__name__, (cls,), limits)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            if _limit_notice.ready():
                logger.warning(
                    "connection limit reached: %d connections are open (--max-connections); "
                    "closing new ones until some end",
                    self.max_connections,
                )
            transport.abort()
            return
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        logger.debug("closing %s: no complete request headers in time", self.client)
        self.transport.close()


def raise_open_files_limit() -> int:
    """Raises the soft limit on open files to the hard one if it can; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        logger.debug("open files limit: %d (the hard limit)", soft)
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        logger.debug("open files limit stays %d (hard limit %d): %s", soft, hard, exc)
        return soft
    logger.debug("open files limit raised from %d to the hard limit, %d", soft, hard)
    return hard


def default_max_connections(open_files: int) -> int:
    """A quarter of the open-files limit, which leaves room for servers, logs and pipes."""
    return max(1, min(MAX_CONNECTIONS, open_files // 4))


def _add_filter(logger_name: str, kind: type[logging.Filter]) -> None:
    target = logging.getLogger(logger_name)
    if not any(isinstance(f, kind) for f in target.filters):
        target.addFilter(kind())


def quiet_log_floods() -> None:
    """Lines that clients, not faults, cause: few, and without tracebacks. The event loop
    logs each ``accept()`` that finds no free descriptor; the MCP library, clients gone."""
    _add_filter("asyncio", AcceptErrorFilter)
    _add_filter("mcp.server.streamable_http", ClientGoneFilter)


def make_server(
    app: ASGIApp, host: str, port: int, log_level: str, settings: Settings
) -> HubServer:
    """The uvicorn server for ``app``, with the connection limits of ``settings``."""
    open_files = raise_open_files_limit()
    max_connections = settings.max_connections
    if max_connections is None:
        max_connections = default_max_connections(open_files)
    logger.debug("at most %d connections at once", max_connections)
    protocol = LimitedProtocol.limited(settings.header_timeout, max_connections)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
    )
    quiet_log_floods()
    return HubServer(config)


class HubServer(uvicorn.Server):
    """uvicorn, with the hub's answer to signals. SIGINT does what SIGTERM does: cancel
    every start in progress and stop every server, then exit (uvicorn alone waits for
    requests in flight first, such as a start that waits out a handshake, and skips the
    app's shutdown on a second Ctrl-C). A second signal kills every server's process tree
    at once and exits without waiting."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.forced = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        manager = _manager(self.config.app)
        if not self.should_exit:
            logger.info("stopping every server (%s); again to kill them now", _name(sig))
            self.should_exit = True
            if manager is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(manager.interrupt)
            return
        logger.warning("killing every server now (%s)", _name(sig))
        if manager is not None:
            manager.kill_now()
        self.force_exit = self.forced = True

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)


def _manager(app: Any) -> Manager | None:
    """The hub's manager, once the app has started (``app`` may be wrapped)."""
    while app is not None:
        state = getattr(app, "state", None)
        manager = getattr(state, "manager", None) if state is not None else None
        if manager is not None:
            return cast(Manager, manager)
        app = getattr(app, "app", None)
    return None


def _name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def run(app: ASGIApp, host: str, port: int, log_level: str, settings: Settings) -> int:
    """Serves ``app`` until a signal ends it; the exit code (1 when a second signal cut
    the shutdown short)."""
    server = make_server(app, host, port, log_level, settings)
    server.run()
    return 1 if server.forced else 0
