"""Run as a script between the hub and a server:
``launch.py HUB_PID CGROUP_PROCS NOFILE COMMAND...``.

It binds the server to the hub before the server runs a line of its own: the parent-death
signal (SIGTERM when the hub dies, even by SIGKILL), and the integration's cgroup (``-``
for none), which every process the server ever starts inherits. It gives back the
open-files soft limit the hub started with (the hub raises its own; a server using
``select()`` breaks past 1024). Then it becomes the server (``exec``), keeping its pid.
Standard library only: it runs with ``python -I -S``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    hub_pid, procs, nofile, command = int(argv[1]), argv[2], int(argv[3]), argv[4:]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if 0 < nofile < soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != hub_pid:
            return 1
        if procs != "-":
            try:
                with open(procs, "w") as file:
                    file.write("0")
            except OSError as exc:
                print(f"mcp-integrations: cannot join the cgroup: {exc}", file=sys.stderr)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"cannot run {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
