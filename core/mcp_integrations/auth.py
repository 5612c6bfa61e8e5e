"""Who is calling: the ``authenticate`` plugins decide, once per request, before any route.

With no tokens configured (loopback, or ``--insecure``) a caller no plugin names is the
local user, with every right; otherwise it is refused with 401.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_integrations.errors import Forbidden, IntegrationsError, Unauthorized
from mcp_integrations.httperrors import from_error
from mcp_integrations.models import Principal, Role
from mcp_integrations.plugins import Hooks
from mcp_integrations.settings import Settings

LOCAL_USER = Principal("local", Role.ADMIN)
#: Paths a caller without credentials may read: liveness probes carry no token, and the
#: dashboard (its static files, its login and logout) is loaded before anyone logs in.
PUBLIC_PATHS = frozenset({"/health", "/", "/ui"})
#: Prefixes of public paths: everything the dashboard serves under ``/ui/``.
PUBLIC_PREFIXES = ("/ui/",)
ANONYMOUS = Principal("anonymous", Role.READER)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def identify(hooks: Hooks, connection: HTTPConnection, settings: Settings) -> Principal:
    principal = hooks.authenticate(connection, settings)
    if principal is not None:
        return principal
    if settings.open_access:
        return LOCAL_USER
    raise Unauthorized("this hub needs a token: send 'Authorization: Bearer <token>'")


def require(principal: Principal, role: Role, action: str) -> None:
    if principal.role < role:
        raise Forbidden(
            f"{action} needs the {role} role; {principal.name!r} has the {principal.role} role"
        )


class Authentication:
    """Puts the caller's ``Principal`` in ``scope["state"]["principal"]`` or answers 401."""

    def __init__(self, app: ASGIApp, hooks: Hooks, settings: Settings) -> None:
        self.app = app
        self.hooks = hooks
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            try:
                principal = identify(self.hooks, HTTPConnection(scope), self.settings)
            except IntegrationsError as exc:
                if not is_public(scope.get("path", "")):
                    await from_error(exc)(scope, receive, send)
                    return
                principal = ANONYMOUS
            scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
