"""The remote runtime against real MCP servers on loopback, over streamable HTTP and SSE:
headers sealed and sent, no process, honest failures, and a server that dies and comes back."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.models import LaunchSpec
from mcp_integrations.supervisor import RestartPolicy
from mcp_integrations_plugins.runtimes import remote as remote_runtime
from tests.conftest import TEST_SETTINGS, MakeClient
from tests.helpers import free_port, wait_until

SERVER = Path(__file__).parent / "servers" / "remote.py"
TOKEN = "Bearer remote-secret-token-42"
PATHS = {"streamable-http": "/mcp", "sse": "/sse"}


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def remote_server(transport: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The test server as a real process on ``port``, until the block ends."""
    env = {"PATH": "/usr/bin:/bin", "EXPECT_AUTH": TOKEN}
    process = subprocess.Popen(
        [sys.executable, str(SERVER), transport, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: listening(port), timeout=30, what="the remote server to listen")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(autouse=True)
def quick_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_runtime, "PING_INTERVAL_SECS", 0.2)
    monkeypatch.setattr(remote_runtime, "START_TIMEOUT_SECS", 10.0)


def install(client: TestClient, port: int, transport: str, **extra: Any) -> Any:
    body = {
        "source": f"http://127.0.0.1:{port}{PATHS[transport]}",
        "id": "far",
        "headers": {"Authorization": TOKEN},
        **extra,
    }
    return client.post("/integrations/install", json=body)


def call(client: TestClient, tool: str, **arguments: Any) -> Any:
    response = client.post(f"/integrations/far/tools/{tool}/call", json={"arguments": arguments})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_a_remote_server_is_driven_like_any_other(client: TestClient, transport: str) -> None:
    port = free_port()
    with remote_server(transport, port):
        assert install(client, port, transport).status_code == 201
        started = client.post("/integrations/far/start").json()
        assert (started["status"], started["pid"], started["runtime"]) == (
            "running",
            None,
            "remote",
        )
        assert started["tools_count"] == 3
        assert call(client, "authorized")["structuredContent"] == {"result": True}
        assert call(client, "echo", text="far away")["content"][0]["text"] == "far away"
        seen = [client.get(p).text for p in ("/integrations", "/integrations/far/status")]
        assert all("remote-secret-token-42" not in text for text in seen)
        assert client.post("/integrations/far/stop").json()["status"] == "stopped"


def test_an_unreachable_server_fails_clearly(client: TestClient) -> None:
    port = free_port()
    assert install(client, port, "streamable-http").status_code == 201
    response = client.post("/integrations/far/start")
    assert response.status_code == 502, response.text
    assert "cannot reach" in response.json()["error"]["message"]
    status = client.get("/integrations/far/status").json()
    assert status["status"] == "failed" and "cannot reach" in status["last_error"]


@pytest.fixture
def patient(data_dir: Path) -> Iterator[TestClient]:
    """A hub that keeps reconnecting for long enough for a server to come back."""
    policy = RestartPolicy(max_restarts=100, backoff_initial=0.1, backoff_max=0.3)
    app = create_app(data_dir, settings=TEST_SETTINGS, policy=policy)
    with TestClient(app) as client:
        yield client


def test_a_server_that_dies_and_comes_back(patient: TestClient) -> None:
    client = patient
    port = free_port()
    with remote_server("streamable-http", port):
        assert install(client, port, "streamable-http").status_code == 201
        assert client.post("/integrations/far/start").json()["status"] == "running"
        first = call(client, "pid")["structuredContent"]["result"]
    wait_until(
        lambda: client.get("/integrations/far/status").json()["status"] in ("crashed", "starting"),
        what="the hub to notice the server went away",
    )
    status = client.get("/integrations/far/status").json()
    assert status["pid"] is None
    assert "lost" in status["last_error"] or "cannot reach" in status["last_error"]
    with remote_server("streamable-http", port):
        wait_until(
            lambda: client.get("/integrations/far/status").json()["status"] == "running",
            timeout=20,
            what="the hub to reconnect",
        )
        assert call(client, "pid")["structuredContent"]["result"] != first
        assert client.get("/integrations/far/status").json()["restarts"] >= 1


def test_a_forgotten_session_is_renewed_and_the_call_retried(
    patient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server restarts between two calls, faster than the hub checks on it."""
    client = patient
    monkeypatch.setattr(remote_runtime, "PING_INTERVAL_SECS", 3600.0)
    port = free_port()
    with remote_server("streamable-http", port):
        assert install(client, port, "streamable-http").status_code == 201
        assert client.post("/integrations/far/start").json()["status"] == "running"
        first = call(client, "pid")["structuredContent"]["result"]
    with remote_server("streamable-http", port):
        second = call(client, "pid")["structuredContent"]["result"]
        assert second != first
        status = client.get("/integrations/far/status").json()
        assert (status["status"], status["restarts"]) == ("running", 1)


@pytest.mark.parametrize(
    ("source", "extra", "named"),
    [
        ("http://user:pw@127.0.0.1:1/mcp", {}, "credentials"),
        ("http://127.0.0.1:1/mcp?key=s3cret", {}, "credentials"),
        ("http://127.0.0.1:1/mcp", {"transport": "websocket"}, "'transport'"),
        ("http://127.0.0.1:1/mcp", {"headers": {"Bad Name": "x"}}, "header name"),
        ("http://127.0.0.1:1/mcp", {"headers": {"X-A": "a\r\nb"}}, "one line"),
        ("http://127.0.0.1:1/mcp", {"headers": {"Host": "x"}}, "'Host'"),
        ("http://127.0.0.1:1/mcp", {"env": {"A": "b"}}, "'env'"),
    ],
)
def test_bad_remote_installs(client: TestClient, source: str, extra: Any, named: str) -> None:
    response = client.post("/integrations/install", json={"source": source, "id": "far", **extra})
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]
    assert "s3cret" not in response.text and "pw@" not in response.text


def test_headers_are_sealed_and_remote_installs_are_an_admins(
    make_client: MakeClient, data_dir: Path
) -> None:
    from mcp_integrations.models import Role
    from mcp_integrations.settings import Settings
    from mcp_integrations.store import SQLiteStore
    from mcp_integrations.tokens import TokenTable

    tokens = TokenTable.plain("admin-token-0123456789") + TokenTable.plain(
        "operator-token-0123456", Role.OPERATOR
    )
    client = make_client(Settings(allowed_hosts=("testserver",), tokens=tokens))
    body = {"source": "http://127.0.0.1:1/mcp", "id": "far", "headers": {"Authorization": TOKEN}}
    as_operator = {"authorization": "Bearer operator-token-0123456"}
    assert client.post("/integrations/install", json=body, headers=as_operator).status_code == 403
    as_admin = {"authorization": "Bearer admin-token-0123456789"}
    assert client.post("/integrations/install", json=body, headers=as_admin).status_code == 201
    on_disk = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert b"remote-secret-token-42" not in on_disk
    store = SQLiteStore(data_dir / "integrations.sqlite3")
    spec: LaunchSpec = store.get("far").spec
    store.close()
    assert spec.headers == {"Authorization": TOKEN} and spec.env == {}
    assert "headers" not in json.dumps(spec.public())
