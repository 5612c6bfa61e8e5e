"""Where installed integrations live between runs: a small interface, SQLite behind it.

Secrets (the values of ``env`` and ``headers``) sit encrypted in their own column and leave
only through ``Integration.spec``, whose secret parts nothing in the API serialises. The
folder is 0700, the database and its WAL 0600, and deleted rows are zeroed and
checkpointed out of the WAL.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from mcp_integrations.errors import AlreadyInstalled, NotFound
from mcp_integrations.models import (
    Integration,
    IntegrationOptions,
    LaunchSpec,
    Status,
    ToolInfo,
)
from mcp_integrations.private import private_dir, touch_private
from mcp_integrations.vault import Vault

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
COLUMNS = "id, source, spec, env, desired, tools, server_info, installed_at, options"


class Store(Protocol):
    def get(self, integration_id: str) -> Integration: ...
    def list(self) -> list[Integration]: ...
    def add(self, integration: Integration) -> None: ...
    def delete(self, integration_id: str) -> None: ...
    def set_desired(self, integration_id: str, desired: Status) -> None: ...
    def set_tools(
        self, integration_id: str, tools: tuple[ToolInfo, ...], server_info: dict[str, Any] | None
    ) -> None: ...
    def close(self) -> None: ...


class SQLiteStore:
    """One SQLite file; each write is its own transaction, so a crash loses nothing stored."""

    def __init__(self, path: Path, vault: Vault | None = None) -> None:
        private_dir(path.parent)
        touch_private(path)
        for suffix in ("-wal", "-shm", "-journal"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                touch_private(companion)
        self._vault = vault or Vault.open(path.parent)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(integrations)")}
        for column, definition in ADDED_COLUMNS.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE integrations ADD COLUMN {column} {definition}")
        self._lock = threading.Lock()
        self._seal_plaintext_rows()

    def _seal_plaintext_rows(self) -> None:
        """Encrypt the env of rows written before secrets were sealed."""
        with self._lock:
            rows = self._db.execute("SELECT id, env FROM integrations").fetchall()
            plain = [(self._vault.seal(env), id_) for id_, env in rows if env.startswith("{")]
            if plain:
                self._db.executemany("UPDATE integrations SET env = ? WHERE id = ?", plain)
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _row(self, row: tuple[Any, ...]) -> Integration:
        id_, source, spec, env, desired, tools, server_info, installed_at, options = row
        return Integration(
            id=id_,
            source=source,
            spec=LaunchSpec.from_public(json.loads(spec), json.loads(self._vault.unseal(env))),
            desired=Status(desired),
            tools=tuple(ToolInfo.from_json(t) for t in json.loads(tools)),
            server_info=json.loads(server_info) if server_info else None,
            installed_at=installed_at,
            options=IntegrationOptions.from_json(json.loads(options)),
        )

    def get(self, integration_id: str) -> Integration:
        with self._lock:
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM integrations WHERE id = ?", (integration_id,)
            ).fetchone()
        if row is None:
            raise NotFound.integration(integration_id)
        return self._row(row)

    def list(self) -> list[Integration]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM integrations ORDER BY installed_at, id"
            ).fetchall()
        return [self._row(row) for row in rows]

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
            with self._lock:
                self._db.execute(
                    f"INSERT INTO integrations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
        except sqlite3.IntegrityError:
            raise AlreadyInstalled(
                f"an integration with id {integration.id!r} is installed"
            ) from None

    def _update(self, integration_id: str, sql: str, *args: Any) -> None:
        with self._lock:
            cursor = self._db.execute(sql, (*args, integration_id))
        if cursor.rowcount == 0:
            raise NotFound.integration(integration_id)

    def delete(self, integration_id: str) -> None:
        self._update(integration_id, "DELETE FROM integrations WHERE id = ?")
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
        with self._lock:
            self._db.close()
