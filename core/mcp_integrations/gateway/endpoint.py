"""The MCP endpoints: ``/mcp`` over every running integration, ``/integrations/{id}/mcp``
over one, each a streamable-HTTP session manager of the SDK in front of a ``GatewayServer``.

Clients connected to an endpoint hear of changes: a server's own list changes, an
integration starting or stopping (on ``/mcp``), and updates of resources they subscribed to.
"""

from __future__ import annotations

import logging

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

from mcp_integrations.gateway.bridge import Bridge
from mcp_integrations.gateway.clients import Clients
from mcp_integrations.gateway.server import GatewayServer
from mcp_integrations.gateway.views import View
from mcp_integrations.manager import Manager
from mcp_integrations.models import IntegrationEvent

logger = logging.getLogger(__name__)
_LIST_CHANGES = (
    types.ToolListChangedNotification,
    types.PromptListChangedNotification,
    types.ResourceListChangedNotification,
)
#: Changes waiting to be told to clients; past this, the oldest are dropped.
QUEUE_SIZE = 1024


class Endpoint:
    """One MCP endpoint: its server, its clients and the SDK session manager serving it."""

    def __init__(self, view: View, name: str, bridge: Bridge) -> None:
        self.clients = Clients()
        self.server = GatewayServer(view, name, self.clients, bridge)
        self.sessions = StreamableHTTPSessionManager(app=self.server, security_settings=None)
        self._closed = anyio.Event()

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with self.sessions.run():
            task_status.started()
            await self._closed.wait()

    def close(self) -> None:
        self._closed.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.sessions.handle_request(scope, receive, send)


class Gateway:
    """Every MCP endpoint of the hub; they live in the hub's task group."""

    def __init__(self, manager: Manager, task_group: TaskGroup) -> None:
        self.manager = manager
        self._tg = task_group
        self.bridge = Bridge(task_group)
        self.aggregate = Endpoint(View(manager), "mcp-integrations", self.bridge)
        self._single: dict[str, Endpoint] = {}
        self._lock = anyio.Lock()
        self._send, self._receive = anyio.create_memory_object_stream[
            tuple[str, types.ServerNotification | IntegrationEvent]
        ](QUEUE_SIZE)
        manager.listeners.append(self._heard)

    async def start(self) -> None:
        await self._tg.start(self.aggregate.serve)
        self._tg.start_soon(self._tell)

    def close(self) -> None:
        self.aggregate.close()
        for endpoint in self._single.values():
            endpoint.close()

    async def single(self, integration_id: str) -> Endpoint:
        """The endpoint of one integration, made on first use."""
        self.manager.get(integration_id)
        async with self._lock:
            endpoint = self._single.get(integration_id)
            if endpoint is None:
                endpoint = Endpoint(
                    View(self.manager, integration_id),
                    f"mcp-integrations/{integration_id}",
                    self.bridge,
                )
                await self._tg.start(endpoint.serve)
                self._single[integration_id] = endpoint
            return endpoint

    def _heard(
        self, integration_id: str, item: types.ServerNotification | IntegrationEvent
    ) -> None:
        try:
            self._send.send_nowait((integration_id, item))
        except anyio.WouldBlock:
            logger.warning("dropped a change of %s: MCP clients are not keeping up", integration_id)

    async def _tell(self) -> None:
        async for integration_id, item in self._receive:
            single = self._single.get(integration_id)
            if isinstance(item, IntegrationEvent):
                if integration_id not in {s.integration.id for s in self.manager.list()} and single:
                    single.close()
                    del self._single[integration_id]
                for change in _LIST_CHANGES:
                    await self.aggregate.clients.tell(change())
                if single is not None:
                    await single.clients.tell(types.ToolListChangedNotification())
            elif isinstance(item, _LIST_CHANGES):
                await self.aggregate.clients.tell(item)
                if single is not None:
                    await single.clients.tell(item)
            elif isinstance(item, types.ResourceUpdatedNotification):
                await self.aggregate.clients.updated(item)
                if single is not None:
                    await single.clients.updated(item)
