"""The github connector, run as a real child process over MCP stdio against a fake GitHub API.

One connector process and one fake server are shared by the module; the tests that need a
different environment (no token, an Enterprise base URL) start their own process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest
from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from mcp_integrations_connectors.github.client import TIMEOUT, GitHubClient, GitHubError
from tests.fakes.github_api import HUGE_FILE_SIZE, FakeGitHub
from tests.helpers import connector_session, free_port, serve_asgi

pytestmark = pytest.mark.anyio

MODULE = "mcp_integrations_connectors.github"
TOKEN = "ghp_TestOnlySecretToken0123456789abcdef"
TOOLS = {
    "search_repositories",
    "get_file_contents",
    "list_issues",
    "create_issue",
    "list_pull_requests",
}
REPO = {"owner": "octo-org", "repo": "hello-world"}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fake() -> FakeGitHub:
    return FakeGitHub(TOKEN)


@pytest.fixture(scope="module")
def api_url(fake: FakeGitHub) -> Iterator[str]:
    with serve_asgi(fake.app) as url:
        yield url


@pytest.fixture(scope="module")
def stderr_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TextIO]:
    with (tmp_path_factory.mktemp("github") / "stderr.log").open("w+") as file:
        yield file


@pytest.fixture(scope="module")
async def session(api_url: str, stderr_file: TextIO) -> AsyncIterator[ClientSession]:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": api_url}
    async with connector_session(MODULE, env, errlog=stderr_file) as client:
        yield client


@pytest.fixture
def github(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """The shared fake, with no requests recorded yet and the right token expected."""
    fake.reset()
    yield fake
    fake.token = TOKEN


def _text(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def _call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    result = await session.call_tool(tool, arguments)
    assert TOKEN not in _text(result)
    assert TOKEN not in str(result.structured_content)
    return result


async def ok(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await _call(session, tool, arguments)
    assert not result.is_error, _text(result)
    content = result.structured_content
    assert isinstance(content, dict)
    return content


async def fails(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await _call(session, tool, arguments)
    assert result.is_error, result.structured_content
    return _text(result)


def _log(file: TextIO) -> str:
    """The child's stderr with all whitespace removed, since its log handler wraps lines."""
    return "".join(Path(file.name).read_text().split())


async def test_lists_exactly_the_five_tools_with_input_schemas(session: ClientSession) -> None:
    tools = (await session.list_tools()).tools
    assert {tool.name for tool in tools} == TOOLS
    assert len(tools) == len(TOOLS)
    for tool in tools:
        assert tool.description
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["properties"]
    schemas = {tool.name: tool.input_schema for tool in tools}
    assert schemas["search_repositories"]["required"] == ["query"]
    assert schemas["create_issue"]["required"] == ["owner", "repo", "title"]
    per_page = schemas["list_issues"]["properties"]["per_page"]
    assert (per_page["minimum"], per_page["maximum"]) == (1, 100)


async def test_search_repositories_sends_auth_headers_and_trims_results(
    session: ClientSession, github: FakeGitHub
) -> None:
    result = await ok(
        session, "search_repositories", query="hello language:Python", sort="stars", per_page=5
    )
    assert result["total_count"] == 1
    [repo] = result["repositories"]
    assert repo["full_name"] == "octo-org/hello-world"
    assert repo["stars"] == 1500
    assert repo["html_url"] == "https://github.com/octo-org/hello-world"
    assert "owner" not in repo
    assert "node_id" not in repo
    assert result["has_more"] is False
    [request] = github.requests
    assert (request.method, request.path) == ("GET", "/search/repositories")
    assert request.query == {
        "q": "hello language:Python",
        "sort": "stars",
        "order": "desc",
        "per_page": "5",
        "page": "1",
    }
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["user-agent"].startswith("mcp-integrations")


async def test_search_pagination_reads_the_link_header(
    session: ClientSession, github: FakeGitHub
) -> None:
    first = await ok(session, "search_repositories", query="widget", per_page=20)
    assert first["total_count"] == 45
    assert len(first["repositories"]) == 20
    assert (first["page"], first["next_page"], first["last_page"]) == (1, 2, 3)
    assert first["has_more"] is True

    last = await ok(session, "search_repositories", query="widget", per_page=20, page=3)
    assert len(last["repositories"]) == 5
    assert last["next_page"] is None
    assert last["has_more"] is False
    assert [request.query["page"] for request in github.requests] == ["1", "3"]
    assert "sort" not in github.requests[0].query


async def test_get_file_contents_decodes_base64_at_a_ref(
    session: ClientSession, github: FakeGitHub
) -> None:
    readme = await ok(session, "get_file_contents", **REPO, path="README.md")
    assert readme["type"] == "file"
    assert readme["content"] == "# Hello World\n\nUnicode survives: naïve café ✓\n"
    assert readme["is_binary"] is False
    assert len(readme["sha"]) == 40

    tagged = await ok(session, "get_file_contents", **REPO, path="README.md", ref="v1.0")
    assert tagged["content"] == "# Hello World v1.0\n"
    assert github.requests[0].query == {}
    assert github.requests[1].query == {"ref": "v1.0"}


async def test_get_file_contents_lists_a_directory(
    session: ClientSession, github: FakeGitHub
) -> None:
    listing = await ok(session, "get_file_contents", **REPO, path="docs/")
    assert listing["type"] == "dir"
    assert listing["entries"] == [
        {"name": "My Notes.md", "type": "file", "path": "docs/My Notes.md", "size": 20},
        {"name": "guide.md", "type": "file", "path": "docs/guide.md", "size": 11},
    ]
    root = await ok(session, "get_file_contents", **REPO)
    assert {(entry["name"], entry["type"]) for entry in root["entries"]} == {
        ("README.md", "file"),
        ("assets", "dir"),
        ("docs", "dir"),
    }
    assert [request.raw_path for request in github.requests] == [
        "/repos/octo-org/hello-world/contents/docs",
        "/repos/octo-org/hello-world/contents",
    ]


async def test_get_file_contents_quotes_path_segments(
    session: ClientSession, github: FakeGitHub
) -> None:
    notes = await ok(session, "get_file_contents", **REPO, path="docs/My Notes.md")
    assert notes["content"] == "Spaces in the name.\n"
    assert github.requests[0].raw_path == "/repos/octo-org/hello-world/contents/docs/My%20Notes.md"


async def test_get_file_contents_describes_a_binary_file(session: ClientSession) -> None:
    logo = await ok(session, "get_file_contents", **REPO, path="assets/logo.png")
    assert logo["is_binary"] is True
    assert logo["content"] is None
    assert logo["size"] == 18
    assert "Binary file (18 bytes" in logo["note"]
    assert logo["sha"] in logo["note"]


async def test_get_file_contents_explains_a_file_too_large_for_the_api(
    session: ClientSession,
) -> None:
    huge = await ok(session, "get_file_contents", **REPO, path="assets/huge.bin")
    assert huge["content"] is None
    assert f"{HUGE_FILE_SIZE} bytes" in huge["note"]
    assert "download_url" in huge["note"]
    assert huge["download_url"].endswith("/assets/huge.bin")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"owner": "octo-org/x", "repo": "hello-world"}, "owner"),
        ({"owner": "-octo", "repo": "hello-world"}, "owner"),
        ({"owner": "octo-org", "repo": "hello world"}, "repo"),
        ({"owner": "octo-org", "repo": ".."}, "Invalid repository name"),
        ({**REPO, "path": "../../user"}, "Invalid path"),
        ({**REPO, "path": "docs//guide.md"}, "Invalid path"),
    ],
)
async def test_invalid_names_are_refused_before_any_request(
    session: ClientSession, github: FakeGitHub, arguments: dict[str, str], expected: str
) -> None:
    message = await fails(session, "get_file_contents", **arguments)
    assert expected in message
    assert github.requests == []


async def test_list_issues_passes_filters_and_marks_pull_requests(
    session: ClientSession, github: FakeGitHub
) -> None:
    result = await ok(session, "list_issues", **REPO, state="all", per_page=2)
    assert [issue["number"] for issue in result["issues"]] == [7, 6]
    assert (result["next_page"], result["last_page"], result["has_more"]) == (2, 4, True)
    long_body = result["issues"][1]["body_preview"]
    assert long_body.endswith("…")
    assert len(long_body) == 501

    page = await ok(session, "list_issues", **REPO, state="all", per_page=2, page=2)
    assert [issue["number"] for issue in page["issues"]] == [5, 4]
    three = await ok(session, "list_issues", **REPO, per_page=3, page=2, sort="created")
    assert [(i["number"], i["is_pull_request"]) for i in three["issues"]] == [
        (3, True),
        (2, False),
        (1, False),
    ]
    assert three["has_more"] is False

    labelled = await ok(session, "list_issues", **REPO, labels=["bug", "help wanted"])
    [issue] = labelled["issues"]
    assert issue["number"] == 2
    assert issue["labels"] == ["bug", "help wanted"]
    assert issue["assignees"] == ["hubot"]
    assert issue["author"] == "octocat"
    assert github.requests[-1].query == {
        "state": "open",
        "sort": "created",
        "direction": "desc",
        "per_page": "30",
        "page": "1",
        "labels": "bug,help wanted",
    }


async def test_create_issue_posts_the_json_body(session: ClientSession, github: FakeGitHub) -> None:
    created = await ok(
        session,
        "create_issue",
        owner="octo-org",
        repo="sandbox",
        title="Crash on start",
        body="Steps:\n1. start",
        labels=["bug"],
        assignees=["octocat"],
    )
    assert created["number"] == 1
    assert created["state"] == "open"
    assert created["html_url"] == "https://github.com/octo-org/sandbox/issues/1"
    assert created["labels"] == ["bug"]
    assert created["assignees"] == ["octocat"]
    [request] = github.requests
    assert (request.method, request.path) == ("POST", "/repos/octo-org/sandbox/issues")
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "title": "Crash on start",
        "body": "Steps:\n1. start",
        "labels": ["bug"],
        "assignees": ["octocat"],
    }

    await ok(session, "create_issue", owner="octo-org", repo="sandbox", title="Just a title")
    assert github.requests[-1].body == {"title": "Just a title"}


async def test_list_pull_requests_filters_and_trims(
    session: ClientSession, github: FakeGitHub
) -> None:
    open_pulls = await ok(session, "list_pull_requests", **REPO)
    assert [(p["number"], p["draft"]) for p in open_pulls["pull_requests"]] == [
        (8, True),
        (3, False),
    ]
    assert open_pulls["pull_requests"][0]["head"] == "hubot:new-api"
    assert open_pulls["pull_requests"][0]["base"] == "main"
    assert "sha" not in str(open_pulls)

    merged = await ok(
        session, "list_pull_requests", **REPO, state="closed", head="octocat:merged", base="main"
    )
    [pull] = merged["pull_requests"]
    assert pull["merged_at"] == "2024-04-20T00:00:00Z"
    assert github.requests[-1].query == {
        "state": "closed",
        "sort": "created",
        "direction": "desc",
        "per_page": "30",
        "page": "1",
        "base": "main",
        "head": "octocat:merged",
    }


async def test_a_wrong_token_is_reported_as_401(session: ClientSession, github: FakeGitHub) -> None:
    github.token = "ghp_some_other_token"
    message = await fails(session, "list_issues", **REPO)
    assert "401" in message
    assert "GITHUB_TOKEN" in message
    assert "expired" in message


async def test_primary_rate_limit_reports_the_reset_time(
    session: ClientSession, github: FakeGitHub
) -> None:
    reset = int(time.time()) + 600
    github.fail_next(
        403,
        {
            "message": "API rate limit exceeded for user ID 1.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        },
        {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": "5000",
            "x-ratelimit-reset": str(reset),
        },
    )
    message = await fails(session, "search_repositories", query="anything")
    assert "rate limit exceeded" in message
    assert datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") in message
    assert "in about 10 min" in message
    assert "limit 5000" in message


async def test_secondary_rate_limit_429_reports_retry_after(
    session: ClientSession, github: FakeGitHub
) -> None:
    github.fail_next(
        429,
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
        {"retry-after": "60", "x-ratelimit-remaining": "4000"},
    )
    message = await fails(session, "list_pull_requests", **REPO)
    assert "rate limit exceeded" in message
    assert "429" in message
    assert "Retry after 60 seconds" in message


async def test_forbidden_names_the_missing_permission(session: ClientSession) -> None:
    message = await fails(session, "create_issue", owner="octo-org", repo="read-only", title="x")
    assert "403" in message
    assert "Resource not accessible by personal access token" in message
    assert "issues=write" in message


async def test_not_found_says_missing_or_no_access(session: ClientSession) -> None:
    message = await fails(session, "list_issues", owner="octo-org", repo="no-such-repo")
    assert "404" in message
    assert "/repos/octo-org/no-such-repo/issues" in message
    assert "cannot see it" in message
    missing_ref = await fails(session, "get_file_contents", **REPO, path="README.md", ref="nope")
    assert "404" in missing_ref


async def test_validation_failure_lists_the_errors(session: ClientSession) -> None:
    message = await fails(
        session, "create_issue", owner="octo-org", repo="sandbox", title="t", assignees=["ghost"]
    )
    assert "422 Validation Failed" in message
    assert "Issue.assignees: invalid (value 'ghost')" in message


async def test_token_never_reaches_results_or_stderr(
    session: ClientSession, github: FakeGitHub, stderr_file: TextIO
) -> None:
    await ok(session, "get_file_contents", **REPO, path="README.md")
    await fails(session, "list_issues", owner="octo-org", repo="missing")
    github.token = "ghp_another"
    await fails(session, "create_issue", owner="octo-org", repo="sandbox", title="x")
    log = _log(stderr_file)
    assert "Tool'create_issue'failed" in log
    assert TOKEN not in log


async def test_enterprise_base_url_keeps_the_api_v3_prefix(
    api_url: str, github: FakeGitHub, tmp_path: Path
) -> None:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": f"{api_url}/api/v3/"}
    with (tmp_path / "stderr.log").open("w+") as errlog:
        async with connector_session(MODULE, env, errlog=errlog) as enterprise:
            found = await ok(enterprise, "search_repositories", query="widget", per_page=40)
            assert (found["next_page"], found["has_more"]) == (2, True)
            notes = await ok(enterprise, "get_file_contents", **REPO, path="docs/My Notes.md")
            assert notes["content"] == "Spaces in the name.\n"
            await fails(enterprise, "list_issues", owner="octo-org", repo="missing")
        assert TOKEN not in _log(errlog)
    assert [request.raw_path for request in github.requests] == [
        "/api/v3/search/repositories",
        "/api/v3/repos/octo-org/hello-world/contents/docs/My%20Notes.md",
        "/api/v3/repos/octo-org/missing/issues",
    ]


async def test_without_a_token_the_server_starts_and_tools_say_what_is_missing(
    api_url: str, github: FakeGitHub, tmp_path: Path
) -> None:
    with (tmp_path / "stderr.log").open("w+") as errlog:
        async with connector_session(MODULE, {"GITHUB_API_URL": api_url}, errlog=errlog) as bare:
            assert len((await bare.list_tools()).tools) == len(TOOLS)
            message = await fails(bare, "search_repositories", query="widget")
    assert "GITHUB_TOKEN is not set" in message
    assert github.requests == []


@pytest.mark.parametrize(
    ("token", "base_url", "expected"),
    [
        (None, "https://api.github.com", "GITHUB_TOKEN is not set"),
        ("ghp_with space", "https://api.github.com", "GITHUB_TOKEN contains"),
        (TOKEN, "ftp://github.example.com", "GITHUB_API_URL"),
    ],
)
async def test_client_explains_bad_configuration(
    token: str | None, base_url: str, expected: str
) -> None:
    async with httpx.AsyncClient() as http:
        client = GitHubClient(http, token, base_url)
        with pytest.raises(GitHubError, match=expected) as raised:
            await client.get("/search/repositories", {"q": "x"})
    assert "ghp_with" not in str(raised.value)
    assert TOKEN not in str(raised.value)


async def test_client_reports_an_unreachable_host() -> None:
    base_url = f"http://127.0.0.1:{free_port()}"
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        client = GitHubClient(http, TOKEN, base_url)
        with pytest.raises(GitHubError, match="Could not reach GitHub") as raised:
            await client.get("/search/repositories", {"q": "x"})
    assert base_url in str(raised.value)
    assert TOKEN not in str(raised.value)


async def test_client_reports_a_timeout() -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(time_out)) as http:
        client = GitHubClient(http, TOKEN)
        with pytest.raises(GitHubError, match="did not answer in time"):
            await client.get("/repos/octo-org/hello-world/issues")
