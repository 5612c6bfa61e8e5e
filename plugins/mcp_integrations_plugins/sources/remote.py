"""Install source: an MCP server already running elsewhere, by its URL.

Body: ``{"source": "https://host/mcp", "id": "x", "headers": {"Authorization": "..."},
"transport": "streamable-http" | "sse"}``. Header values are secrets (sealed, masked);
the URL is shown in status, so it may carry neither a password nor a query string.
Installing one is an admin's: the hub would reach whatever address it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mcp_integrations import hookimpl
from mcp_integrations.errors import BadRequest
from mcp_integrations.models import FormField, InstallRequest, LaunchSpec, SourceForm

TRANSPORTS = ("streamable-http", "sse")
MAX_HEADERS = 50
MAX_HEADER_BYTES = 8192
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
#: Headers the HTTP client sets itself; a caller's value would break the exchange.
_RESERVED = {"host", "content-length", "content-type", "accept", "mcp-session-id", "connection"}


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or len(raw) > MAX_HEADERS:
        raise BadRequest(f"'headers' must be an object of at most {MAX_HEADERS} headers")
    headers = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise BadRequest("'headers' has a name that is not an HTTP header name")
        if name.lower() in _RESERVED:
            raise BadRequest(f"'headers' may not set {name!r}: the hub sets it itself")
        if (
            not isinstance(value, str)
            or len(value.encode("utf-8", "surrogatepass")) > MAX_HEADER_BYTES
            or any(c in value for c in "\r\n\0")
        ):
            raise BadRequest(
                f"header {name!r} must be a string of at most {MAX_HEADER_BYTES} bytes, on one line"
            )
        headers[name] = value
    return headers


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    if not source.startswith(("http://", "https://")):
        return None
    parts = urlsplit(source)
    if not parts.hostname:
        raise BadRequest("the source URL names no host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BadRequest(
            "the source URL is shown in status: put credentials in 'headers', not in the "
            "URL's user, password, query or fragment"
        )
    if request.id is None:
        raise BadRequest("a URL source needs an 'id' for the integration")
    if request.env:
        raise BadRequest("'env' has no meaning for a remote server: send 'headers' instead")
    transport = request.options.get("transport")
    if transport is None:
        transport = "sse" if parts.path.rstrip("/").endswith("/sse") else "streamable-http"
    if transport not in TRANSPORTS:
        raise BadRequest(f"'transport' must be one of {', '.join(TRANSPORTS)}")
    return LaunchSpec(
        runtime="remote",
        url=source,
        transport=transport,
        headers=_headers(request.options.get("headers")),
        description=f"a remote MCP server over {transport}",
    )


@hookimpl
def install_forms() -> list[SourceForm]:
    url = FormField("url", required=True, description="https://host/mcp, without credentials")
    fields = (
        FormField("transport", "choice", choices=TRANSPORTS, description="streamable-http or sse"),
        FormField("headers", "map", secret=True, description="sent with every request"),
    )
    description = "An MCP server running elsewhere, by its URL"
    return [SourceForm("", "Remote URL", description, url, fields, admin=True)]
