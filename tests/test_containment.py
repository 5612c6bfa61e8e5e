"""Every process a server starts ends with it: its group, a daemon that left the group, and
(where the hub can make cgroups) everything in its cgroup; with cgroups and without."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mcp_integrations import containment
from tests.conftest import MakeClient
from tests.helpers import pid_alive, toy_install, wait_until


@pytest.fixture(params=["cgroups", "no-cgroups"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test with the hub's cgroups, where it can make them, and without."""
    if request.param == "no-cgroups":
        monkeypatch.setenv(containment.CGROUPS_ENV, "off")
    elif os.environ.get(containment.CGROUPS_ENV) == "off":
        pytest.skip(f"{containment.CGROUPS_ENV}=off in the environment")
    containment.cgroup_home.cache_clear()
    if request.param == "cgroups" and containment.cgroup_home() is None:
        print("no writable cgroup v2 here: the hub contains servers without cgroups")
        pytest.skip("no writable cgroup v2 directory here")
    yield request.param
    containment.cgroup_home.cache_clear()


def marked_by(data_dir: Path) -> set[int]:
    """Every live process that carries the marker of the hub on ``data_dir``."""
    key = containment.hub_key(data_dir / "integrations")
    return containment.marked(f"{key}/", prefix=True)


def daemon_of(pidfile: Path) -> int:
    return int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), what="a daemon"))


def test_stop_ends_a_daemon_that_left_the_group(
    mode: str, make_client: MakeClient, data_dir: Path, tmp_path: Path
) -> None:
    client = make_client()
    pidfile = tmp_path / "daemon.pid"
    body = toy_install("d", TOY_DAEMON_PIDFILE=str(pidfile), TOY_CHILD_PIDFILE=str(tmp_path / "k"))
    assert client.post("/integrations/install", json=body).status_code == 201
    pids = []
    for _ in range(3):
        pid = client.post("/integrations/d/start").json()["pid"]
        daemon = daemon_of(pidfile)
        child = daemon_of(tmp_path / "k")
        assert os.getsid(daemon) == daemon != os.getsid(pid), "the daemon left the session"
        # The process table holds what status says and what the server started, no more.
        assert marked_by(data_dir) == {pid, daemon, child}
        if mode == "cgroups":
            assert "/i-d\n" in Path(f"/proc/{daemon}/cgroup").read_text() + "\n"
        assert client.post("/integrations/d/stop").json()["status"] == "stopped"
        assert not pid_alive(daemon) and not pid_alive(child) and not pid_alive(pid)
        pidfile.unlink()
        pids.append(pid)
    assert marked_by(data_dir) == set()
    # removing a running integration ends its daemon too
    client.post("/integrations/d/start")
    daemon = daemon_of(pidfile)
    assert client.delete("/integrations/d").status_code == 200
    assert not pid_alive(daemon) and marked_by(data_dir) == set()
    hub = containment.hub_cgroups(containment.hub_key(data_dir / "integrations"))
    assert hub is None or not (hub / "i-d").exists(), "the cgroup outlived the integration"


def test_a_crash_takes_the_servers_children_with_it(
    mode: str, make_client: MakeClient, data_dir: Path, tmp_path: Path
) -> None:
    client = make_client()
    pidfile = tmp_path / "daemon.pid"
    body = toy_install("c", TOY_DAEMON_PIDFILE=str(pidfile))
    body["restart"] = "never"
    assert client.post("/integrations/install", json=body).status_code == 201
    client.post("/integrations/c/start")
    daemon = daemon_of(pidfile)
    client.post("/integrations/c/tools/crash/call", json={"arguments": {"code": 4}})
    wait_until(lambda: client.get("/integrations/c/status").json()["status"] == "failed")
    wait_until(lambda: not pid_alive(daemon), what="the crashed server's daemon to be stopped")
    assert marked_by(data_dir) == set()


def test_the_hub_ending_ends_every_tree(
    mode: str, make_client: MakeClient, data_dir: Path, tmp_path: Path
) -> None:
    client: TestClient = make_client()
    daemons = {}
    for name in ("a", "b"):
        pidfile = tmp_path / f"{name}.pid"
        body = toy_install(name, TOY_DAEMON_PIDFILE=str(pidfile), TOY_IGNORE_TERM="1")
        client.post("/integrations/install", json=body)
        client.post(f"/integrations/{name}/start")
        daemons[name] = daemon_of(pidfile)
    assert len(marked_by(data_dir)) == 4
    client.__exit__(None, None, None)
    assert marked_by(data_dir) == set()
    assert not any(pid_alive(pid) for pid in daemons.values())


def test_the_launcher_reports_a_program_it_cannot_run(mode: str, client: TestClient) -> None:
    body = {"source": "command", "id": "nope", "command": ["/nonexistent/server"]}
    assert client.post("/integrations/install", json=body).status_code == 201
    answer = client.post("/integrations/nope/start")
    assert answer.status_code == 502
    assert "cannot run '/nonexistent/server'" in answer.json()["error"]["message"]


def test_a_server_gets_the_parent_death_signal(tmp_path: Path) -> None:
    """The launcher binds the server to its parent: when that dies, even by SIGKILL, the
    server gets SIGTERM at once, before any hub comes back."""
    code = (
        "import subprocess, time; from mcp_integrations.containment import Tree; "
        "p = subprocess.Popen(Tree('test/x', None).launch(['sleep', '300'])); "
        "print(p.pid, flush=True); time.sleep(300)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        server = int(parent.stdout.readline())
        wait_until(lambda: b"sleep" in Path(f"/proc/{server}/cmdline").read_bytes())
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_until(lambda: not pid_alive(server), what="the server to get the signal")
    finally:
        parent.kill()
        parent.wait()


def test_a_server_gets_the_open_files_limit_the_hub_started_with(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub raises its own soft limit; a server gets back the one the hub started with."""
    monkeypatch.setattr(containment, "NOFILE_AT_START", 321)
    client.post("/integrations/install", json=toy_install("limited"))
    pid = client.post("/integrations/limited/start").json()["pid"]
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    (line,) = [line for line in limits if line.startswith("Max open files")]
    assert line.split()[3] == "321"
