"""Caching hints and change notices across revisions: a list the hub aggregates is no
fresher than its freshest-stale part, and a stateless (2026-07-28) client listening on
the hub hears of changes, including those a 2026-07-28 server tells only on its own
``subscriptions/listen`` stream."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.server.caching import CacheHint
from mcp.shared.subscriptions import ToolsListChanged

from mcp_integrations.app import create_app
from mcp_integrations.catalog import merged_hint
from mcp_integrations.settings import Settings
from tests.conftest import FAST_RESTARTS
from tests.helpers import serve_asgi, toy_install

MODERN = "2026-07-28"
MODERN_SERVER = Path(__file__).parent.parent / "servers" / "modern.py"


def test_a_merged_hint_is_the_shortest_and_private_if_any_part_is() -> None:
    public = CacheHint(30_000, "public")
    assert merged_hint([public, CacheHint(5_000, "public")]) == CacheHint(5_000, "public")
    assert merged_hint([public, CacheHint(60_000, "private")]) == CacheHint(30_000, "private")
    # a part that promised nothing (a 2025-11-25 server) is stale at once
    assert merged_hint([public, None]) == CacheHint(0, "private")
    assert merged_hint([]) == CacheHint(0, "private")


def modern_install(integration_id: str, hint: str) -> dict[str, Any]:
    return {
        "source": "command",
        "id": integration_id,
        "command": [sys.executable, str(MODERN_SERVER)],
        "protocol": "auto",
        "env": {"MODERN_TOOLS_HINT": hint},
    }


@pytest.fixture
def hub(data_dir: Path) -> Iterator[tuple[str, httpx.Client]]:
    app = create_app(data_dir, settings=Settings(), policy=FAST_RESTARTS)
    with serve_asgi(app, lifespan=True, timeout=30) as url, httpx.Client(base_url=url) as http:
        for integration_id, hint in (("long", "30000/public"), ("short", "5000/public")):
            assert http.post("/integrations/install", json=modern_install(integration_id, hint))
            assert http.post(f"/integrations/{integration_id}/start").status_code == 200
        yield url, http


async def hint_of(url: str) -> tuple[int, str, set[str]]:
    async with Client(url, mode=MODERN) as client:
        listed = await client.list_tools()
    return listed.ttl_ms, listed.cache_scope, {tool.name for tool in listed.tools}


@pytest.mark.anyio
async def test_aggregated_tools_carry_the_hint_of_their_parts(
    hub: tuple[str, httpx.Client],
) -> None:
    url, http = hub
    ttl, scope, tools = await hint_of(f"{url}/mcp")
    assert (ttl, scope) == (5_000, "public") and "long__echo" in tools
    assert await hint_of(f"{url}/integrations/long/mcp") == (30_000, "public", tools_of(tools))

    assert http.post("/integrations/install", json=modern_install("own", "60000/private"))
    assert http.post("/integrations/own/start").status_code == 200
    assert (await hint_of(f"{url}/mcp"))[:2] == (5_000, "private")

    # a 2025-11-25 part promises nothing, so neither can the whole
    assert http.post("/integrations/install", json=toy_install("legacy")).status_code == 201
    assert http.post("/integrations/legacy/start").status_code == 200
    assert (await hint_of(f"{url}/mcp"))[:2] == (0, "private")
    assert http.post("/integrations/legacy/stop").status_code == 200
    ttl, scope, tools = await hint_of(f"{url}/mcp")
    assert (ttl, scope) == (5_000, "private") and not any(t.startswith("legacy") for t in tools)


def tools_of(aggregated: set[str]) -> set[str]:
    """The names of ``long``'s own tools, from the prefixed names of the aggregate."""
    return {name.split("__", 1)[1] for name in aggregated if name.startswith("long__")}


@pytest.mark.anyio
async def test_a_listening_stateless_client_hears_of_changes(
    hub: tuple[str, httpx.Client],
) -> None:
    """Both from the hub (an integration stopped) and from a 2026-07-28 server that tells
    of its new tool only on its own listen stream, which the hub keeps open."""
    url, http = hub
    async with (
        Client(f"{url}/mcp", mode=MODERN) as client,
        client.listen(tools_list_changed=True) as events,
    ):
        await anyio.to_thread.run_sync(http.post, "/integrations/short/stop")
        with anyio.fail_after(10):
            assert isinstance(await events.__anext__(), ToolsListChanged)
        assert not any(t.name.startswith("short__") for t in (await client.list_tools()).tools)

        await client.call_tool("long__grow", {"name": "sprout"})
        with anyio.fail_after(10):
            while "long__sprout" not in {t.name for t in (await client.list_tools()).tools}:
                assert isinstance(await events.__anext__(), ToolsListChanged)
    status = http.get("/integrations/long/status").json()
    assert status["tools_count"] == len(http.get("/integrations/long/tools").json()["tools"])
