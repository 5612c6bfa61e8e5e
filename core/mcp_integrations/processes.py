"""Child processes in their own process group: spawn, watch for exit, stop without orphans."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

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
