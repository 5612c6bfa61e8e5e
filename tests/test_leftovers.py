"""Servers a killed hub left running: the next hub on the same data dir stops them before
it resumes anything, so no server runs twice and none is orphaned; and a record naming a
process that is not ours (a pid reused, another boot) is dropped without a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcp_integrations import containment, leftovers
from tests.helpers import TOY_SERVER, free_port, pid_alive, toy_install, wait_until
from tests.serve import serve


def processes_in(workdir: Path, *, below: bool = False) -> dict[int, str]:
    """Live processes whose working directory is ``workdir`` (or, ``below``, in it), with
    their command lines: the hub runs each server in its integration's workdir."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = (proc / "cwd").resolve()
            if cwd != workdir.resolve() and not (below and cwd.is_relative_to(workdir.resolve())):
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if pid_alive(int(proc.name)):
            found[int(proc.name)] = cmdline
    return found


def servers_in(workdir: Path) -> list[int]:
    return [pid for pid, cmdline in processes_in(workdir).items() if str(TOY_SERVER) in cmdline]


def resumed_pid(http: httpx.Client, integration_id: str) -> int:
    def running() -> int | None:
        status = http.get(f"/integrations/{integration_id}/status").json()
        return int(status["pid"]) if status["status"] == "running" else None

    return int(wait_until(running, what=f"{integration_id} to resume"))


def grandchild(pidfile: Path) -> int:
    return int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), what="a grandchild"))


def gone(probe: Callable[[Any], Any], thing: Any) -> bool:
    return not probe(thing)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """The hubs' data dir; whatever still runs in it when the test ends is killed, so a
    failing test leaves no server behind."""
    yield tmp_path / "data"
    for pid in processes_in(tmp_path / "data", below=True):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    hub = containment.hub_cgroups(containment.hub_key(tmp_path / "data" / "integrations"))
    for cgroup in hub.glob("i-*") if hub else ():
        containment.kill_cgroup(cgroup)
        wait_until(partial(gone, containment.cgroup_pids, cgroup), what="the cgroup to empty")
        containment.remove_cgroup(cgroup)


def test_the_next_hub_stops_what_a_killed_hub_left_running(tmp_path: Path, data_dir: Path) -> None:
    pidfiles = {
        "kid": tmp_path / "kid.pid",
        "quitter": tmp_path / "quitter.pid",
        "daemon": tmp_path / "daemon.pid",
    }
    installs = {
        # Outlives the end of its stdin and the parent-death signal: only the next hub
        # can stop it.
        "plain": toy_install("plain", TOY_OUTLIVE_STDIN="1", TOY_IGNORE_TERM="1"),
        # The same, with a grandchild in its group.
        "kid": toy_install(
            "kid",
            TOY_OUTLIVE_STDIN="1",
            TOY_IGNORE_TERM="1",
            TOY_CHILD_PIDFILE=str(pidfiles["kid"]),
        ),
        # Quits when its hub dies but leaves its grandchild behind, in its group.
        "quitter": toy_install("quitter", TOY_CHILD_PIDFILE=str(pidfiles["quitter"])),
        # Quits too, leaving a grandchild that left the group for a session of its own.
        "daemon": toy_install("daemon", TOY_DAEMON_PIDFILE=str(pidfiles["daemon"])),
        # Holds a port: its successor can only bind it once it is gone.
        "porter": toy_install(
            "porter", TOY_OUTLIVE_STDIN="1", TOY_IGNORE_TERM="1", TOY_BIND_PORT=str(free_port())
        ),
    }
    workdirs = {iid: data_dir / "integrations" / iid for iid in installs}

    with serve(sys.executable, data_dir, log=tmp_path / "first.log") as hub:
        for body in installs.values():
            assert hub.http.post("/integrations/install", json=body).status_code == 201
        old = {iid: hub.http.post(f"/integrations/{iid}/start").json()["pid"] for iid in installs}
        old_kids = {iid: grandchild(pidfile) for iid, pidfile in pidfiles.items()}
        for iid in installs:
            recorded = json.loads((workdirs[iid] / leftovers.PIDFILE).read_text())
            assert recorded["pid"] == old[iid]
            assert (workdirs[iid] / leftovers.PIDFILE).stat().st_mode & 0o777 == 0o600
        hub.process.kill()
        assert hub.process.wait(30) == -signal.SIGKILL

    for iid in ("quitter", "daemon"):
        wait_until(partial(gone, pid_alive, old[iid]), what=f"{iid} to go with its hub")
    survivors = [old["plain"], old["kid"], old["porter"], *old_kids.values()]
    assert all(pid_alive(pid) for pid in survivors), "the survivors died on their own"
    for pidfile in pidfiles.values():
        pidfile.unlink()

    with serve(sys.executable, data_dir, log=tmp_path / "second.log") as hub:
        # Stopped before the hub listened, so before anything was resumed.
        assert not [pid for pid in survivors if pid_alive(pid)]
        new = {iid: resumed_pid(hub.http, iid) for iid in installs}
        new_kids = {iid: grandchild(pidfile) for iid, pidfile in pidfiles.items()}
        for iid in installs:
            assert new[iid] != old[iid] and pid_alive(new[iid])
            assert servers_in(workdirs[iid]) == [new[iid]], f"not one server of {iid}"
        for iid in pidfiles:
            assert pid_alive(new_kids[iid]) and not pid_alive(old_kids[iid])
            left = set(processes_in(workdirs[iid]))
            assert left == {new[iid], new_kids[iid]}, f"{iid} has more than its own processes"
        hub.process.send_signal(signal.SIGTERM)
        assert hub.process.wait(30) in (0, -signal.SIGTERM)

    for workdir in workdirs.values():
        assert processes_in(workdir) == {}
        assert not (workdir / leftovers.PIDFILE).exists()
    log = (tmp_path / "second.log").read_text()
    assert "an earlier hub left running" in log
    assert "plain" in log and "kid" in log and "daemon" in log


@pytest.fixture
def session_leader() -> Iterator[subprocess.Popen[bytes]]:
    """A process leading its own group and session, as the hub's servers do."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def write_record(workdir: Path, identity: leftovers.Identity) -> Path:
    workdir.mkdir(parents=True)
    path = workdir / leftovers.PIDFILE
    path.write_text(json.dumps(asdict(identity)))
    return path


@pytest.mark.parametrize("field", ["start_time", "boot_id"])
def test_a_record_of_another_process_is_removed_without_a_signal(
    tmp_path: Path, session_leader: subprocess.Popen[bytes], field: str
) -> None:
    for pid in (os.getpid(), session_leader.pid):
        identity = leftovers.identify(pid)
        assert identity is not None
        if field == "start_time":
            wrong = replace(identity, start_time=identity.start_time + 1)
        else:
            wrong = replace(identity, boot_id="another-boot")
        path = write_record(tmp_path / str(pid), wrong)
        assert leftovers.reconcile(tmp_path, grace=0.5) == {}
        assert not path.exists()
    assert session_leader.poll() is None, "a process that is not ours was signalled"


def test_a_record_of_a_leftover_is_stopped_even_if_it_ignores_term(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(flush=True); time.sleep(60)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"\n"
        identity = leftovers.identify(process.pid)
        assert identity is not None
        path = write_record(tmp_path / "left", identity)
        assert leftovers.reconcile(tmp_path, grace=0.5) == {"left": [process.pid]}
        assert process.wait(5) == -signal.SIGKILL
        assert not path.exists()
    finally:
        process.kill()
        process.wait()
