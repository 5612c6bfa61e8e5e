"""The GitHub MCP server: five tools over the GitHub REST API, served over stdio."""

from __future__ import annotations

import base64
import binascii
import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal, TypeVar

import httpx
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_integrations_connectors.github.client import (
    OWNER_PATTERN,
    REPO_PATTERN,
    TIMEOUT,
    GitHubClient,
    GitHubError,
    contents_path,
    pagination,
    repo_path,
)

BODY_PREVIEW_CHARS = 500

Owner = Annotated[
    str,
    Field(
        description="Repository owner: a user or organization login, e.g. 'octocat'.",
        pattern=OWNER_PATTERN,
    ),
]
Repo = Annotated[
    str,
    Field(
        description="Repository name without the owner or '.git', e.g. 'hello-world'.",
        pattern=REPO_PATTERN,
    ),
]
PerPage = Annotated[int, Field(ge=1, le=100, description="Results per page, 1-100.")]
Page = Annotated[int, Field(ge=1, description="Page number, starting at 1.")]
Direction = Annotated[Literal["asc", "desc"], Field(description="Sort direction.")]
State = Annotated[Literal["open", "closed", "all"], Field(description="Which states to list.")]

_F = TypeVar("_F", bound=Callable[..., Any])


@asynccontextmanager
async def lifespan(_: MCPServer[GitHubClient]) -> AsyncIterator[GitHubClient]:
    """Share one HTTP client for the life of the process; configuration is read once here."""
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=True) as http:
        yield GitHubClient.from_env(http, os.environ)


server: MCPServer[GitHubClient] = MCPServer(
    "github",
    instructions=(
        "Search GitHub repositories, read files, and list or create issues and pull requests. "
        "Listings are paginated: when has_more is true, call again with page=next_page."
    ),
    lifespan=lifespan,
)


def _tool(*, read_only: bool) -> Callable[[_F], _F]:
    """Register a tool with its docstring, dedented, as the description the model reads."""

    def register(fn: _F) -> _F:
        annotations = ToolAnnotations(
            read_only_hint=read_only, destructive_hint=False, open_world_hint=True
        )
        description = inspect.cleandoc(fn.__doc__ or "")
        return server.tool(description=description, annotations=annotations)(fn)

    return register


def _github(ctx: Context[GitHubClient, Any]) -> GitHubClient:
    return ctx.request_context.lifespan_context


@contextmanager
def _tool_errors() -> Iterator[None]:
    """Report GitHub failures to the client as tool errors with their explanatory message."""
    try:
        yield
    except GitHubError as exc:
        raise ToolError(str(exc)) from None


def _login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def _preview(text: str | None) -> str | None:
    if text is None or len(text) <= BODY_PREVIEW_CHARS:
        return text
    return text[:BODY_PREVIEW_CHARS] + "…"


def _repository(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "full_name": item.get("full_name"),
        "description": item.get("description"),
        "html_url": item.get("html_url"),
        "private": item.get("private"),
        "fork": item.get("fork"),
        "archived": item.get("archived"),
        "language": item.get("language"),
        "topics": item.get("topics", []),
        "stars": item.get("stargazers_count"),
        "forks": item.get("forks_count"),
        "open_issues": item.get("open_issues_count"),
        "default_branch": item.get("default_branch"),
        "updated_at": item.get("updated_at"),
    }


def _issue(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": item.get("number"),
        "title": item.get("title"),
        "state": item.get("state"),
        "author": _login(item.get("user")),
        "labels": [label.get("name") for label in item.get("labels", []) if label],
        "assignees": [_login(user) for user in item.get("assignees") or []],
        "comments": item.get("comments"),
        "is_pull_request": "pull_request" in item,
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
        "closed_at": item.get("closed_at"),
        "html_url": item.get("html_url"),
        "body_preview": _preview(item.get("body")),
    }


def _pull_request(item: dict[str, Any]) -> dict[str, Any]:
    head = item.get("head") or {}
    base = item.get("base") or {}
    return {
        "number": item.get("number"),
        "title": item.get("title"),
        "state": item.get("state"),
        "draft": item.get("draft"),
        "author": _login(item.get("user")),
        "head": head.get("label") or head.get("ref"),
        "base": base.get("ref"),
        "labels": [label.get("name") for label in item.get("labels", []) if label],
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
        "closed_at": item.get("closed_at"),
        "merged_at": item.get("merged_at"),
        "html_url": item.get("html_url"),
        "body_preview": _preview(item.get("body")),
    }


def _file(item: dict[str, Any]) -> dict[str, Any]:
    """A file's text, or why it is not shown: binary, or too large for the contents API."""
    size = item.get("size")
    result: dict[str, Any] = {
        "type": "file",
        "path": item.get("path"),
        "name": item.get("name"),
        "size": size,
        "sha": item.get("sha"),
        "html_url": item.get("html_url"),
        "download_url": item.get("download_url"),
        "is_binary": False,
        "content": None,
    }
    encoding = item.get("encoding")
    raw = item.get("content") or ""
    if encoding == "none" or (not raw and size):
        result["note"] = (
            f"The file is {size} bytes, larger than the 1 MB the contents API returns, so its "
            "contents are not included; download it from download_url instead."
        )
        return result
    if encoding != "base64":
        raise GitHubError(f"GitHub sent the file in an unexpected encoding {encoding!r}.")
    try:
        data = base64.b64decode(raw)
    except (binascii.Error, ValueError) as exc:
        raise GitHubError("GitHub sent file contents that are not valid base64.") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        result["is_binary"] = True
        result["note"] = (
            f"Binary file ({size} bytes, sha {item.get('sha')}): not UTF-8 text, so its contents "
            "are not shown; download it from download_url if needed."
        )
        return result
    result["content"] = text
    return result


def _contents(path: str, ref: str | None, data: Any) -> dict[str, Any]:
    if isinstance(data, list):
        entries = [
            {
                "name": entry.get("name"),
                "type": entry.get("type"),
                "path": entry.get("path"),
                "size": entry.get("size"),
            }
            for entry in data
            if isinstance(entry, dict)
        ]
        return {"type": "dir", "path": path.strip("/"), "ref": ref, "entries": entries}
    if not isinstance(data, dict):
        raise GitHubError("GitHub answered the contents request with an unexpected shape.")
    kind = data.get("type")
    if kind == "file":
        return _file(data)
    if kind == "symlink":
        return {
            "type": "symlink",
            "path": data.get("path"),
            "target": data.get("target"),
            "note": "A symlink whose target is not a regular file in this repository.",
        }
    if kind == "submodule":
        return {
            "type": "submodule",
            "path": data.get("path"),
            "sha": data.get("sha"),
            "submodule_git_url": data.get("submodule_git_url"),
            "note": "A git submodule: read its files from the submodule's own repository.",
        }
    raise GitHubError(f"GitHub answered the contents request with an unknown type {kind!r}.")


@_tool(read_only=True)
async def search_repositories(
    ctx: Context[GitHubClient, Any],
    query: Annotated[
        str,
        Field(
            min_length=1,
            max_length=256,
            description=(
                "GitHub search query: keywords plus optional qualifiers, "
                "e.g. 'http client language:python stars:>100' or 'org:github topic:cli'."
            ),
        ),
    ],
    sort: Annotated[
        Literal["best-match", "stars", "forks", "help-wanted-issues", "updated"],
        Field(description="Sort field; best-match ranks by relevance."),
    ] = "best-match",
    order: Direction = "desc",
    per_page: PerPage = 30,
    page: Page = 1,
) -> dict[str, Any]:
    """Search GitHub repositories with GitHub's search syntax.

    Returns the total match count and one page of repositories (name, description, URL,
    language, stars, forks, topics, ...). GitHub's search returns at most 1000 results.
    """
    params: dict[str, str | int] = {"q": query, "per_page": per_page, "page": page}
    if sort != "best-match":
        params |= {"sort": sort, "order": order}
    with _tool_errors():
        response = await _github(ctx).get("/search/repositories", params)
    data = response.data if isinstance(response.data, dict) else {}
    return {
        "total_count": data.get("total_count", 0),
        "incomplete_results": data.get("incomplete_results", False),
        "repositories": [_repository(item) for item in data.get("items", [])],
        **pagination(response.link, page, per_page).as_dict(),
    }


@_tool(read_only=True)
async def get_file_contents(
    ctx: Context[GitHubClient, Any],
    owner: Owner,
    repo: Repo,
    path: Annotated[
        str,
        Field(
            max_length=4096,
            description="Path inside the repository, e.g. 'src/main.py'; '' for the root.",
        ),
    ] = "",
    ref: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=255,
            description="Branch, tag or commit SHA; the default branch when omitted.",
        ),
    ] = None,
) -> dict[str, Any]:
    """Read a file, or list a directory, in a GitHub repository.

    A text file comes back decoded as UTF-8 in `content`. A directory comes back as
    `entries` (name, type, path, size). Binary files and files over 1 MB are described
    (size, sha, download_url) instead of returned.
    """
    with _tool_errors():
        url_path = contents_path(owner, repo, path)
        response = await _github(ctx).get(url_path, {"ref": ref} if ref else None)
        result = _contents(path, ref, response.data)
    return result


@_tool(read_only=True)
async def list_issues(
    ctx: Context[GitHubClient, Any],
    owner: Owner,
    repo: Repo,
    state: State = "open",
    labels: Annotated[
        list[Annotated[str, Field(min_length=1)]] | None,
        Field(description="Only issues carrying all of these label names."),
    ] = None,
    sort: Annotated[
        Literal["created", "updated", "comments"], Field(description="Sort field.")
    ] = "created",
    direction: Direction = "desc",
    since: Annotated[
        str | None,
        Field(description="Only issues updated at or after this ISO 8601 time."),
    ] = None,
    per_page: PerPage = 30,
    page: Page = 1,
) -> dict[str, Any]:
    """List issues in a GitHub repository, newest first by default.

    GitHub counts pull requests as issues, so they appear here too, marked with
    is_pull_request=true; use list_pull_requests for pull-request details.
    """
    params: dict[str, str | int] = {
        "state": state,
        "sort": sort,
        "direction": direction,
        "per_page": per_page,
        "page": page,
    }
    if labels:
        params["labels"] = ",".join(labels)
    if since:
        params["since"] = since
    with _tool_errors():
        response = await _github(ctx).get(f"{repo_path(owner, repo)}/issues", params)
    items = response.data if isinstance(response.data, list) else []
    return {
        "issues": [_issue(item) for item in items],
        **pagination(response.link, page, per_page).as_dict(),
    }


@_tool(read_only=False)
async def create_issue(
    ctx: Context[GitHubClient, Any],
    owner: Owner,
    repo: Repo,
    title: Annotated[str, Field(min_length=1, max_length=256, description="Issue title.")],
    body: Annotated[str | None, Field(description="Issue body, in Markdown.")] = None,
    labels: Annotated[
        list[Annotated[str, Field(min_length=1)]] | None,
        Field(description="Label names to add (needs push access to take effect)."),
    ] = None,
    assignees: Annotated[
        list[Annotated[str, Field(min_length=1)]] | None,
        Field(description="Logins to assign (needs push access to take effect)."),
    ] = None,
) -> dict[str, Any]:
    """Open a new issue in a GitHub repository and return its number and URL."""
    payload: dict[str, Any] = {"title": title}
    if body is not None:
        payload["body"] = body
    if labels:
        payload["labels"] = labels
    if assignees:
        payload["assignees"] = assignees
    with _tool_errors():
        response = await _github(ctx).post(f"{repo_path(owner, repo)}/issues", payload)
    item = response.data if isinstance(response.data, dict) else {}
    return {key: value for key, value in _issue(item).items() if key != "body_preview"}


@_tool(read_only=True)
async def list_pull_requests(
    ctx: Context[GitHubClient, Any],
    owner: Owner,
    repo: Repo,
    state: State = "open",
    base: Annotated[
        str | None, Field(min_length=1, description="Only pull requests into this branch.")
    ] = None,
    head: Annotated[
        str | None,
        Field(
            min_length=1,
            description="Only pull requests from this branch, as 'user:branch' or 'org:branch'.",
        ),
    ] = None,
    sort: Annotated[
        Literal["created", "updated", "popularity", "long-running"],
        Field(description="Sort field."),
    ] = "created",
    direction: Direction = "desc",
    per_page: PerPage = 30,
    page: Page = 1,
) -> dict[str, Any]:
    """List pull requests in a GitHub repository, newest first by default.

    Each has its number, title, state, draft flag, author, head and base branches and URL.
    """
    params: dict[str, str | int] = {
        "state": state,
        "sort": sort,
        "direction": direction,
        "per_page": per_page,
        "page": page,
    }
    if base:
        params["base"] = base
    if head:
        params["head"] = head
    with _tool_errors():
        response = await _github(ctx).get(f"{repo_path(owner, repo)}/pulls", params)
    items = response.data if isinstance(response.data, list) else []
    return {
        "pull_requests": [_pull_request(item) for item in items],
        **pagination(response.link, page, per_page).as_dict(),
    }


def main() -> None:
    """Serve over stdio; request lines from httpx stay out of the log."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    server.run()
