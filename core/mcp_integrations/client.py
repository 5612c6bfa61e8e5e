"""A typed client of a running hub's HTTP API: one method per call, answers as JSON, and two
errors a caller tells apart (the hub cannot be reached; the hub said no)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx
import platformdirs

from mcp_integrations import __version__
from mcp_integrations.tokens import TOKEN_ENV

JSON = dict[str, Any]
URL_ENV = "MCP_INTEGRATIONS_URL"
TOKEN_FILE_ENV = "MCP_INTEGRATIONS_TOKEN_FILE"
DEFAULT_URL = "http://127.0.0.1:4200"
#: Reads and other quick calls.
REQUEST_SECS = 30.0
#: Starts, stops and removals: the hub bounds them itself (handshake, tool listing, grace).
LIFECYCLE_SECS = 120.0
#: Added to a tool call's own deadline, for the hub to answer 504 before the client gives up.
CALL_MARGIN_SECS = 10.0
CONNECT_SECS = 10.0
#: How long an install waits for the event stream before it sends its request anyway.
LISTEN_WAIT_SECS = 2.0
#: No limit on waiting for the answer (a package install, a stream); connecting still has one.
UNBOUNDED = httpx.Timeout(None, connect=CONNECT_SECS)


class HubError(Exception):
    """Base of what a client call raises instead of an answer."""


class ConfigError(HubError):
    """The client's own settings are wrong: a URL it cannot use, an unreadable token file."""


class HubUnreachable(HubError):
    """No HTTP answer: nothing listens there, the name does not resolve, the link broke."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the hub at {url}: {reason}")
        self.url = url
        self.reason = reason


class HubTimeout(HubUnreachable):
    """The hub took the request but did not answer in time."""


class HubRefused(HubError):
    """The hub answered with an error status: ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message


def default_token_file() -> Path:
    return Path(platformdirs.user_config_dir("mcp-integrations")) / "token"


def hub_url(given: str | None, environ: Mapping[str, str]) -> str:
    """The hub's base URL: ``--url``, else ``MCP_INTEGRATIONS_URL``, else loopback 4200;
    ``host:port`` alone means plain HTTP."""
    url = (given or environ.get(URL_ENV) or DEFAULT_URL).strip()
    url = (url if "://" in url else f"http://{url}").rstrip("/")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the hub's URL must look like http://HOST:PORT, not {url[:80]!r}")
    return url


def hub_token(environ: Mapping[str, str]) -> str | None:
    """``MCP_INTEGRATIONS_TOKEN``, else the first line of ``MCP_INTEGRATIONS_TOKEN_FILE``,
    else of the user's config file when there is one; never a flag (``ps`` would show it)."""
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    named = environ.get(TOKEN_FILE_ENV)
    path = Path(named).expanduser() if named else default_token_file()
    if not named and not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the token file {path}: {reason}") from None
    first = lines[0].strip() if lines else ""
    if not first:
        raise ConfigError(f"the token file {path} is empty; its first line is the token")
    if first.startswith("sha256:"):
        raise ConfigError(
            f"the token file {path} holds a hash (a line of the hub's --token-file); "
            "the client needs the token itself"
        )
    return first


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerEvent:
    """One server-sent event: its ``event:`` name and its ``data:`` lines joined."""

    kind: str
    data: str


@dataclass
class SseParser:
    """Server-sent events from the lines of a stream, fed one at a time; comments (the
    hub's pings) and fields other than ``event`` and ``data`` are skipped."""

    kind: str = "message"
    data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> ServerEvent | None:
        if not line:
            event = ServerEvent(self.kind, "\n".join(self.data)) if self.data else None
            self.kind, self.data = "message", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self.kind = value
        elif name == "data":
            self.data.append(value)
        return None


def server_events(lines: Iterable[str]) -> Iterator[ServerEvent]:
    parser = SseParser()
    for line in lines:
        if event := parser.feed(line):
            yield event


async def _aserver_events(lines: AsyncIterator[str]) -> AsyncIterator[ServerEvent]:
    parser = SseParser()
    async for line in lines:
        if event := parser.feed(line):
            yield event


def _answer(response: httpx.Response) -> JSON:
    """The body of a successful answer, or ``HubRefused`` with the hub's code and message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        if not isinstance(body, dict):
            raise HubRefused(response.status_code, "bad_answer", "the hub's answer is not JSON")
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        raise HubRefused(response.status_code, str(error.get("code", "error")), error["message"])
    text = " ".join(response.text.split())[:200] or response.reason_phrase
    raise HubRefused(response.status_code, "http_error", text)


def _reason(exc: httpx.TransportError) -> str:
    """What went wrong, in a few words (the OS error where there is one)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _segment(text: str) -> str:
    return quote(text, safe="")


class HubClient:
    """The hub's API over HTTP. Every method returns the hub's JSON answer or raises
    ``HubUnreachable`` (``HubTimeout``) or ``HubRefused``."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._headers = {"User-Agent": f"mcp-integrations/{__version__}"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._trust_env = not _loopback(self.url)
        self._http = httpx.Client(
            base_url=self.url,
            headers=self._headers,
            timeout=REQUEST_SECS,
            trust_env=self._trust_env,
        )

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _unreachable(self, exc: httpx.TransportError, timeout: float | None) -> HubUnreachable:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return HubTimeout(self.url, f"no answer within {timeout or 0:g} s")
        return HubUnreachable(self.url, _reason(exc))

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = REQUEST_SECS,
    ) -> JSON:
        bounds = httpx.Timeout(timeout, connect=CONNECT_SECS)
        try:
            response = self._http.request(method, path, json=body, params=params, timeout=bounds)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, timeout) from None
        return _answer(response)

    def _stream(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[ServerEvent]:
        """The events of a server-sent stream until the hub ends it."""
        headers = {"Accept": "text/event-stream"}
        try:
            with self._http.stream(
                "GET", path, params=params, headers=headers, timeout=UNBOUNDED
            ) as response:
                if not response.is_success:
                    response.read()
                    _answer(response)
                yield from server_events(response.iter_lines())
        except httpx.TransportError as exc:
            raise self._unreachable(exc, None) from None

    def health(self) -> JSON:
        return self._send("GET", "/health")

    def sources(self) -> JSON:
        return self._send("GET", "/sources")

    def list(self) -> JSON:
        return self._send("GET", "/integrations")

    def status(self, integration_id: str) -> JSON:
        return self._send("GET", f"/integrations/{_segment(integration_id)}/status")

    def tools(self, integration_id: str) -> JSON:
        return self._send("GET", f"/integrations/{_segment(integration_id)}/tools")

    def start(self, integration_id: str) -> JSON:
        return self._lifecycle("POST", integration_id, "/start")

    def stop(self, integration_id: str) -> JSON:
        return self._lifecycle("POST", integration_id, "/stop")

    def restart(self, integration_id: str) -> JSON:
        return self._lifecycle("POST", integration_id, "/restart")

    def remove(self, integration_id: str) -> JSON:
        return self._lifecycle("DELETE", integration_id, "")

    def _lifecycle(self, method: str, integration_id: str, action: str) -> JSON:
        path = f"/integrations/{_segment(integration_id)}{action}"
        return self._send(method, path, timeout=LIFECYCLE_SECS)

    def import_servers(self, document: JSON) -> JSON:
        """``POST /integrations/import``: entries may fetch packages, so no deadline."""
        return self._send("POST", "/integrations/import", body=document, timeout=None)

    def call(
        self, integration_id: str, tool: str, arguments: JSON, timeout: float | None = None
    ) -> JSON:
        """A tool call; with ``timeout`` the hub cancels it then (504), else the hub's own
        deadline for the integration applies and the client waits for its answer."""
        body: JSON = {"arguments": arguments}
        if timeout is not None:
            body["timeout"] = timeout
        path = f"/integrations/{_segment(integration_id)}/tools/{_segment(tool)}/call"
        limit = None if timeout is None else timeout + CALL_MARGIN_SECS
        return self._send("POST", path, body=body, timeout=limit)

    def logs(self, integration_id: str, tail: int | None = None) -> JSON:
        params = {} if tail is None else {"tail": str(tail)}
        return self._send("GET", f"/integrations/{_segment(integration_id)}/logs", params=params)

    def follow_logs(self, integration_id: str, tail: int | None = None) -> Iterator[str]:
        """The log's last lines, then each line as the server writes it."""
        params = {"follow": "true"} | ({} if tail is None else {"tail": str(tail)})
        for event in self._stream(f"/integrations/{_segment(integration_id)}/logs", params):
            if event.kind == "line":
                yield event.data

    def events(self) -> Iterator[ServerEvent]:
        """``GET /events``: ``status`` and ``install`` events as they happen."""
        return self._stream("/events")

    def install(self, body: JSON, progress: Callable[[ServerEvent], None] | None = None) -> JSON:
        """``POST /integrations/install``, with no deadline (packages may take minutes to
        fetch); with ``progress``, told each event of ``/events`` while the install runs."""
        if progress is None:
            return self._send("POST", "/integrations/install", body=body, timeout=None)
        answer: httpx.Response | httpx.TransportError = anyio.run(self._watched, body, progress)
        if isinstance(answer, httpx.TransportError):
            raise self._unreachable(answer, None)
        return _answer(answer)

    async def _watched(
        self, body: JSON, progress: Callable[[ServerEvent], None]
    ) -> httpx.Response | httpx.TransportError:
        async with httpx.AsyncClient(
            base_url=self.url, headers=self._headers, trust_env=self._trust_env
        ) as http:
            listening = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch, http, listening, progress)
                with anyio.move_on_after(LISTEN_WAIT_SECS):
                    await listening.wait()
                answer: httpx.Response | httpx.TransportError
                try:
                    answer = await http.post("/integrations/install", json=body, timeout=UNBOUNDED)
                except httpx.TransportError as exc:
                    answer = exc
                tg.cancel_scope.cancel()
            return answer

    @staticmethod
    async def _watch(
        http: httpx.AsyncClient,
        listening: anyio.Event,
        progress: Callable[[ServerEvent], None],
    ) -> None:
        """Progress is a nicety: a hub that refuses ``/events`` (a role, an old hub) or
        breaks the stream leaves the install itself untouched."""
        headers = {"Accept": "text/event-stream"}
        try:
            async with http.stream("GET", "/events", headers=headers, timeout=UNBOUNDED) as answer:
                listening.set()
                if answer.is_success:
                    async for event in _aserver_events(answer.aiter_lines()):
                        progress(event)
        except httpx.HTTPError:
            pass
        finally:
            listening.set()
