"""A small Salesforce REST API client: configuration, OAuth login and the calls the tools make.

Every anticipated failure is raised as :class:`SalesforceError`, whose text is safe to show:
tokens, the client secret and the password are scrubbed from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import httpx
from mcp.server.mcpserver.exceptions import ToolError

from mcp_integrations.redact import Redactor

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_API_VERSION = "62.0"
DEFAULT_TIMEOUT = 30.0

OBJECT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,119}$")
RECORD_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_VERSION_RE = re.compile(r"^[vV]?(\d{2,3})(?:\.(\d))?$")
_DATA_PATH_PREFIX = "/services/data/"
_MAX_ERROR_BODY = 300

Flow = Literal["password", "client_credentials"]


class SalesforceError(ToolError):
    """An anticipated failure, reported to the model as a tool error."""


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _http_url(value: str, variable: str) -> str:
    """Normalise a base URL, refusing anything that is not plain http(s) with a host."""
    url = value.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{variable} must be an http(s) URL such as https://example.my.salesforce.com"
        )
    return url


def _timeout(value: str) -> float:
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError("SALESFORCE_TIMEOUT must be a positive number of seconds")
    return seconds


def normalize_api_version(value: str) -> str:
    """Accept ``62.0``, ``v62.0`` or ``62`` and return ``62.0``."""
    match = _VERSION_RE.match(value.strip())
    if match is None:
        raise ValueError(f"SALESFORCE_API_VERSION {value!r} is not a version such as 62.0")
    return f"{match.group(1)}.{match.group(2) or '0'}"


@dataclass(frozen=True)
class Settings:
    """The connector's configuration as read from ``SALESFORCE_*`` environment variables."""

    instance_url: str = ""
    access_token: str = ""
    client_id: str = ""
    client_secret: str = ""
    username: str = ""
    password: str = ""
    login_url: str = DEFAULT_LOGIN_URL
    api_version: str = DEFAULT_API_VERSION
    timeout: float = DEFAULT_TIMEOUT
    problem: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the environment; a configuration error is kept in ``problem``, not raised, so
        the server still starts and every tool can explain what to fix."""
        settings = cls(
            access_token=_clean(env.get("SALESFORCE_ACCESS_TOKEN")),
            client_id=_clean(env.get("SALESFORCE_CLIENT_ID")),
            client_secret=_clean(env.get("SALESFORCE_CLIENT_SECRET")),
            username=_clean(env.get("SALESFORCE_USERNAME")),
            password=env.get("SALESFORCE_PASSWORD") or "",
        )
        try:
            instance_url = _clean(env.get("SALESFORCE_INSTANCE_URL"))
            settings = replace(
                settings,
                instance_url=instance_url and _http_url(instance_url, "SALESFORCE_INSTANCE_URL"),
                login_url=_http_url(
                    _clean(env.get("SALESFORCE_LOGIN_URL")) or DEFAULT_LOGIN_URL,
                    "SALESFORCE_LOGIN_URL",
                ),
                api_version=normalize_api_version(
                    _clean(env.get("SALESFORCE_API_VERSION")) or DEFAULT_API_VERSION
                ),
                timeout=_timeout(_clean(env.get("SALESFORCE_TIMEOUT"))),
            )
        except ValueError as exc:
            return replace(settings, problem=str(exc))
        return replace(settings, problem=settings.missing())

    @property
    def flow(self) -> Flow | None:
        """The OAuth flow the credentials allow, if any."""
        if not (self.client_id and self.client_secret):
            return None
        if self.username and self.password:
            return "password"
        return "client_credentials"

    def missing(self) -> str | None:
        """Why this configuration cannot authenticate, naming the variables to set."""
        if self.client_id or self.client_secret:
            absent = [
                name
                for name, value in (
                    ("SALESFORCE_CLIENT_ID", self.client_id),
                    ("SALESFORCE_CLIENT_SECRET", self.client_secret),
                )
                if not value
            ]
            if absent:
                return f"Salesforce OAuth login needs {' and '.join(absent)} to be set."
            if bool(self.username) != bool(self.password):
                other = "SALESFORCE_PASSWORD" if self.username else "SALESFORCE_USERNAME"
                return (
                    f"The Salesforce username-password flow needs {other} to be set "
                    "(or unset both SALESFORCE_USERNAME and SALESFORCE_PASSWORD to use "
                    "the client-credentials flow)."
                )
            return None
        if self.access_token and self.instance_url:
            return None
        if self.access_token:
            return "SALESFORCE_ACCESS_TOKEN is set but SALESFORCE_INSTANCE_URL is missing."
        return (
            "Salesforce is not configured: set SALESFORCE_INSTANCE_URL and "
            "SALESFORCE_ACCESS_TOKEN, or SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET "
            "(plus SALESFORCE_USERNAME and SALESFORCE_PASSWORD for the username-password flow)."
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.access_token, self.client_secret, self.password) if s)


@dataclass(frozen=True)
class _Session:
    token: str
    instance_url: str


def check_object_name(name: str) -> str:
    """Refuse anything but an sObject API name before it becomes part of a URL path."""
    if not OBJECT_NAME_RE.match(name):
        raise SalesforceError(
            f"Invalid object name {name!r}: use an API name such as Account or My_Object__c."
        )
    return name


def check_record_id(record_id: str) -> str:
    """Refuse anything but a 15 or 18 character Salesforce id before it reaches a URL path."""
    if not RECORD_ID_RE.match(record_id):
        raise SalesforceError(
            f"Invalid record id {record_id!r}: a Salesforce id is 15 or 18 letters and digits."
        )
    return record_id


def check_field_names(fields: list[str]) -> list[str]:
    for name in fields:
        if not OBJECT_NAME_RE.match(name):
            raise SalesforceError(f"Invalid field name {name!r}: use an API name such as Name.")
    return fields


def strip_attributes(value: Any) -> Any:
    """Drop the per-record ``attributes`` (type and URL) Salesforce adds, at every depth."""
    if isinstance(value, dict):
        return {
            key: strip_attributes(item)
            for key, item in value.items()
            if not (key == "attributes" and isinstance(item, dict))
        }
    if isinstance(value, list):
        return [strip_attributes(item) for item in value]
    return value


def _describe_errors(body: Any) -> str | None:
    """Turn a Salesforce error array or an OAuth error object into one line per error."""
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return None
    lines: list[str] = []
    for item in body:
        if not isinstance(item, dict):
            continue
        if "errorCode" in item or "message" in item:
            line = f"{item.get('errorCode', 'ERROR')}: {item.get('message', '')}".rstrip(": ")
            fields = item.get("fields")
            if isinstance(fields, list) and fields:
                line += f" (fields: {', '.join(str(f) for f in fields)})"
            lines.append(line)
        elif "error" in item:
            lines.append(f"{item['error']}: {item.get('error_description', '')}".rstrip(": "))
    return "; ".join(lines) or None


def _error_detail(response: httpx.Response) -> str:
    try:
        detail = _describe_errors(response.json())
    except ValueError:
        detail = None
    if detail:
        return detail
    if response.status_code == 404:
        return "NOT_FOUND: the requested resource does not exist"
    text = " ".join(response.text.split())[:_MAX_ERROR_BODY]
    return text or response.reason_phrase


def _is_invalid_session(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    try:
        body = response.json()
    except ValueError:
        return True
    return not isinstance(body, list) or any(
        isinstance(item, dict) and item.get("errorCode") == "INVALID_SESSION_ID" for item in body
    )


class SalesforceClient:
    """One authenticated session against one org, shared by every tool call of the process."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        self._session: _Session | None = None
        if settings.access_token and settings.instance_url:
            self._session = _Session(settings.access_token, settings.instance_url)
        self._login_lock = anyio.Lock()
        self._redact = Redactor(settings.secrets)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _error(self, message: str) -> SalesforceError:
        return SalesforceError(self._redact(message))

    def _remember_secret(self, token: str) -> None:
        self._redact = Redactor((*self.settings.secrets, token))

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        host = urlsplit(url).netloc
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise self._error(
                f"Salesforce at {host} did not answer within {self.settings.timeout:g} s "
                "(SALESFORCE_TIMEOUT)."
            ) from exc
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise self._error(f"Could not reach Salesforce at {host}: {reason}") from exc

    async def _login(self, stale: _Session | None) -> _Session:
        """Log in with the configured OAuth flow, unless another call already replaced ``stale``."""
        async with self._login_lock:
            if self._session is not None and self._session != stale:
                return self._session
            settings = self.settings
            form = {
                "grant_type": settings.flow or "",
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
            }
            if settings.flow == "password":
                form |= {"username": settings.username, "password": settings.password}
            response = await self._send(
                "POST", f"{settings.login_url}/services/oauth2/token", data=form
            )
            if response.status_code != 200:
                raise self._error(
                    f"Salesforce login failed (HTTP {response.status_code}): "
                    f"{_error_detail(response)}"
                )
            try:
                body = response.json()
            except ValueError:
                body = None
            token = body.get("access_token") if isinstance(body, dict) else None
            instance = (body.get("instance_url") if isinstance(body, dict) else None) or (
                settings.instance_url
            )
            if not isinstance(token, str) or not token or not isinstance(instance, str):
                raise self._error("Salesforce login answered without an access token.")
            try:
                instance = _http_url(instance, "instance_url")
            except ValueError as exc:
                raise self._error(
                    "Salesforce login answered with an unusable instance_url."
                ) from exc
            self._remember_secret(token)
            self._session = _Session(token, instance)
            return self._session

    async def _current(self) -> _Session:
        if self.settings.problem:
            raise SalesforceError(self.settings.problem)
        return self._session or await self._login(None)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        """Call ``path`` (under ``/services/data/vXX.X`` unless it already starts with
        ``/services/data/``), logging in again once if the session has expired."""
        if not path.startswith(_DATA_PATH_PREFIX):
            path = f"{_DATA_PATH_PREFIX}v{self.settings.api_version}{path}"
        session = await self._current()
        response = await self._authorized(session, method, path, params, json)
        relogged = _is_invalid_session(response) and self.settings.flow is not None
        if relogged:
            session = await self._login(session)
            response = await self._authorized(session, method, path, params, json)
        if response.status_code == 401:
            raise self._error(
                f"Salesforce rejected the session: {_error_detail(response)}."
                f"{self._rejection_hint(relogged)}"
            )
        if response.status_code >= 400:
            raise self._error(
                f"Salesforce API error (HTTP {response.status_code}): {_error_detail(response)}"
            )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise self._error(
                f"Salesforce answered HTTP {response.status_code} with a body that is not JSON."
            ) from exc

    def _rejection_hint(self, relogged: bool) -> str:
        if relogged:
            return " Logging in again did not help."
        if self.settings.flow is None:
            return (
                " Set a fresh SALESFORCE_ACCESS_TOKEN, or configure OAuth credentials "
                "so the connector can log in again."
            )
        return ""

    async def _authorized(
        self,
        session: _Session,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json: Any,
    ) -> httpx.Response:
        return await self._send(
            method,
            f"{session.instance_url}{path}",
            params=params,
            json=json,
            headers={"Authorization": f"Bearer {session.token}"},
        )

    async def query(self, soql: str, max_rows: int) -> dict[str, Any]:
        """Run a SOQL query, following ``nextRecordsUrl`` until done or ``max_rows`` rows."""
        page = await self.request("GET", "/query", params={"q": soql})
        records: list[Any] = []
        total = 0
        while True:
            if not isinstance(page, dict):
                raise self._error("Salesforce answered the query with an unexpected shape.")
            total = int(page.get("totalSize", 0))
            records.extend(page.get("records") or [])
            next_url = page.get("nextRecordsUrl")
            if len(records) >= max_rows or page.get("done", True) or not next_url:
                break
            if not isinstance(next_url, str) or not next_url.startswith(_DATA_PATH_PREFIX):
                raise self._error("Salesforce answered with an unexpected nextRecordsUrl.")
            page = await self.request("GET", next_url)
        more = len(records) > max_rows or not page.get("done", True)
        kept = strip_attributes(records[:max_rows])
        result: dict[str, Any] = {"totalSize": total, "returned": len(kept), "truncated": more}
        if more:
            result["note"] = (
                f"Only the first {len(kept)} of {total} rows are shown; raise max_rows "
                "or narrow the query (WHERE, LIMIT) to see others."
            )
        result["records"] = kept
        return result

    async def search(self, sosl: str) -> dict[str, Any]:
        """Run a SOSL search; each hit says which object it is in ``sobject``."""
        body = await self.request("GET", "/search", params={"q": sosl})
        hits = body.get("searchRecords", []) if isinstance(body, dict) else body
        records: list[dict[str, Any]] = []
        for hit in hits or []:
            if not isinstance(hit, dict):
                continue
            attributes = hit.get("attributes")
            kind = attributes.get("type") if isinstance(attributes, dict) else None
            records.append({"sobject": kind, **strip_attributes(hit)})
        return {"returned": len(records), "records": records}

    async def list_objects(self) -> list[dict[str, Any]]:
        body = await self.request("GET", "/sobjects")
        objects = body.get("sobjects") if isinstance(body, dict) else None
        return [o for o in objects or [] if isinstance(o, dict)]

    async def describe(self, object_name: str) -> dict[str, Any]:
        body = await self.request("GET", f"/sobjects/{check_object_name(object_name)}/describe")
        if not isinstance(body, dict):
            raise self._error("Salesforce answered the describe call with an unexpected shape.")
        return body

    async def get_record(
        self, object_name: str, record_id: str, fields: list[str] | None
    ) -> dict[str, Any]:
        path = f"/sobjects/{check_object_name(object_name)}/{check_record_id(record_id)}"
        params = {"fields": ",".join(check_field_names(fields))} if fields else None
        body = await self.request("GET", path, params=params)
        if not isinstance(body, dict):
            raise self._error("Salesforce answered with an unexpected record shape.")
        return dict(strip_attributes(body))

    async def create_record(self, object_name: str, fields: dict[str, Any]) -> dict[str, Any]:
        body = await self.request(
            "POST", f"/sobjects/{check_object_name(object_name)}", json=fields
        )
        if not isinstance(body, dict) or not body.get("success", False):
            detail = _describe_errors(body.get("errors") if isinstance(body, dict) else None)
            raise self._error(
                f"Salesforce did not create the record: {detail or 'no reason given'}"
            )
        return {"id": body.get("id"), "success": True}

    async def update_record(self, object_name: str, record_id: str, fields: dict[str, Any]) -> None:
        path = f"/sobjects/{check_object_name(object_name)}/{check_record_id(record_id)}"
        await self.request("PATCH", path, json=fields)

    async def delete_record(self, object_name: str, record_id: str) -> None:
        path = f"/sobjects/{check_object_name(object_name)}/{check_record_id(record_id)}"
        await self.request("DELETE", path)
