"""Bearer tokens: ``Authorization: Bearer <token>`` checked against the hub's token table."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from mcp_integrations import hookimpl
from mcp_integrations.errors import Unauthorized
from mcp_integrations.models import Principal
from mcp_integrations.settings import Settings


@hookimpl
def authenticate(request: HTTPConnection, settings: Settings) -> Principal | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not settings.tokens:
        return None
    principal = settings.tokens.lookup(token.strip())
    if principal is None:
        raise Unauthorized("the bearer token is not valid")
    return principal
