"""What the hub shows about itself: health without a token, status changes and a server's
log as server-sent events, and Prometheus metrics."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pluggy
import pytest
from starlette.testclient import TestClient

from mcp_integrations import hookimpl
from mcp_integrations.app import create_app
from mcp_integrations.errors import InstallFailed
from mcp_integrations.models import InstallEvent, LaunchSpec
from mcp_integrations.settings import Settings
from mcp_integrations.tokens import TokenTable
from tests.conftest import FAST_RESTARTS, MakeClient
from tests.helpers import serve_asgi, toy_install

SECRET = "tok-observe-0123456"


@pytest.fixture
def hub(data_dir: Path) -> Iterator[httpx.Client]:
    app = create_app(data_dir, settings=Settings(), policy=FAST_RESTARTS)
    with (
        serve_asgi(app, lifespan=True, timeout=30) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield http


def sse_lines(
    http: httpx.Client, path: str, found: list[str], ready: threading.Event, until: str
) -> None:
    """Read ``path`` as server-sent events into ``found`` until a data line holds ``until``."""
    with http.stream("GET", path, timeout=30) as response:
        ready.set()
        for line in response.iter_lines():
            if line.startswith("data:"):
                found.append(line[5:].strip())
                if until in line:
                    return


def test_health_answers_without_a_token(make_client: MakeClient) -> None:
    client = make_client(Settings(allowed_hosts=("testserver",), tokens=TokenTable.plain("t" * 20)))
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() | {"version": "?"} == {
        "status": "ok",
        "ready": True,
        "version": "?",
        "integrations": 0,
    }
    assert client.get("/integrations").status_code == 401
    assert client.get("/metrics").status_code == 401


def test_events_stream_installs_and_every_status_change(hub: httpx.Client) -> None:
    found: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(
        target=sse_lines, args=(hub, "/events", found, ready, '"to": "running"')
    )
    reader.start()
    assert ready.wait(10)
    hub.post("/integrations/install", json=toy_install())
    hub.post("/integrations/toy/start")
    reader.join(15)
    assert not reader.is_alive()
    events = [json.loads(line) for line in found]
    installs = [(e["id"], e["phase"], e["source"]) for e in events if "phase" in e]
    assert installs == [("toy", "installing", "command"), ("toy", "installed", "command")]
    changes = [(e["id"], e["from"], e["to"]) for e in events if "phase" not in e]
    assert changes == [("toy", "stopped", "starting"), ("toy", "starting", "running")]


def test_every_listener_hears_an_install_as_an_install(hub: httpx.Client) -> None:
    """The event every listener is sent is one object: naming its kind must not change it."""
    kinds: list[list[str]] = [[], []]
    ready = [threading.Event(), threading.Event()]

    def read(found: list[str], listening: threading.Event) -> None:
        with (
            httpx.Client(base_url=hub.base_url, timeout=30) as http,
            http.stream("GET", "/events") as response,
        ):
            listening.set()
            for line in response.iter_lines():
                if line.startswith("event:"):
                    found.append(line.removeprefix("event:").strip())
                    if len(found) == 2:
                        return

    readers = [threading.Thread(target=read, args=pair) for pair in zip(kinds, ready, strict=True)]
    for reader in readers:
        reader.start()
    assert all(listening.wait(10) for listening in ready)
    hub.post("/integrations/install", json=toy_install())
    for reader in readers:
        reader.join(15)
        assert not reader.is_alive()
    assert kinds == [["install", "install"], ["install", "install"]]


def test_logs_tail_and_follow_masked(hub: httpx.Client, data_dir: Path) -> None:
    hub.post("/integrations/install", json=toy_install(TOY_SECRET=SECRET))
    hub.post("/integrations/toy/start")
    lines = hub.get("/integrations/toy/logs", params={"tail": 5}).json()["lines"]
    assert "toy starting with secret ***" in lines and SECRET not in json.dumps(lines)
    assert hub.get("/integrations/toy/logs", params={"tail": "lots"}).status_code == 400

    found: list[str] = []
    ready = threading.Event()
    args = (hub, "/integrations/toy/logs?tail=0&follow=true", found, ready, "secret")
    reader = threading.Thread(target=sse_lines, args=args)
    reader.start()
    assert ready.wait(10)
    hub.post("/integrations/toy/restart")
    reader.join(15)
    assert not reader.is_alive() and found[-1] == "toy starting with secret ***"


def test_metrics_in_prometheus_text(client: TestClient) -> None:
    client.post("/integrations/install", json=toy_install())
    client.post("/integrations/toy/start")
    client.post("/integrations/toy/tools/echo/call", json={"arguments": {"text": "x"}})
    client.post("/integrations/toy/tools/add/call", json={"arguments": {"a": "not a number"}})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'mcp_integrations{status="running"} 1.0' in text
    assert 'mcp_tool_calls_total{id="toy",outcome="ok"} 1.0' in text
    assert 'mcp_tool_call_seconds_count{id="toy"} 1.0' in text
    assert 'mcp_http_requests_total{method="POST",status="422"} 1.0' in text


def test_a_failed_install_is_an_event(
    make_client: MakeClient, plugin_manager: pluggy.PluginManager
) -> None:
    class Broken:
        @hookimpl
        def prepare(self, spec: LaunchSpec, workdir: Path) -> LaunchSpec | None:
            raise InstallFailed("the package index said no")

    plugin = Broken()
    plugin_manager.register(plugin, name="broken")
    try:
        client = make_client()
        seen: list[InstallEvent] = []
        client.app.state.manager.install_listeners.append(seen.append)  # type: ignore[attr-defined]
        response = client.post("/integrations/install", json=toy_install())
        assert response.status_code == 502, response.text
        assert [(e.phase, e.error) for e in seen] == [
            ("installing", None),
            ("failed", "the package index said no"),
        ]
    finally:
        plugin_manager.unregister(plugin)
