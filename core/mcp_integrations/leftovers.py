"""Servers left running by a hub that was killed (SIGKILL, OOM): found and stopped.

A server that ignores the end of its stdin (and the parent-death signal) outlives a hub
killed without a chance to stop it, and so may what it started. So the hub writes, when
it spawns a server, ``server.pid`` in the integration's workdir: the pid, the process's
start time and the boot id, which together name that process and no later one with the
same pid, and its cgroup. The file goes when the hub stops the server. A hub starting on
the same data dir stops, before it resumes anything, what those files name, what is left
in its data dir's cgroups, and every process that carries its data dir's marker
(``containment``), however it was daemonized: so no server runs twice and none is left.
"""

from __future__ import annotations

import json
import logging
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from mcp_integrations import containment, processes
from mcp_integrations.private import open_private

logger = logging.getLogger(__name__)

PIDFILE = "server.pid"
#: As long as the runtimes give a server to go after TERM.
GRACE_SECS = 5.0
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Identity:
    """One process, told apart from any later one with its pid: a pid is reused after a
    wraparound, and the start time (ticks since boot) repeats after a reboot."""

    pid: int
    start_time: int
    boot_id: str
    cgroup: str | None = None


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def identify(pid: int, cgroup: Path | None = None) -> Identity | None:
    """``pid``'s identity now, or None if there is no such process."""
    started = processes.start_time(pid)
    if started is None:
        return None
    return Identity(pid, started, boot_id(), str(cgroup) if cgroup else None)


def record(workdir: Path, pid: int, cgroup: Path | None = None) -> None:
    """Write the server's identity to its workdir (0600); a failure only loses the
    clean-up after a crash of the hub, so it is logged, not raised."""
    identity = identify(pid, cgroup)
    if identity is None:
        return
    try:
        with open_private(workdir / PIDFILE, "w") as file:
            json.dump(asdict(identity), file)
    except OSError as exc:
        logger.warning("cannot record the server pid of %s: %s", workdir.name, exc)


def forget(workdir: Path, pid: int) -> None:
    """Remove the record once the server is stopped and reaped, unless a newer one of the
    same integration has written its own since."""
    path = workdir / PIDFILE
    found = read(path)
    if found is None or found.pid == pid:
        with suppress(OSError):
            path.unlink()


def read(path: Path) -> Identity | None:
    try:
        data = json.loads(path.read_text())
        cgroup = data.get("cgroup")
        return Identity(
            int(data["pid"]),
            int(data["start_time"]),
            str(data["boot_id"]),
            str(cgroup) if cgroup else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def group_of(recorded: Identity) -> int | None:
    """The pgid to stop for ``recorded``, or None when no process of it is left.

    The server is the leader of its own session and group, so its group's id is its pid;
    Linux gives no new process a pid still in use as a group or session id, so members of
    that session started no earlier than the server are the server's own, even when the
    server itself is gone (one that quit on stdin's end, leaving a child behind)."""
    if not recorded.boot_id or recorded.boot_id != boot_id():
        return None
    started = processes.start_time(recorded.pid)
    if started is not None:
        return recorded.pid if started == recorded.start_time else None
    members = processes.group_members(recorded.pid).values()
    ours = [
        fields
        for fields in members
        if fields[3] == str(recorded.pid) and int(fields[19]) >= recorded.start_time
    ]
    return recorded.pid if ours and len(ours) == len(members) else None


def _cgroups(workdirs: Path, records: list[Identity]) -> set[Path]:
    """The cgroups an earlier hub on this data dir may have left: those its records name
    (it may have run in another cgroup than this hub) and those under this hub's own."""
    found = {Path(r.cgroup) for r in records if r.cgroup}
    hub = containment.hub_cgroups(containment.hub_key(workdirs))
    if hub is not None and hub.is_dir():
        found |= {path for path in hub.iterdir() if path.is_dir()}
    return {path for path in found if path.name.startswith("i-") and path.is_dir()}


def reconcile(workdirs: Path, grace: float = GRACE_SECS) -> dict[str, list[int]]:
    """Stop every process an earlier hub left running in ``workdirs``, all at once, and
    remove every record; blocking. The pids stopped, by integration id."""
    paths = sorted(workdirs.glob(f"*/{PIDFILE}"))
    records = {path.parent.name: r for path in paths if (r := read(path)) is not None}
    groups = {iid: pgid for iid, r in records.items() if (pgid := group_of(r)) is not None}
    cgroups = _cgroups(workdirs, list(records.values()))
    key = containment.hub_key(workdirs)
    owners: dict[int, str] = {}
    for iid, pgid in groups.items():
        owners |= dict.fromkeys(processes.group_members(pgid), iid)
    for cgroup in cgroups:
        owners |= dict.fromkeys(containment.cgroup_pids(cgroup), cgroup.name[2:])
    for pid in containment.marked(f"{key}/", prefix=True):
        owners[pid] = _owner(pid, key) or owners.get(pid, "?")
    found: dict[str, list[int]] = {}
    for pid, iid in sorted(owners.items()):
        found.setdefault(iid, []).append(pid)
    for iid, owned in found.items():
        logger.warning(
            "stopping what an earlier hub left running of %s: pids %s",
            iid,
            " ".join(map(str, owned)),
        )
    left = containment.stop_now(list(groups.values()), set(owners), cgroups, grace)
    if left:
        logger.error("processes of an earlier hub would not stop: %s", " ".join(map(str, left)))
    for cgroup in cgroups:
        containment.remove_cgroup(cgroup)
    for path in paths:
        with suppress(OSError):
            path.unlink()
    return found


def _owner(pid: int, key: str) -> str | None:
    """The integration whose marker ``pid`` carries."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = f"{containment.MARKER}={key}/".encode()
    return next((e[len(prefix) :].decode() for e in environ if e.startswith(prefix)), None)
