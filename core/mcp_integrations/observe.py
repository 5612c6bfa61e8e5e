"""What the hub shows about itself: status changes as a live event stream, a server's log
(its tail, or followed), and Prometheus metrics."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_integrations.manager import Manager
from mcp_integrations.models import JSON, InstallEvent, IntegrationEvent, Status

#: Events a slow listener may fall behind by before it misses some.
EVENT_BUFFER = 256
FOLLOW_POLL_SECS = 0.2
MAX_TAIL_LINES = 10_000
#: Method and status pairs whose counters are kept at hand (the rest are looked up).
MAX_COUNTED_PAIRS = 64


def event_json(event: IntegrationEvent) -> JSON:
    return {
        "id": event.id,
        "from": event.previous.value,
        "to": event.status.value,
        "reason": event.error,
        "pid": event.pid,
        "exit_code": event.exit_code,
        "time": time.time(),
    }


class Events:
    """Every status change, fanned out to each listener of ``GET /events``."""

    def __init__(self, manager: Manager) -> None:
        self._listeners: set[MemoryObjectSendStream[JSON]] = set()
        manager.listeners.append(self._heard)
        manager.install_listeners.append(self._installing)

    def _installing(self, event: InstallEvent) -> None:
        self._send({"event": "install", **dataclasses.asdict(event), "time": time.time()})

    def _heard(
        self, integration_id: str, item: types.ServerNotification | IntegrationEvent
    ) -> None:
        if isinstance(item, IntegrationEvent):
            self._send(event_json(item))

    def _send(self, data: JSON) -> None:
        for listener in list(self._listeners):
            try:
                listener.send_nowait(data)
            except anyio.WouldBlock:
                pass
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._listeners.discard(listener)

    async def stream(self) -> AsyncIterator[dict[str, str]]:
        send, receive = anyio.create_memory_object_stream[JSON](EVENT_BUFFER)
        self._listeners.add(send)
        try:
            async with receive:
                async for data in receive:
                    # shared by every listener: read, never changed
                    kind = data.get("event", "status")
                    body = {key: value for key, value in data.items() if key != "event"}
                    yield {"event": kind, "data": json.dumps(body)}
        finally:
            self._listeners.discard(send)
            send.close()


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a log (reading from its end, not all of it)."""
    if not path.exists() or lines <= 0:
        return []
    with path.open("rb") as file:
        file.seek(0, 2)
        end = position = file.tell()
        chunk = b""
        while position > 0 and chunk.count(b"\n") <= lines:
            step = min(65536, position)
            position -= step
            file.seek(position)
            chunk = file.read(end - position)
    text = chunk.decode("utf-8", errors="replace").splitlines()
    return text[-lines:]


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _grown(path: Path, offset: int) -> tuple[bytes, int]:
    """What was written to ``path`` past ``offset``, and the new offset (0 after rotation)."""
    size = _size(path)
    if size < offset:
        offset = 0
    if size == offset:
        return b"", offset
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(size - offset), size


async def follow(path: Path) -> AsyncIterator[dict[str, str]]:
    """New lines of a log as they are written (polled: server logs are small and slow)."""
    offset = _size(path)
    buffer = b""
    while True:
        data, offset = _grown(path, offset)
        *complete, buffer = (buffer + data).split(b"\n")
        for line in complete:
            yield {"event": "line", "data": line.decode("utf-8", errors="replace")}
        await anyio.sleep(FOLLOW_POLL_SECS)


class IntegrationsCollector(Collector):
    """Integrations by status and their restarts, read from the manager at each scrape."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily(
            "mcp_integrations", "Installed integrations by status", labels=["status"]
        )
        counts = {status: 0 for status in Status}
        for supervisor in self.manager.list():
            counts[supervisor.status] += 1
        for status, count in counts.items():
            by_status.add_metric([status.value], count)
        yield by_status
        restarts = GaugeMetricFamily(
            "mcp_integration_restarts", "Restarts since the last start asked for", labels=["id"]
        )
        for supervisor in self.manager.list():
            restarts.add_metric([supervisor.integration.id], supervisor.restarts)
        yield restarts


class Metrics:
    """The hub's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tool_calls = Counter(
            "mcp_tool_calls",
            "Tool calls through the hub",
            ["id", "outcome"],
            registry=self.registry,
        )
        self.tool_call_seconds = Histogram(
            "mcp_tool_call_seconds", "Tool call latency", ["id"], registry=self.registry
        )
        self.http_requests = Counter(
            "mcp_http_requests", "HTTP requests", ["method", "status"], registry=self.registry
        )
        self._by_pair: dict[tuple[str, int], Any] = {}

    def http_request(self, method: str, status: int) -> None:
        """Count one answered request (the labelled counter looked up once per pair)."""
        counter = self._by_pair.get((method, status))
        if counter is None:
            counter = self.http_requests.labels(method, str(status))
            if len(self._by_pair) < MAX_COUNTED_PAIRS:
                self._by_pair[method, status] = counter
        counter.inc()

    def watch(self, manager: Manager) -> None:
        self.registry.register(IntegrationsCollector(manager))

    def tool_call(self, integration_id: str, seconds: float, outcome: str) -> None:
        self.tool_calls.labels(integration_id, outcome).inc()
        self.tool_call_seconds.labels(integration_id).observe(seconds)


class RequestCounter:
    """Counts every HTTP request by method and status, refused ones included."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.http_request(scope["method"], message["status"])
            await send(message)

        await self.app(scope, receive, counted)
