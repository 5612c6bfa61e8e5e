"""One integration's life: the state machine around a runtime, restarts with backoff.

The supervisor's task enters ``runtime.connect()``, publishes the session and waits for a
stop request or the server's own exit; leaving that block is the only way a server stops,
so no path can forget to reap it.
"""

from __future__ import annotations

import collections
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from jsonschema.protocols import Validator
from mcp.client.subscriptions import SubscriptionLost, listen
from mcp.server.caching import CacheHint
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import event_to_notification
from pydantic import BaseModel

from mcp_integrations.catalog import KINDS, Catalog, Listed, list_all_tools, relisted
from mcp_integrations.errors import (
    IntegrationsError,
    MissingEnv,
    NotRunning,
    StartCancelled,
    StartFailed,
)
from mcp_integrations.models import (
    JSON,
    Integration,
    IntegrationEvent,
    OnDemand,
    Status,
    ToolInfo,
    encoded,
)
from mcp_integrations.redact import Redactor
from mcp_integrations.relay import Relay
from mcp_integrations.runtime import Connection, Runtime, describe_exit, is_modern, ping

logger = logging.getLogger(__name__)
ResultT = TypeVar("ResultT", bound=BaseModel)
#: How long after a 2026-07-28 server's listen stream is lost it is opened again.
LISTEN_RETRY_SECS = 1.0
#: Tool lists longer than this are prepared off the event loop.
OFF_LOOP_TOOLS = 200


def _tools_body(tools: tuple[ToolInfo, ...]) -> bytes:
    return encoded({"tools": [tool.to_json() for tool in tools]})


@dataclass(frozen=True)
class RestartPolicy:
    """How a crashed server comes back: after a backoff doubling from ``backoff_initial`` to
    ``backoff_max``, give or take ``jitter`` (so servers that crash together do not restart
    together), until more than ``max_restarts`` crashes fall within ``window`` seconds."""

    max_restarts: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 0.2
    window: float = 300.0
    stable_after: float = 60.0
    tools_timeout: float = 30.0
    #: A running server is pinged this often while calls are in flight (or after a missed
    #: ping), and every ``idle_health_interval`` while it is idle: pings cost the hub CPU
    #: for every server it runs, and an exit is seen at once without them. After
    #: ``health_failures`` pings in a row go unanswered within ``health_timeout`` it is
    #: restarted like a crashed one.
    health_interval: float = 15.0
    idle_health_interval: float = 300.0
    health_timeout: float = 5.0
    health_failures: int = 2

    def backoff(self, attempt: int) -> float:
        base = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
        return float(base * random.uniform(1 - self.jitter, 1 + self.jitter))


async def _until_either(first: anyio.Event, second: anyio.Event) -> None:
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(wait, first)
        tg.start_soon(wait, second)


class Supervisor:
    """Runs one integration's server in the hub's task group and tracks its status."""

    def __init__(
        self,
        integration: Integration,
        make_runtime: Callable[[], Runtime],
        *,
        on_event: Callable[[IntegrationEvent], None],
        on_tools: Callable[[tuple[ToolInfo, ...], JSON | None], None],
        policy: RestartPolicy,
        redact: Redactor | None = None,
        on_notification: Callable[[str, types.ServerNotification], None] | None = None,
        on_demand: OnDemand | None = None,
        on_idle: Callable[[str], None] | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.integration = integration
        self._on_change = on_change
        #: Grows whenever something its status shows changes.
        self.version = 0
        self._status_body: tuple[tuple[int, int], bytes] = ((-1, -1), b"")
        self.on_demand = on_demand or OnDemand()
        #: Told the integration's id once its server has had no call for ``idle_timeout``.
        self._on_idle = on_idle
        #: Calls in flight, and when the last one began or ended (monotonic, and wall time).
        self.in_flight = 0
        #: Set when a call begins on an idle server, for the health checks.
        self._busy = anyio.Event()
        self._last_used = time.monotonic()
        self.last_used_at: float | None = None
        #: Why it is stopped: ``requested``, ``idle``, ``on_demand`` (waits for a first
        #: call), None when it runs or never ran.
        self.stop_reason: str | None = None
        self.redact = redact or Redactor([])
        self.relay = Relay()
        self.validators: dict[str, Validator] = {}
        self._on_notification = on_notification
        self._make_runtime = make_runtime
        self._on_event = on_event
        self._on_tools = on_tools
        self.policy = policy
        self.status = Status.STOPPED
        self.connection: Connection | None = None
        self.tools = integration.tools
        #: How long the server said its tool list stays fresh (2026-07-28 servers).
        self.tools_hint: CacheHint | None = None
        #: Its resources, templates and prompts, as last listed while it ran.
        self.catalog = Catalog()
        self._tools_body: tuple[tuple[ToolInfo, ...] | None, bytes] = (None, b"")
        self.server_info = integration.server_info
        self.started_at: float | None = None
        self._started_monotonic: float | None = None
        self.restarts = 0
        self.last_exit_code: int | None = None
        self.next_retry_at: float | None = None
        self._last_error: str | None = None
        self._stop_requested = anyio.Event()
        self._ready = anyio.Event()
        self._done = anyio.Event()
        self._done.set()
        #: Set for a stored record that does not decode: it cannot start.
        self.unreadable: IntegrationsError | None = None
        #: The server being brought up, until it runs: what a stop cancels at once.
        self._starting: anyio.CancelScope | None = None

    @property
    def pid(self) -> int | None:
        return self.connection.pid if self.connection else None

    @property
    def uptime_secs(self) -> int | None:
        if self.status not in (Status.RUNNING, Status.UNHEALTHY) or self._started_monotonic is None:
            return None
        return int(time.monotonic() - self._started_monotonic)

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @last_error.setter
    def last_error(self, text: str | None) -> None:
        """Every error text passes the integration's redactor before anyone can read it."""
        self._last_error = None if text is None else self.redact(text)
        self.changed()

    @property
    def active(self) -> bool:
        """True while a server runs or is being brought (back) up."""
        return not self._done.is_set()

    def _set(self, status: Status, *, exit_code: int | None = None) -> None:
        previous, self.status = self.status, status
        self.changed()
        if previous is status:
            return
        event = IntegrationEvent(
            self.integration.id, status, previous, self.pid, exit_code, self.last_error
        )
        try:
            self._on_event(event)
        except Exception:
            logger.exception("an integration_event observer failed")

    async def start(self, task_group: TaskGroup) -> None:
        """Bring the server up; returns once it runs, raises ``StartFailed`` if it cannot."""
        if self.unreadable is not None:
            raise self.unreadable
        if self.active:
            await self._ready.wait()
        else:
            missing = self.integration.spec.missing_env()
            if missing:
                raise MissingEnv(self.integration.id, missing)
            runtime = self._make_runtime()
            self._stop_requested = anyio.Event()
            self._ready = anyio.Event()
            self._done = anyio.Event()
            self.restarts = 0
            self.last_error = None
            self.last_exit_code = None
            self.stop_reason = None
            task_group.start_soon(self._run, runtime, name=f"supervisor:{self.integration.id}")
            await self._ready.wait()
        if self.status is Status.FAILED:
            error = StartFailed(
                f"integration {self.integration.id!r} did not start: {self.last_error}"
            )
            error.exit_code = self.last_exit_code
            raise error
        if self.status is Status.STOPPED:
            raise StartCancelled(
                f"the start of integration {self.integration.id!r} was cancelled by a stop"
            )

    async def until_replaced(self, connection: Connection) -> None:
        """Wait until a new connection replaces ``connection`` (the server is back), or
        raise ``NotRunning`` when it will not come back."""
        while self.connection is None or self.connection is connection:
            if not self.active:
                raise NotRunning(f"integration {self.integration.id!r} is {self.status}")
            await anyio.sleep(0.02)

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """A call in flight: the server is not idle while it runs, nor for ``idle_timeout``
        after it ends."""
        self.in_flight += 1
        if self.in_flight == 1:
            self._busy.set()
        self.touch()
        try:
            yield
        finally:
            self.in_flight -= 1
            self.touch()

    def touch(self) -> None:
        self._last_used = time.monotonic()
        self.last_used_at = time.time()
        self.changed()

    def idle_for(self) -> float:
        """Seconds since the last call ended (0 while one is in flight)."""
        return 0.0 if self.in_flight else time.monotonic() - self._last_used

    async def _idle(self) -> None:
        """Tell the manager once nobody has called for ``idle_timeout`` seconds: one sleep
        per call-free stretch, no polling."""
        seconds = self.on_demand.idle_timeout
        if seconds is None or self._on_idle is None:
            return
        self._last_used = time.monotonic()
        while self.in_flight or (left := seconds - self.idle_for()) > 0:  # noqa: ASYNC110
            await anyio.sleep(seconds if self.in_flight else left)
        self._on_idle(self.integration.id)

    def request_stop(self) -> None:
        """Ask the server to stop, cancelling at once a start in progress (a handshake that
        would take its whole timeout, a backoff); ``stop()`` waits for it."""
        self._stop_requested.set()
        if self._starting is not None:
            self._starting.cancel()

    async def stop(self) -> None:
        """Stop the server (or a pending restart) and wait until it is reaped."""
        self.request_stop()
        await self._done.wait()
        if self.status is Status.FAILED and self.unreadable is None:
            self._set(Status.STOPPED)

    def _gives_up(self, crashes: collections.deque[float]) -> str | None:
        """Why the server stays down after this crash, by the integration's restart mode
        and the policy's budget, or None to restart it."""
        mode = self.integration.options.restart
        if mode == "never":
            return "its restart mode is 'never'"
        if mode == "on-failure" and self.last_exit_code == 0:
            return ""
        now = time.monotonic()
        crashes.append(now)
        while crashes and crashes[0] < now - self.policy.window:
            crashes.popleft()
        if len(crashes) > self.policy.max_restarts:
            return f"gave up after {self.policy.max_restarts} restarts in {self.policy.window:g}s"
        return None

    async def _run(self, runtime: Runtime) -> None:
        attempt = 0
        crashes: collections.deque[float] = collections.deque()
        try:
            while not self._stop_requested.is_set():
                self._set(Status.STARTING)
                ran_for = await self._run_once(runtime)
                if self._stop_requested.is_set():
                    break
                if ran_for is not None and ran_for >= self.policy.stable_after:
                    attempt = 0
                if not self._ready.is_set():
                    self._set(Status.FAILED)
                    return
                # a restart that did not come up is a crash like the first
                self._set(Status.CRASHED, exit_code=self.last_exit_code)
                reason = self._gives_up(crashes)
                if reason == "":
                    break  # a clean exit under 'on-failure': stopped, not failed
                if reason is not None:
                    self.last_error = f"{reason}: {self.last_error or ''}"
                    self._set(Status.FAILED)
                    return
                attempt += 1
                delay = self.policy.backoff(attempt)
                self.next_retry_at = time.time() + delay
                try:
                    with anyio.move_on_after(delay):
                        await self._stop_requested.wait()
                finally:
                    self.next_retry_at = None
                if not self._stop_requested.is_set():
                    self.restarts += 1
            self._set(Status.STOPPED)
        finally:
            self.connection = None
            self._started_monotonic = None
            if self.status not in (Status.STOPPED, Status.FAILED):
                self._set(Status.STOPPED)
            self._ready.set()
            self._done.set()

    async def _run_once(self, runtime: Runtime) -> float | None:
        """One life of the server; the seconds it ran, or None if it never came up."""
        self._started_monotonic = None
        self._starting = anyio.CancelScope()
        if self._stop_requested.is_set():
            self._starting.cancel()
        try:
            with self._starting:
                await self._connect_and_serve(runtime)
        finally:
            self._starting = None
        began = self._started_monotonic
        return None if began is None else time.monotonic() - began

    async def _connect_and_serve(self, runtime: Runtime) -> None:
        """Bring the server up, serve until it stops or is stopped; errors end in status."""
        try:
            async with runtime.connect(self.relay.handlers()) as connection:
                with anyio.fail_after(self.policy.tools_timeout):
                    listed = await list_all_tools(connection.session)
                info = connection.session.server_info
                await self.accept_tools(listed)
                self.catalog = Catalog()
                await self._relist(connection, KINDS)
                info_json = info.model_dump(mode="json", exclude_none=True) if info else None
                self.server_info = self._scrubbed(info_json)
                self._on_tools(self.tools, self.server_info)
                self.connection = connection
                self.started_at = time.time()
                self._started_monotonic = time.monotonic()
                self._starting = None
                self._set(Status.RUNNING)
                self._ready.set()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._follow, connection)
                    tg.start_soon(self._listen, connection)
                    tg.start_soon(self._idle)
                    tg.start_soon(self._check_health, connection)
                    await _until_either(self._stop_requested, connection.exited)
                    tg.cancel_scope.cancel()
                if self._stop_requested.is_set():
                    self._set(Status.STOPPING)
                else:
                    # said at once; what is left of the server is stopped after
                    self._crashed(connection)
            if not self._stop_requested.is_set() and self.status is not Status.CRASHED:
                self._crashed(connection)
        except IntegrationsError as exc:
            self._failed(exc.message, getattr(exc, "exit_code", None))
        except TimeoutError:
            self._failed(f"the server did not list its tools in {self.policy.tools_timeout:g}s")
        except Exception as exc:
            logger.exception("integration %s failed", self.integration.id)
            self._failed(f"{type(exc).__name__}: {exc}")
        finally:
            self.connection = None

    def _crashed(self, connection: Connection) -> None:
        self._failed(
            describe_exit(connection.exit_code, connection.stderr_tail), connection.exit_code
        )
        self.connection = None
        self._set(Status.CRASHED, exit_code=connection.exit_code)

    def _failed(self, error: str, exit_code: int | None = None) -> None:
        """One event, told by both fields: how it failed, and its exit code if it exited."""
        self.last_error = error
        self.last_exit_code = exit_code

    async def _check_health(self, connection: Connection) -> None:
        """Ping the server: one that stops answering is ``unhealthy``, then lost (and so
        restarted by the policy); one that answers again is ``running`` again. A call
        beginning on an idle server brings the next ping forward to the shorter interval."""
        missed = 0
        while True:
            watchful = missed or self.in_flight
            policy = self.policy
            interval = policy.health_interval if watchful else policy.idle_health_interval
            self._busy = anyio.Event()
            with anyio.move_on_after(interval):
                await self._busy.wait()
                continue
            try:
                with anyio.fail_after(self.policy.health_timeout):
                    await ping(connection.session)
            except Exception:
                missed += 1
                if missed >= self.policy.health_failures:
                    connection.lose(
                        f"the server did not answer {missed} pings in a row "
                        f"({self.policy.health_timeout:g}s each)"
                    )
                    return
                self._set(Status.UNHEALTHY)
            else:
                missed = 0
                if self.status is Status.UNHEALTHY:
                    self._set(Status.RUNNING)

    async def _follow(self, connection: Connection) -> None:
        """What the server says unasked: a changed tool list is fetched at once (so status
        and ``/tools`` agree), and everything goes on to the hub's observers."""
        async for notification in self.relay.notifications():
            if isinstance(notification, types.ToolListChangedNotification):
                with anyio.move_on_after(self.policy.tools_timeout):
                    listed = await list_all_tools(connection.session)
                    if await self.accept_tools(listed):
                        self._on_tools(self.tools, self.server_info)
            elif isinstance(notification, types.ResourceListChangedNotification):
                await self._relist(connection, ("resources",))
            elif isinstance(notification, types.PromptListChangedNotification):
                await self._relist(connection, ("prompts",))
            if self._on_notification is not None:
                self._on_notification(self.integration.id, notification)

    async def _relist(self, connection: Connection, kinds: tuple[str, ...]) -> None:
        """List ``kinds`` again into the catalog, secrets masked; a server that fails to
        list them keeps what was listed before (its tools still work)."""
        try:
            with anyio.fail_after(self.policy.tools_timeout):
                catalog = await relisted(self.catalog, connection.session, kinds)
        except (
            MCPError,
            TimeoutError,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ) as exc:
            logger.warning("%s did not list its %s: %s", self.integration.id, "/".join(kinds), exc)
            return
        scrub = self.scrubbed_model
        self.catalog = Catalog(
            tuple(scrub(item) for item in catalog.resources),
            tuple(scrub(item) for item in catalog.templates),
            tuple(scrub(item) for item in catalog.prompts),
        )

    async def _listen(self, connection: Connection) -> None:
        """A 2026-07-28 server tells of changes only on a ``subscriptions/listen`` stream:
        one is kept open for the lists it says change, and what it carries joins what a
        2025-11-25 server sends on its session. A lost stream is opened again."""
        session = connection.session
        capabilities = session.server_capabilities
        if not is_modern(session.protocol_version) or capabilities is None:
            return
        wanted = {
            kind: bool(getattr(getattr(capabilities, kind), "list_changed", False))
            for kind in ("tools", "prompts", "resources")
        }
        if not any(wanted.values()):
            return
        while True:
            try:
                async with listen(
                    session,
                    tools_list_changed=wanted["tools"],
                    prompts_list_changed=wanted["prompts"],
                    resources_list_changed=wanted["resources"],
                ) as events:
                    async for event in events:
                        self.relay.put(event_to_notification(event, {}))
                return
            except (MCPError, SubscriptionLost, TimeoutError) as exc:
                logger.debug("listen stream of %s lost: %s", self.integration.id, exc)
            await anyio.sleep(LISTEN_RETRY_SECS)

    def _scrubbed(self, data: Any) -> Any:
        """What a server says about itself, with any secret it echoes masked."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {self.redact(k): self._scrubbed(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self._scrubbed(item) for item in data]
        return data

    def tools_body(self) -> bytes:
        """``{"tools": [...]}`` as the API sends it, encoded once per list: a big list costs
        a request no more than a small one."""
        if self._tools_body[0] is not self.tools:
            self._tools_body = (self.tools, _tools_body(self.tools))
        return self._tools_body[1]

    def _prepared(self, listed: Listed) -> tuple[tuple[ToolInfo, ...], bytes, bool]:
        tools = tuple(ToolInfo.from_wire(self._scrubbed(tool.wire)) for tool in listed.tools)
        return tools, _tools_body(tools), tools != self.tools

    async def accept_tools(self, listed: Listed) -> bool:
        """Take a freshly listed set of tools, secrets masked and encoded for ``/tools``;
        True when it differs from the last one. A big list is prepared in a worker thread,
        so other requests go on meanwhile."""
        if len(listed.tools) > OFF_LOOP_TOOLS:
            tools, body, changed = await anyio.to_thread.run_sync(self._prepared, listed)
        else:
            tools, body, changed = self._prepared(listed)
        self.tools_hint = listed.hint
        self.tools, self._tools_body = tools, (tools, body)
        if changed:
            self.validators.clear()
        return changed

    def scrubbed_model(self, result: ResultT) -> ResultT:
        """A server's answer with the integration's secrets masked in every string."""
        if not self.redact:
            return result
        data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        scrubbed = self._scrubbed(data)
        return result if scrubbed == data else type(result).model_validate(scrubbed)

    def changed(self) -> None:
        self.version += 1
        self._on_change()

    def status_body(self) -> bytes:
        """``status_json()`` as sent: made again when it changed and once a second
        (uptime counts seconds), not once per request."""
        key = (self.version, int(time.monotonic()))
        if self._status_body[0] != key:
            self._status_body = (key, encoded(self.status_json()))
        return self._status_body[1]

    def status_json(self) -> dict[str, Any]:
        return {
            "id": self.integration.id,
            "status": self.status.value,
            "pid": self.pid,
            "container_id": self.connection.container_id if self.connection else None,
            "uptime_secs": self.uptime_secs,
            "tools_count": len(self.tools),
            "runtime": self.integration.spec.runtime,
            "source": self.integration.source,
            "started_at": self.started_at if self.uptime_secs is not None else None,
            "restarts": self.restarts,
            "next_retry_at": self.next_retry_at,
            "last_exit_code": self.last_exit_code,
            "last_error": self.last_error,
            "log_dropped": self.connection.log_dropped() if self.connection else 0,
            "protocol_version": self.connection.session.protocol_version
            if self.connection
            else None,
            "start_on_demand": self.on_demand.start_on_demand,
            "idle_timeout": self.on_demand.idle_timeout,
            "stop_reason": self.stop_reason if self.status is Status.STOPPED else None,
            "last_used_at": self.last_used_at,
            "server_info": self.server_info,
        }
