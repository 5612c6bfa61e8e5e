"""The SQLite store: round trips, secrets kept apart, typed errors, nothing lost on reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mcp_integrations.errors import AlreadyInstalled, NotFound
from mcp_integrations.models import Integration, LaunchSpec, Status, ToolInfo
from mcp_integrations.store import SQLiteStore

SPEC = LaunchSpec(
    runtime="subprocess",
    command=("python", "-m", "x"),
    env={"TOKEN": "secret-value"},
    required_env=("TOKEN",),
    secret_env=("TOKEN",),
)


def test_round_trip_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    store.add(Integration("a", "src", SPEC))
    store.set_tools("a", (ToolInfo("t", "does t", {"type": "object"}),), {"name": "srv"})
    store.set_desired("a", Status.RUNNING)
    store.close()

    reopened = SQLiteStore(path)
    (got,) = reopened.list()
    assert got.spec == SPEC and got.spec.env == {"TOKEN": "secret-value"}
    assert got.tools == (ToolInfo("t", "does t", {"type": "object"}),)
    assert (got.desired, got.server_info) == (Status.RUNNING, {"name": "srv"})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    reopened.close()


def test_secret_values_live_only_in_the_env_column(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.add(Integration("a", "src", SPEC))
    store.close()
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        spec, env = db.execute("SELECT spec, env FROM integrations").fetchone()
    assert "secret-value" not in spec and "secret-value" in env


def test_typed_errors_and_nothing_lost(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.add(Integration("a", "src", SPEC))
    with pytest.raises(AlreadyInstalled):
        store.add(Integration("a", "other", LaunchSpec(runtime="subprocess")))
    for call in (
        lambda: store.get("b"),
        lambda: store.delete("b"),
        lambda: store.set_desired("b", Status.RUNNING),
        lambda: store.set_tools("b", (), None),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.get("a").source == "src"
    store.delete("a")
    assert store.list() == []
    store.close()
