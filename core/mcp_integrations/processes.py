"""Child processes in their own process group: spawn, watch for exit, stop without orphans."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio
from anyio.abc import Process

POLL_INTERVAL = 0.02
#: The hub's own variables a server gets: the user's basics, and what TLS and proxies need
#: (a ``uvx`` or ``npx`` server behind a proxy or a private CA fails without them).
#: ``mcp-integrations serve --pass-env NAME`` adds more.
INHERITED_ENV = (
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LOGNAME",
    "PATH",
    "SHELL",
    "TERM",
    "TMPDIR",
    "TZ",
    "USER",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
)


def base_env(extra: Iterable[str] = ()) -> dict[str, str]:
    """The variables of the hub's own environment a server gets; none of the hub's secrets."""
    names = (*INHERITED_ENV, *extra)
    return {name: os.environ[name] for name in names if name in os.environ}


async def spawn(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> Process:
    """Start ``command`` with piped stdio as the leader of a new process group."""
    return await anyio.open_process(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )


async def wait_exit(process: Process) -> int:
    """The exit code, once the process has exited and been reaped: notified by the event
    loop, not polled, and not held up by a grandchild that keeps the pipes open."""
    return await process.wait()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def proc_stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from field 3 (state) on, or None if there is no such process:
    split after the last ``)``, since the command name may hold spaces and parentheses."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return text.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """True while ``pid`` is a process that has not exited (a zombie has)."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (stat field 22): with the boot id,
    what tells a process from a later one that got the same pid."""
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def group_members(pgid: int) -> dict[int, list[str]]:
    """The live processes of group ``pgid`` (zombies left out: a reaper may never come, when
    the hub that was their parent is gone), each with its stat fields from field 3 on."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = proc_stat(int(entry.name))
        if fields and fields[2] == str(pgid) and fields[0] != "Z":
            members[int(entry.name)] = fields
    return members


@dataclass(frozen=True)
class Logged:
    """How an install step ended: its exit code, its last lines, and whether it was killed
    at its deadline."""

    code: int
    lines: tuple[str, ...]
    timed_out: bool


def run_logged(
    argv: Sequence[str],
    log: IO[str],
    timeout: float,
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    keep: int = 20,
) -> Logged:
    """Run a slow install step (never through a shell) in a process group of its own, its
    output appended to ``log`` as it comes; the whole group is killed at ``timeout``.
    Blocking: install work runs in a worker thread."""
    lines: collections.deque[str] = collections.deque(maxlen=keep)
    timed_out = threading.Event()
    with subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as process:

        def stop() -> None:
            timed_out.set()
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                log.flush()
                if line.strip():
                    lines.append(line.strip())
        finally:
            timer.cancel()
        code = process.wait()
    return Logged(code, tuple(lines), timed_out.is_set())
