"""A fake of the slice of the GitHub REST API (version 2022-11-28) the github connector calls.

It serves the real paths, status codes, headers and JSON shapes, both at the root (like
api.github.com) and under ``/api/v3`` (like GitHub Enterprise Server). It is strict where
GitHub is: a wrong token gets 401, a missing User-Agent 403, and it also insists on the
documented ``Accept`` and ``X-GitHub-Api-Version`` headers. Every request is recorded so
tests can assert on what the connector sent, and a test can script the next answer (for
rate limits, which no input can trigger deterministically).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000
COLLABORATORS = frozenset({"octocat", "hubot"})
HUGE_FILE_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake received: ``raw_path`` keeps the percent-encoding as sent."""

    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Blob:
    """A file in the fake repository tree; ``data`` None means too large for the contents API."""

    data: bytes | None
    size: int

    @classmethod
    def of(cls, data: bytes) -> Blob:
        return cls(data, len(data))

    @property
    def sha(self) -> str:
        header = f"blob {self.size}\0".encode()
        return hashlib.sha1(header + (self.data or b"")).hexdigest()


def _repository(owner: str, name: str, **fields: Any) -> dict[str, Any]:
    full_name = f"{owner}/{name}"
    return {
        "id": int(hashlib.sha1(full_name.encode()).hexdigest()[:7], 16),
        "node_id": "R_kgDO" + hashlib.sha1(full_name.encode()).hexdigest()[:8],
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": {"login": owner, "id": 1, "type": "Organization"},
        "html_url": f"https://github.com/{full_name}",
        "description": None,
        "fork": False,
        "url": f"https://api.github.com/repos/{full_name}",
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2024-05-01T12:00:00Z",
        "pushed_at": "2024-05-01T12:00:00Z",
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "forks_count": 0,
        "archived": False,
        "open_issues_count": 0,
        "topics": [],
        "visibility": "public",
        "default_branch": "main",
        "score": 1.0,
    } | fields


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": sum(map(ord, login)), "type": "User"}


def _label(name: str) -> dict[str, Any]:
    return {"id": sum(map(ord, name)), "name": name, "color": "ededed", "default": False}


class FakeGitHub:
    """The fake API and its state; ``app`` is the ASGI application to serve."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[RecordedRequest] = []
        self._scripted: list[Response] = []
        self.repositories = [
            _repository(
                "octo-org",
                "hello-world",
                description="A hello world repository",
                language="Python",
                stargazers_count=1500,
                open_issues_count=6,
                topics=["example"],
            ),
            _repository("octo-org", "sandbox", description="Issues created by tests land here"),
            _repository("octo-org", "read-only", description="The token may only read this"),
        ] + [
            _repository(
                "widgets",
                f"widget-{i:02d}",
                description=f"Widget toolkit number {i}",
                language="Go" if i % 2 else "Python",
                stargazers_count=i * 10,
            )
            for i in range(1, 46)
        ]
        self.trees: dict[str, dict[str, Blob]] = {
            "main": {
                "README.md": Blob.of("# Hello World\n\nUnicode survives: naïve café ✓\n".encode()),
                "docs/guide.md": Blob.of(b"The guide.\n"),
                "docs/My Notes.md": Blob.of(b"Spaces in the name.\n"),
                "assets/logo.png": Blob.of(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
                "assets/huge.bin": Blob(None, HUGE_FILE_SIZE),
            },
            "v1.0": {"README.md": Blob.of(b"# Hello World v1.0\n")},
        }
        self.issues: dict[str, list[dict[str, Any]]] = {
            "octo-org/hello-world": [self._issue("octo-org/hello-world", n) for n in range(1, 8)],
            "octo-org/sandbox": [],
            "octo-org/read-only": [],
        }
        self.pulls: dict[str, list[dict[str, Any]]] = {
            "octo-org/hello-world": [
                self._pull("octo-org/hello-world", 3, "open", "octocat:fix-typo", draft=False),
                self._pull("octo-org/hello-world", 8, "open", "hubot:new-api", draft=True),
                self._pull("octo-org/hello-world", 9, "closed", "octocat:merged", merged=True),
                self._pull("octo-org/hello-world", 10, "closed", "hubot:abandoned"),
            ],
        }
        routes: list[BaseRoute] = [
            Route("/search/repositories", self._guarded(self.search_repositories)),
            Route("/repos/{owner}/{repo}/contents", self._guarded(self.get_contents)),
            Route("/repos/{owner}/{repo}/contents/{path:path}", self._guarded(self.get_contents)),
            Route(
                "/repos/{owner}/{repo}/issues",
                self._guarded(self.issues_endpoint),
                methods=["GET", "POST"],
            ),
            Route("/repos/{owner}/{repo}/pulls", self._guarded(self.list_pulls)),
        ]
        self.app = Starlette(routes=[Mount("/api/v3", routes=routes), *routes])

    def reset(self) -> None:
        """Forget recorded requests and any scripted answer not yet used."""
        self.requests.clear()
        self._scripted.clear()

    def fail_next(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        """Answer the next authenticated request with this response instead."""
        self._scripted.append(JSONResponse(body, status, headers=headers))

    @staticmethod
    def _issue(full_name: str, number: int) -> dict[str, Any]:
        labels = {1: ["bug"], 2: ["bug", "help wanted"], 4: ["docs"]}.get(number, [])
        issue = {
            "id": 1000 + number,
            "number": number,
            "title": f"Issue number {number}",
            "state": "closed" if number == 5 else "open",
            "user": _user("octocat"),
            "labels": [_label(name) for name in labels],
            "assignees": [_user("hubot")] if number == 2 else [],
            "comments": number,
            "created_at": f"2024-01-{number:02d}T10:00:00Z",
            "updated_at": f"2024-02-{number:02d}T10:00:00Z",
            "closed_at": "2024-03-01T00:00:00Z" if number == 5 else None,
            "html_url": f"https://github.com/{full_name}/issues/{number}",
            "url": f"https://api.github.com/repos/{full_name}/issues/{number}",
            "body": "x" * 2000 if number == 6 else f"Body of issue {number}.",
            "author_association": "OWNER",
        }
        if number == 3:
            issue["pull_request"] = {"url": f"https://api.github.com/repos/{full_name}/pulls/3"}
        return issue

    @staticmethod
    def _pull(
        full_name: str, number: int, state: str, head: str, *, draft: bool = False, **extra: Any
    ) -> dict[str, Any]:
        user, ref = head.split(":")
        return {
            "id": 2000 + number,
            "number": number,
            "state": state,
            "title": f"Pull request {number}",
            "user": _user(user),
            "body": f"Changes for {number}.",
            "labels": [],
            "draft": draft,
            "head": {"label": head, "ref": ref, "sha": "a" * 40, "user": _user(user)},
            "base": {"label": "octo-org:main", "ref": "main", "sha": "b" * 40},
            "created_at": f"2024-04-{number:02d}T10:00:00Z",
            "updated_at": f"2024-04-{number:02d}T11:00:00Z",
            "closed_at": "2024-04-20T00:00:00Z" if state == "closed" else None,
            "merged_at": "2024-04-20T00:00:00Z" if extra.get("merged") else None,
            "html_url": f"https://github.com/{full_name}/pull/{number}",
            "url": f"https://api.github.com/repos/{full_name}/pulls/{number}",
        }

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "x-github-api-version-selected": API_VERSION,
            "x-github-media-type": "github.v3; format=json",
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(RATE_LIMIT - len(self.requests)),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-used": str(len(self.requests)),
            "x-ratelimit-resource": "core",
        } | (extra or {})

    def _error(self, status: int, message: str, **fields: Any) -> JSONResponse:
        body = {"message": message, "documentation_url": DOCS, "status": str(status)} | fields
        return JSONResponse(body, status, headers=self._headers())

    def _guarded(self, handler: Any) -> Any:
        """Record the request, then answer as GitHub would to a bad token or bad headers."""

        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    raw_path=request.scope["raw_path"].decode("ascii"),
                    query=dict(request.query_params),
                    headers=dict(request.headers),
                    body=json.loads(raw) if raw else None,
                )
            )
            headers = request.headers
            if not headers.get("user-agent"):
                return self._error(403, "Request forbidden by administrative rules.")
            if headers.get("authorization") != f"Bearer {self.token}":
                return self._error(401, "Bad credentials")
            if headers.get("x-github-api-version") != API_VERSION:
                return self._error(
                    400, f"Unsupported 'X-GitHub-Api-Version' header: expected {API_VERSION}."
                )
            if headers.get("accept") != "application/vnd.github+json":
                return self._error(415, "Unsupported 'Accept' header.")
            if self._scripted:
                return self._scripted.pop(0)
            response: Response = await handler(request)
            return response

        return endpoint

    def _paginated(self, request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """Slice ``items`` by ``per_page``/``page`` and build GitHub's ``Link`` header."""
        per_page = min(int(request.query_params.get("per_page", "30")), 100)
        page = int(request.query_params.get("page", "1"))
        last = max(1, -(-len(items) // per_page))
        links = []

        def url(number: int) -> str:
            return str(request.url.include_query_params(page=number))

        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        headers = self._headers({"link": ", ".join(links)} if links else None)
        return items[(page - 1) * per_page : page * per_page], headers

    def _repo_key(self, request: Request) -> str | None:
        full_name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        known = any(repo["full_name"] == full_name for repo in self.repositories)
        return full_name if known else None

    async def search_repositories(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        if not query.strip():
            return self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "Search", "field": "q", "code": "missing"}],
            )
        terms = [term.lower() for term in query.split() if ":" not in term]
        qualifiers = dict(term.split(":", 1) for term in query.split() if ":" in term)
        found = [
            repo
            for repo in self.repositories
            if all(
                term in f"{repo['full_name']} {repo['description'] or ''}".lower() for term in terms
            )
            and qualifiers.get("language", repo["language"]) == repo["language"]
        ]
        if request.query_params.get("sort") == "stars":
            reverse = request.query_params.get("order", "desc") == "desc"
            found.sort(key=lambda repo: repo["stargazers_count"], reverse=reverse)
        items, headers = self._paginated(request, found)
        body = {"total_count": len(found), "incomplete_results": False, "items": items}
        return JSONResponse(body, headers=headers)

    def _content_entry(self, request: Request, path: str, blob: Blob | None) -> dict[str, Any]:
        full_name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        kind = "dir" if blob is None else "file"
        api = f"{request.base_url}repos/{full_name}/contents/{path}"
        html = f"https://github.com/{full_name}/{'tree' if blob is None else 'blob'}/main/{path}"
        raw = f"https://raw.githubusercontent.com/{full_name}/main/{path}"
        return {
            "type": kind,
            "size": 0 if blob is None else blob.size,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": hashlib.sha1(path.encode()).hexdigest() if blob is None else blob.sha,
            "url": api,
            "git_url": None,
            "html_url": html,
            "download_url": None if blob is None else raw,
            "_links": {"self": api, "git": None, "html": html},
        }

    async def get_contents(self, request: Request) -> Response:
        if self._repo_key(request) != "octo-org/hello-world":
            return self._error(404, "Not Found")
        ref = request.query_params.get("ref", "main")
        tree = self.trees.get(ref)
        if tree is None:
            return self._error(404, f"No commit found for the ref {ref}")
        path = request.path_params.get("path", "").strip("/")
        blob = tree.get(path)
        if blob is not None:
            entry = self._content_entry(request, path, blob)
            if blob.data is None:
                entry |= {"content": "", "encoding": "none"}
            else:
                encoded = base64.b64encode(blob.data).decode()
                lines = [encoded[i : i + 60] for i in range(0, len(encoded), 60)]
                entry |= {"content": "\n".join(lines) + "\n", "encoding": "base64"}
            return JSONResponse(entry, headers=self._headers())
        prefix = f"{path}/" if path else ""
        children: dict[str, Blob | None] = {}
        for name, child in tree.items():
            if name.startswith(prefix):
                head, _, rest = name[len(prefix) :].partition("/")
                children[prefix + head] = None if rest else child
        if not children:
            return self._error(404, "Not Found")
        listing = [self._content_entry(request, name, children[name]) for name in sorted(children)]
        return JSONResponse(listing, headers=self._headers())

    async def issues_endpoint(self, request: Request) -> Response:
        full_name = self._repo_key(request)
        if full_name is None:
            return self._error(404, "Not Found")
        if request.method == "POST":
            return self._create_issue(request, full_name, json.loads(await request.body()))
        state = request.query_params.get("state", "open")
        wanted = set(filter(None, request.query_params.get("labels", "").split(",")))
        found = [
            issue
            for issue in self.issues[full_name]
            if state in {"all", issue["state"]}
            and wanted <= {label["name"] for label in issue["labels"]}
        ]
        field_name = {"created": "created_at", "updated": "updated_at", "comments": "comments"}
        key = field_name[request.query_params.get("sort", "created")]
        reverse = request.query_params.get("direction", "desc") == "desc"
        found.sort(key=lambda issue: issue[key], reverse=reverse)
        items, headers = self._paginated(request, found)
        return JSONResponse(items, headers=headers)

    def _create_issue(self, request: Request, full_name: str, body: Any) -> Response:
        if full_name == "octo-org/read-only":
            response = self._error(403, "Resource not accessible by personal access token")
            response.headers["x-accepted-github-permissions"] = "issues=write"
            return response
        if not isinstance(body, dict) or not body.get("title"):
            return self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "code": "missing_field", "field": "title"}],
            )
        invalid = [
            {"value": login, "resource": "Issue", "field": "assignees", "code": "invalid"}
            for login in body.get("assignees", [])
            if login not in COLLABORATORS
        ]
        if invalid:
            return self._error(422, "Validation Failed", errors=invalid)
        issues = self.issues[full_name]
        number = len(issues) + 1
        issue = self._issue(full_name, number) | {
            "title": body["title"],
            "body": body.get("body"),
            "state": "open",
            "closed_at": None,
            "labels": [_label(name) for name in body.get("labels", [])],
            "assignees": [_user(login) for login in body.get("assignees", [])],
            "comments": 0,
        }
        issues.append(issue)
        headers = self._headers({"location": issue["url"]})
        return JSONResponse(issue, 201, headers=headers)

    async def list_pulls(self, request: Request) -> Response:
        full_name = self._repo_key(request)
        if full_name is None:
            return self._error(404, "Not Found")
        params = request.query_params
        state = params.get("state", "open")
        found = [
            pull
            for pull in self.pulls.get(full_name, [])
            if state in {"all", pull["state"]}
            and params.get("base", pull["base"]["ref"]) == pull["base"]["ref"]
            and params.get("head", pull["head"]["label"]) == pull["head"]["label"]
        ]
        found.sort(key=lambda pull: pull["created_at"], reverse=params.get("direction") != "asc")
        items, headers = self._paginated(request, found)
        return JSONResponse(items, headers=headers)
