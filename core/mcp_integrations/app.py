"""The Starlette app: one thin route per endpoint; errors become JSON in one place."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pluggy
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mcp_integrations import __version__, dashboard, openapi
from mcp_integrations.auth import Authentication, require
from mcp_integrations.bodies import (
    bounded_int,
    json_object,
    json_object_or_empty,
    parse_call,
    parse_install,
    parse_prompt,
)
from mcp_integrations.calls import dumped, result_json
from mcp_integrations.errors import BadRequest, IntegrationsError
from mcp_integrations.gateway import Gateway
from mcp_integrations.guard import Guard
from mcp_integrations.httperrors import EXCEPTION_HANDLERS
from mcp_integrations.manager import Manager
from mcp_integrations.mcpservers import (
    entries,
    entry_request,
    export_entry,
    is_server_json,
    server_json_request,
)
from mcp_integrations.models import InstallRequest, Role
from mcp_integrations.observe import (
    MAX_TAIL_LINES,
    Events,
    Metrics,
    RequestCounter,
    follow,
    tail,
)
from mcp_integrations.plugins import Hooks, make_plugin_manager
from mcp_integrations.private import private_dir
from mcp_integrations.settings import Settings
from mcp_integrations.store import SQLiteStore
from mcp_integrations.supervisor import RestartPolicy

Handler = Callable[[Request], Awaitable[Response]]


def _manager(request: Request) -> Manager:
    manager: Manager = request.app.state.manager
    return manager


async def list_integrations(request: Request) -> Response:
    return Response(_manager(request).listing(), media_type="application/json")


async def install(request: Request) -> Response:
    body = json_object(await request.body())
    install_request = server_json_request(body) if is_server_json(body) else parse_install(body)
    supervisor = await _manager(request).install(install_request, request.state.principal)
    answer = {"id": supervisor.integration.id, "installed": True}
    if install_request.autostart:
        answer["status"] = supervisor.status.value
    return JSONResponse(answer, status_code=201)


def _entry(name: str, entry: object) -> InstallRequest | IntegrationsError:
    try:
        return entry_request(name, entry)
    except IntegrationsError as exc:
        return exc


async def import_servers(request: Request) -> Response:
    document = json_object(await request.body())
    autostart = document.get("autostart") is True
    requests = [
        (name, dataclasses.replace(r, autostart=autostart) if isinstance(r, InstallRequest) else r)
        for name, r in ((name, _entry(name, entry)) for name, entry in entries(document))
    ]
    results = await _manager(request).install_many(requests, request.state.principal)
    return JSONResponse({"results": results})


async def export_servers(request: Request) -> Response:
    servers = {s.integration.id: export_entry(s.integration) for s in _manager(request).list()}
    return JSONResponse({"mcpServers": servers})


async def remove(request: Request) -> Response:
    integration_id = request.path_params["id"]
    await _manager(request).remove(integration_id)
    return JSONResponse({"id": integration_id, "removed": True})


async def start(request: Request) -> Response:
    supervisor = await _manager(request).start(request.path_params["id"])
    return JSONResponse(supervisor.status_json())


async def stop(request: Request) -> Response:
    supervisor = await _manager(request).stop(request.path_params["id"])
    return JSONResponse(supervisor.status_json())


async def restart(request: Request) -> Response:
    supervisor = await _manager(request).restart(request.path_params["id"])
    return JSONResponse(supervisor.status_json())


async def status(request: Request) -> Response:
    supervisor = _manager(request).get(request.path_params["id"])
    return Response(supervisor.status_body(), media_type="application/json")


async def tools(request: Request) -> Response:
    supervisor = _manager(request).get(request.path_params["id"])
    return Response(supervisor.tools_body(), media_type="application/json")


async def call_tool(request: Request) -> Response:
    arguments, deadline = parse_call(json_object_or_empty(await request.body()))
    calls = await _manager(request).calls(request.path_params["id"], deadline)
    result = await calls.call_tool(request.path_params["name"], arguments)
    return JSONResponse(result_json(result))


async def resources(request: Request) -> Response:
    calls = await _manager(request).calls(request.path_params["id"])
    listed, templates = calls.list_resources(), calls.list_resource_templates()
    return JSONResponse({"resources": dumped(listed), "resource_templates": dumped(templates)})


async def read_resource(request: Request) -> Response:
    uri = request.query_params.get("uri")
    if not uri:
        raise BadRequest("the query parameter 'uri' names the resource to read")
    calls = await _manager(request).calls(request.path_params["id"])
    return JSONResponse(result_json(await calls.read_resource(uri)))


async def prompts(request: Request) -> Response:
    calls = await _manager(request).calls(request.path_params["id"])
    return JSONResponse({"prompts": dumped(calls.list_prompts())})


async def get_prompt(request: Request) -> Response:
    arguments, deadline = parse_prompt(json_object_or_empty(await request.body()))
    calls = await _manager(request).calls(request.path_params["id"], deadline)
    result = await calls.get_prompt(request.path_params["name"], arguments)
    return JSONResponse(result_json(result))


async def sources(request: Request) -> Response:
    forms = request.app.state.hooks.install_forms()
    return JSONResponse({"sources": [form.to_json() for form in forms]})


async def health(request: Request) -> Response:
    manager = _manager(request)
    body = {"status": "ok", "ready": manager.ready, "version": __version__}
    if problems := manager.store.problems:
        body |= {"status": "degraded", "problems": problems}
    return JSONResponse(body | {"integrations": len(manager.list())})


async def events(request: Request) -> Response:
    return EventSourceResponse(request.app.state.events.stream(), ping=15)


async def logs(request: Request) -> Response:
    supervisor = _manager(request).get(request.path_params["id"])
    log = _manager(request).workdirs / supervisor.integration.id / "server.log"
    lines = bounded_int(request.query_params.get("tail", "100"), "tail", 0, MAX_TAIL_LINES)
    if request.query_params.get("follow") in ("true", "1"):

        async def lines_then_more() -> AsyncIterator[dict[str, str]]:
            for line in await anyio.to_thread.run_sync(tail, log, lines):
                yield {"event": "line", "data": line}
            async for item in follow(log):
                yield item

        return EventSourceResponse(lines_then_more(), ping=15)
    found = await anyio.to_thread.run_sync(tail, log, lines)
    return JSONResponse({"id": supervisor.integration.id, "lines": found})


async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def openapi_document(request: Request) -> Response:
    return JSONResponse(openapi.document())


class McpEndpoint:
    """``/mcp`` (every running integration) and ``/integrations/{id}/mcp`` (one): MCP over
    streamable HTTP, for operators, since clients call tools there."""

    def __init__(self, *, single: bool) -> None:
        self.single = single

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        require(request.state.principal, Role.OPERATOR, "using the MCP endpoints")
        gateway: Gateway = request.app.state.gateway
        if self.single:
            endpoint = await gateway.single(request.path_params["id"])
        else:
            endpoint = gateway.aggregate
        await endpoint(scope, receive, send)


def _guarded(handler: Handler, role: Role, action: str) -> Handler:
    """The route, for callers whose role allows it (``Authentication`` named the caller)."""

    async def guarded(request: Request) -> Response:
        require(request.state.principal, role, action)
        return await handler(request)

    guarded.__name__ = handler.__name__
    return guarded


READ, OPERATE = Role.READER, Role.OPERATOR
ROUTES = [
    ("/integrations", list_integrations, "GET", READ, "listing integrations"),
    ("/integrations/{id}/status", status, "GET", READ, "reading status"),
    ("/integrations/install", install, "POST", OPERATE, "installing"),
    ("/integrations/import", import_servers, "POST", OPERATE, "importing"),
    ("/integrations/export", export_servers, "GET", READ, "exporting"),
    ("/integrations/{id}", remove, "DELETE", OPERATE, "removing"),
    ("/integrations/{id}/start", start, "POST", OPERATE, "starting"),
    ("/integrations/{id}/stop", stop, "POST", OPERATE, "stopping"),
    ("/integrations/{id}/restart", restart, "POST", OPERATE, "restarting"),
    ("/integrations/{id}/tools", tools, "GET", READ, "listing tools"),
    ("/integrations/{id}/tools/{name}/call", call_tool, "POST", OPERATE, "calling tools"),
    ("/integrations/{id}/resources", resources, "GET", READ, "listing resources"),
    ("/integrations/{id}/resources/read", read_resource, "GET", READ, "reading resources"),
    ("/integrations/{id}/prompts", prompts, "GET", READ, "listing prompts"),
    ("/integrations/{id}/prompts/{name}/get", get_prompt, "POST", READ, "getting prompts"),
    ("/sources", sources, "GET", READ, "listing install sources"),
    ("/openapi.json", openapi_document, "GET", READ, "reading the API's description"),
    ("/health", health, "GET", READ, "checking health"),
    ("/events", events, "GET", READ, "following events"),
    ("/metrics", metrics, "GET", READ, "reading metrics"),
    ("/integrations/{id}/logs", logs, "GET", READ, "reading logs"),
]


def _middleware(settings: Settings, hooks: Hooks) -> list[Middleware]:
    """Outermost first: forged-request checks, CORS (only when origins are allowed), auth."""
    cors = (
        [
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        ]
        if settings.allowed_origins
        else []
    )
    return [
        Middleware(Guard, settings=settings),
        *cors,
        Middleware(Authentication, hooks=hooks, settings=settings),
    ]


def create_app(
    data_dir: Path,
    *,
    settings: Settings | None = None,
    plugin_manager: pluggy.PluginManager | None = None,
    policy: RestartPolicy | None = None,
) -> Starlette:
    """The API over the integrations kept in ``data_dir``; servers run while the app does."""
    hooks = Hooks(plugin_manager or make_plugin_manager())
    settings = settings or Settings()
    observed = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = SQLiteStore(private_dir(data_dir) / "integrations.sqlite3")
        try:
            async with anyio.create_task_group() as tg:
                manager = Manager(
                    store, hooks, data_dir, tg, policy, settings.pass_env, settings.on_demand
                )
                gateway = Gateway(manager, tg)
                await gateway.start()
                app.state.manager, app.state.gateway = manager, gateway
                app.state.events = Events(manager)
                observed.watch(manager)
                manager.call_observer = observed.tool_call
                tg.start_soon(manager.resume)
                try:
                    yield
                finally:
                    gateway.close()
                    await manager.aclose()
                    tg.cancel_scope.cancel()
        finally:
            store.close()

    mcp_methods = ["GET", "POST", "DELETE"]
    app = Starlette(
        routes=[
            *(
                Route(path, _guarded(fn, role, action), methods=[method])
                for path, fn, method, role, action in ROUTES
            ),
            Route("/mcp", McpEndpoint(single=False), methods=mcp_methods),
            Route("/integrations/{id}/mcp", McpEndpoint(single=True), methods=mcp_methods),
            *dashboard.routes(settings),
        ],
        middleware=[Middleware(RequestCounter, metrics=observed), *_middleware(settings, hooks)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.metrics = observed
    app.state.hooks = hooks
    return app
