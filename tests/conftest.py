"""Fixtures shared by every test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.postgres import postgres_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the whole session (system binaries, else the wheel)."""
    try:
        server = postgres_server()
        url = server.__enter__()
    except (ImportError, OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        pytest.skip(f"no PostgreSQL server can run here: {detail}")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)
