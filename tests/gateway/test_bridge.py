"""A 2026-07-28 (stateless) client calling tools of a 2025-11-25 server through the hub:
the server's requests mid-call become input-required results, the client's answers resume
the same call; progress and cancellation carry across; the ``requestState`` the hub hands
out cannot be forged, replayed, outlive its deadline or change hands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext

from mcp_integrations.app import create_app
from mcp_integrations.gateway import bridge
from mcp_integrations.models import Role
from mcp_integrations.settings import Settings
from mcp_integrations.supervisor import RestartPolicy
from mcp_integrations.tokens import TokenTable
from tests.conftest import FAST_RESTARTS
from tests.helpers import serve_asgi, toy_install

MODERN = "2026-07-28"


async def sampling(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    asked = params.messages[0].content
    text = asked.text if isinstance(asked, types.TextContent) else "?"
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=f"sampled: {text}"), model="m"
    )


async def eliciting(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"name": "Ada"})


async def rooting(context: ClientRequestContext) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root.model_validate({"uri": "file:///srv/project"})])


def text(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


async def progress_then_cancel(client: Client, marker: Path) -> None:
    """``slow`` reports its progress to the client, and a call abandoned midway is
    cancelled on the server (which writes ``marker``)."""
    reported: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append(progress)

    done = await client.call_tool("slow", {"seconds": 0.2}, progress_callback=on_progress)
    assert text(done) == "done" and len(reported) >= 5
    with anyio.move_on_after(1):
        await client.call_tool("slow", {"seconds": 30})
    with anyio.fail_after(10):
        while not await anyio.Path(marker).exists():  # noqa: ASYNC110
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_a_stateless_client_answers_what_a_legacy_server_asks(hub: str) -> None:
    async with Client(
        f"{hub}/integrations/alpha/mcp",
        mode=MODERN,
        sampling_callback=sampling,
        elicitation_callback=eliciting,
        list_roots_callback=rooting,
    ) as client:
        assert client.session.protocol_version == MODERN
        assert "sampled:" in text(await client.call_tool("sample", {"prompt": "the sky"}))
        assert text(await client.call_tool("ask_name", {})) == "hello Ada"
        assert text(await client.call_tool("roots", {})) == "file:///srv/project"
        # and through the aggregate endpoint, by the prefixed name
    async with Client(f"{hub}/mcp", mode=MODERN, sampling_callback=sampling) as client:
        assert "sampled:" in text(await client.call_tool("beta__sample", {"prompt": "x"}))


@pytest.mark.anyio
async def test_progress_reaches_a_stateless_client(hub: str) -> None:
    reported: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append(progress)

    async with Client(f"{hub}/integrations/alpha/mcp", mode=MODERN) as client:
        result = await client.call_tool("slow", {"seconds": 0.2}, progress_callback=on_progress)
    assert not result.is_error
    assert reported == sorted(reported) and len(reported) >= 5


@pytest.mark.anyio
async def test_a_stateless_client_going_away_cancels_the_call(
    data_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "cancelled"
    app = create_app(data_dir, settings=Settings(), policy=FAST_RESTARTS)
    with serve_asgi(app, lifespan=True, timeout=30) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            body = toy_install("slowpoke", TOY_CANCEL_MARKER=str(marker))
            assert (await http.post("/integrations/install", json=body)).status_code == 201
            assert (await http.post("/integrations/slowpoke/start")).status_code == 200
        async with Client(f"{url}/integrations/slowpoke/mcp", mode=MODERN) as client:
            with anyio.move_on_after(1):
                await client.call_tool("slow", {"seconds": 30})
            with anyio.fail_after(10):
                while not marker.exists():  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            assert text(await client.call_tool("echo", {"text": "after"})) == "after"


def _call(
    http: httpx.Client,
    path: str,
    params: dict[str, Any],
    *,
    token: str | None = None,
    capabilities: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One 2026-07-28 ``tools/call`` by hand, as a stateless client sends it."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "by-hand", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}}
        if capabilities is None
        else capabilities,
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": params["name"],
    }
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {**params, "_meta": meta}}
    response = http.post(path, json=body, headers=headers)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        answer: dict[str, Any] = json.loads(data[-1])
    else:
        answer = response.json()
    return answer


TOKENS = {"first": "first-caller-token-0123456789", "second": "second-caller-token-0123456789"}


@pytest.fixture
def guarded(data_dir: Path) -> Iterator[httpx.Client]:
    """A hub with two callers of the same role, and a toy that samples."""
    table = TokenTable()
    for name, token in TOKENS.items():
        table += TokenTable.plain(token, role=Role.ADMIN, name=name)
    app = create_app(data_dir, settings=Settings(tokens=table), policy=FAST_RESTARTS)
    auth = {"authorization": f"Bearer {TOKENS['first']}"}
    with (
        serve_asgi(app, lifespan=True, timeout=30) as url,
        httpx.Client(base_url=url, headers=auth, timeout=30) as http,
    ):
        assert http.post("/integrations/install", json=toy_install("toy")).status_code == 201
        assert http.post("/integrations/toy/start").status_code == 200
        yield http


def _first_round(http: httpx.Client) -> tuple[str, str, dict[str, Any]]:
    params = {"name": "sample", "arguments": {"prompt": "hi"}}
    answer = _call(http, "/integrations/toy/mcp", params, token=TOKENS["first"])
    result = answer["result"]
    assert result["resultType"] == "input_required", answer
    (key, request), *more = result["inputRequests"].items()
    assert not more and request["method"] == "sampling/createMessage"
    return result["requestState"], key, params


SAMPLED = {"role": "assistant", "content": {"type": "text", "text": "yes"}, "model": "m"}


def _retry(
    http: httpx.Client, state: str, key: str, params: dict[str, Any], token: str = TOKENS["first"]
) -> dict[str, Any]:
    again = {**params, "requestState": state, "inputResponses": {key: SAMPLED}}
    return _call(http, "/integrations/toy/mcp", again, token=token)


def _refused(answer: dict[str, Any]) -> bool:
    error = answer.get("error") or {}
    return error.get("code") == types.INVALID_PARAMS and "requestState" in error.get("message", "")


def test_a_state_is_good_once_for_its_own_caller(guarded: httpx.Client) -> None:
    state, key, params = _first_round(guarded)
    assert _refused(_retry(guarded, state, key, params, token=TOKENS["second"]))
    done = _retry(guarded, state, key, params)
    assert done["result"]["content"][0]["text"] == "yes", done
    assert _refused(_retry(guarded, state, key, params)), "a replayed state was accepted"


def test_a_tampered_or_rebound_state_is_refused(guarded: httpx.Client) -> None:
    state, key, params = _first_round(guarded)
    flipped = state[:-6] + ("A" if state[-6] != "A" else "B") + state[-5:]
    assert _refused(_retry(guarded, flipped, key, params))
    other = {"name": "sample", "arguments": {"prompt": "something else"}}
    assert _refused(_retry(guarded, state, key, other))
    assert _refused(_retry(guarded, "v1.not-a-state", key, params))
    # the genuine state still works after all that
    assert _retry(guarded, state, key, params)["result"]["content"][0]["text"] == "yes"


def test_an_expired_state_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge, "ROUND_SECS", 0.5)
    app = create_app(data_dir, settings=Settings(), policy=FAST_RESTARTS)
    with (
        serve_asgi(app, lifespan=True, timeout=30) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        http.post("/integrations/install", json=toy_install("toy"))
        http.post("/integrations/toy/start")
        params = {"name": "sample", "arguments": {"prompt": "hi"}}
        first = _call(http, "/integrations/toy/mcp", params)["result"]
        (key,) = first["inputRequests"]
        anyio.run(anyio.sleep, 1.0)
        again = {**params, "requestState": first["requestState"], "inputResponses": {key: SAMPLED}}
        assert _refused(_call(http, "/integrations/toy/mcp", again))


def test_a_client_without_the_capability_is_told_so(guarded: httpx.Client) -> None:
    params = {"name": "sample", "arguments": {"prompt": "hi"}}
    answer = _call(guarded, "/integrations/toy/mcp", params, token=TOKENS["first"], capabilities={})
    error = answer["error"]
    assert error["code"] == types.MISSING_REQUIRED_CLIENT_CAPABILITY, answer
    assert error["data"] == {"requiredCapabilities": {"sampling": {}}}
    # the server was not left waiting: it answers the next call at once
    again = _call(guarded, "/integrations/toy/mcp", {"name": "add", "arguments": {"a": 1, "b": 2}})
    assert again["result"]["structuredContent"] == {"result": 3}


MODERN_SERVER = Path(__file__).parent.parent / "servers" / "modern.py"


@pytest.fixture
def modern_hub(data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A hub running ``modern.py`` with ``"protocol": "auto"``, pinged often."""
    policy = RestartPolicy(health_interval=0.1, idle_health_interval=0.1, health_timeout=2)
    app = create_app(data_dir, settings=Settings(), policy=policy)
    with serve_asgi(app, lifespan=True, timeout=30) as url, httpx.Client(base_url=url) as http:
        body = {
            "source": "command",
            "id": "modern",
            "command": [sys.executable, str(MODERN_SERVER)],
            "protocol": "auto",
            "env": {"MODERN_CANCEL_MARKER": str(tmp_path / "cancelled")},
        }
        assert http.post("/integrations/install", json=body).status_code == 201
        status = http.post("/integrations/modern/start").json()
        assert status["status"] == "running" and status["protocol_version"] == MODERN
        yield url
        # pinged many times on the 2026-07-28 way (server/discover): still up, same process
        after = http.get("/integrations/modern/status").json()
        assert after["status"] == "running" and after["pid"] == status["pid"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_a_client_of_either_revision_answers_a_2026_server(
    modern_hub: str, mode: str
) -> None:
    async with Client(
        f"{modern_hub}/integrations/modern/mcp", mode=mode, sampling_callback=sampling
    ) as client:
        result = await client.call_tool("capital", {"country": "France"})
        assert text(result) == "the capital of France is sampled: capital of France?"
        assert text(await client.call_tool("echo", {"text": "plain"})) == "plain"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_either_client_through_a_2026_server(
    modern_hub: str, mode: str, tmp_path: Path
) -> None:
    """Elicitation, roots, progress and a cancel midway, from a client of each revision to
    a server spoken to at 2026-07-28."""
    async with Client(
        f"{modern_hub}/integrations/modern/mcp",
        mode=mode,
        elicitation_callback=eliciting,
        list_roots_callback=rooting,
    ) as client:
        assert text(await client.call_tool("name", {})) == "hello Ada"
        assert text(await client.call_tool("where", {})) == "file:///srv/project"
        await progress_then_cancel(client, tmp_path / "cancelled")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_a_2026_server_is_told_what_each_caller_can_do(modern_hub: str, mode: str) -> None:
    """Per request, not the hub's own capabilities: a server asks only for what the client
    behind the call can answer, and the hub's REST calls (which nobody answers) declare
    none of the three."""
    url = f"{modern_hub}/integrations/modern/mcp"
    async with Client(url, mode=mode, sampling_callback=sampling) as only_sampling:
        assert text(await only_sampling.call_tool("declared", {})) == "sampling"
    async with Client(
        url, mode=mode, elicitation_callback=eliciting, list_roots_callback=rooting
    ) as two:
        assert text(await two.call_tool("declared", {})) == "elicitation roots"
    async with httpx.AsyncClient(base_url=modern_hub) as http:
        answer = await http.post("/integrations/modern/tools/declared/call", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][0]["text"] == ""


V1_SERVER = Path(__file__).parent.parent / "servers" / "v1_server.py"
V1_MCP = "mcp==1.30.0"


@pytest.fixture(scope="session")
def v1_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python with the mcp 1.x SDK, in a virtualenv of its own (made with uv)."""
    venv = tmp_path_factory.mktemp("mcp-v1")
    uv = [sys.executable, "-m", "uv"]
    steps = (
        [*uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        [*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), V1_MCP],
    )
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False, timeout=300)
        if done.returncode != 0:
            reason = f"cannot install {V1_MCP} here: {done.stderr.strip()[-300:]}"
            print(reason, file=sys.stderr)
            pytest.skip(reason)
    return str(venv / "bin" / "python")


@pytest.mark.anyio
async def test_a_stateless_client_of_an_mcp_1x_server(
    v1_python: str, data_dir: Path, tmp_path: Path
) -> None:
    """The matrix's other corner: a server that knows nothing of 2026-07-28 (``auto``
    falls back to the handshake), and a 2026-07-28 client that samples, elicits, lists
    roots, follows progress and cancels midway through the hub."""
    marker = tmp_path / "cancelled"
    app = create_app(data_dir, settings=Settings(), policy=FAST_RESTARTS)
    with serve_asgi(app, lifespan=True, timeout=30) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            body = {
                "source": "command",
                "id": "v1",
                "command": [v1_python, str(V1_SERVER)],
                "env": {"V1_CANCEL_MARKER": str(marker)},
                "protocol": "auto",
            }
            assert (await http.post("/integrations/install", json=body)).status_code == 201
            status = (await http.post("/integrations/v1/start")).json()
            assert status["status"] == "running", status
            assert status["protocol_version"] < MODERN
        async with Client(
            f"{url}/integrations/v1/mcp",
            mode=MODERN,
            sampling_callback=sampling,
            elicitation_callback=eliciting,
            list_roots_callback=rooting,
        ) as client:
            assert text(await client.call_tool("sample", {"prompt": "sky"})) == "sampled: sky"
            assert text(await client.call_tool("ask_name", {})) == "hello Ada"
            assert text(await client.call_tool("roots", {})) == "file:///srv/project"
            await progress_then_cancel(client, marker)
