"""The client sessions of one MCP endpoint, kept to tell them of changes later: list
changes to all of them, resource updates to those that subscribed. Stateless clients
(2026-07-28) hear the same on their ``subscriptions/listen`` streams, through a bus."""

from __future__ import annotations

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import event_from_wire


def _session_key(ctx: ServerRequestContext) -> str | None:
    headers = getattr(ctx.request, "headers", None)
    return headers.get("mcp-session-id") if headers is not None else None


class Clients:
    """The client sessions of one endpoint, by session id, and what each subscribed to."""

    def __init__(self) -> None:
        self._sessions: dict[str, ServerSession] = {}
        self._subscribed: dict[str, dict[str, ServerSession]] = {}
        #: What the endpoint's ``subscriptions/listen`` streams are fed from.
        self.bus = InMemorySubscriptionBus()

    def seen(self, ctx: ServerRequestContext) -> None:
        key = _session_key(ctx)
        if key is not None:
            self._sessions[key] = ctx.session

    def subscribe(self, uri: str, ctx: ServerRequestContext) -> None:
        key = _session_key(ctx)
        if key is not None:
            self._subscribed.setdefault(uri, {})[key] = ctx.session

    def unsubscribe(self, uri: str, ctx: ServerRequestContext) -> None:
        key = _session_key(ctx)
        self._subscribed.get(uri, {}).pop(key or "", None)

    async def _send(
        self, sessions: dict[str, ServerSession], item: types.ServerNotification
    ) -> None:
        for key, session in list(sessions.items()):
            try:
                await session.send_notification(item)
            except Exception:
                sessions.pop(key, None)

    async def _publish(self, item: types.ServerNotification) -> None:
        params = item.params.model_dump(by_alias=True, exclude_none=True) if item.params else None
        event = event_from_wire(item.method, params)
        if event is not None:
            await self.bus.publish(event)

    async def tell(self, item: types.ServerNotification) -> None:
        await self._send(self._sessions, item)
        await self._publish(item)

    async def updated(self, item: types.ResourceUpdatedNotification) -> None:
        await self._send(self._subscribed.get(item.params.uri, {}), item)
        await self._publish(item)
