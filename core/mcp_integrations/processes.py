"""Child processes in their own process group: spawn, watch for exit, stop without orphans."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

import anyio
from anyio.abc import Process

POLL_INTERVAL = 0.02
INHERITED_ENV = (
    "HOME",
    "LANG",
    "LC_ALL",
    "LOGNAME",
    "PATH",
    "SHELL",
    "TERM",
    "TMPDIR",
    "TZ",
    "USER",
)


def base_env() -> dict[str, str]:
    """The few variables of the hub's own environment a server gets; nothing secret."""
    return {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}


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
    """The exit code, once the process has exited and been reaped.

    Polls instead of ``process.wait()``, which also waits for the pipes to close and so
    would hang on a grandchild that holds them.
    """
    while process.returncode is None:  # noqa: ASYNC110
        await anyio.sleep(POLL_INTERVAL)
    return process.returncode


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def terminate_group(process: Process, grace: float) -> None:
    """TERM the whole group, wait up to ``grace`` for all of it to go, then KILL it."""
    pgid = process.pid
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    with anyio.move_on_after(grace):
        while _group_alive(pgid):  # noqa: ASYNC110
            await anyio.sleep(POLL_INTERVAL)
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with anyio.move_on_after(grace):
        await wait_exit(process)
