"""Servers that misbehave as real ones do: a start that never finishes is cancelled by a
stop at once, and status tells the truth about a crash loop, a main process that exits
while its child holds the pipes, and a session that ends while the process lives on."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pluggy
import pytest
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.supervisor import RestartPolicy
from tests.conftest import TEST_SETTINGS, MakeClient, MakeTmpfs
from tests.helpers import (
    TOY_SERVER,
    fill_disk,
    live_children,
    pid_alive,
    toy_install,
    wait_until,
)

#: The handshake timeout a stop must not wait out.
HANDSHAKE_SECS = 30


def status_when(client: TestClient, integration_id: str, status: str) -> dict[str, Any]:
    """The integration's status once it is ``status`` (within the default deadline)."""

    def now() -> dict[str, Any] | None:
        answer: dict[str, Any] = client.get(f"/integrations/{integration_id}/status").json()
        return answer if answer["status"] == status else None

    return dict(wait_until(now, what=f"{integration_id} to be {status}"))


@pytest.mark.parametrize("how", ["stop", "delete", "restart"])
def test_a_start_that_hangs_is_cancelled_at_once(make_client: MakeClient, how: str) -> None:
    client = make_client()
    client.post("/integrations/install", json=toy_install("hang", TOY_HANG_AT_START="1"))
    with ThreadPoolExecutor(2) as pool:
        starting = pool.submit(client.post, "/integrations/hang/start")
        wait_until(lambda: live_children(str(TOY_SERVER)), what="the server to be spawned")
        assert client.get("/integrations/hang/status").json()["status"] == "starting"
        began = time.monotonic()
        if how == "delete":
            assert client.delete("/integrations/hang").status_code == 200
        elif how == "stop":
            assert client.post("/integrations/hang/stop").json()["status"] == "stopped"
        else:
            # a restart also cancels the start in progress, then starts again (and waits)
            restarted = pool.submit(client.post, "/integrations/hang/restart")
            wait_until(starting.done, timeout=5, what="the first start to be cancelled")
            assert client.post("/integrations/hang/stop").status_code == 200
            assert restarted.result(5).json()["error"]["code"] == "start_cancelled"
        took = time.monotonic() - began
        answer = starting.result(5)
    assert took < HANDSHAKE_SECS / 3, f"the stop waited {took:.1f}s for the handshake"
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "start_cancelled"
    assert live_children(str(TOY_SERVER)) == []


def test_a_crash_loop_shows_crashed_with_its_next_retry(
    make_client: MakeClient, tmp_path: Path
) -> None:
    policy = RestartPolicy(max_restarts=5, backoff_initial=3, backoff_max=3, jitter=0)
    client = make_client(policy=policy)
    flag = tmp_path / "broken"
    client.post("/integrations/install", json=toy_install("loop", TOY_EXIT_IF=f"{flag}:5"))
    assert client.post("/integrations/loop/start").json()["status"] == "running"
    flag.touch()
    client.post("/integrations/loop/tools/crash/call", json={"arguments": {"code": 4}})

    def failed_restart() -> dict[str, object] | None:
        status = client.get("/integrations/loop/status").json()
        return status if status["last_exit_code"] == 5 else None

    status = wait_until(failed_restart, what="a restart that exits with 5")
    assert status["status"] == "crashed"
    assert isinstance(status["next_retry_at"], float) and status["next_retry_at"] > time.time()
    assert "exited with code 5" in str(status["last_error"])
    assert status["pid"] is None and live_children(str(TOY_SERVER)) == []
    flag.unlink()
    status_when(client, "loop", "running")


def test_an_exit_is_seen_at_once_when_a_child_holds_the_pipes(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client(policy=RestartPolicy(max_restarts=0))
    pidfile = tmp_path / "child.pid"
    body = toy_install("held", TOY_CHILD_PIDFILE=str(pidfile))
    client.post("/integrations/install", json=body)
    pid = client.post("/integrations/held/start").json()["pid"]
    child = int(wait_until(lambda: pidfile.exists() and pidfile.read_text()))
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), what="the server to die")
    died = time.monotonic()
    status = wait_until(
        lambda: (s := client.get("/integrations/held/status").json())["status"] != "running" and s,
        what="the exit to show",
    )
    # the child still holds the pipes, so only the exit itself can have told the hub
    assert time.monotonic() - died < 1.0
    assert status["last_exit_code"] == -signal.SIGKILL
    assert f"code {-signal.SIGKILL}" in status["last_error"]
    assert status["pid"] is None
    wait_until(lambda: not pid_alive(child), what="the child holding the pipes to be stopped")
    assert not pid_alive(pid)


def test_a_session_that_ends_while_the_process_lives_is_a_crash(make_client: MakeClient) -> None:
    client = make_client(policy=RestartPolicy(max_restarts=0))
    body = toy_install("mute", TOY_CLOSE_STDIO_AFTER="0.5", TOY_OUTLIVE_STDIN="1")
    client.post("/integrations/install", json=body)
    pid = client.post("/integrations/mute/start").json()["pid"]
    status = status_when(client, "mute", "failed")
    assert "closed its output (stdout)" in status["last_error"]
    assert status["last_exit_code"] is None
    assert not pid_alive(pid), "the process that lost its session still runs"
    assert live_children(str(TOY_SERVER)) == []


def test_a_message_past_the_limit_closes_the_session(make_client: MakeClient) -> None:
    client = make_client(policy=RestartPolicy(max_restarts=0))
    body = toy_install("loud", TOY_STDOUT_FLOOD=f"{64 * 1024}:0.5", TOY_OUTLIVE_STDIN="1")
    body["max_message_bytes"] = 16 * 1024
    client.post("/integrations/install", json=body)
    pid = client.post("/integrations/loud/start").json()["pid"]
    status = status_when(client, "loud", "failed")
    assert "a message larger than 16384 bytes" in status["last_error"]
    assert not pid_alive(pid)


def test_a_flood_of_stderr_leaves_a_bounded_log(make_client: MakeClient, data_dir: Path) -> None:
    client = make_client()
    flood = 40 * 1024 * 1024
    body = toy_install("flood", TOY_STDERR_FLOOD=str(flood))
    body |= {"log_max_bytes": 1024 * 1024, "log_backups": 2}
    client.post("/integrations/install", json=body)
    assert client.post("/integrations/flood/start").json()["status"] == "running"
    log = data_dir / "integrations" / "flood" / "server.log"
    logs = [log, log.with_name("server.log.1"), log.with_name("server.log.2")]
    assert all(path.stat().st_size <= 1024 * 1024 for path in logs)
    assert not log.with_name("server.log.3").exists()
    # the long line was split into bounded pieces, not kept whole
    assert max(len(line) for line in logs[0].read_text().splitlines()) <= 64 * 1024
    assert client.post("/integrations/flood/tools/add/call", json={"arguments": {"a": 1, "b": 2}})
    assert client.get("/integrations/flood/status").json()["status"] == "running"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_message_bytes", 10),
        ("log_max_bytes", "big"),
        ("log_backups", 99),
        ("log_backups", True),
    ],
)
def test_bad_output_limits_are_refused(make_client: MakeClient, field: str, value: object) -> None:
    client = make_client()
    answer = client.post("/integrations/install", json=toy_install("x") | {field: value})
    assert answer.status_code == 400
    assert field in answer.json()["error"]["message"]
    assert client.get("/integrations").json()["integrations"] == []


def test_a_full_disk_never_costs_a_running_server_and_never_a_500(
    make_tmpfs: MakeTmpfs, plugin_manager: pluggy.PluginManager
) -> None:
    data_dir = make_tmpfs("8m")
    app = create_app(data_dir, settings=TEST_SETTINGS, plugin_manager=plugin_manager)
    with TestClient(app) as client:
        body = toy_install("chatty", TOY_STDERR_EVERY="0.01")
        assert client.post("/integrations/install", json=body).status_code == 201
        pid = client.post("/integrations/chatty/start").json()["pid"]
        filler = fill_disk(data_dir)
        status = wait_until(
            lambda: (s := client.get("/integrations/chatty/status").json())["log_dropped"] and s,
            what="log lines to be dropped",
        )
        assert status["status"] == "running" and status["pid"] == pid
        call = client.post(
            "/integrations/chatty/tools/add/call", json={"arguments": {"a": 2, "b": 3}}
        )
        assert call.status_code == 200 and call.json()["structuredContent"]["result"] == 5
        refused = client.post("/integrations/install", json=toy_install("more"))
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "storage_full"
        assert not (data_dir / "integrations" / "more").exists()
        stopped = client.post("/integrations/chatty/stop")
        # stopped first, then recorded: the record may fail, the stop may not
        assert stopped.status_code in (200, 507), stopped.text
        assert client.get("/integrations/chatty/status").json()["status"] == "stopped"
        assert not pid_alive(pid)
        deleted = client.delete("/integrations/chatty")
        assert deleted.status_code in (200, 507), deleted.text
        filler.unlink()
        if deleted.status_code == 507:
            assert client.delete("/integrations/chatty").status_code == 200
        assert client.get("/integrations").json()["integrations"] == []
    assert live_children(str(TOY_SERVER)) == []


def test_an_unreadable_record_disables_one_integration(
    make_client: MakeClient, data_dir: Path
) -> None:
    client = make_client()
    for name in ("good", "bad"):
        client.post("/integrations/install", json=toy_install(name))
    client.__exit__(None, None, None)
    with sqlite3.connect(data_dir / "integrations.sqlite3") as db:
        db.execute("UPDATE integrations SET spec = '{not json' WHERE id = 'bad'")
    client = make_client()
    listed = {i["id"]: i for i in client.get("/integrations").json()["integrations"]}
    assert listed["bad"]["status"] == "failed"
    assert "cannot be read" in listed["bad"]["last_error"]
    health = client.get("/health").json()
    assert health["status"] == "degraded" and any("'bad'" in p for p in health["problems"])
    answer = client.post("/integrations/bad/start")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "unreadable_integration"
    assert client.post("/integrations/good/start").json()["status"] == "running"
    assert client.delete("/integrations/bad").status_code == 200
    assert [i["id"] for i in client.get("/integrations").json()["integrations"]] == ["good"]
    assert client.get("/health").json()["status"] == "ok"
