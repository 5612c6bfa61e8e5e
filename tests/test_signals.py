"""Signals to a real hub process: SIGINT does what SIGTERM does, at once, even while a
start waits out a handshake; a second signal kills every server now. After each, no
process of the hub's is left."""

from __future__ import annotations

import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from mcp_integrations import containment
from tests.helpers import toy_install, wait_until
from tests.serve import serve


def marked_by(data_dir: Path) -> set[int]:
    key = containment.hub_key(data_dir / "integrations")
    return containment.marked(f"{key}/", prefix=True)


def follow_events(base_url: str) -> str:
    """Read the hub's event stream until the hub ends it."""
    seen = []
    try:
        with httpx.stream("GET", f"{base_url}/events", timeout=30) as stream:
            for line in stream.iter_lines():
                seen.append(line)
    except httpx.HTTPError as exc:
        seen.append(f"ended: {type(exc).__name__}")
    return "\n".join(seen)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_everything_at_once(tmp_path: Path, sig: signal.Signals) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "hub.log"
    with serve(sys.executable, data_dir, log=log) as hub, ThreadPoolExecutor(2) as pool:
        hub.http.post("/integrations/install", json=toy_install("ok"))
        assert hub.http.post("/integrations/ok/start").json()["status"] == "running"
        hub.http.post("/integrations/install", json=toy_install("hang", TOY_HANG_AT_START="1"))
        events = pool.submit(follow_events, str(hub.http.base_url))
        starting = pool.submit(hub.http.post, "/integrations/hang/start")
        wait_until(lambda: len(marked_by(data_dir)) == 2, what="both servers to run")
        began = time.monotonic()
        hub.process.send_signal(sig)
        code = hub.process.wait(20)
        took = time.monotonic() - began
        # answered that it was cancelled, unless the hub closed the connection first
        with suppress(httpx.HTTPError):
            assert starting.result(5).json()["error"]["code"] == "start_cancelled"
        events.result(5)
    assert code == 0
    assert took < 10, f"the hub took {took:.1f}s to stop (the handshake timeout is 30 s)"
    assert marked_by(data_dir) == set()
    text = log.read_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text


def test_a_second_signal_kills_every_server_now(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "hub.log"
    with serve(sys.executable, data_dir, log=log) as hub:
        for name in ("a", "b"):
            hub.http.post("/integrations/install", json=toy_install(name, TOY_IGNORE_TERM="1"))
            assert hub.http.post(f"/integrations/{name}/start").json()["status"] == "running"
        assert len(marked_by(data_dir)) == 2
        hub.process.send_signal(signal.SIGINT)
        wait_until(lambda: "again to kill them now" in log.read_text(), what="the first signal")
        began = time.monotonic()
        hub.process.send_signal(signal.SIGINT)
        code = hub.process.wait(20)
        took = time.monotonic() - began
    assert code == 1
    # the servers ignore SIGTERM: a graceful stop would have waited out their 5 s grace
    assert took < 4, f"the hub took {took:.1f}s after the second signal"
    wait_until(lambda: not marked_by(data_dir), what="every server to be killed")
    assert "killing every server now" in log.read_text()
