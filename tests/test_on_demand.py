"""Lazy start and idle stop: an on-demand integration's tools are known before it runs
(listed at install), its first call (REST or ``/mcp``) starts it, and a server nobody
calls for its ``idle_timeout`` is stopped, never in the middle of a call; status says why
it is stopped. The hub's defaults apply to integrations that do not say."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.models import OnDemand
from tests.conftest import FAST_RESTARTS, TEST_SETTINGS, MakeClient
from tests.helpers import pid_alive, serve_asgi, toy_install, wait_until


def status(client: TestClient, integration_id: str) -> Any:
    return client.get(f"/integrations/{integration_id}/status").json()


def echo(client: TestClient, integration_id: str, text: str = "hi") -> Any:
    response = client.post(
        f"/integrations/{integration_id}/tools/echo/call", json={"arguments": {"text": text}}
    )
    assert response.status_code == 200, response.text
    return response.json()["content"][0]["text"]


def test_an_on_demand_integration_is_listed_then_started_by_its_first_call(
    client: TestClient,
) -> None:
    body = {**toy_install("lazy"), "start_on_demand": True}
    assert client.post("/integrations/install", json=body).status_code == 201
    before = status(client, "lazy")
    assert before["status"] == "stopped" and before["pid"] is None
    assert before["stop_reason"] == "on_demand" and before["start_on_demand"] is True
    tools = client.get("/integrations/lazy/tools").json()["tools"]
    assert "echo" in {tool["name"] for tool in tools} and before["tools_count"] == len(tools)

    assert echo(client, "lazy") == "hi"
    after = status(client, "lazy")
    assert after["status"] == "running" and after["stop_reason"] is None
    assert after["last_used_at"] is not None

    assert client.post("/integrations/lazy/stop").status_code == 200
    assert status(client, "lazy")["stop_reason"] == "requested"


def test_an_idle_server_is_stopped_but_never_mid_call(make_client: MakeClient) -> None:
    client = make_client()
    body = {**toy_install("idle"), "idle_timeout": 0.5, "call_timeout": 30}
    assert client.post("/integrations/install", json=body).status_code == 201
    started = client.post("/integrations/idle/start").json()
    pid = started["pid"]
    assert started["last_used_at"] is None  # nobody has called it yet
    # a call longer than the idle timeout runs to its end
    slow = client.post("/integrations/idle/tools/slow/call", json={"arguments": {"seconds": 1.5}})
    assert slow.status_code == 200, slow.text
    assert status(client, "idle")["pid"] == pid
    wait_until(lambda: status(client, "idle")["status"] == "stopped", what="the idle stop")
    assert status(client, "idle")["stop_reason"] == "idle"
    wait_until(lambda: not pid_alive(pid), what="the idle server to be gone")
    # it stays stopped when the hub starts again: idle means not wanted now
    restarted = make_client()
    assert status(restarted, "idle")["status"] == "stopped"


def test_the_hubs_defaults_apply_unless_an_install_says(make_client: MakeClient) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, on_demand=OnDemand(True, 600))
    client = make_client(settings)
    assert client.post("/integrations/install", json=toy_install("plain")).status_code == 201
    own = {**toy_install("own"), "start_on_demand": False, "idle_timeout": 0}
    assert client.post("/integrations/install", json=own).status_code == 201
    plain, mine = status(client, "plain"), status(client, "own")
    assert (plain["start_on_demand"], plain["idle_timeout"]) == (True, 600)
    assert (mine["start_on_demand"], mine["idle_timeout"]) == (False, None)
    assert mine["stop_reason"] is None and plain["stop_reason"] == "on_demand"
    assert client.post("/integrations/own/tools/echo/call", json={}).status_code == 409


@pytest.mark.parametrize("value", [-1, "soon", True, 10**9])
def test_a_bad_idle_timeout_is_refused(client: TestClient, value: Any) -> None:
    body = {**toy_install("bad"), "idle_timeout": value}
    response = client.post("/integrations/install", json=body)
    assert response.status_code == 400, response.text
    assert "idle_timeout" in response.json()["error"]["message"]
    assert client.get("/integrations").json()["integrations"] == []


@pytest.mark.anyio
async def test_mcp_clients_see_and_start_on_demand_tools(data_dir: Path) -> None:
    """On ``/mcp`` the tools of a stopped on-demand integration are there, from the list
    it gave at install, and calling one starts it."""
    app = create_app(data_dir, settings=TEST_SETTINGS, policy=FAST_RESTARTS)
    with serve_asgi(app, lifespan=True, timeout=30) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            body = {**toy_install("lazy"), "start_on_demand": True}
            assert (await http.post("/integrations/install", json=body)).status_code == 201
            async with Client(f"{url}/mcp") as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert "lazy__echo" in names
                assert (await http.get("/integrations/lazy/status")).json()["pid"] is None
                with anyio.fail_after(30):
                    result = await client.call_tool("lazy__echo", {"text": "woken"})
                assert result.content[0].text == "woken"  # type: ignore[union-attr]
            after = (await http.get("/integrations/lazy/status")).json()
            assert after["status"] == "running" and pid_alive(after["pid"])


def test_the_cli_takes_the_hubs_defaults() -> None:
    from mcp_integrations.cli import parser, settings_from

    args = parser().parse_args(["serve", "--start-on-demand", "--idle-timeout", "300"])
    assert settings_from(args, {}).on_demand == OnDemand(True, 300.0)
    assert settings_from(parser().parse_args(["serve"]), {}).on_demand == OnDemand()
    done = __import__("subprocess").run(
        [sys.executable, "-m", "mcp_integrations", "serve", "--idle-timeout", "-5"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
        check=False,
    )
    assert done.returncode == 2 and "--idle-timeout" in done.stderr
    assert "Traceback" not in done.stderr
