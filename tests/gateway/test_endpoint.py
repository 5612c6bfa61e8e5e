"""MCP clients of the hub: ``/mcp`` with the tools, resources and prompts of every running
integration, ``/integrations/{id}/mcp`` with one's, and what flows between client and
server passed through both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.shared.exceptions import MCPError

from mcp_integrations.app import create_app
from mcp_integrations.models import Role
from mcp_integrations.settings import Settings
from mcp_integrations.tokens import TokenTable
from tests.conftest import FAST_RESTARTS, MakeClient
from tests.helpers import TOY_TOOLS, serve_asgi, toy_install


@pytest.mark.anyio
async def test_mcp_lists_and_calls_the_tools_of_every_integration(hub: str) -> None:
    async with Client(f"{hub}/mcp", mode="legacy") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == {f"{i}__{t}" for i in ("alpha", "beta") for t in TOY_TOOLS}
        added = await client.call_tool("alpha__add", {"a": 2, "b": 3})
        assert added.structured_content == {"result": 5}
        echoed = await client.call_tool("beta__echo", {"text": "from beta"})
        assert echoed.content[0].text == "from beta"  # type: ignore[union-attr]
        tool = next(t for t in (await client.list_tools()).tools if t.name == "beta__add")
        assert tool.title == "Add two numbers" and tool.annotations is not None
        assert tool.annotations.read_only_hint is True


@pytest.mark.anyio
async def test_resources_and_prompts_of_every_integration(hub: str) -> None:
    async with Client(f"{hub}/mcp", mode="legacy") as client:
        resources = (await client.list_resources()).resources
        assert sorted((r.name, r.uri) for r in resources) == [
            ("alpha__greeting", "toy://greeting"),
            ("beta__greeting", "toy://greeting"),
        ]
        read = await client.read_resource("toy://items/4")
        assert read.contents[0].text == "item 4"  # type: ignore[union-attr]
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        assert prompts == ["alpha__greet", "beta__greet"]
        got = await client.get_prompt("beta__greet", {"name": "Ada"})
        assert got.messages[0].content.text == "Please greet Ada warmly."  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_one_integration_as_it_is(hub: str) -> None:
    async with Client(f"{hub}/integrations/alpha/mcp", mode="legacy") as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == set(TOY_TOOLS)
        assert (await client.call_tool("echo", {"text": "hi"})).content[0].text == "hi"  # type: ignore[union-attr]
        assert [p.name for p in (await client.list_prompts()).prompts] == ["greet"]
    async with httpx.AsyncClient() as http:
        missing = await http.post(f"{hub}/integrations/nobody/mcp", json={})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.anyio
async def test_server_requests_reach_the_client_that_called(hub: str) -> None:
    async def sampling(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        assert params.messages[0].content.text == "say hi"  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="hi from the client's model"),
            model="test-model",
        )

    async def elicitation(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def roots(context: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(
            roots=[types.Root.model_validate({"uri": "file:///work/project"})]
        )

    async with Client(
        f"{hub}/mcp",
        mode="legacy",
        sampling_callback=sampling,
        elicitation_callback=elicitation,
        list_roots_callback=roots,
    ) as client:
        sampled = await client.call_tool("alpha__sample", {"prompt": "say hi"})
        assert sampled.content[0].text == "hi from the client's model"  # type: ignore[union-attr]
        asked = await client.call_tool("beta__ask_name", {})
        assert asked.content[0].text == "hello Ada"  # type: ignore[union-attr]
        listed = await client.call_tool("alpha__roots", {})
        assert listed.structured_content == {"result": ["file:///work/project"]}


@pytest.mark.anyio
async def test_progress_and_log_messages_reach_the_caller(hub: str) -> None:
    reported: list[float] = []
    logs: list[Any] = []

    class OnProgress:
        async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
            reported.append(progress)

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async with Client(f"{hub}/mcp", mode="legacy", logging_callback=on_log) as client:
        done = await client.call_tool(
            "alpha__slow", {"seconds": 0.2}, progress_callback=OnProgress()
        )
        assert done.content[0].text == "done"  # type: ignore[union-attr]
        assert reported == [float(step) for step in range(10)]
        await client.call_tool("beta__chatty", {})
        assert logs == ["first note", "second note"]


@pytest.mark.anyio
async def test_clients_hear_of_changes(hub: str) -> None:
    heard: list[str] = []
    changed = anyio.Event()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            heard.append(message.method)
            changed.set()

    async with Client(f"{hub}/mcp", mode="legacy", message_handler=on_message) as client:
        assert "beta__echo" in {t.name for t in (await client.list_tools()).tools}
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{hub}/integrations/beta/stop")).status_code == 200
        with anyio.fail_after(10):
            await changed.wait()
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {f"alpha__{t}" for t in TOY_TOOLS}

        changed = anyio.Event()
        await client.call_tool("alpha__grow", {})
        with anyio.fail_after(10):
            await changed.wait()
        assert "alpha__grown" in {t.name for t in (await client.list_tools()).tools}


@pytest.mark.anyio
async def test_errors_a_model_can_read(hub: str) -> None:
    async with Client(f"{hub}/mcp", mode="legacy") as client:
        bad = await client.call_tool("alpha__add", {"a": "two", "b": 3})
        assert bad.is_error and "'a'" in bad.content[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError):
            await client.call_tool("nobody__nothing", {})
    async with Client(f"{hub}/integrations/beta/mcp", mode="legacy") as client:
        async with httpx.AsyncClient() as http:
            await http.post(f"{hub}/integrations/beta/stop")
        stopped = await client.call_tool("echo", {"text": "x"})
        assert stopped.is_error and "start_on_demand" in stopped.content[0].text  # type: ignore[union-attr]
    async with Client(f"{hub}/mcp", mode="legacy") as client:
        with pytest.raises(MCPError):
            await client.call_tool("beta__echo", {"text": "x"})


def test_mcp_endpoints_need_an_operator_and_a_trusted_origin(make_client: MakeClient) -> None:
    tokens = TokenTable.plain("operator-token-0123456", Role.OPERATOR) + TokenTable.plain(
        "reader-token-012345678", Role.READER
    )
    client = make_client(Settings(allowed_hosts=("testserver",), tokens=tokens))
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    for path in ("/mcp", "/integrations/anything/mcp"):
        assert client.post(path, json=initialize).status_code == 401
        reader = {"authorization": "Bearer reader-token-012345678"}
        assert (
            client.post(path, json=initialize, headers=reader).json()["error"]["code"]
            == "forbidden"
        )
        operator = {"authorization": "Bearer operator-token-0123456"}
        foreign = {**operator, "origin": "http://evil.example"}
        assert client.post(path, json=initialize, headers=foreign).status_code == 403
    operator = {"authorization": "Bearer operator-token-0123456"}
    assert (
        client.post("/integrations/anything/mcp", json=initialize, headers=operator).status_code
        == 404
    )


@pytest.mark.anyio
async def test_a_client_cancelling_a_call_cancels_it_on_the_server(
    data_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "cancelled"
    app = create_app(data_dir / "own", settings=Settings(), policy=FAST_RESTARTS)
    with serve_asgi(app, lifespan=True, timeout=30) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            body = toy_install("slowpoke", TOY_CANCEL_MARKER=str(marker))
            assert (await http.post("/integrations/install", json=body)).status_code == 201
            assert (await http.post("/integrations/slowpoke/start")).status_code == 200
        async with Client(f"{url}/integrations/slowpoke/mcp", mode="legacy") as client:
            with anyio.move_on_after(1):
                await client.call_tool("slow", {"seconds": 30})
            with anyio.fail_after(10):
                while not marker.exists():  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"  # type: ignore[union-attr]
