"""Bearer tokens: ``Authorization: Bearer <token>`` checked against the hub's token table;
without that header, the dashboard's session cookie (an id its login gave out) names the
caller, for requests the browser says its own pages made.

Cookies are not kept apart by port: a page on another port of the same host is the same
site, so ``SameSite=Strict`` still sends them, and a request such as an ``<img>`` carries
no ``Origin`` for the guard to refuse. Browsers name who asks in ``Sec-Fetch-Site``; the
cookie counts only when that is ``same-origin`` (or ``none``: an address typed by the user),
or when the header is missing (a client that is not a browser).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from mcp_integrations import hookimpl
from mcp_integrations.errors import Unauthorized
from mcp_integrations.models import Principal
from mcp_integrations.settings import Settings
from mcp_integrations.tokens import SESSION_COOKIE


@hookimpl
def authenticate(request: HTTPConnection, settings: Settings) -> Principal | None:
    header = request.headers.get("authorization")
    if header is None:
        return _from_cookie(request, settings)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not settings.tokens:
        return None
    principal = settings.tokens.lookup(token.strip())
    if principal is None:
        raise Unauthorized("the bearer token is not valid")
    return principal


#: ``Sec-Fetch-Site`` values for which the session cookie counts.
OWN_SITE = frozenset({"same-origin", "none"})


def _from_cookie(request: HTTPConnection, settings: Settings) -> Principal | None:
    value = request.cookies.get(SESSION_COOKIE)
    if value is None or not settings.tokens:
        return None
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.lower() not in OWN_SITE:
        return None
    principal = settings.sessions.lookup(value)
    if principal is None:
        raise Unauthorized("the session has ended: log in again")
    return principal
