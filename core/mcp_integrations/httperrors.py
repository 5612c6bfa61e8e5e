"""The one place where errors become HTTP: ``{"error": {"code", "message"}}`` and a status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from mcp_integrations.errors import IntegrationsError

logger = logging.getLogger("mcp_integrations.app")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def from_error(exc: IntegrationsError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _integrations_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IntegrationsError)
    if exc.status >= 500:
        logger.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return from_error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: f"no endpoint at {request.url.path[:100]}"}.get(
        exc.status_code, str(exc.detail)
    )
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, message, exc.headers)


class NoResponse(Response):
    """The answer to a caller who has gone: nothing is sent on a closed connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


async def _client_gone(request: Request, exc: Exception) -> Response:
    """A client that disconnects while sending its body is no server failure: one line."""
    logger.info("client went away during %s %s", request.method, request.url.path)
    return NoResponse()


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "the server failed to handle this request")


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    IntegrationsError: _integrations_error,
    HTTPException: _http_error,
    ClientDisconnect: _client_gone,
    Exception: _unexpected_error,
}
