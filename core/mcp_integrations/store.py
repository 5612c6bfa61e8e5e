"""Where installed integrations live between runs: a small interface, SQLite behind it.

Secrets (the values of ``env`` and ``headers``) sit encrypted in their own column and leave
only through ``Integration.spec``, whose secret parts nothing in the API serialises. The
folder is 0700, the database and its WAL 0600, and deleted rows are zeroed and
checkpointed out of the WAL.

Nothing stored is ever deleted to get going again: a damaged database is moved aside and
what it still holds is copied into a new one, a row that no longer decodes stays in the
table until someone removes it, and both are reported in ``problems``. A failed write is
``StorageFull`` or ``StorageUnavailable``, never a raw ``sqlite3`` error.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mcp_integrations.errors import (
    AlreadyInstalled,
    IntegrationsError,
    NotFound,
    SecretsUnreadable,
    StorageFull,
    StorageUnavailable,
    UnreadableIntegration,
)
from mcp_integrations.models import (
    Integration,
    IntegrationOptions,
    LaunchSpec,
    Status,
    ToolInfo,
)
from mcp_integrations.private import FILE_MODE, private_dir, touch_private
from mcp_integrations.vault import Vault

logger = logging.getLogger("mcp_integrations.store")
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS integrations (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    spec         TEXT NOT NULL,
    env          TEXT NOT NULL,
    desired      TEXT NOT NULL,
    tools        TEXT NOT NULL,
    server_info  TEXT,
    installed_at REAL NOT NULL,
    options      TEXT NOT NULL DEFAULT '{}'
)
"""
#: Columns added since the first release, for databases made before them.
ADDED_COLUMNS = {"options": "TEXT NOT NULL DEFAULT '{}'"}
COLUMN_NAMES = (
    "id",
    "source",
    "spec",
    "env",
    "desired",
    "tools",
    "server_info",
    "installed_at",
    "options",
)
COLUMNS = ", ".join(COLUMN_NAMES)
INSERT = f"INSERT OR IGNORE INTO integrations ({COLUMNS}) VALUES ({', '.join('?' * 9)})"
COMPANIONS = ("-wal", "-shm", "-journal")
#: Names a problem text lists before "and N more".
MAX_NAMES = 5
#: Rowids looked up one at a time when salvaging around a damaged page.
MAX_PROBES = 100_000


class Store(Protocol):
    @property
    def problems(self) -> list[str]: ...
    def get(self, integration_id: str) -> Integration: ...
    def list(self) -> list[Integration]: ...
    def unreadable(self) -> dict[str, str]: ...
    def add(self, integration: Integration) -> None: ...
    def delete(self, integration_id: str) -> None: ...
    def set_desired(self, integration_id: str, desired: Status) -> None: ...
    def set_tools(
        self, integration_id: str, tools: tuple[ToolInfo, ...], server_info: dict[str, Any] | None
    ) -> None: ...
    def close(self) -> None: ...


class _Damaged(Exception):
    """The file at the database's path is not a database this store can use."""


class _BadRow(Exception):
    """One part of a row does not decode; ``reason`` names the part, never its content."""

    def __init__(self, part: str, cause: Exception, message: str | None = None) -> None:
        super().__init__(part)
        self.part = part
        self.cause = cause
        self.reason = f"{part}: {type(cause).__name__}: {message or _short(cause)}"


def _short(exc: BaseException) -> str:
    """An exception's first line, without the file paths ``OSError`` adds."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    lines = text.strip().splitlines()
    return lines[0][:120] if lines else type(exc).__name__


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    more = len(names) - MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _part(part: str, make: Callable[[], T], message: str | None = None) -> T:
    try:
        return make()
    except Exception as exc:
        raise _BadRow(part, exc, message) from exc


def _fernet_shaped(token: object) -> bool:
    """Whether a sealed value has a Fernet token's form: a wrong key fails on those, while
    damage to the column mostly breaks the form."""
    if not isinstance(token, str):
        return False
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= 73 and raw[0] == 0x80 and (len(raw) - 57) % 16 == 0


def _lenient_text(raw: bytes) -> str:
    """TEXT that is not UTF-8 decodes with U+FFFD, so one such row fails alone."""
    return raw.decode("utf-8", "replace")


def _storage_error(exc: sqlite3.Error | OSError) -> IntegrationsError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return StorageFull(
            "the disk holding the data dir is full: the change was not recorded; free some "
            "space and try again"
        )
    return StorageUnavailable(
        f"the integrations database cannot be used ({_short(exc)}): nothing was recorded"
    )


@dataclass
class _Salvage:
    """The rows read from a damaged database, and how many it held when that is known."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    total: int | None = None
    ids: list[str] | None = None

    def summary(self, kept: set[str]) -> str:
        if self.total is None:
            return f"kept {len(kept)} integrations (how many were lost is unknown)"
        text = f"kept {len(kept)} of {max(self.total, len(kept))} integrations"
        lost = sorted({str(i) for i in self.ids or ()} - kept)
        return f"{text} (lost: {_names(lost)})" if lost else text


def _scan_into(found: dict[int, tuple[Any, ...]], db: sqlite3.Connection, sql: str) -> bool:
    """Read rows until the end (True) or the first error (False), keeping those read."""
    try:
        for rowid, *values in db.execute(sql):
            found[rowid] = tuple(values)
    except sqlite3.Error:
        return False
    return True


def _scalar(db: sqlite3.Connection, sql: str) -> Any:
    try:
        return db.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return None


def _read_rows(source: Path, options: str) -> _Salvage:
    """Every row of ``source`` that can be read: a plain scan, and past a damaged page a
    scan from the end and lookups one rowid at a time, so a bad page costs only its rows."""
    db = sqlite3.connect(f"{source.absolute().as_uri()}?{options}", uri=True)
    db.text_factory = _lenient_text
    try:
        present = {row[1] for row in db.execute("PRAGMA table_info(integrations)")}
        if not present:
            return _Salvage(total=0, ids=[])
        defaults = {"options": "'{}'"}
        select = ", ".join(c if c in present else defaults.get(c, "NULL") for c in COLUMN_NAMES)
        query = f"SELECT rowid, {select} FROM integrations"
        found: dict[int, tuple[Any, ...]] = {}
        if _scan_into(found, db, f"{query} ORDER BY rowid"):
            return _Salvage([found[rowid] for rowid in sorted(found)], len(found))
        low = max(found, default=0)
        _scan_into(found, db, f"{query} ORDER BY rowid DESC")
        high = _scalar(db, "SELECT max(rowid) FROM integrations")
        if not isinstance(high, int):
            high = max(found, default=low) + 1000
        for rowid in range(low + 1, min(high, low + MAX_PROBES) + 1):
            if rowid not in found:
                _scan_into(found, db, f"{query} WHERE rowid = {rowid}")
        try:
            index = "INDEXED BY sqlite_autoindex_integrations_1"
            ids: list[str] | None = [
                r[0] for r in db.execute(f"SELECT id FROM integrations {index}")
            ]
        except sqlite3.Error:
            ids = None
        total = _scalar(db, "SELECT count(*) FROM integrations")
        if not isinstance(total, int):
            total = len(ids) if ids is not None else None
        return _Salvage([found[rowid] for rowid in sorted(found)], total, ids)
    finally:
        db.close()


def _salvage(source: Path) -> _Salvage:
    """What ``source`` still holds, read without writing to it (``immutable`` reads the file
    alone, for when its journal or WAL keeps a read-only connection out)."""
    attempts: list[_Salvage] = []
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            attempts.append(_read_rows(source, options))
        except (sqlite3.Error, OSError):
            continue
        if attempts[-1].total == len(attempts[-1].rows):
            break
    return max(attempts, key=lambda s: (len(s.rows), s.total is not None), default=_Salvage())


def _insert(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> set[str]:
    """Copy salvaged rows as they are (a row that does not decode stays to be reported)."""
    db.execute("BEGIN")
    db.executemany(INSERT, rows)
    db.execute("COMMIT")
    return {str(row[0]) for row in db.execute("SELECT id FROM integrations")}


def _aside_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = candidate = f"{path.name}.damaged-{stamp}"
    counter = 1
    while any(os.path.lexists(path.with_name(candidate + s)) for s in ("", *COMPANIONS)):
        counter += 1
        candidate = f"{base}-{counter}"
    return path.with_name(candidate)


def _move_aside(path: Path, aside: Path) -> None:
    """Companions first: a WAL left behind would be replayed into the new database."""
    for suffix in (*COMPANIONS, ""):
        source = path.with_name(path.name + suffix)
        if os.path.lexists(source):
            os.rename(source, aside.with_name(aside.name + suffix))


def _write_fresh(path: Path, rows: list[tuple[Any, ...]]) -> None:
    """A new database at ``path`` holding ``rows``, built beside it and renamed into place
    whole, so a full disk never leaves an empty database that looks like a real one."""
    fd, name = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".salvage", dir=path.parent)
    os.close(fd)
    temp = Path(name)
    try:
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            db.execute(SCHEMA)
            _insert(db, rows)
        finally:
            db.close()
        os.replace(temp, path)
    except BaseException:
        for ours in (temp, temp.with_name(temp.name + "-journal")):
            ours.unlink(missing_ok=True)
        raise


class SQLiteStore:
    """One SQLite file; each write is its own transaction, so a crash loses nothing stored.

    Opening never fails on a damaged or empty database: see ``problems``. When no database
    file can be written at all, the store works from memory and says so in ``problems``.
    """

    def __init__(self, path: Path, vault: Vault | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._opened: list[str] = []
        self._bad: dict[str, str] = {}
        private_dir(path.parent)
        self._vault = vault or Vault.open(path.parent)
        self._db = self._open()
        try:
            self._read_all()
        except IntegrationsError as exc:
            self._problem(exc.message)

    @property
    def problems(self) -> list[str]:
        """What went wrong at open, and one line per row known not to decode."""
        rows = [
            f"integration {id_!r} cannot be read ({reason}); remove it and install it again"
            for id_, reason in self._bad.items()
        ]
        return [*self._opened, *rows]

    def _problem(self, text: str, level: int = logging.ERROR) -> None:
        self._opened.append(text)
        logger.log(level, "%s (data dir %s)", text, self.path.parent)

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except _Damaged as exc:
            reason = str(exc)
        except (sqlite3.Error, OSError) as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                why = f"the database could not be opened ({_short(exc)})"
                return self._in_memory(_salvage(self.path), why)
            reason = _short(exc)
        return self._recover(reason)

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        if os.path.lexists(path) and not path.is_file():
            raise _Damaged("it is not a file")
        try:
            for suffix in ("", *COMPANIONS):
                existing = path.with_name(path.name + suffix)
                if existing.exists():
                    existing.chmod(FILE_MODE)
                    existing.open("rb").close()
        except PermissionError as exc:
            raise _Damaged(f"it cannot be read: {_short(exc)}") from exc
        touch_private(path)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            had_table = self._prepare(db)
            self._seal_plaintext_rows(db)
        except BaseException:
            db.close()
            raise
        if not had_table:
            self._check_empty()
        return db

    def _prepare(self, db: sqlite3.Connection) -> bool:
        """Check, configure and migrate ``db``; whether it had the table before."""
        db.text_factory = _lenient_text
        db.execute("PRAGMA busy_timeout=5000")
        verdict = [str(row[0]) for row in db.execute("PRAGMA quick_check")]
        if verdict != ["ok"]:
            detail = verdict[-1].replace("*** in database main ***", "").strip()
            raise _Damaged(f"database disk image is malformed: {detail[:120]}")
        db.execute("PRAGMA secure_delete=ON")
        db.execute("PRAGMA journal_mode=WAL")
        had_table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'integrations'"
        ).fetchone()
        db.execute(SCHEMA)
        present = {row[1] for row in db.execute("PRAGMA table_info(integrations)")}
        for column, definition in ADDED_COLUMNS.items():
            if column not in present:
                db.execute(f"ALTER TABLE integrations ADD COLUMN {column} {definition}")
        return had_table is not None

    def _seal_plaintext_rows(self, db: sqlite3.Connection) -> None:
        """Encrypt the env of rows written before secrets were sealed."""
        rows = db.execute("SELECT id, env FROM integrations").fetchall()
        plain = [
            (self._vault.seal(env), id_)
            for id_, env in rows
            if isinstance(env, str) and env.startswith("{")
        ]
        if plain:
            db.executemany("UPDATE integrations SET env = ? WHERE id = ?", plain)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _check_empty(self) -> None:
        """An empty database beside integration folders or earlier damaged copies is lost
        records, not a first run."""
        try:
            folder = self.path.parent / "integrations"
            names = (
                sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
            )
            copies = sorted(
                p.name
                for p in self.path.parent.glob(f"{self.path.name}.damaged-*")
                if not p.name.endswith(COMPANIONS)
            )
        except OSError:
            return
        if names:
            self._problem(
                f"the database is empty but {len(names)} integration folders exist "
                f"({_names(names)}): their records were lost",
                logging.WARNING,
            )
        if copies:
            self._problem(
                f"the database is empty but damaged copies of it are beside it "
                f"({_names(copies)}): what they held was not recovered",
                logging.WARNING,
            )

    def _recover(self, reason: str) -> sqlite3.Connection:
        """Move the damaged file aside and start again with every row it still gives up."""
        aside = _aside_name(self.path)
        try:
            _move_aside(self.path, aside)
        except OSError as exc:
            source = aside if os.path.lexists(aside) else self.path
            why = f"the database is damaged ({reason}) and could not be moved aside ({_short(exc)})"
            return self._in_memory(_salvage(source), why)
        salvage = _salvage(aside)
        text = f"the database was damaged ({reason}); moved it to {aside.name}"
        try:
            _write_fresh(self.path, salvage.rows)
            db = self._connect()
        except (sqlite3.Error, OSError, _Damaged) as exc:
            why = f"{text}; a new database could not be written ({_short(exc)})"
            return self._in_memory(salvage, why)
        kept = {str(row[0]) for row in db.execute("SELECT id FROM integrations")}
        self._problem(f"{text} and {salvage.summary(kept)}")
        return db

    def _in_memory(self, salvage: _Salvage, why: str) -> sqlite3.Connection:
        """The last resort: the rows that could be read, in memory, loudly."""
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._prepare(db)
        kept = _insert(db, salvage.rows)
        self._seal_plaintext_rows(db)
        self._problem(
            f"{why}: {salvage.summary(kept)} in memory only; changes will not be kept after "
            "a restart"
        )
        return db

    @contextmanager
    def _sql(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a failure becomes a typed storage error
        (``IntegrityError`` passes, for callers that expect it)."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.IntegrityError:
                raise
            except (sqlite3.Error, OSError) as exc:
                raise _storage_error(exc) from exc

    def _decode(self, row: tuple[Any, ...]) -> Integration:
        id_, source, spec, env, desired, tools, server_info, installed_at, options = row
        sealed = _part("env", lambda: json.loads(self._vault.unseal(env)))
        return Integration(
            id=id_,
            source=source,
            spec=_part("spec", lambda: LaunchSpec.from_public(json.loads(spec), sealed)),
            desired=_part("desired", lambda: Status(desired), "not a known status"),
            tools=_part("tools", lambda: tuple(ToolInfo.from_json(t) for t in json.loads(tools))),
            server_info=_part(
                "server_info", lambda: json.loads(server_info) if server_info else None
            ),
            installed_at=_part("installed_at", lambda: float(installed_at), "not a number"),
            options=_part("options", lambda: IntegrationOptions.from_json(json.loads(options))),
        )

    def _read_all(self) -> tuple[list[Integration], dict[str, str]]:
        """Every row that decodes, and why the others do not. When no row's secrets unseal
        and some look sealed, the key is wrong rather than the rows: ``SecretsUnreadable``."""
        with self._sql() as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM integrations ORDER BY installed_at, id"
            ).fetchall()
        found: list[Integration] = []
        bad: dict[str, str] = {}
        unsealed = 0
        wrong_key: SecretsUnreadable | None = None
        for row in rows:
            try:
                found.append(self._decode(row))
                unsealed += 1
            except _BadRow as exc:
                bad[str(row[0])] = exc.reason
                if exc.part != "env":
                    unsealed += 1
                elif isinstance(exc.cause, SecretsUnreadable) and _fernet_shaped(row[3]):
                    wrong_key = exc.cause
        if wrong_key is not None and unsealed == 0:
            raise wrong_key
        for id_ in bad.keys() - self._bad.keys():
            logger.error("integration %r cannot be read (%s); it is skipped", id_, bad[id_])
        self._bad = bad
        return found, bad

    def get(self, integration_id: str) -> Integration:
        with self._sql() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM integrations WHERE id = ?", (integration_id,)
            ).fetchone()
        if row is None:
            raise NotFound.integration(integration_id)
        try:
            return self._decode(row)
        except _BadRow as exc:
            if exc.part == "env":
                self._read_all()
            self._bad = {**self._bad, integration_id: exc.reason}
            raise UnreadableIntegration(integration_id, exc.reason) from None

    def list(self) -> list[Integration]:
        """Every integration that decodes; see ``unreadable`` for the rest."""
        return self._read_all()[0]

    def unreadable(self) -> dict[str, str]:
        """The rows ``list`` skips, by id, with why (the part and the error, no content)."""
        return dict(self._read_all()[1])

    def add(self, integration: Integration) -> None:
        values = (
            integration.id,
            integration.source,
            json.dumps(integration.spec.public()),
            self._vault.seal(json.dumps(integration.spec.sealed())),
            integration.desired.value,
            json.dumps([t.to_json() for t in integration.tools]),
            json.dumps(integration.server_info) if integration.server_info else None,
            integration.installed_at or time.time(),
            json.dumps(integration.options.to_json()),
        )
        try:
            with self._sql() as db:
                db.execute(
                    f"INSERT INTO integrations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
        except sqlite3.IntegrityError:
            raise AlreadyInstalled(
                f"an integration with id {integration.id!r} is installed"
            ) from None

    def _update(self, integration_id: str, sql: str, *args: Any) -> None:
        with self._sql() as db:
            cursor = db.execute(sql, (*args, integration_id))
        if cursor.rowcount == 0:
            raise NotFound.integration(integration_id)

    def delete(self, integration_id: str) -> None:
        """Remove the row, readable or not; the WAL checkpoint after it is best effort,
        since the removal itself is already recorded."""
        self._update(integration_id, "DELETE FROM integrations WHERE id = ?")
        self._bad = {k: v for k, v in self._bad.items() if k != integration_id}
        try:
            with self._sql() as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except IntegrationsError as exc:
            logger.warning("removed %r; the WAL still holds its old row: %s", integration_id, exc)

    def set_desired(self, integration_id: str, desired: Status) -> None:
        self._update(
            integration_id, "UPDATE integrations SET desired = ? WHERE id = ?", desired.value
        )

    def set_tools(
        self, integration_id: str, tools: tuple[ToolInfo, ...], server_info: dict[str, Any] | None
    ) -> None:
        self._update(
            integration_id,
            "UPDATE integrations SET tools = ?, server_info = ? WHERE id = ?",
            json.dumps([t.to_json() for t in tools]),
            json.dumps(server_info) if server_info else None,
        )

    def close(self) -> None:
        with self._sql() as db:
            db.close()
