"""The SQLite store: round trips, secrets kept apart, typed errors, nothing lost on reopen."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mcp_integrations.errors import AlreadyInstalled, NotFound, SecretsUnreadable
from mcp_integrations.models import Integration, IntegrationOptions, LaunchSpec, Status, ToolInfo
from mcp_integrations.store import SQLiteStore
from mcp_integrations.vault import KEY_ENV, Vault

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
    options = IntegrationOptions(call_timeout=5.0, start_on_demand=True)
    store.add(Integration("a", "src", SPEC, options=options))
    tool = ToolInfo.from_wire(
        {
            "name": "t",
            "title": "T",
            "inputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": True},
        }
    )
    store.set_tools("a", (tool,), {"name": "srv"})
    store.set_desired("a", Status.RUNNING)
    store.close()

    reopened = SQLiteStore(path)
    (got,) = reopened.list()
    assert got.spec == SPEC and got.spec.env == {"TOKEN": "secret-value"}
    assert got.tools == (tool,) and got.options == options
    assert got.tools[0].to_json()["annotations"] == {"readOnlyHint": True}
    assert (got.desired, got.server_info) == (Status.RUNNING, {"name": "srv"})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    reopened.close()


def _disk_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_secret_values_are_sealed_in_the_env_column(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.add(Integration("a", "src", SPEC))
    assert b"secret-value" not in _disk_bytes(tmp_path)
    store.close()
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        spec, env = db.execute("SELECT spec, env FROM integrations").fetchone()
    assert "secret-value" not in spec and "secret-value" not in env
    assert json.loads(Vault.open(tmp_path).unseal(env))["env"] == {"TOKEN": "secret-value"}


def test_every_file_and_folder_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = SQLiteStore(folder / "db.sqlite3")
    store.add(Integration("a", "src", SPEC))
    names = {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir()}
    assert names == {
        "db.sqlite3": "0o600",
        "db.sqlite3-wal": "0o600",
        "db.sqlite3-shm": "0o600",
        "secret.key": "0o600",
    }
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    store.close()


def test_no_trace_of_a_secret_after_delete(tmp_path: Path) -> None:
    """Neither the value nor its ciphertext survives in the database, its WAL or free pages."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.add(Integration("a", "src", SPEC))
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        (sealed,) = db.execute("SELECT env FROM integrations").fetchone()
    assert sealed.encode() in _disk_bytes(tmp_path)
    store.delete("a")
    assert sealed.encode() not in _disk_bytes(tmp_path)
    assert b"secret-value" not in _disk_bytes(tmp_path)
    store.close()


#: The table as the first release made it: no ``options`` column, ``env`` in plain text.
FIRST_SCHEMA = """
CREATE TABLE integrations (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, spec TEXT NOT NULL, env TEXT NOT NULL,
    desired TEXT NOT NULL, tools TEXT NOT NULL, server_info TEXT, installed_at REAL NOT NULL
)
"""


def test_plaintext_rows_of_an_older_hub_are_sealed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(FIRST_SCHEMA)
        db.execute(
            "INSERT INTO integrations VALUES ('a', 'src', ?, ?, 'stopped', '[]', NULL, 1.0)",
            (json.dumps(SPEC.public()), json.dumps(dict(SPEC.env))),
        )
    db.close()
    store = SQLiteStore(path)
    assert store.get("a").spec.env == {"TOKEN": "secret-value"}
    assert store.get("a").options == IntegrationOptions()
    assert b"secret-value" not in _disk_bytes(tmp_path)
    store.close()


def test_a_wrong_key_is_a_clear_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.add(Integration("a", "src", SPEC))
    store.close()
    other = Vault(Fernet.generate_key())
    reopened = SQLiteStore(tmp_path / "db.sqlite3", other)
    with pytest.raises(SecretsUnreadable, match="not the key"):
        reopened.list()
    reopened.close()
    assert SQLiteStore(tmp_path / "db.sqlite3").get("a").spec.env == SPEC.env


def test_the_key_can_come_from_the_environment(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    vault = Vault.open(tmp_path, {KEY_ENV: key})
    assert not (tmp_path / "secret.key").exists()
    assert Vault(key.encode()).unseal(vault.seal("x")) == "x"
    with pytest.raises(SecretsUnreadable, match="not a Fernet key"):
        Vault.open(tmp_path, {KEY_ENV: "short"})


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
