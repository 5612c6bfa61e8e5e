"""An MCP server (the SDK's low-level ``Server``) whose every handler forwards to the
integrations of a ``View``, on behalf of the client that asked.

Tool failures the hub sees (bad arguments, a stopped or slow server) come back as tool
results with ``isError``, which a model can read; an error a server answered with keeps
its JSON-RPC code.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.subscriptions import ListenHandler
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from mcp_integrations import __version__
from mcp_integrations.calls import Calls
from mcp_integrations.catalog import Catalog, merged_hint
from mcp_integrations.errors import IntegrationsError, UnknownResource
from mcp_integrations.gateway.bridge import (
    Bridge,
    ModernCaller,
    is_modern_client,
    state_boundary,
)
from mcp_integrations.gateway.caller import SessionCaller
from mcp_integrations.gateway.clients import Clients
from mcp_integrations.gateway.views import View
from mcp_integrations.supervisor import OFF_LOOP_TOOLS

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)
_CODES = {400: types.INVALID_PARAMS, 404: types.INVALID_PARAMS, 422: types.INVALID_PARAMS}


def mcp_error(exc: IntegrationsError) -> MCPError:
    code = (
        exc.mcp_code if exc.mcp_code is not None else _CODES.get(exc.status, types.INTERNAL_ERROR)
    )
    return MCPError(code, exc.message, data=exc.mcp_data)


def _tool_error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


#: The keys of ``_meta`` that carry a stateless request's envelope (revision, client info,
#: capabilities, log level): the client's, not the server's business.
ENVELOPE_PREFIX = "io.modelcontextprotocol/"


def _without_envelope(request: R) -> R:
    params = getattr(request, "params", None)
    meta = getattr(params, "meta", None)
    if params is None or not meta:
        return request
    kept = {k: v for k, v in meta.items() if not k.startswith(ENVELOPE_PREFIX)}
    if len(kept) == len(meta):
        return request
    return request.model_copy(update={"params": params.model_copy(update={"meta": kept or None})})


class GatewayServer(Server[Any]):
    """Capabilities mirror the integration's server (one view), or all kinds (``/mcp``)."""

    def __init__(self, view: View, name: str, clients: Clients, bridge: Bridge) -> None:
        self.view = view
        self.clients = clients
        self.bridge = bridge
        #: The tools as last listed, for the view's map they were made from.
        self._tool_list: tuple[dict[str, tuple[str, str]] | None, list[types.Tool]] = (None, [])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            super().__init__(
                name,
                version=__version__,
                on_list_tools=self._list_tools,
                on_call_tool=self._call_tool,
                on_list_resources=self._list_resources,
                on_list_resource_templates=self._list_resource_templates,
                on_read_resource=self._read_resource,
                on_subscribe_resource=self._subscribe,
                on_unsubscribe_resource=self._unsubscribe,
                on_list_prompts=self._list_prompts,
                on_get_prompt=self._get_prompt,
                on_completion=self._complete,
                on_set_logging_level=self._set_level,
                get_tool_input_schema=self._input_schema,
                on_subscriptions_listen=ListenHandler(clients.bus),
            )
        # The SDK's default tracing middleware is left out: a span per forwarded message
        # costs more than the forwarding, and the upstream session traces the call.
        self.middleware = [self._seen, state_boundary(name)]

    def _input_schema(self, exposed: str) -> dict[str, Any] | None:
        """A tool's input schema from memory, for the SDK's check of a stateless request's
        ``Mcp-Param`` headers (without it, the SDK lists every tool first)."""
        try:
            integration_id, name = self.view.tool(exposed)
            supervisor = self.view.manager.get(integration_id)
        except IntegrationsError:
            return None
        tool = next((t for t in supervisor.tools if t.name == name), None)
        return None if tool is None else tool.input_schema

    async def _seen(self, ctx: ServerRequestContext, call_next: CallNext) -> HandlerResult:
        """Remember each client session, to tell it of changes later."""
        self.clients.seen(ctx)
        return await call_next(ctx)

    def get_capabilities(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        *,
        protocol_version: str | None = None,
    ) -> types.ServerCapabilities:
        every = super().get_capabilities(
            NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True),
            experimental_capabilities,
            extensions,
            protocol_version=protocol_version,
        )
        upstream = self._upstream_capabilities()
        if upstream is None:
            return every
        return every.model_copy(
            update={
                kind: getattr(every, kind) if getattr(upstream, kind) is not None else None
                for kind in ("prompts", "resources", "logging", "completions")
            }
        )

    def _upstream_capabilities(self) -> types.ServerCapabilities | None:
        if self.view.only is None:
            return None
        connection = self.view.manager.get(self.view.only).connection
        return connection.session.server_capabilities if connection else None

    async def _calls(self, integration_id: str, ctx: ServerRequestContext | None) -> Calls:
        caller = SessionCaller(ctx) if ctx is not None else None
        return await self.view.manager.calls(integration_id, caller=caller)

    def _listed(self, items: Callable[[Catalog], Iterable[T]]) -> list[tuple[str, T]]:
        """What the view's integrations listed when they last ran, from memory, by id."""
        manager = self.view.manager
        ids = sorted(self.view.integration_ids())
        return [(i, item) for i in ids for item in items(manager.get(i).catalog)]

    def _wire_tools(self, exposed: dict[str, tuple[str, str]]) -> list[types.Tool]:
        """The tools as listed, under the names this endpoint shows them by."""
        manager = self.view.manager
        owners = {integration_id for integration_id, _ in exposed.values()}
        by_name = {i: {t.name: t for t in manager.get(i).tools} for i in owners}
        return [
            types.Tool.model_validate({**by_name[i][name].wire, "name": shown})
            for shown, (i, name) in exposed.items()
        ]

    async def _list_tools(
        self, ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        exposed = self.view.tools()
        if self._tool_list[0] is not exposed:
            if len(exposed) > OFF_LOOP_TOOLS:
                tools = await anyio.to_thread.run_sync(self._wire_tools, exposed)
            else:
                tools = self._wire_tools(exposed)
            self._tool_list = (exposed, tools)
        tools = self._tool_list[1]
        parts = (self.view.manager.get(i).tools_hint for i in self.view.integration_ids())
        hint = merged_hint(parts)
        return types.ListToolsResult(tools=tools, ttl_ms=hint.ttl_ms, cache_scope=hint.scope)

    async def _call_tool(
        self, ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        try:
            integration_id, name = self.view.tool(params.name)
        except IntegrationsError as exc:
            raise mcp_error(exc) from None
        wants_progress = bool(ctx.meta and ctx.meta.get("progress_token") is not None)

        async def call(caller: SessionCaller | ModernCaller) -> types.CallToolResult:
            try:
                calls = await self.view.manager.calls(integration_id, caller=caller)
                return await calls.call_tool(
                    name,
                    params.arguments or {},
                    progress=caller.progress if wants_progress else None,
                )
            except IntegrationsError as exc:
                if exc.mcp_code is not None:
                    raise mcp_error(exc) from None
                return _tool_error(exc.message)

        if is_modern_client(ctx):
            return await self.bridge.call(ctx, call)
        return await call(SessionCaller(ctx))

    async def _list_resources(
        self, ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        listed = self._listed(lambda catalog: catalog.resources)
        return types.ListResourcesResult(
            resources=[self._named(i, r) for i, r in listed],
        )

    async def _list_resource_templates(
        self, ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        listed = self._listed(lambda catalog: catalog.templates)
        return types.ListResourceTemplatesResult(
            resource_templates=[self._named(i, t) for i, t in listed]
        )

    def _named(self, integration_id: str, item: T) -> T:
        """A resource or template, its ``name`` prefixed on ``/mcp``; URIs stay as they are."""
        if not self.view.aggregate:
            return item
        name = getattr(item, "name", "")
        return item.model_copy(update={"name": f"{integration_id}__{name}"})  # type: ignore[attr-defined, no-any-return]

    async def _owner_of(self, uri: str) -> str:
        """The integration a URI belongs to: the one that lists it, else the first whose
        template could have made it (in id order)."""
        if not self.view.aggregate:
            return self.view.integration_ids()[0]

        for integration_id, resource in self._listed(lambda catalog: catalog.resources):
            if resource.uri == uri:
                return integration_id
        for integration_id, template in self._listed(lambda catalog: catalog.templates):
            prefix = template.uri_template.split("{", 1)[0]
            if uri.startswith(prefix):
                return integration_id
        raise mcp_error(
            UnknownResource(f"no integration has the resource {uri[:200]!r}", mcp_code=-32002)
        )

    async def _read_resource(
        self, ctx: ServerRequestContext, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        integration_id = await self._owner_of(params.uri)

        async def read(caller: SessionCaller | ModernCaller) -> types.ReadResourceResult:
            try:
                calls = await self.view.manager.calls(integration_id, caller=caller)
                return await calls.read_resource(params.uri)
            except IntegrationsError as exc:
                raise mcp_error(exc) from None

        if is_modern_client(ctx):
            return await self.bridge.call(ctx, read)
        return await read(SessionCaller(ctx))

    async def _forward(
        self, integration_id: str, ctx: ServerRequestContext, request: Any, result_type: type[R]
    ) -> R:
        """A request passed on as it came, to the integration it belongs to, without the
        2026-07-28 envelope a stateless client puts in ``_meta``: the hub speaks to the
        server on a session of its own."""
        try:
            calls = await self._calls(integration_id, ctx)
            return await calls.forward(_without_envelope(request), result_type, request.method)
        except IntegrationsError as exc:
            raise mcp_error(exc) from None

    async def _subscribe(
        self, ctx: ServerRequestContext, params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        integration_id = await self._owner_of(params.uri)
        self.clients.subscribe(params.uri, ctx)
        request = types.SubscribeRequest(params=params)
        return await self._forward(integration_id, ctx, request, types.EmptyResult)

    async def _unsubscribe(
        self, ctx: ServerRequestContext, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        integration_id = await self._owner_of(params.uri)
        self.clients.unsubscribe(params.uri, ctx)
        request = types.UnsubscribeRequest(params=params)
        return await self._forward(integration_id, ctx, request, types.EmptyResult)

    async def _list_prompts(
        self, ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        listed = self._listed(lambda catalog: catalog.prompts)
        exposed = {
            pair: name
            for name, pair in self.view.name_prompts((i, p.name) for i, p in listed).items()
        }
        return types.ListPromptsResult(
            prompts=[p.model_copy(update={"name": exposed[(i, p.name)]}) for i, p in listed]
        )

    async def _prompt(self, exposed: str, ctx: ServerRequestContext) -> tuple[str, str]:
        try:
            return self.view.prompt(exposed)
        except IntegrationsError:
            await self._list_prompts(ctx, None)
        try:
            return self.view.prompt(exposed)
        except IntegrationsError as exc:
            raise mcp_error(exc) from None

    async def _get_prompt(
        self, ctx: ServerRequestContext, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        integration_id, name = await self._prompt(params.name, ctx)

        async def get(caller: SessionCaller | ModernCaller) -> types.GetPromptResult:
            try:
                calls = await self.view.manager.calls(integration_id, caller=caller)
                return await calls.get_prompt(name, params.arguments or {})
            except IntegrationsError as exc:
                raise mcp_error(exc) from None

        if is_modern_client(ctx):
            return await self.bridge.call(ctx, get)
        return await get(SessionCaller(ctx))

    async def _complete(
        self, ctx: ServerRequestContext, params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        ref = params.ref
        if isinstance(ref, types.PromptReference):
            integration_id, name = await self._prompt(ref.name, ctx)
            params = params.model_copy(update={"ref": ref.model_copy(update={"name": name})})
        else:
            integration_id = await self._owner_of(ref.uri)
        request = types.CompleteRequest(params=params)
        return await self._forward(integration_id, ctx, request, types.CompleteResult)

    async def _set_level(
        self, ctx: ServerRequestContext, params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        """Passed to every server of the view that logs; they are shared, so the level is too."""
        for integration_id in self.view.integration_ids():
            calls = await self._calls(integration_id, ctx)
            if calls.offers("logging"):
                request = types.SetLevelRequest(params=params)
                await self._forward(integration_id, ctx, request, types.EmptyResult)
        return types.EmptyResult()
