"""The Starlette app: one thin route per endpoint; errors become JSON in one place."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pluggy
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_integrations.errors import BadRequest, IntegrationsError
from mcp_integrations.manager import Manager
from mcp_integrations.models import InstallRequest
from mcp_integrations.plugins import Hooks, make_plugin_manager
from mcp_integrations.store import SQLiteStore
from mcp_integrations.supervisor import RestartPolicy

logger = logging.getLogger(__name__)
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
    supervisor = await _manager(request).install(install_request)
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


def _error(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status_code)


async def _integrations_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IntegrationsError)
    if exc.status >= 500:
        logger.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return _error(exc.status, exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    message = {404: f"no endpoint at {request.url.path}"}.get(exc.status_code, str(exc.detail))
    return _error(exc.status_code, codes.get(exc.status_code, "http_error"), message)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal_error", "the server failed to handle this request")


def _guarded(handler: Handler) -> Handler:
    """Ask the ``authenticate`` plugins before the handler runs."""

    async def guarded(request: Request) -> Response:
        request.state.principal = request.app.state.hooks.authenticate(request)
        return await handler(request)

    guarded.__name__ = handler.__name__
    return guarded


ROUTES = [
    ("/integrations", list_integrations, "GET"),
    ("/integrations/install", install, "POST"),
    ("/integrations/{id}", remove, "DELETE"),
    ("/integrations/{id}/start", start, "POST"),
    ("/integrations/{id}/stop", stop, "POST"),
    ("/integrations/{id}/restart", restart, "POST"),
    ("/integrations/{id}/status", status, "GET"),
    ("/integrations/{id}/tools", tools, "GET"),
]


def create_app(
    data_dir: Path,
    *,
    plugin_manager: pluggy.PluginManager | None = None,
    policy: RestartPolicy | None = None,
) -> Starlette:
    """The API over the integrations kept in ``data_dir``; servers run while the app does."""
    hooks = Hooks(plugin_manager or make_plugin_manager())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = SQLiteStore(data_dir / "integrations.sqlite3")
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

    app = Starlette(
        routes=[Route(path, _guarded(fn), methods=[method]) for path, fn, method in ROUTES],
        exception_handlers={
            IntegrationsError: _integrations_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.hooks = hooks
    return app
