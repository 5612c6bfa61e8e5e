"""The Starlette app: one thin route per endpoint; errors become JSON in one place."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pluggy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_integrations.auth import Authentication, require
from mcp_integrations.errors import BadRequest
from mcp_integrations.guard import Guard
from mcp_integrations.httperrors import EXCEPTION_HANDLERS
from mcp_integrations.manager import Manager
from mcp_integrations.models import InstallRequest, Role
from mcp_integrations.plugins import Hooks, make_plugin_manager
from mcp_integrations.private import private_dir
from mcp_integrations.settings import Settings
from mcp_integrations.store import SQLiteStore
from mcp_integrations.supervisor import RestartPolicy

Handler = Callable[[Request], Awaitable[Response]]


def _manager(request: Request) -> Manager:
    manager: Manager = request.app.state.manager
    return manager


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def parse_install(body: Mapping[str, Any]) -> InstallRequest:
    source, integration_id, env = body.get("source"), body.get("id"), body.get("env", {})
    if not isinstance(source, str) or not source.strip():
        raise BadRequest("'source' is required and must be a non-empty string")
    if integration_id is not None and not isinstance(integration_id, str):
        raise BadRequest("'id' must be a string")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise BadRequest("'env' must be an object mapping variable names to string values")
    options = {k: v for k, v in body.items() if k not in ("source", "id", "env")}
    return InstallRequest(source.strip(), integration_id, env, options)


async def list_integrations(request: Request) -> Response:
    return JSONResponse({"integrations": [s.status_json() for s in _manager(request).list()]})


async def install(request: Request) -> Response:
    install_request = parse_install(_json_object(await request.body()))
    supervisor = await _manager(request).install(install_request, request.state.principal)
    return JSONResponse({"id": supervisor.integration.id, "installed": True}, status_code=201)


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
    return JSONResponse(_manager(request).get(request.path_params["id"]).status_json())


async def tools(request: Request) -> Response:
    listed = await _manager(request).tools(request.path_params["id"])
    return JSONResponse({"tools": [tool.to_json() for tool in listed]})


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
    ("/integrations/install", install, "POST", OPERATE, "installing"),
    ("/integrations/{id}", remove, "DELETE", OPERATE, "removing"),
    ("/integrations/{id}/start", start, "POST", OPERATE, "starting"),
    ("/integrations/{id}/stop", stop, "POST", OPERATE, "stopping"),
    ("/integrations/{id}/restart", restart, "POST", OPERATE, "restarting"),
    ("/integrations/{id}/status", status, "GET", READ, "reading status"),
    ("/integrations/{id}/tools", tools, "GET", READ, "listing tools"),
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

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = SQLiteStore(private_dir(data_dir) / "integrations.sqlite3")
        try:
            async with anyio.create_task_group() as tg:
                manager = Manager(store, hooks, data_dir, tg, policy)
                app.state.manager = manager
                tg.start_soon(manager.resume)
                try:
                    yield
                finally:
                    await manager.aclose()
                    tg.cancel_scope.cancel()
        finally:
            store.close()

    return Starlette(
        routes=[
            Route(path, _guarded(fn, role, action), methods=[method])
            for path, fn, method, role, action in ROUTES
        ],
        middleware=_middleware(settings, hooks),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
