"""Lists answered from memory: tools, resources, templates and prompts are listed when a
server starts and again when it says a list changed, never on a client's request, so a
server that is busy (here: frozen with SIGSTOP) does not hold up anyone's lists."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.supervisor import OFF_LOOP_TOOLS
from tests.conftest import FAST_RESTARTS, TEST_SETTINGS
from tests.helpers import serve_asgi, toy_install, wait_until


@pytest.fixture
def frozen(client: TestClient) -> Iterator[TestClient]:
    """The toy running, then stopped in its tracks until the test ends."""
    assert client.post("/integrations/install", json=toy_install()).status_code == 201
    pid = client.post("/integrations/toy/start").json()["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield client
    finally:
        os.kill(pid, signal.SIGCONT)


def test_lists_come_from_memory_while_the_server_cannot_answer(frozen: TestClient) -> None:
    """A live list would wait out the hub's 30 s listing deadline here."""
    began = time.monotonic()
    tools = frozen.get("/integrations/toy/tools")
    assert tools.status_code == 200 and "add" in {t["name"] for t in tools.json()["tools"]}
    resources = frozen.get("/integrations/toy/resources").json()
    assert resources["resources"] and resources["resource_templates"]
    prompts = frozen.get("/integrations/toy/prompts").json()["prompts"]
    assert prompts and all("name" in p for p in prompts)
    assert time.monotonic() - began < 5


def test_a_changed_list_is_listed_again(client: TestClient) -> None:
    """The toy's ``grow`` adds a tool and says so (``list_changed``): the hub lists again,
    and serves the same bytes until the list changes."""
    assert client.post("/integrations/install", json=toy_install()).status_code == 201
    assert client.post("/integrations/toy/start").status_code == 200
    before = client.get("/integrations/toy/tools").content
    assert client.get("/integrations/toy/tools").content == before
    assert b'"grown"' not in before
    called = client.post("/integrations/toy/tools/grow/call", json={"arguments": {}})
    assert called.status_code == 200, called.text

    def grown() -> bool:
        names = {t["name"] for t in client.get("/integrations/toy/tools").json()["tools"]}
        return "grown" in names

    wait_until(grown, what="the grown tool listed")
    status = client.get("/integrations/toy/status").json()
    assert status["tools_count"] == len(client.get("/integrations/toy/tools").json()["tools"])


@pytest.mark.anyio
async def test_a_big_list_is_served_whole_on_rest_and_mcp(data_dir: Path) -> None:
    """Past ``OFF_LOOP_TOOLS`` the list is prepared in a worker thread; it arrives whole."""
    app = create_app(data_dir, settings=TEST_SETTINGS, policy=FAST_RESTARTS)
    extra = OFF_LOOP_TOOLS * 3
    with serve_asgi(app, lifespan=True, timeout=30) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            body = toy_install("big", TOY_EXTRA_TOOLS=str(extra))
            assert (await http.post("/integrations/install", json=body)).status_code == 201
            assert (await http.post("/integrations/big/start")).status_code == 200
            rest = (await http.get("/integrations/big/tools")).json()["tools"]
            assert sum(t["name"].startswith("tool_") for t in rest) == extra
            async with Client(f"{url}/mcp") as client:
                listed = (await client.list_tools()).tools
            assert {f"big__{t['name']}" for t in rest} == {t.name for t in listed}
