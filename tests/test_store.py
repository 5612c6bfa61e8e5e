"""The SQLite store: round trips, secrets kept apart, typed errors, nothing lost on reopen."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mcp_integrations.errors import (
    AlreadyInstalled,
    NotFound,
    SecretsUnreadable,
    StorageFull,
    StorageUnavailable,
    UnreadableIntegration,
)
from mcp_integrations.models import Integration, IntegrationOptions, LaunchSpec, Status, ToolInfo
from mcp_integrations.store import SQLiteStore
from mcp_integrations.vault import KEY_ENV, Vault
from tests.conftest import MakeClient, MakeTmpfs
from tests.helpers import fill_disk

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


def _write_raw(path: Path, sql: str, *args: object) -> None:
    """Change the database behind the store's back, as damage or another tool would."""
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, args)
    db.close()


def _spec(number: int) -> LaunchSpec:
    """A spec big enough that two rows fill a page, so damage to one page costs few rows."""
    return LaunchSpec(runtime="subprocess", description=f"row-{number}-" + "x" * 1500)


def _nine_rows(path: Path) -> None:
    store = SQLiteStore(path)
    for number in range(9):
        store.add(Integration(f"i{number}", "src", _spec(number)))
    store.close()


def _zero_page_holding(path: Path, marker: bytes) -> bytes:
    """Overwrite with zeros the page whose bytes hold ``marker``; the damaged file's bytes."""
    with sqlite3.connect(path) as db:
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    data = bytearray(path.read_bytes())
    start = data.index(marker) // page_size * page_size
    data[start : start + page_size] = bytes(page_size)
    path.write_bytes(bytes(data))
    return bytes(data)


def _aside(path: Path) -> list[Path]:
    """The damaged files moved aside (without the WAL and index that reading them left)."""
    return sorted(
        p
        for p in path.parent.glob(f"{path.name}.damaged-*")
        if not p.name.endswith(("-wal", "-shm"))
    )


def test_a_damaged_page_costs_only_its_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db.sqlite3"
    _nine_rows(path)
    damaged = _zero_page_holding(path, b"row-4-")
    store = SQLiteStore(path)
    kept = {i.id for i in store.list()}
    assert "i4" not in kept and len(kept) >= 7
    assert kept <= {f"i{n}" for n in range(9)}
    (aside,) = _aside(path)
    assert aside.read_bytes() == damaged
    (problem,) = store.problems
    assert "damaged (database disk image is malformed" in problem and aside.name in problem
    assert f"kept {len(kept)} of 9 integrations (lost: " in problem and "i4" in problem
    assert any(
        r.levelname == "ERROR" and r.name == "mcp_integrations.store" for r in caplog.records
    )
    assert store.get("i0").spec == _spec(0)
    store.add(Integration("new", "src", SPEC))
    store.close()
    reopened = SQLiteStore(path)
    assert {i.id for i in reopened.list()} == kept | {"new"}
    assert reopened.problems == []
    reopened.close()


def test_quick_check_finds_damage_the_first_query_does_not_see(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _nine_rows(path)
    with sqlite3.connect(path) as db:
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_integrations_1'"
        ).fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)
    with sqlite3.connect(path) as db:
        assert len(db.execute("SELECT id FROM integrations NOT INDEXED").fetchall()) == 9
    db.close()
    store = SQLiteStore(path)
    (problem,) = store.problems
    assert "damaged" in problem and "kept 9 of 9 integrations" in problem
    assert len(store.list()) == 9
    store.close()


def _not_a_database(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database, whatever its name says\n" * 100)


def _truncated(path: Path) -> None:
    _nine_rows(path)
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


@pytest.mark.parametrize("damage", [_not_a_database, _truncated], ids=["garbage", "truncated"])
def test_a_damaged_file_is_moved_aside_never_deleted(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    path = tmp_path / "db.sqlite3"
    damage(path)
    original = path.read_bytes()
    store = SQLiteStore(path)
    (aside,) = _aside(path)
    assert aside.read_bytes() == original
    assert re.fullmatch(r"db\.sqlite3\.damaged-\d{8}T\d{6}Z", aside.name)
    (problem,) = store.problems
    assert problem.startswith("the database was damaged (") and aside.name in problem
    store.add(Integration("new", "src", SPEC))
    assert "new" in {i.id for i in store.list()}
    store.close()


def test_a_folder_in_the_database_s_place_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    (path / "inside").mkdir(parents=True)
    store = SQLiteStore(path)
    (aside,) = _aside(path)
    assert (aside / "inside").is_dir()
    assert "not a file" in store.problems[0] and "kept 0" in store.problems[0]
    store.add(Integration("a", "src", SPEC))
    assert store.get("a").spec == SPEC
    store.close()


def test_damage_twice_keeps_both_damaged_files(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    for text in (b"first", b"second"):
        path.write_bytes(text * 1000)
        SQLiteStore(path).close()
    assert sorted(p.read_bytes()[:6] for p in _aside(path)) == [b"firstf", b"second"]


@pytest.mark.parametrize(
    ("column", "value", "part"),
    [
        ("spec", "{not json", "spec: JSONDecodeError"),
        ("spec", "[1, 2]", "spec: AttributeError"),
        ("spec", '{"command": []}', "spec: TypeError"),
        ("env", "gAAAAA-not-a-token", "env: SecretsUnreadable"),
        ("desired", "sideways", "desired: ValueError: not a known status"),
        ("tools", '[{"no": "name"}]', "tools: KeyError"),
        ("options", "nope", "options: JSONDecodeError"),
        ("installed_at", "yesterday", "installed_at: ValueError: not a number"),
    ],
)
def test_one_bad_row_is_skipped_kept_and_named(
    tmp_path: Path, column: str, value: str, part: str
) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    store.add(Integration("good", "src", SPEC))
    store.add(Integration("bad", "src", SPEC))
    _write_raw(path, f"UPDATE integrations SET {column} = ? WHERE id = 'bad'", value)
    assert [i.id for i in store.list()] == ["good"]
    reasons = store.unreadable()
    assert list(reasons) == ["bad"] and reasons["bad"].startswith(part)
    assert value not in reasons["bad"]
    with pytest.raises(UnreadableIntegration, match=r"'bad' cannot be read .* remove it") as err:
        store.get("bad")
    assert (err.value.status, err.value.code) == (409, "unreadable_integration")
    assert store.problems == [
        f"integration 'bad' cannot be read ({reasons['bad']}); remove it and install it again"
    ]
    with sqlite3.connect(path) as db:
        assert db.execute(f"SELECT {column} FROM integrations WHERE id = 'bad'").fetchone() == (
            value,
        )
    db.close()
    assert store.get("good").spec == SPEC
    store.delete("bad")
    assert store.unreadable() == {} and store.problems == []
    assert [i.id for i in store.list()] == ["good"]
    store.close()


def test_bad_rows_are_reported_at_open(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "db.sqlite3"
    SQLiteStore(path).close()
    _write_raw(
        path,
        f"INSERT INTO integrations ({', '.join(['id', 'source', 'spec', 'env', 'desired'])}, "
        "tools, installed_at) VALUES ('bad', 'src', 'oops', 'x', 'stopped', '[]', 1.0)",
    )
    store = SQLiteStore(path)
    assert store.list() == []
    assert store.problems[0].startswith("integration 'bad' cannot be read (env: ")
    assert [r.levelname for r in caplog.records if r.name == "mcp_integrations.store"] == ["ERROR"]
    store.close()


def test_one_row_sealed_with_another_key_is_a_bad_row_not_a_wrong_key(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    store.add(Integration("good", "src", SPEC))
    store.add(Integration("bad", "src", SPEC))
    foreign = Vault(Fernet.generate_key()).seal(json.dumps(SPEC.sealed()))
    _write_raw(path, "UPDATE integrations SET env = ? WHERE id = 'bad'", foreign)
    assert [i.id for i in store.list()] == ["good"]
    assert store.unreadable()["bad"].startswith("env: SecretsUnreadable: stored secrets")
    with pytest.raises(UnreadableIntegration):
        store.get("bad")
    store.close()


def test_a_wrong_key_is_not_mistaken_for_bad_rows(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.add(Integration("a", "src", SPEC))
    store.close()
    reopened = SQLiteStore(tmp_path / "db.sqlite3", Vault(Fernet.generate_key()))
    assert "not the key" in reopened.problems[0]
    for call in (reopened.get, lambda _: reopened.unreadable()):
        with pytest.raises(SecretsUnreadable, match="not the key"):
            call("a")
    reopened.close()


@pytest.mark.parametrize("empty", ["zero bytes", "no table"])
def test_an_empty_database_beside_integration_folders_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, empty: str
) -> None:
    path = tmp_path / "db.sqlite3"
    if empty == "zero bytes":
        path.touch()
    else:
        _write_raw(path, "CREATE TABLE other (x)")
    for name in ("c", "a", "b", "d", "e", "f", "g"):
        (tmp_path / "integrations" / name).mkdir(parents=True)
    store = SQLiteStore(path)
    assert store.problems == [
        "the database is empty but 7 integration folders exist (a, b, c, d, e and 2 more): "
        "their records were lost"
    ]
    assert [r.levelname for r in caplog.records if r.name == "mcp_integrations.store"] == [
        "WARNING"
    ]
    assert list(tmp_path.glob("*.damaged-*")) == []
    store.close()


def test_a_first_run_has_no_problems(tmp_path: Path) -> None:
    (tmp_path / "integrations").mkdir()
    store = SQLiteStore(tmp_path / "db.sqlite3")
    assert store.problems == []
    store.close()


def test_a_closed_store_is_unavailable_not_a_raw_sqlite_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.close()
    with pytest.raises(StorageUnavailable) as err:
        store.list()
    assert (err.value.status, err.value.code) == (503, "storage_unavailable")


@pytest.fixture
def small_disk(make_tmpfs: MakeTmpfs) -> Path:
    return make_tmpfs("512k")


def test_a_full_disk_is_storage_full_and_loses_nothing_stored(small_disk: Path) -> None:
    store = SQLiteStore(small_disk / "db.sqlite3")
    for number in range(3):
        store.add(Integration(f"i{number}", "src", _spec(number)))
    filler = fill_disk(small_disk)
    big = LaunchSpec(runtime="subprocess", description="y" * 100_000)
    with pytest.raises(StorageFull, match="disk holding the data dir is full") as err:
        store.add(Integration("big", "src", big))
    assert (err.value.status, err.value.code) == (507, "storage_full")
    assert [i.spec for i in store.list()] == [_spec(n) for n in range(3)]
    with pytest.raises(NotFound):
        store.get("big")
    filler.unlink()
    store.add(Integration("big", "src", big))
    assert store.get("big").spec == big
    store.close()


def test_no_room_for_a_new_database_falls_back_to_memory_loudly(small_disk: Path) -> None:
    path = small_disk / "db.sqlite3"
    vault = Vault.open(small_disk)
    _not_a_database(path)
    fill_disk(small_disk)
    store = SQLiteStore(path, vault)
    (aside,) = _aside(path)
    assert aside.read_bytes().startswith(b"this is not an SQLite database")
    (problem,) = store.problems
    assert "could not be written" in problem and "changes will not be kept" in problem
    assert list(small_disk.glob("*.salvage*")) == [] and not path.exists()
    store.add(Integration("a", "src", SPEC))
    assert store.get("a").spec == SPEC
    store.close()
    (small_disk / "filler").unlink()
    reopened = SQLiteStore(path, vault)
    assert reopened.problems == [
        f"the database is empty but damaged copies of it are beside it ({aside.name}): what "
        "they held was not recovered"
    ]
    reopened.close()


def test_a_read_only_database_is_read_into_memory_loudly(small_disk: Path) -> None:
    """A database that cannot be opened for writing, undamaged: nothing is moved aside."""
    path = small_disk / "db.sqlite3"
    store = SQLiteStore(path)
    store.add(Integration("a", "src", SPEC))
    store.close()
    original = path.read_bytes()
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        store = SQLiteStore(path)
        (problem,) = store.problems
        assert problem.startswith("the database could not be opened (Read-only file system)")
        assert "kept 1 of 1 integrations in memory only; changes will not be kept" in problem
        assert store.get("a").spec == SPEC
        store.set_desired("a", Status.RUNNING)
        store.close()
    finally:
        subprocess.run(["umount", str(path)], check=True)
    assert path.read_bytes() == original and _aside(path) == []


def test_health_shows_the_store_s_problems(data_dir: Path, make_client: MakeClient) -> None:
    data_dir.mkdir(mode=0o700)
    _not_a_database(data_dir / "integrations.sqlite3")
    health = make_client().get("/health")
    assert health.status_code == 200
    body = health.json()
    assert (body["status"], body["ready"], body["integrations"]) == ("degraded", True, 0)
    (problem,) = body["problems"]
    assert problem.startswith("the database was damaged (file is not a database); moved it to ")
    assert str(data_dir) not in problem
