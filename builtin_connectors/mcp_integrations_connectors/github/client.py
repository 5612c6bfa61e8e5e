"""A small GitHub REST client: auth, base URL, pagination and errors a person can act on.

Every failure surfaces as :class:`GitHubError`, whose message is safe to show: it never
contains the token, and says what went wrong and what to do about it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from mcp_integrations.redact import Redactor

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
USER_AGENT = "mcp-integrations-github-connector"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)

OWNER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
REPO_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
_OWNER_RE = re.compile(OWNER_PATTERN)
_REPO_RE = re.compile(REPO_PATTERN)
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_LINK_RE = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]+)"')


class GitHubError(Exception):
    """A failure whose message is meant for the person using the connector."""


@dataclass(frozen=True)
class Pagination:
    """Where a page sits in a paginated listing, read from GitHub's ``Link`` header."""

    page: int
    per_page: int
    next_page: int | None = None
    last_page: int | None = None
    has_more: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "per_page": self.per_page,
            "next_page": self.next_page,
            "last_page": self.last_page,
            "has_more": self.has_more,
        }


def parse_link_header(value: str | None) -> dict[str, str]:
    """Map each ``rel`` of an RFC 8288 ``Link`` header to its URL."""
    if not value:
        return {}
    return {rel: url for url, rels in _LINK_RE.findall(value) for rel in rels.split()}


def _page_of(url: str | None) -> int | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("page")
    if not values or not values[0].isdigit():
        return None
    return int(values[0])


def pagination(link: str | None, page: int, per_page: int) -> Pagination:
    """Read the next and last page numbers of a listing from its ``Link`` header."""
    links = parse_link_header(link)
    return Pagination(
        page, per_page, _page_of(links.get("next")), _page_of(links.get("last")), "next" in links
    )


def repo_path(owner: str, repo: str) -> str:
    """``/repos/{owner}/{repo}`` after checking both against GitHub's naming rules."""
    if not _OWNER_RE.fullmatch(owner):
        raise GitHubError(
            f"Invalid owner {owner!r}: use a GitHub user or organization name "
            "(letters, digits, '-' or '_'; at most 100 characters)."
        )
    if not _REPO_RE.fullmatch(repo) or repo in {".", ".."}:
        raise GitHubError(
            f"Invalid repository name {repo!r}: use letters, digits, '.', '-' or '_' "
            "(at most 100 characters), without the owner and without '.git'."
            if "/" not in repo
            else f"Invalid repository name {repo!r}: pass the owner and the name separately."
        )
    return f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"


def contents_path(owner: str, repo: str, path: str) -> str:
    """The contents URL path for a file or directory, each path segment quoted."""
    segments = path.strip("/").split("/")
    if segments == [""]:
        return f"{repo_path(owner, repo)}/contents"
    if any(segment in {"", ".", ".."} for segment in segments) or any(
        ord(char) < 0x20 for char in path
    ):
        raise GitHubError(
            f"Invalid path {path!r}: give a path inside the repository such as 'docs/README.md', "
            "without '.', '..', empty segments or control characters."
        )
    quoted = "/".join(quote(segment, safe="") for segment in segments)
    return f"{repo_path(owner, repo)}/contents/{quoted}"


@dataclass(frozen=True)
class Response:
    """A successful answer: its decoded JSON body and its ``Link`` header."""

    data: Any
    link: str | None


class GitHubClient:
    """Calls the GitHub REST API with one shared ``httpx.AsyncClient``.

    The token and base URL are read once (see :meth:`from_env`) but checked on each call,
    so a server started without them still runs and explains what is missing.
    """

    def __init__(
        self, http: httpx.AsyncClient, token: str | None, base_url: str = DEFAULT_API_URL
    ) -> None:
        self._http = http
        self._token = (token or "").strip()
        self._redact = Redactor([self._token])
        self._base_url = base_url.strip().rstrip("/")

    @classmethod
    def from_env(cls, http: httpx.AsyncClient, env: Mapping[str, str]) -> GitHubClient:
        return cls(http, env.get("GITHUB_TOKEN"), env.get("GITHUB_API_URL") or DEFAULT_API_URL)

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    def _headers(self) -> dict[str, str]:
        if not self._token:
            raise GitHubError(
                "GITHUB_TOKEN is not set: set it to a GitHub personal access token "
                "(or a GitHub App installation token) and restart the connector."
            )
        if not _TOKEN_RE.fullmatch(self._token):
            raise GitHubError(
                "GITHUB_TOKEN contains spaces or characters that cannot be sent in an HTTP "
                "header: check that it was copied correctly."
            )
        parts = urlsplit(self._base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise GitHubError(
                f"GITHUB_API_URL {self._base_url!r} is not an http(s) URL: use "
                f"{DEFAULT_API_URL} or https://HOST/api/v3 for GitHub Enterprise Server."
            )
        return {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Response:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Mapping[str, Any]) -> Response:
        return await self.request("POST", path, json=body)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Response:
        """Send one request to ``base_url + path``; raise :class:`GitHubError` unless it is 2xx."""
        headers = self._headers()
        url = self._base_url + path
        what = f"{method} {path}"
        try:
            response = await self._http.request(
                method, url, params=params, json=json, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise GitHubError(
                f"GitHub at {self._base_url} did not answer in time ({what}); "
                "try again, or check the network and GITHUB_API_URL."
            ) from exc
        except httpx.HTTPError as exc:
            detail = self._redact(str(exc)) or type(exc).__name__
            raise GitHubError(
                f"Could not reach GitHub at {self._base_url} ({what}): {detail}. "
                "Check the network and GITHUB_API_URL."
            ) from exc
        if response.is_success:
            try:
                data = response.json() if response.content else None
            except ValueError as exc:
                raise GitHubError(
                    f"GitHub answered {what} with a body that is not JSON; "
                    "check that GITHUB_API_URL points at the REST API (for example .../api/v3)."
                ) from exc
            return Response(data, response.headers.get("link"))
        raise GitHubError(self._redact(describe_error(response, what)))


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _reset_time(epoch: str | None) -> str | None:
    if not epoch or not epoch.isdigit():
        return None
    at = datetime.fromtimestamp(int(epoch), tz=UTC)
    minutes = max(0, round((at - datetime.now(UTC)).total_seconds() / 60))
    return f"{at:%Y-%m-%d %H:%M:%S} UTC (in about {minutes} min)"


def _validation_errors(errors: Any) -> list[str]:
    described: list[str] = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, str):
            described.append(error)
        elif isinstance(error, dict):
            if error.get("message"):
                described.append(str(error["message"]))
                continue
            field = error.get("field")
            code = error.get("code", "invalid")
            text = f"{error.get('resource', 'request')}.{field}" if field else "request"
            value = f" (value {error['value']!r})" if "value" in error else ""
            described.append(f"{text}: {code}{value}")
    return described


def describe_error(response: httpx.Response, what: str) -> str:
    """Turn a non-2xx GitHub answer into a sentence saying what happened and what to do."""
    status = response.status_code
    body = _body(response)
    message = str(body.get("message") or response.reason_phrase or "no message")
    headers = response.headers

    if status == 401:
        return (
            f"GitHub rejected the token in GITHUB_TOKEN (401 {message}): it is wrong, expired "
            "or revoked. Create a new token and update GITHUB_TOKEN."
        )
    retry_after = headers.get("retry-after")
    remaining = headers.get("x-ratelimit-remaining")
    if status in {403, 429} and (
        retry_after or remaining == "0" or "rate limit" in message.lower()
    ):
        if retry_after and retry_after.isdigit():
            wait = f"Retry after {retry_after} seconds."
        elif remaining == "0" and (reset := _reset_time(headers.get("x-ratelimit-reset"))):
            wait = f"The limit resets at {reset}."
        else:
            wait = "Wait at least a minute before retrying."
        limit = headers.get("x-ratelimit-limit")
        quota = f" (limit {limit} requests per hour)" if limit and remaining == "0" else ""
        return f"GitHub rate limit exceeded{quota} on {what} ({status}: {message}). {wait}"
    if status == 403:
        needed = headers.get("x-accepted-github-permissions")
        hint = f" The request needs these permissions: {needed}." if needed else ""
        return (
            f"GitHub refused {what} (403 {message}): the token lacks the scope or permission "
            f"for this, or the resource is blocked.{hint}"
        )
    if status == 404:
        return (
            f"Not found: {what} (404). The owner, repository, path or ref does not exist, or the "
            "token cannot see it (GitHub answers 404 for private resources without access)."
        )
    if status == 422:
        details = _validation_errors(body.get("errors"))
        listed = f": {'; '.join(details)}" if details else ""
        return f"GitHub rejected {what} as invalid (422 {message}){listed}."
    if status == 410:
        return f"Gone: {what} (410 {message}); for example issues are disabled for the repository."
    if status >= 500:
        return f"GitHub had a server error on {what} ({status} {message}); try again later."
    return f"GitHub answered {what} with {status}: {message}."
