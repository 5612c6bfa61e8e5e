"""Requests a browser cannot forge: the middleware in front of every endpoint.

A page the user opens elsewhere can make the browser send requests to a loopback hub.
Browsers always name the page's ``Origin`` on such writes, send no JSON body across
origins without a CORS preflight (which the hub never grants unless told to), and name
the attacker's host in ``Host`` after a DNS rebinding; so the hub refuses a foreign
``Host`` (421), a foreign ``Origin`` (403) and a non-JSON body (415), and counts every
body against a limit while it streams in (413). A body that stalls is ended too (408): each
held request keeps a connection, and so a file descriptor, busy.
"""

from __future__ import annotations

import anyio
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_integrations.errors import (
    ForbiddenOrigin,
    IntegrationsError,
    MisdirectedRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from mcp_integrations.httperrors import from_error
from mcp_integrations.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPE = "application/json"
#: What a read of the body raises when the client has gone, under servers that use anyio.
_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError)


class RequestTimeout(IntegrationsError):
    """The body stopped arriving; the connection closes since the rest of it is unread."""

    status = 408
    code = "request_timeout"
    headers = {"connection": "close"}


def hostname(host_header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:80`` gives ``::1``."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {limit} bytes")


_OWS = (b" ", b"\t")
#: The headers the checks read.
_READ = frozenset({b"host", b"origin", b"content-length", b"transfer-encoding", b"content-type"})
#: Distinct ``Host`` values whose verdict is remembered.
MAX_KNOWN_HOSTS = 64


def _read(scope: Scope) -> tuple[dict[str, str], Scope]:
    """The headers the checks read (the first of each name), in one pass over the request's
    headers; and the scope with header values trimmed of the spaces and tabs around them,
    which are not part of a value (RFC 9110) but which httptools keeps at the end: the SDK
    compares ``Mcp-Name`` with the body byte for byte."""
    raw = scope["headers"]
    found: dict[str, str] = {}
    padded = False
    for name, value in raw:
        if name in _READ and name.decode() not in found:
            found[name.decode()] = value.decode("latin-1").strip(" \t")
        padded = padded or value.endswith(_OWS) or value.startswith(_OWS)
    if padded:
        scope = {**scope, "headers": [(name, value.strip(b" \t")) for name, value in raw]}
    return found, scope


class Guard:
    """Refuses what only a forged browser request or a rebound DNS name would send."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._hosts: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers, trimmed = _read(scope)
        try:
            self._check_host(headers)
            self._check_origin(headers, scope)
            if scope["type"] == "http":
                receive, send = self._check_body(headers, scope["method"], receive, send)
        except IntegrationsError as exc:
            if scope["type"] == "http":
                await from_error(exc)(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(trimmed, receive, send)

    def _host_allowed(self, host: str) -> bool:
        allowed = self._hosts.get(host)
        if allowed is None:
            allowed = bool(host) and self.settings.host_allowed(hostname(host))
            if len(self._hosts) < MAX_KNOWN_HOSTS:
                self._hosts[host] = allowed
        return allowed

    def _check_host(self, headers: dict[str, str]) -> None:
        host = headers.get("host", "")
        if not self._host_allowed(host):
            raise MisdirectedRequest(
                f"this hub does not answer to the host {host[:60]!r}; start it with "
                "--allowed-host NAME to add a name"
            )

    def _check_origin(self, headers: dict[str, str], scope: Scope) -> None:
        origin = headers.get("origin")
        if origin is None:
            return
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        own = f"{scheme}://{headers.get('host', '')}".lower()
        if origin.lower().rstrip("/") != own and not self.settings.origin_allowed(origin):
            raise ForbiddenOrigin(
                f"requests from pages at {origin[:60]!r} are refused; start the hub with "
                "--allowed-origin ORIGIN to allow one"
            )

    def _check_body(
        self, headers: dict[str, str], method: str, receive: Receive, send: Send
    ) -> tuple[Receive, Send]:
        length = headers.get("content-length")
        has_body = "transfer-encoding" in headers or (length is not None and length != "0")
        if not has_body:
            return receive, send
        if method in WRITE_METHODS:
            media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media_type != JSON_MEDIA_TYPE:
                raise UnsupportedMediaType(
                    f"a request body must be {JSON_MEDIA_TYPE}, not {media_type[:40]!r}"
                )
        limit, timeout = self.settings.max_body_bytes, self.settings.body_timeout
        if length is not None and length.isdigit() and int(length) > limit:
            raise _too_large(limit)
        received, complete, started = 0, False, False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted() -> Message:
            """The next message; a body chunk that takes over ``timeout`` seconds ends the
            request with 408, or, once the response has begun, as if the client had gone."""
            nonlocal received, complete
            try:
                with anyio.fail_after(None if complete else timeout):
                    message = await receive()
            except TimeoutError:
                if started:
                    return {"type": "http.disconnect"}
                raise RequestTimeout(
                    f"the request body stopped arriving: nothing came for {timeout:g} s"
                ) from None
            except _GONE:
                raise ClientDisconnect() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
                complete = not message.get("more_body", False)
            return message

        return counted, tracked
