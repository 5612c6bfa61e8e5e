"""The seed's API end to end, in-process, with real MCP servers as child processes."""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pluggy
import pytest
from starlette.testclient import TestClient

from mcp_integrations import hookimpl
from mcp_integrations.app import create_app
from mcp_integrations.models import IntegrationEvent
from mcp_integrations.supervisor import RestartPolicy
from tests.conftest import TEST_SETTINGS
from tests.helpers import TOY_SERVER, live_children, pid_alive, toy_install, wait_until

SEED_TOOLS = [
    ("query", "Execute a read-only SQL query"),
    ("list_tables", "List all tables"),
    ("describe_table", "Show columns and types"),
    ("execute", "Execute a write SQL statement"),
]


def error_code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return str(body["error"]["code"])


def test_seed_walkthrough_with_postgresql(client: TestClient, postgres_url: str) -> None:
    seen: list[str] = []

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response = client.request(method, path, **kwargs)
        seen.append(response.text)
        return response

    body = {"source": "postgresql-connector", "env": {"DATABASE_URL": postgres_url}}
    response = call("POST", "/integrations/install", json=body)
    assert (response.status_code, response.json()) == (
        201,
        {"id": "postgresql-connector", "installed": True},
    )
    listed = call("GET", "/integrations").json()["integrations"]
    assert [(i["id"], i["status"], i["tools_count"]) for i in listed] == [
        ("postgresql-connector", "stopped", 0)
    ]

    response = call("POST", "/integrations/postgresql-connector/start")
    assert response.status_code == 200
    started = response.json()
    assert started["id"] == "postgresql-connector" and started["status"] == "running"
    pid = started["pid"]
    assert isinstance(pid, int) and pid_alive(pid)

    status = call("GET", "/integrations/postgresql-connector/status").json()
    assert {k: status[k] for k in ("id", "status", "pid", "tools_count")} == {
        "id": "postgresql-connector",
        "status": "running",
        "pid": pid,
        "tools_count": 4,
    }
    assert isinstance(status["uptime_secs"], int) and status["uptime_secs"] >= 0
    assert status["server_info"]["name"] == "postgresql-connector"

    tools = call("GET", "/integrations/postgresql-connector/tools").json()["tools"]
    assert [t["name"] for t in tools] == [name for name, _ in SEED_TOOLS]
    for tool, (_, description) in zip(tools, SEED_TOOLS, strict=True):
        assert tool["description"].startswith(description)
        assert tool["input_schema"]["type"] == "object"

    response = call("POST", "/integrations/postgresql-connector/stop")
    assert (response.status_code, response.json()["status"]) == (200, "stopped")
    assert {"id": "postgresql-connector", "status": "stopped"}.items() <= response.json().items()
    wait_until(lambda: not pid_alive(pid), what="the connector process to end")
    listed = call("GET", "/integrations").json()["integrations"]
    assert [(i["status"], i["tools_count"]) for i in listed] == [("stopped", 4)]
    assert len(call("GET", "/integrations/postgresql-connector/tools").json()["tools"]) == 4

    response = call("DELETE", "/integrations/postgresql-connector")
    assert (response.status_code, response.json()) == (
        200,
        {"id": "postgresql-connector", "removed": True},
    )
    assert call("GET", "/integrations").json() == {"integrations": []}
    assert all(postgres_url not in text for text in seen)


def test_start_without_required_env_is_422_naming_it(client: TestClient) -> None:
    assert (
        client.post("/integrations/install", json={"source": "postgresql-connector"}).status_code
        == 201
    )
    response = client.post("/integrations/postgresql-connector/start")
    assert error_code(response, 422) == "missing_env"
    assert "DATABASE_URL" in response.json()["error"]["message"]
    status = client.get("/integrations/postgresql-connector/status").json()
    assert (status["status"], status["pid"]) == ("stopped", None)


def test_builtin_connectors_install_by_name(client: TestClient) -> None:
    for name in ("github-connector", "salesforce-connector"):
        response = client.post("/integrations/install", json={"source": name})
        assert (response.status_code, response.json()) == (201, {"id": name, "installed": True})
    ids = [i["id"] for i in client.get("/integrations").json()["integrations"]]
    assert ids == ["github-connector", "salesforce-connector"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "bad_request"),
        ("[1, 2]", 400, "bad_request"),
        ("{}", 400, "bad_request"),
        ('{"source": 5}', 400, "bad_request"),
        ('{"source": "  "}', 400, "bad_request"),
        ('{"source": "postgresql-connector", "env": {"A": 1}}', 400, "bad_request"),
        ('{"source": "postgresql-connector", "env": []}', 400, "bad_request"),
        ('{"source": "postgresql-connector", "id": 7}', 400, "bad_request"),
        ('{"source": "postgresql-connector", "id": "a/b"}', 400, "invalid_id"),
        ('{"source": "postgresql-connector", "id": ".."}', 400, "invalid_id"),
        ('{"source": "postgresql-connector", "id": "a..b"}', 400, "invalid_id"),
        ('{"source": "no-such-connector"}', 422, "unknown_source"),
        ('{"source": "../etc/passwd"}', 422, "unknown_source"),
        ('{"source": "command", "id": "x"}', 400, "bad_request"),
        ('{"source": "command", "command": [""]}', 400, "bad_request"),
    ],
)
def test_bad_install_bodies(client: TestClient, body: str, status: int, code: str) -> None:
    response = client.post(
        "/integrations/install", content=body, headers={"content-type": "application/json"}
    )
    assert error_code(response, status) == code
    assert client.get("/integrations").json() == {"integrations": []}


def test_unknown_ids_routes_and_methods(client: TestClient) -> None:
    for method, path in [
        ("DELETE", "/integrations/nope"),
        ("POST", "/integrations/nope/start"),
        ("POST", "/integrations/nope/stop"),
        ("POST", "/integrations/nope/restart"),
        ("GET", "/integrations/nope/status"),
        ("GET", "/integrations/nope/tools"),
        ("GET", "/nowhere"),
    ]:
        assert error_code(client.request(method, path), 404) == "not_found", path
    for path in ("/integrations/%2E%2E/status", "/integrations/a%00b/status"):
        assert error_code(client.get(path), 400) == "invalid_id", path
    assert error_code(client.put("/integrations"), 405) == "method_not_allowed"


def test_duplicate_install_is_409_and_keeps_the_first(client: TestClient) -> None:
    assert (
        client.post("/integrations/install", json=toy_install(TOY_SECRET="first")).status_code
        == 201
    )
    response = client.post("/integrations/install", json=toy_install(TOY_EXIT_AT_START="9"))
    assert error_code(response, 409) == "already_installed"
    started = client.post("/integrations/toy/start")
    assert started.json()["status"] == "running"


def test_two_starts_at_once_give_one_process(client: TestClient) -> None:
    client.post("/integrations/install", json=toy_install())
    results: list[Any] = []

    def start() -> None:
        results.append(client.post("/integrations/toy/start"))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in results] == [200] * 4
    pids = {r.json()["pid"] for r in results}
    assert len(pids) == 1
    (pid,) = pids
    assert live_children(str(TOY_SERVER)) == [pid]
    assert client.post("/integrations/toy/start").json()["pid"] == pid


def test_stop_and_restart_are_well_defined(client: TestClient) -> None:
    client.post("/integrations/install", json=toy_install())
    response = client.post("/integrations/toy/stop")
    assert (response.status_code, response.json()["status"]) == (200, "stopped")
    first = client.post("/integrations/toy/start").json()["pid"]
    second = client.post("/integrations/toy/restart").json()
    assert second["status"] == "running" and second["pid"] != first
    assert not pid_alive(first)
    client.post("/integrations/toy/stop")
    assert not pid_alive(second["pid"])
    third = client.post("/integrations/toy/restart").json()
    assert third["status"] == "running"


def test_crash_restarts_then_fails_after_budget(client: TestClient) -> None:
    client.post("/integrations/install", json=toy_install())
    pid = client.post("/integrations/toy/start").json()["pid"]

    def status() -> dict[str, Any]:
        return dict(client.get("/integrations/toy/status").json())

    for restarts in (1, 2):
        os.kill(pid, signal.SIGKILL)

        def restarted(old: int = pid) -> dict[str, Any] | None:
            now = status()
            return now if now["status"] == "running" and now["pid"] != old else None

        now = wait_until(restarted, what="the restart")
        assert now["restarts"] == restarts
        assert now["last_exit_code"] == -signal.SIGKILL
        assert not pid_alive(pid)
        pid = now["pid"]
    os.kill(pid, signal.SIGKILL)
    failed = wait_until(lambda: (s := status())["status"] == "failed" and s, what="failed")
    assert failed["pid"] is None and "gave up after 2 restarts" in failed["last_error"]
    again = client.post("/integrations/toy/start").json()
    assert (again["status"], again["restarts"]) == ("running", 0)


def test_server_that_cannot_start_is_502_with_its_output(client: TestClient) -> None:
    client.post(
        "/integrations/install", json=toy_install(TOY_EXIT_AT_START="7", TOY_SECRET="s3cr3t-value")
    )
    response = client.post("/integrations/toy/start")
    assert error_code(response, 502) == "start_failed"
    message = response.json()["error"]["message"]
    assert "exited with code 7" in message and "refusing to start" in message
    assert "s3cr3t-value" not in message and "***" in message
    status = client.get("/integrations/toy/status").json()
    assert (status["status"], status["pid"]) == ("failed", None)
    assert "s3cr3t-value" not in json.dumps(status)


def test_missing_executable_is_502(client: TestClient) -> None:
    body = {"source": "command", "id": "ghost", "command": ["/nonexistent/server"]}
    client.post("/integrations/install", json=body)
    response = client.post("/integrations/ghost/start")
    assert error_code(response, 502) == "start_failed"
    assert "/nonexistent/server" in response.json()["error"]["message"]


def test_no_orphans_after_stop_restart_and_delete(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_integrations_plugins.runtimes import subprocess as runtime

    monkeypatch.setattr(runtime, "GRACE_SECS", 0.5)
    pidfile = tmp_path / "child.pid"
    client.post(
        "/integrations/install",
        json=toy_install(TOY_CHILD_PIDFILE=str(pidfile), TOY_IGNORE_TERM="1"),
    )
    for action in ("stop", "restart", "delete"):
        pidfile.unlink(missing_ok=True)
        pid = client.post("/integrations/toy/start").json()["pid"]
        child = int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), what="grandchild"))
        assert pid_alive(pid) and pid_alive(child)
        if action == "delete":
            assert client.delete("/integrations/toy").json() == {"id": "toy", "removed": True}
        else:
            client.post(f"/integrations/toy/{action}")
        assert not pid_alive(pid), action
        wait_until(partial(lambda c: not pid_alive(c), child), what=f"the end of {child}")
        client.post("/integrations/toy/stop")


def test_secrets_are_scrubbed_from_logs_and_never_returned(
    client: TestClient, data_dir: Path
) -> None:
    client.post("/integrations/install", json=toy_install(TOY_SECRET="tok-123456789"))
    texts = [client.post("/integrations/toy/start").text]
    texts += [
        client.get(p).text
        for p in ("/integrations", "/integrations/toy/status", "/integrations/toy/tools")
    ]
    client.post("/integrations/toy/stop")
    log = (data_dir / "integrations" / "toy" / "server.log").read_text()
    assert "toy starting with secret ***" in log
    assert all("tok-123456789" not in text for text in [*texts, log])


@pytest.mark.parametrize(
    ("name", "env", "count"),
    [
        ("github-connector", {"GITHUB_TOKEN": "ghp_example"}, 5),
        ("salesforce-connector", {}, 8),
    ],
)
def test_api_connectors_report_their_tool_counts(
    client: TestClient, name: str, env: dict[str, str], count: int
) -> None:
    assert (
        client.post("/integrations/install", json={"source": name, "env": env}).status_code == 201
    )
    started = client.post(f"/integrations/{name}/start").json()
    assert (started["status"], started["tools_count"]) == ("running", count)
    client.post(f"/integrations/{name}/stop")
    listed = client.get("/integrations").json()["integrations"]
    assert [(i["id"], i["status"], i["tools_count"]) for i in listed] == [(name, "stopped", count)]


def test_github_connector_start_without_token_is_422(client: TestClient) -> None:
    client.post("/integrations/install", json={"source": "github-connector"})
    response = client.post("/integrations/github-connector/start")
    assert error_code(response, 422) == "missing_env"
    assert "GITHUB_TOKEN" in response.json()["error"]["message"]


def test_allow_writes_switches_execute_on(client: TestClient, postgres_url: str) -> None:
    env = {"DATABASE_URL": postgres_url}
    for integration_id, allow in (("pg-read", None), ("pg-write", True)):
        body: dict[str, Any] = {"source": "postgresql-connector", "id": integration_id, "env": env}
        if allow is not None:
            body["allow_writes"] = allow
        assert client.post("/integrations/install", json=body).status_code == 201
        assert client.post(f"/integrations/{integration_id}/start").status_code == 200
    described = {
        integration_id: {
            t["name"]: t["description"]
            for t in client.get(f"/integrations/{integration_id}/tools").json()["tools"]
        }["execute"]
        for integration_id in ("pg-read", "pg-write")
    }
    assert "DISABLED" in described["pg-read"] and "DISABLED" not in described["pg-write"]
    body = {"source": "postgresql-connector", "id": "pg-bad", "env": env, "allow_writes": "yes"}
    response = client.post("/integrations/install", json=body)
    assert error_code(response, 400) == "bad_request"
    assert "'allow_writes'" in response.json()["error"]["message"]


def secret_forms(secret: str) -> list[str]:
    """What the toy prints with TOY_SECRET_FORMS: none of it may reach anyone."""
    basic = base64.b64encode(f"user:{secret}".encode()).decode()
    return [
        secret,
        quote(secret, safe=""),
        basic,
        basic[8:],
        json.dumps(secret)[1:-1],
        secret.upper(),
        secret[: len(secret) // 2],
        secret[len(secret) // 2 :],
    ]


def test_every_form_of_a_secret_is_masked_everywhere(
    client: TestClient,
    plugin_manager: pluggy.PluginManager,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = 'p@ss/w"rd:Sec-4711'
    events: list[IntegrationEvent] = []

    class Recorder:
        @hookimpl
        def integration_event(self, event: IntegrationEvent) -> None:
            events.append(event)

    recorder = Recorder()
    plugin_manager.register(recorder)
    try:
        body = toy_install(TOY_SECRET=secret, TOY_SECRET_FORMS="1", TOY_EXIT_AT_START="7")
        client.post("/integrations/install", json=body)
        with caplog.at_level(logging.INFO):
            response = client.post("/integrations/toy/start")
        assert error_code(response, 502) == "start_failed"
        status = client.get("/integrations/toy/status").json()
    finally:
        plugin_manager.unregister(recorder)
    log = (data_dir / "integrations" / "toy" / "server.log").read_text()
    assert "Authorization: Basic " in log and "upper ***" in log and "split ***" in log
    texts = {
        "502 body": response.text,
        "last_error": status["last_error"],
        "server.log": log,
        "hub log": caplog.text,
        "events": repr(events),
    }
    assert "url ***" in texts["502 body"] and "json {" in texts["last_error"]
    for where, text in texts.items():
        for form in secret_forms(secret):
            assert form not in text, f"{form!r} reached the {where}"


def test_no_trace_of_a_secret_on_disk_after_delete(client: TestClient, data_dir: Path) -> None:
    token = "ghp_trace-of-a-secret-0042"
    body = {"source": "github-connector", "env": {"GITHUB_TOKEN": token}}
    assert client.post("/integrations/install", json=body).status_code == 201
    assert client.post("/integrations/github-connector/start").status_code == 200

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())

    assert token.encode() not in on_disk()
    with sqlite3.connect(data_dir / "integrations.sqlite3") as db:
        (sealed,) = db.execute("SELECT env FROM integrations").fetchone()
    db.close()
    assert sealed.encode() in on_disk()
    assert client.delete("/integrations/github-connector").status_code == 200
    assert sealed.encode() not in on_disk() and token.encode() not in on_disk()
    assert not (data_dir / "integrations" / "github-connector").exists()


def test_the_data_dir_is_private(client: TestClient, data_dir: Path) -> None:
    client.post("/integrations/install", json=toy_install(TOY_SECRET="tok-123456789"))
    assert client.post("/integrations/toy/start").status_code == 200
    log = data_dir / "integrations" / "toy" / "server.log"
    wait_until(log.exists, what="the server log")
    modes = {
        str(p.relative_to(data_dir)): oct(p.stat().st_mode & 0o777)
        for p in [data_dir, *data_dir.rglob("*")]
        if not p.name.startswith("__pycache__")
    }
    assert {"integrations.sqlite3-wal", "secret.key", "integrations/toy/server.log"} <= set(modes)
    wrong = {
        path: mode
        for path, mode in modes.items()
        if mode != ("0o700" if (data_dir / path).is_dir() else "0o600")
    }
    assert wrong == {}


def _status(client: TestClient, integration_id: str = "toy") -> dict[str, Any]:
    return dict(client.get(f"/integrations/{integration_id}/status").json())


@pytest.mark.parametrize(
    ("mode", "code", "ends"),
    [("never", 3, "failed"), ("on-failure", 0, "stopped"), ("always", 0, "running")],
)
def test_restart_modes(client: TestClient, mode: str, code: int, ends: str) -> None:
    body = {**toy_install(), "restart": mode}
    assert client.post("/integrations/install", json=body).status_code == 201
    pid = client.post("/integrations/toy/start").json()["pid"]
    client.post("/integrations/toy/tools/crash/call", json={"arguments": {"code": code}})

    def settled() -> dict[str, Any] | None:
        now = _status(client)
        if ends == "running":
            return now if now["status"] == "running" and now["pid"] != pid else None
        return now if now["status"] == ends else None

    now = wait_until(settled, what=f"the integration to end {ends}")
    assert now["last_exit_code"] == code
    assert now["restarts"] == (1 if ends == "running" else 0)
    if mode == "never":
        assert "'never'" in now["last_error"]
    assert not pid_alive(pid)


def test_next_retry_at_while_backing_off(data_dir: Path) -> None:
    patient = RestartPolicy(backoff_initial=30, jitter=0.1)
    app = create_app(data_dir, settings=TEST_SETTINGS, policy=patient)
    with TestClient(app) as client:
        client.post("/integrations/install", json=toy_install())
        pid = client.post("/integrations/toy/start").json()["pid"]
        os.kill(pid, signal.SIGKILL)
        waiting = wait_until(
            lambda: (s := _status(client))["next_retry_at"] and s, what="a scheduled restart"
        )
        assert waiting["status"] == "crashed"
        assert 26 <= waiting["next_retry_at"] - time.time() <= 34
        assert client.post("/integrations/toy/stop").json()["next_retry_at"] is None
        assert _status(client)["status"] == "stopped"


def test_a_bad_restart_mode_is_400(client: TestClient) -> None:
    response = client.post("/integrations/install", json={**toy_install(), "restart": "sometimes"})
    assert error_code(response, 400) == "bad_request" and "'restart'" in response.text


def test_a_server_that_stops_answering_is_unhealthy_then_restarted(data_dir: Path) -> None:
    watchful = RestartPolicy(
        backoff_initial=0.05, health_interval=0.2, health_timeout=0.3, health_failures=3
    )  # the idle interval stays long: the frozen server has a call in flight
    app = create_app(data_dir, settings=TEST_SETTINGS, policy=watchful)
    seen: list[str] = []
    with TestClient(app) as client:
        client.post("/integrations/install", json=toy_install())
        pid = client.post("/integrations/toy/start").json()["pid"]
        frozen = threading.Thread(
            target=client.post,
            args=("/integrations/toy/tools/freeze/call",),
            kwargs={"json": {"arguments": {"seconds": 60}}},
            daemon=True,
        )
        frozen.start()

        def back() -> dict[str, Any] | None:
            now = _status(client)
            seen.append(now["status"])
            return now if now["status"] == "running" and now["pid"] != pid else None

        now = wait_until(back, timeout=20, what="the frozen server to be replaced")
        assert "unhealthy" in seen
        assert now["restarts"] == 1 and "did not answer 3 pings" in now["last_error"]
        assert not pid_alive(pid)
        frozen.join(10)


def test_an_idle_server_is_pinged_seldom_and_a_busy_one_often(data_dir: Path) -> None:
    """Idle, a frozen server goes unnoticed for a while (no ping is due: pings cost the hub
    CPU per server); a call that begins brings the next ping forward, and the hub sees it."""
    policy = RestartPolicy(
        health_interval=0.1, idle_health_interval=60, health_timeout=0.3, health_failures=50
    )
    app = create_app(data_dir, settings=TEST_SETTINGS, policy=policy)
    with TestClient(app) as client:
        client.post("/integrations/install", json={**toy_install(), "call_timeout": 5})
        pid = client.post("/integrations/toy/start").json()["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(1.0)  # ten short intervals: an idle server is not pinged in them
            assert _status(client)["status"] == "running"
            call = threading.Thread(
                target=client.post,
                args=("/integrations/toy/tools/echo/call",),
                kwargs={"json": {"arguments": {"text": "hi"}}},
                daemon=True,
            )
            call.start()
            wait_until(lambda: _status(client)["status"] == "unhealthy", what="a missed ping")
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_until(lambda: _status(client)["status"] == "running", what="the answer again")
        call.join(10)


def test_the_server_log_is_bounded(client: TestClient, data_dir: Path) -> None:
    body = toy_install(TOY_SECRET="tok-rotate-0123", TOY_STDERR_FLOOD="3000")
    body |= {"log_max_bytes": 4096, "log_backups": 1}
    client.post("/integrations/install", json=body)
    log = data_dir / "integrations" / "toy" / "server.log"
    older = log.with_name("server.log.1")
    for _ in range(4):
        assert client.post("/integrations/toy/restart").json()["status"] == "running"
    wait_until(older.exists, what="the log to rotate")
    assert log.stat().st_size <= 4096 and older.stat().st_size <= 4096
    assert not log.with_name("server.log.2").exists()
    assert oct(older.stat().st_mode & 0o777) == oct(log.stat().st_mode & 0o777) == "0o600"
    assert "toy starting with secret ***" in older.read_text() + log.read_text()


def test_fifty_lifecycle_calls_at_once_leave_at_most_one_process(client: TestClient) -> None:
    client.post("/integrations/install", json=toy_install("busy"))
    rng = random.Random(7)
    calls = [rng.choice(["start", "stop", "restart", "start", "delete"]) for _ in range(50)]

    def act(action: str) -> int | str:
        if action == "delete":
            answer = client.delete("/integrations/busy")
        else:
            answer = client.post(f"/integrations/busy/{action}")
        # a stop or a delete cancels a start in progress at once
        return answer.json()["error"]["code"] if answer.status_code == 409 else answer.status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(act, calls))
    assert set(codes) <= {200, 404, "start_cancelled"}, codes
    live = live_children(str(TOY_SERVER))
    status = client.get("/integrations/busy/status")
    if status.status_code == 404:
        assert live == []
    elif status.json()["status"] == "running":
        assert live == [status.json()["pid"]]
    else:
        assert live == [], status.json()


def test_status_names_the_revision_spoken_with_the_server(client: TestClient) -> None:
    client.post("/integrations/install", json=toy_install())
    assert client.get("/integrations/toy/status").json()["protocol_version"] is None
    running = client.post("/integrations/toy/start").json()
    assert running["protocol_version"] == "2025-11-25"
    assert client.post("/integrations/toy/stop").json()["protocol_version"] is None


def test_sources_are_listed_as_forms(client: TestClient) -> None:
    """What a dashboard or the CLI builds install bodies from; no values, only fields."""
    response = client.get("/sources")
    assert response.status_code == 200
    forms = {form["prefix"]: form for form in response.json()["sources"]}
    github = forms["github-connector"]
    token = next(f for f in github["fields"] if f["name"] == "GITHUB_TOKEN")
    assert token["secret"] and token["env"] and token["required"]
    assert forms["docker:"]["source_field"]["name"] == "image"
