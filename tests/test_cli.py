"""``mcp-integrations serve``: defaults, signals that leave no process behind, and restarts
of the server that keep every integration and resume the ones that were running."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from mcp_integrations.cli import DEFAULT_HOST, DEFAULT_PORT, parser
from tests.helpers import TOY_TOOLS, pid_alive, toy_install, wait_until
from tests.serve import serve


def test_serve_defaults_to_loopback_port_4200() -> None:
    args = parser().parse_args(["serve"])
    assert (args.host, args.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 4200)
    assert "mcp-integrations" in str(args.data_dir)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_servers_and_restart_resumes_them(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    data_dir = tmp_path / "data"
    pidfile = tmp_path / "grandchild.pid"
    with serve(sys.executable, data_dir) as hub:
        assert (
            hub.http.post(
                "/integrations/install", json=toy_install(TOY_CHILD_PIDFILE=str(pidfile))
            ).status_code
            == 201
        )
        assert hub.http.post("/integrations/install", json=toy_install("idle")).status_code == 201
        pid = hub.http.post("/integrations/toy/start").json()["pid"]
        child = int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), what="grandchild"))
        hub.process.send_signal(stop_signal)
        assert hub.process.wait(30) in (0, -stop_signal)
        assert not pid_alive(pid)
        wait_until(lambda: not pid_alive(child), what="the grandchild to end")

    with serve(sys.executable, data_dir) as hub:
        listed = {i["id"]: i for i in hub.http.get("/integrations").json()["integrations"]}
        assert listed["toy"]["tools_count"] == len(TOY_TOOLS)
        assert (listed["idle"]["status"], listed["idle"]["tools_count"]) == ("stopped", 0)
        resumed = wait_until(
            lambda: (
                (s := hub.http.get("/integrations/toy/status").json())["status"] == "running" and s
            ),
            what="the toy to resume",
        )
        assert resumed["pid"] != pid and pid_alive(resumed["pid"])
        assert hub.http.post("/integrations/toy/stop").json()["status"] == "stopped"
        assert not pid_alive(resumed["pid"])

    with serve(sys.executable, data_dir) as hub:
        status = hub.http.get("/integrations/toy/status").json()
        assert (status["status"], status["tools_count"]) == ("stopped", len(TOY_TOOLS))
