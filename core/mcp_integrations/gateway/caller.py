"""A request of an MCP client of the hub, as the relay sees it: server-to-client requests
and notifications go back on that request's own stream."""

from __future__ import annotations

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata

from mcp_integrations.relay import ELICITATION, ROOTS, SAMPLING

_CAPABILITIES = {
    SAMPLING: types.ClientCapabilities(sampling=types.SamplingCapability()),
    ELICITATION: types.ClientCapabilities(elicitation=types.ElicitationCapability()),
    ROOTS: types.ClientCapabilities(roots=types.RootsCapability()),
}


class SessionCaller:
    """The client behind one request to ``/mcp`` or ``/integrations/{id}/mcp``."""

    def __init__(self, ctx: ServerRequestContext) -> None:
        self.ctx = ctx
        self._metadata = ServerMessageMetadata(related_request_id=ctx.request_id)

    def can(self, capability: str) -> bool:
        return self.ctx.session.check_client_capability(_CAPABILITIES[capability])

    declares = can

    async def sample(
        self, params: types.CreateMessageRequestParams, key: str | None = None
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        result_type: type[types.CreateMessageResult | types.CreateMessageResultWithTools] = (
            types.CreateMessageResultWithTools if params.tools else types.CreateMessageResult
        )
        try:
            return await self.ctx.session.send_request(
                types.CreateMessageRequest(params=params), result_type, metadata=self._metadata
            )
        except MCPError as exc:
            return exc.error

    async def elicit(
        self, params: types.ElicitRequestParams, key: str | None = None
    ) -> types.ElicitResult | types.ErrorData:
        try:
            return await self.ctx.session.send_request(
                types.ElicitRequest(params=params), types.ElicitResult, metadata=self._metadata
            )
        except MCPError as exc:
            return exc.error

    async def list_roots(self, key: str | None = None) -> types.ListRootsResult | types.ErrorData:
        try:
            return await self.ctx.session.send_request(
                types.ListRootsRequest(), types.ListRootsResult, metadata=self._metadata
            )
        except MCPError as exc:
            return exc.error

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        await self.ctx.session.send_notification(
            types.LoggingMessageNotification(params=params), related_request_id=self.ctx.request_id
        )

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        await self.ctx.session.report_progress(progress, total, message)
