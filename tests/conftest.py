"""Fixtures shared by every test."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pluggy
import pytest
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.plugins import make_plugin_manager
from mcp_integrations.settings import Settings
from mcp_integrations.supervisor import RestartPolicy
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


FAST_RESTARTS = RestartPolicy(
    max_restarts=2, backoff_initial=0.05, backoff_max=0.2, tools_timeout=10
)


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager per test: builtin plugins and installed entry points."""
    return make_plugin_manager()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


#: Starlette's test client calls itself ``testserver``; the hub answers loopback names only.
TEST_SETTINGS = Settings(allowed_hosts=("testserver",))


@pytest.fixture
def client(data_dir: Path, plugin_manager: pluggy.PluginManager) -> Iterator[TestClient]:
    """The API in-process, with quick restarts; every server it started ends with it."""
    app = create_app(
        data_dir, settings=TEST_SETTINGS, plugin_manager=plugin_manager, policy=FAST_RESTARTS
    )
    with TestClient(app) as test_client:
        yield test_client


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(data_dir: Path, plugin_manager: pluggy.PluginManager) -> Iterator[MakeClient]:
    """Clients of apps made with the given settings; each app and its servers end with the
    test. The settings keep ``testserver`` allowed unless a test names its own hosts."""
    with ExitStack() as stack:

        def make(
            settings: Settings = TEST_SETTINGS,
            pm: pluggy.PluginManager | None = None,
            policy: RestartPolicy = FAST_RESTARTS,
        ) -> TestClient:
            app = create_app(
                data_dir, settings=settings, plugin_manager=pm or plugin_manager, policy=policy
            )
            return stack.enter_context(TestClient(app))

        yield make


MakeTmpfs = Callable[[str], Path]


@pytest.fixture
def make_tmpfs(tmp_path: Path) -> Iterator[MakeTmpfs]:
    """Small real tmpfs mounts (``make_tmpfs("512k")``), to fill a disk for real; they need
    root and a kernel that lets us mount, else the test is skipped with the reason."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        disk = tmp_path / f"disk{len(mounted)}"
        disk.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(disk)
        return disk

    try:
        yield make
    finally:
        for disk in mounted:
            subprocess.run(["umount", "--lazy", str(disk)], check=True)
