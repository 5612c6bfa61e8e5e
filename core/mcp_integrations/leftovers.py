"""Servers left running by a hub that was killed (SIGKILL, OOM): found and stopped.

Each server leads a process group of its own, so one that ignores the end of its stdin
outlives a hub killed without a chance to stop it. So the hub writes, when it spawns a
server, ``server.pid`` in the integration's workdir: the pid, the process's start time and
the boot id, which together name that process and no later one with the same pid. The
file goes when the hub stops the server; one still there when a hub starts on the same
data dir names a process of an earlier hub, stopped then (TERM to its group, a grace
period, KILL) before anything is resumed, so that no server runs twice.
"""

from __future__ import annotations

import json
import logging
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from mcp_integrations import processes
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


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def identify(pid: int) -> Identity | None:
    """``pid``'s identity now, or None if there is no such process."""
    started = processes.start_time(pid)
    return None if started is None else Identity(pid, started, boot_id())


def record(workdir: Path, pid: int) -> None:
    """Write the server's identity to its workdir (0600); a failure only loses the
    clean-up after a crash of the hub, so it is logged, not raised."""
    identity = identify(pid)
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
        return Identity(int(data["pid"]), int(data["start_time"]), str(data["boot_id"]))
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


def reconcile(workdirs: Path, grace: float = GRACE_SECS) -> dict[str, list[int]]:
    """Stop every server an earlier hub left running in ``workdirs``, all at once, and
    remove every record; blocking. The pids stopped, by integration id."""
    groups: dict[str, int] = {}
    found: dict[str, list[int]] = {}
    paths = sorted(workdirs.glob(f"*/{PIDFILE}"))
    for path in paths:
        recorded = read(path)
        pgid = None if recorded is None else group_of(recorded)
        if pgid is None:
            logger.info("removed the stale server record of %s", path.parent.name)
            continue
        groups[path.parent.name] = pgid
        found[path.parent.name] = sorted(processes.group_members(pgid))
        logger.warning(
            "stopping %s left running by an earlier hub: process group %d (pids %s)",
            path.parent.name,
            pgid,
            " ".join(map(str, found[path.parent.name])) or "none live",
        )
    if groups:
        for pgid in processes.stop_groups_now(list(groups.values()), grace):
            logger.error("process group %d of an earlier hub would not stop", pgid)
    for path in paths:
        with suppress(OSError):
            path.unlink()
    return found
