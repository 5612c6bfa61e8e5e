"""The dashboard: static files shipped in the package, served at ``/ui/``, and a login that
trades a token for a session in an HttpOnly cookie, which the bearer plugin accepts like
the header.

The page only calls the JSON API, same origin, so the guard's Host, Origin and body rules
hold for it as for any client; its own answers forbid framing and inline code.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_integrations.auth import ANONYMOUS, LOCAL_USER
from mcp_integrations.bodies import json_object
from mcp_integrations.errors import BadRequest, IntegrationsError, Unauthorized
from mcp_integrations.httperrors import from_error
from mcp_integrations.models import Principal
from mcp_integrations.settings import Settings
from mcp_integrations.tokens import SESSION_COOKIE

STATIC = Path(__file__).parent / "static"
UI_PATH = "/ui/"
#: On every answer of the dashboard: its own scripts and styles only, never in a frame.
UI_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
#: The static files: revalidated on each load (by ETag), so an upgraded hub serves its own.
_STATIC_HEADERS = [
    *((name.lower().encode(), value.encode()) for name, value in UI_HEADERS.items()),
    (b"cache-control", b"no-cache"),
]


def _ui(response: Response) -> Response:
    response.headers.update(UI_HEADERS)
    response.headers["cache-control"] = "no-store"
    return response


def _cookie(request: Request, value: str, *, expire: bool = False) -> str:
    """A ``Set-Cookie`` value: HttpOnly (no script reads it), SameSite=Strict (no other
    site's page sends it), for the whole hub, Secure when the page came over https."""
    parts = [f"{SESSION_COOKIE}={value}", "HttpOnly", "SameSite=Strict", "Path=/"]
    if request.url.scheme == "https":
        parts.append("Secure")
    if expire:
        parts += ["Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
    return "; ".join(parts)


def _who(principal: Principal, settings: Settings) -> dict[str, object]:
    answer: dict[str, object] = {"name": principal.name, "role": str(principal.role)}
    if settings.open_access:
        answer["open"] = True
    return answer


class _WithHeaders:
    """Adds the dashboard's headers to every answer of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
                message["headers"] = [*kept, *_STATIC_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def routes(settings: Settings) -> list[BaseRoute]:
    """``/`` (to ``/ui/``), the static files, and login, logout and the session's owner."""

    async def home(request: Request) -> Response:
        return _ui(RedirectResponse(UI_PATH, status_code=307))

    async def login(request: Request) -> Response:
        """``{"token": "..."}``: the caller's name and role, and the cookie that carries it."""
        try:
            body = json_object(await request.body())
            if settings.open_access:
                return _ui(JSONResponse(_who(LOCAL_USER, settings)))
            token = body.get("token")
            if not isinstance(token, str) or not token:
                raise BadRequest("'token' must be a non-empty string")
            principal = settings.tokens.lookup(token)
            if principal is None:
                raise Unauthorized("this token is not valid")
        except IntegrationsError as exc:
            return _ui(from_error(exc))
        response = _ui(JSONResponse(_who(principal, settings)))
        response.headers.append("set-cookie", _cookie(request, settings.sessions.open(principal)))
        return response

    async def logout(request: Request) -> Response:
        settings.sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        response = _ui(JSONResponse({"logged_out": True}))
        response.headers.append("set-cookie", _cookie(request, "", expire=True))
        return response

    async def session(request: Request) -> Response:
        """Who the cookie (or header) names, so a reloaded page knows; 401 for nobody."""
        principal: Principal = request.state.principal
        if principal is ANONYMOUS:
            return _ui(from_error(Unauthorized("log in: this hub needs a token")))
        return _ui(JSONResponse(_who(principal, settings)))

    static = StaticFiles(directory=STATIC, html=True)
    return [
        Route("/", home, methods=["GET"]),
        Route("/ui/login", login, methods=["POST"]),
        Route("/ui/logout", logout, methods=["POST"]),
        Route("/ui/session", session, methods=["GET"]),
        Mount("/ui", app=_WithHeaders(static), name="ui"),
    ]
