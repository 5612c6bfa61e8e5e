"""Every process a server starts, kept together, so that stopping the server ends them all.

A process group is not enough: a worker that calls ``setsid`` leaves it, and a server
that ignores the end of its stdin outlives a hub killed by SIGKILL. Three layers cover
what each other cannot (see the README's Reliability section for what holds where):

- a **cgroup v2 per integration** where the hub may create one (root; a systemd unit with
  ``Delegate=yes``; a session cgroup the user owns). Every descendant stays in it however
  it daemonizes, and ``cgroup.kill`` ends all of them at once;
- a **marker** in each server's environment, ``MCP_INTEGRATIONS_OWNER=<hub key>/<id>``,
  which descendants inherit: a stop, and a hub started after a crash, find in ``/proc``
  what the cgroup did not hold (the hub key names the data dir, so hubs on other data
  dirs are left alone);
- the **parent-death signal** on the server itself (``launch.py``): SIGTERM the moment
  the hub dies, whoever restarts it and when.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import Process

from mcp_integrations import processes

logger = logging.getLogger(__name__)

MARKER = "MCP_INTEGRATIONS_OWNER"
#: Set to ``off`` to contain servers without cgroups (as on a host that has none).
CGROUPS_ENV = "MCP_INTEGRATIONS_CGROUPS"
LAUNCHER = Path(__file__).with_name("launch.py")
HUB_CGROUP_PREFIX = "mcp-integrations-"
PROC = Path("/proc")
#: The open-files soft limit the hub started with, before ``serving`` raised it: servers
#: get this one back.
NOFILE_AT_START = resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def hub_key(workdirs: Path) -> str:
    """What names the servers of the hubs on one data dir, across restarts of the hub."""
    return hashlib.sha256(str(workdirs.resolve()).encode()).hexdigest()[:16]


def _cgroup2_mount() -> Path | None:
    try:
        lines = (PROC / "self" / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields, _, rest = line.partition(" - ")
        if rest.split(" ", 1)[0] == "cgroup2":
            return Path(fields.split()[4])
    return None


def _own_cgroup() -> str | None:
    try:
        lines = (PROC / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    return next((line[3:] for line in lines if line.startswith("0::")), None)


@functools.cache
def cgroup_home() -> Path | None:
    """The cgroup v2 directory under which this hub may make its servers' cgroups (its own
    cgroup), or None where there is none it can write to."""
    if os.environ.get(CGROUPS_ENV, "").lower() in ("off", "0", "no", "false"):
        return None
    mount, own = _cgroup2_mount(), _own_cgroup()
    if mount is None or own is None:
        return None
    home = mount / own.lstrip("/")
    if not (home / "cgroup.procs").exists() or not os.access(home, os.W_OK):
        return None
    return home


def hub_cgroups(key: str) -> Path | None:
    home = cgroup_home()
    return None if home is None else home / f"{HUB_CGROUP_PREFIX}{key}"


def _environ_has(pid: str, needle: bytes, prefix: bool) -> bool:
    try:
        environ = (PROC / pid / "environ").read_bytes()
    except OSError:
        return False
    for entry in environ.split(b"\0"):
        if entry == needle or (prefix and entry.startswith(needle)):
            return True
    return False


def marked(marker: str, *, prefix: bool = False) -> set[int]:
    """Live processes whose environment carries ``marker`` (or, ``prefix``, begins with it),
    this process and zombies left out."""
    needle = f"{MARKER}={marker}".encode()
    found = set()
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if _environ_has(entry.name, needle, prefix) and processes.alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def cgroup_pids(cgroup: Path) -> set[int]:
    try:
        return {int(line) for line in (cgroup / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_cgroup(cgroup: Path) -> None:
    """SIGKILL everything in ``cgroup`` (``cgroup.kill``, Linux 5.14; else one by one)."""
    try:
        (cgroup / "cgroup.kill").write_text("1")
    except OSError:
        signal_all(cgroup_pids(cgroup), signal.SIGKILL)


def remove_cgroup(cgroup: Path) -> None:
    """Remove an emptied cgroup and its hub's folder once that is empty too."""
    for path in (cgroup, cgroup.parent):
        try:
            path.rmdir()
        except OSError:
            return


@dataclass(frozen=True)
class Tree:
    """One integration's processes: the group its server leads, its cgroup where there is
    one, and every process that carries its marker."""

    marker: str
    cgroup: Path | None

    @classmethod
    def for_workdir(cls, workdir: Path) -> Tree:
        """The tree of the integration whose workdir this is, its cgroup made if it can be."""
        key = hub_key(workdir.parent)
        hub = hub_cgroups(key)
        cgroup = None
        if hub is not None:
            cgroup = hub / f"i-{workdir.name}"
            try:
                cgroup.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                logger.info("no cgroup for %s (%s); containing it without one", workdir.name, exc)
                cgroup = None
        return cls(f"{key}/{workdir.name}", cgroup)

    def env(self) -> dict[str, str]:
        return {MARKER: self.marker}

    def launch(self, command: Sequence[str]) -> list[str]:
        """``command`` behind the launcher, where it can set the parent-death signal."""
        if not sys.platform.startswith("linux"):
            return list(command)
        procs = str(self.cgroup / "cgroup.procs") if self.cgroup else "-"
        nofile = str(NOFILE_AT_START if NOFILE_AT_START != resource.RLIM_INFINITY else 0)
        launcher = [sys.executable, "-I", "-S", str(LAUNCHER), str(os.getpid()), procs, nofile]
        return [*launcher, *command]

    def members(self, leader: int | None = None) -> set[int]:
        """Every live process of the tree now (a scan of ``/proc``: not for hot paths)."""
        pids = marked(self.marker)
        if self.cgroup is not None:
            pids |= cgroup_pids(self.cgroup)
        if leader is not None:
            pids |= set(processes.group_members(leader))
        return {pid for pid in pids if processes.alive(pid)}

    def signal(self, sig: int, leader: int | None = None) -> set[int]:
        """Send ``sig`` to the whole tree; the pids it went to."""
        if leader is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(leader, sig)
        pids = self.members(leader)
        if sig == signal.SIGKILL and self.cgroup is not None:
            kill_cgroup(self.cgroup)
        signal_all(pids, sig)
        return pids

    def gone(self, leader: int | None, pids: Iterable[int]) -> bool:
        """Cheap enough to poll: no process left of those signalled, the group, the cgroup."""
        # zombies count for kill(2); ones whose reaper (init) is slow must not
        if leader is not None and processes.group_alive(leader) and processes.group_members(leader):
            return False
        if self.cgroup is not None and _populated(self.cgroup):
            return False
        return not any(processes.alive(pid) for pid in pids)

    def release(self) -> None:
        if self.cgroup is not None:
            remove_cgroup(self.cgroup)


def _populated(cgroup: Path) -> bool:
    try:
        return "populated 1" in (cgroup / "cgroup.events").read_text()
    except OSError:
        return False


async def _until_gone(tree: Tree, leader: int | None, pids: set[int], seconds: float) -> bool:
    with anyio.move_on_after(seconds):
        while not tree.gone(leader, pids):  # noqa: ASYNC110
            await anyio.sleep(processes.POLL_INTERVAL)
        return True
    return False


async def stop(process: Process, tree: Tree, grace: float) -> None:
    """TERM the whole tree, wait up to ``grace`` for all of it to go, KILL what is left
    (the cgroup at once), reap the server and remove its cgroup."""
    pids = tree.signal(signal.SIGTERM, process.pid)
    if not await _until_gone(tree, process.pid, pids, grace):
        pids |= tree.signal(signal.SIGKILL, process.pid)
        await _until_gone(tree, process.pid, pids, grace)
    with anyio.move_on_after(grace):
        await process.wait()
    tree.release()


def _left(groups: Iterable[int], pids: set[int], cgroups: Iterable[Path]) -> set[int]:
    everyone = set(pids)
    for pgid in groups:
        everyone |= set(processes.group_members(pgid))
    for cgroup in cgroups:
        everyone |= cgroup_pids(cgroup)
    return {pid for pid in everyone if processes.alive(pid)}


def _wait_left(
    groups: Iterable[int], pids: set[int], cgroups: Iterable[Path], seconds: float
) -> set[int]:
    deadline = time.monotonic() + seconds
    while True:
        left = _left(groups, pids, cgroups)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(processes.POLL_INTERVAL)


def stop_now(
    groups: Sequence[int], pids: set[int], cgroups: Iterable[Path], grace: float
) -> list[int]:
    """TERM the groups, the pids and the cgroups' members, wait up to ``grace`` for all to
    go, KILL what is left; blocking, for processes that are not our children (there is no
    exit to be told of). The pids that would not go."""
    cgroups = list(cgroups)
    for pgid in groups:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    signal_all(_left((), pids, cgroups), signal.SIGTERM)
    left = _wait_left(groups, pids, cgroups, grace)
    if not left:
        return []
    for pgid in groups:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    for cgroup in cgroups:
        kill_cgroup(cgroup)
    signal_all(left, signal.SIGKILL)
    return sorted(_wait_left(groups, left, cgroups, grace))


def kill_all(workdirs: Path) -> None:
    """SIGKILL every process of every server of the hub on ``workdirs``, now: its cgroups,
    then everything carrying its marker. No waiting: the next hub clears what is left."""
    key = hub_key(workdirs)
    hub = hub_cgroups(key)
    for cgroup in hub.glob("i-*") if hub is not None and hub.is_dir() else ():
        kill_cgroup(cgroup)
    signal_all(marked(f"{key}/", prefix=True), signal.SIGKILL)
