"""The integrations: install, remove, start, stop, restart; one lock per id.

The manager knows neither sources nor runtimes: it asks the plugins (through ``Hooks``)
and hands each integration to its ``Supervisor``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup

from mcp_integrations import containment, envpolicy, leftovers, processes
from mcp_integrations.auth import LOCAL_USER
from mcp_integrations.calls import DEFAULT_CALL_TIMEOUT, CallObserver, Calls
from mcp_integrations.errors import (
    AlreadyInstalled,
    IntegrationsError,
    InvalidId,
    NotFound,
    StartCancelled,
    UnreadableIntegration,
)
from mcp_integrations.logscrub import SecretSet
from mcp_integrations.models import (
    JSON,
    InstallEvent,
    InstallRequest,
    Integration,
    IntegrationEvent,
    LaunchSpec,
    OnDemand,
    Principal,
    Status,
    ToolInfo,
    encoded,
)
from mcp_integrations.plugins import Hooks
from mcp_integrations.private import private_dir
from mcp_integrations.redact import Redactor
from mcp_integrations.relay import Caller
from mcp_integrations.runtime import Runtime
from mcp_integrations.store import Store
from mcp_integrations.supervisor import RestartPolicy, Supervisor

logger = logging.getLogger(__name__)
Listener = Callable[[str, "types.ServerNotification | IntegrationEvent"], None]
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_id(integration_id: str) -> str:
    if not ID_PATTERN.fullmatch(integration_id) or ".." in integration_id:
        raise InvalidId(
            f"invalid integration id {integration_id[:40]!r}: use 1-64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, without '..'"
        )
    return integration_id


class Manager:
    """Every installed integration and its supervisor, for the lifetime of the app."""

    def __init__(
        self,
        store: Store,
        hooks: Hooks,
        data_dir: Path,
        task_group: TaskGroup,
        policy: RestartPolicy | None = None,
        pass_env: Iterable[str] = (),
        on_demand: OnDemand | None = None,
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.workdirs = private_dir(data_dir / "integrations")
        #: Before anything starts (and before the app listens): what a killed hub left running.
        self.leftovers = leftovers.reconcile(self.workdirs)
        self._tg = task_group
        self.policy = policy or RestartPolicy()
        self.pass_env = tuple(pass_env)
        #: What integrations that do not say get: start on first call, idle stop.
        self.on_demand = on_demand or OnDemand()
        self._supervisors: dict[str, Supervisor] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.secrets = SecretSet()
        #: Told of every status change and of what servers say unasked; must not block.
        self.listeners: list[Listener] = []
        #: Told how each install goes; must not block.
        self.install_listeners: list[Callable[[InstallEvent], None]] = []
        #: Grows whenever the set of running integrations or their tools may have changed.
        self.generation = 0
        #: True once what was running before the hub started runs again (readiness).
        self.ready = False
        self.call_observer: CallObserver | None = None
        #: Set when the hub goes down: nothing starts any more.
        self.closing = False
        #: Grows whenever anything a status shows changes.
        self.revision = 0
        self._listing: tuple[tuple[int, int, int], bytes] = ((-1, -1, -1), b"")
        for integration in store.list():
            self._supervisors[integration.id] = self._supervisor(integration)
        for integration_id, reason in store.unreadable().items():
            self._supervisors[integration_id] = self._unreadable(integration_id, reason)

    def _redactor(self, integration_id: str, spec: LaunchSpec) -> Redactor:
        """The integration's redactor, known to the hub's log scrubbing too."""
        redactor = Redactor(spec.secret_values())
        self.secrets.set(integration_id, redactor)
        return redactor

    def _supervisor(self, integration: Integration) -> Supervisor:
        workdir = self.workdirs / integration.id

        def make_runtime() -> Runtime:
            envpolicy.check_env(integration.spec)
            spec = envpolicy.resolve_references(integration.spec, os.environ)
            if spec is not integration.spec:
                supervisor.redact = self._redactor(integration.id, spec)
            spec = dataclasses.replace(
                spec,
                host_env=processes.base_env(self.pass_env),
                limits=integration.options.limits(),
                protocol=integration.options.protocol,
            )
            return self.hooks.create_runtime(spec, private_dir(workdir))

        def on_tools(tools: tuple[ToolInfo, ...], server_info: dict[str, Any] | None) -> None:
            self.generation += 1
            try:
                self.store.set_tools(integration.id, tools, server_info)
            except IntegrationsError as exc:
                logger.warning("the tools of %s were not recorded: %s", integration.id, exc)

        supervisor = Supervisor(
            integration,
            make_runtime,
            on_event=self._event,
            on_notification=self._notification,
            on_tools=on_tools,
            policy=self.policy,
            redact=self._redactor(integration.id, integration.spec),
            on_demand=integration.options.on_demand(self.on_demand),
            on_idle=self._when_idle,
            on_change=self._changed,
        )
        return supervisor

    def _unreadable(self, integration_id: str, reason: str) -> Supervisor:
        """A stored row that does not decode: listed, failed, removable, never started."""
        placeholder = Integration(integration_id, "?", LaunchSpec(runtime="?"))
        supervisor = self._supervisor(placeholder)
        supervisor.unreadable = UnreadableIntegration(integration_id, reason)
        supervisor.status = Status.FAILED
        supervisor.last_error = supervisor.unreadable.message
        return supervisor

    def _event(self, event: IntegrationEvent) -> None:
        self.generation += 1
        self.hooks.integration_event(event)
        for listener in self.listeners:
            listener(event.id, event)

    def _notification(self, integration_id: str, notification: types.ServerNotification) -> None:
        for listener in self.listeners:
            listener(integration_id, notification)

    def get(self, integration_id: str) -> Supervisor:
        check_id(integration_id)
        try:
            return self._supervisors[integration_id]
        except KeyError:
            raise NotFound.integration(integration_id) from None

    def list(self) -> list[Supervisor]:
        return list(self._supervisors.values())

    def listing(self) -> bytes:
        """``{"integrations": [every status]}`` as sent: made again when a status changed
        and once a second (uptimes count seconds), not once per request."""
        key = (self.generation, self.revision, int(time.monotonic()))
        if self._listing[0] != key:
            statuses = [s.status_json() for s in self._supervisors.values()]
            self._listing = (key, encoded({"integrations": statuses}))
        return self._listing[1]

    @asynccontextmanager
    async def _locked(self, integration_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(integration_id, anyio.Lock())
        async with lock:
            yield

    async def install(
        self, request: InstallRequest, principal: Principal = LOCAL_USER
    ) -> Supervisor:
        if request.id is not None:
            check_id(request.id)
        spec = self.hooks.resolve_source(request)
        envpolicy.check_install(principal, spec)
        integration_id = request.id or spec.default_id or request.source
        if request.id is None and not ID_PATTERN.fullmatch(integration_id):
            raise InvalidId(
                f"give the integration an 'id': the source {request.source[:60]!r} cannot be one"
            )
        check_id(integration_id)
        async with self._locked(integration_id):
            if integration_id in self._supervisors:
                raise AlreadyInstalled(f"an integration with id {integration_id!r} is installed")
            workdir = private_dir(self.workdirs / integration_id)
            self._installing(integration_id, "installing", request.source)
            try:
                spec = await anyio.to_thread.run_sync(self.hooks.prepare, spec, workdir)
                integration = Integration(
                    integration_id,
                    request.source,
                    spec,
                    installed_at=time.time(),
                    options=request.integration_options,
                )
                self.store.add(integration)
            except BaseException as exc:
                shutil.rmtree(workdir, ignore_errors=True)
                why = exc.message if isinstance(exc, IntegrationsError) else "the install stopped"
                self._installing(integration_id, "failed", request.source, why)
                raise
            supervisor = self._supervisors[integration_id] = self._supervisor(integration)
            self._changed()
            self._installing(integration_id, "installed", request.source)
        if request.autostart:
            await self.autostart(integration_id)
        elif supervisor.on_demand.start_on_demand:
            await self._list_first(integration_id)
        return supervisor

    async def _list_first(self, integration_id: str) -> None:
        """Start a new on-demand integration once and stop it, so its tools are known (and
        shown on ``/mcp``) before its first call; a failure stays in its status."""
        supervisor = await self.autostart(integration_id)
        if supervisor.active:
            await self.stop(integration_id, reason="on_demand")

    def _installing(
        self, integration_id: str, phase: str, source: str, error: str | None = None
    ) -> None:
        event = InstallEvent(integration_id, phase, source, error)
        for listener in self.install_listeners:
            listener(event)

    def _changed(self) -> None:
        self.revision += 1

    def _when_idle(self, integration_id: str) -> None:
        self._tg.start_soon(self._idle_stop, integration_id)

    async def _idle_stop(self, integration_id: str) -> None:
        """Stop a server nobody has called for its ``idle_timeout``, unless a call came in
        meanwhile."""
        with suppress(IntegrationsError):
            supervisor = self.get(integration_id)
            timeout = supervisor.on_demand.idle_timeout
            if timeout is not None and supervisor.idle_for() >= timeout:
                await self.stop(integration_id, reason="idle")

    async def install_many(
        self,
        requests: Sequence[tuple[str, InstallRequest | IntegrationsError]],
        principal: Principal,
    ) -> Sequence[JSON]:
        """Install each at once, in its own right: one that fails leaves the others be."""
        results: list[JSON] = [{} for _ in requests]

        async def one(index: int, name: str, request: InstallRequest | IntegrationsError) -> None:
            try:
                if isinstance(request, IntegrationsError):
                    raise request
                supervisor = await self.install(request, principal)
                results[index] = {"id": supervisor.integration.id, "installed": True}
                if request.autostart:
                    results[index]["status"] = supervisor.status.value
            except IntegrationsError as exc:
                error = {"code": exc.code, "message": exc.message}
                results[index] = {"id": name[:64], "installed": False, "error": error}

        async with anyio.create_task_group() as tg:
            for index, (name, request) in enumerate(requests):
                tg.start_soon(one, index, name, request)
        return results

    async def autostart(self, integration_id: str) -> Supervisor:
        """Start a new integration; a failure stays in its status rather than undoing it."""
        try:
            return await self.start(integration_id)
        except IntegrationsError as exc:
            supervisor = self.get(integration_id)
            supervisor.last_error = supervisor.last_error or exc.message
            return supervisor

    async def remove(self, integration_id: str) -> None:
        self.get(integration_id).request_stop()
        async with self._locked(integration_id):
            supervisor = self.get(integration_id)
            await supervisor.stop()
            spec = supervisor.integration.spec
            workdir = self.workdirs / integration_id
            self.store.delete(integration_id)
            del self._supervisors[integration_id]
            self.generation += 1
            self.secrets.discard(integration_id)
            await anyio.to_thread.run_sync(self.hooks.cleanup, spec, workdir)
            shutil.rmtree(workdir, ignore_errors=True)

    async def start(self, integration_id: str) -> Supervisor:
        async with self._locked(integration_id):
            supervisor = self.get(integration_id)
            await self._start(supervisor)
            return supervisor

    async def _start(self, supervisor: Supervisor) -> None:
        """Record that it should run, then start it: a failed write never leaves a server
        running that the store says is stopped. One that does not start is recorded as
        before."""
        if self.closing:
            raise StartCancelled("the hub is shutting down")
        before = supervisor.integration.desired
        if not supervisor.active:
            self._desire(supervisor, Status.RUNNING)
        try:
            await supervisor.start(self._tg)
        except IntegrationsError:
            if not supervisor.active and before is not Status.RUNNING:
                with suppress(IntegrationsError):
                    self._desire(supervisor, before)
            raise

    def _desire(self, supervisor: Supervisor, desired: Status) -> None:
        self.store.set_desired(supervisor.integration.id, desired)
        supervisor.integration = dataclasses.replace(supervisor.integration, desired=desired)

    async def stop(self, integration_id: str, reason: str = "requested") -> Supervisor:
        """Stop first (cancelling a start in progress at once), then record it, so a failed
        write cannot leave running a server that the store says is stopped. ``reason``
        shows in status: ``requested``, ``idle``, ``on_demand``."""
        self.get(integration_id).request_stop()
        async with self._locked(integration_id):
            supervisor = self.get(integration_id)
            await supervisor.stop()
            supervisor.stop_reason = reason
            supervisor.changed()
            self._desire(supervisor, Status.STOPPED)
            return supervisor

    async def restart(self, integration_id: str) -> Supervisor:
        self.get(integration_id).request_stop()
        async with self._locked(integration_id):
            supervisor = self.get(integration_id)
            await supervisor.stop()
            await self._start(supervisor)
            return supervisor

    def interrupt(self) -> None:
        """The hub is going down: cancel every start in progress and stop every server now,
        without waiting (``aclose`` waits)."""
        self.closing = True
        for supervisor in self.list():
            supervisor.request_stop()

    def kill_now(self) -> None:
        """SIGKILL every process of every server at once, without waiting: for a second
        signal, when the hub will not wait for a graceful stop. Safe in a signal handler."""
        self.closing = True
        containment.kill_all(self.workdirs)

    async def calls(
        self, integration_id: str, deadline: float | None = None, caller: Caller | None = None
    ) -> Calls:
        """Calls to a running integration, started first if it starts on demand; the
        deadline is the caller's, else the integration's, else the hub's default."""
        supervisor = self.get(integration_id)
        options = supervisor.integration.options
        supervisor.touch()
        if supervisor.connection is None and supervisor.on_demand.start_on_demand:
            await self.start(integration_id)
        seconds = deadline or options.call_timeout or DEFAULT_CALL_TIMEOUT
        return Calls(supervisor, seconds, caller, self.call_observer)

    async def resume(self) -> None:
        """Start what was running when the hub last stopped; failures stay in each status."""
        async with anyio.create_task_group() as tg:
            for supervisor in self.list():
                if supervisor.integration.desired is Status.RUNNING:
                    tg.start_soon(self._resume_one, supervisor.integration.id)
        self.ready = True

    async def _resume_one(self, integration_id: str) -> None:
        try:
            await self.start(integration_id)
        except Exception as exc:
            self.get(integration_id).last_error = getattr(exc, "message", str(exc))

    async def aclose(self) -> None:
        """Stop every server, all at once; the desired state stays for the next run."""
        self.closing = True
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                for supervisor in self.list():
                    tg.start_soon(supervisor.stop)
