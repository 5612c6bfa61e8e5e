"""The database side of postgresql-connector: one connection, one transaction per call.

Reads run in a ``READ ONLY`` transaction that is always rolled back, through the extended
query protocol (one statement per call, enforced by the server), under a statement
timeout; so nothing sent as a query can change data, however it is written.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import psycopg

from mcp_integrations.redact import Redactor

JSONValue = Any


class DatabaseError(Exception):
    """A failure to show the caller as a tool error; the message carries no secret."""


def to_json(value: Any) -> JSONValue:
    """A JSON-safe form of a value psycopg loaded, exact where JSON numbers are not."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time | datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return str(value)


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[list[JSONValue]]
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated,
        }


class Database:
    """A lazily opened connection to ``url``, reopened after it breaks."""

    def __init__(self, url: str, *, statement_timeout_ms: int, max_rows: int) -> None:
        self._url = url
        self.statement_timeout_ms = statement_timeout_ms
        self.max_rows = max_rows
        self._redact = Redactor([url])
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = anyio.Lock()

    def _error(self, exc: psycopg.Error) -> DatabaseError:
        diag = exc.diag
        if diag.message_primary:
            text = diag.message_primary
            if diag.sqlstate:
                text = f"{text} (SQLSTATE {diag.sqlstate})"
            if diag.message_detail:
                text += f"\nDETAIL: {diag.message_detail}"
            if diag.message_hint:
                text += f"\nHINT: {diag.message_hint}"
        else:
            text = str(exc).strip()
        if isinstance(exc, psycopg.errors.QueryCanceled):
            text += f"\nthe statement timeout is {self.statement_timeout_ms} ms"
        elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            text += "\nthe query tool is read-only; use the execute tool to change data"
        return DatabaseError(self._redact(f"PostgreSQL error: {text}"))

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=10,
                    application_name="mcp-postgresql",
                )
            except psycopg.Error as exc:
                raise DatabaseError(
                    self._redact(f"cannot connect to the database: {str(exc).strip()}")
                ) from None
        return self._conn

    @asynccontextmanager
    async def _transaction(self, *, read_only: bool) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        async with self._lock:
            conn = await self._connection()
            try:
                async with conn.transaction(force_rollback=read_only), conn.cursor() as cur:
                    if read_only:
                        await cur.execute("SET TRANSACTION READ ONLY")
                    await cur.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        (str(self.statement_timeout_ms),),
                    )
                    yield cur
            except psycopg.Error as exc:
                raise self._error(exc) from None

    async def query(self, statement: str, params: Sequence[Any], max_rows: int) -> Rows:
        """Run one statement in a read-only transaction, streaming at most ``max_rows`` rows
        so a huge result never reaches memory."""
        limit = min(max_rows, self.max_rows)
        rows: list[list[JSONValue]] = []
        truncated = False
        async with self._transaction(read_only=True) as cur:
            async for row in cur.stream(statement, params):
                if len(rows) == limit:
                    truncated = True
                    break
                rows.append([to_json(v) for v in row])
            columns = [c.name for c in cur.description or ()]
        return Rows(columns, rows, truncated)

    async def execute(self, statement: str, params: Sequence[Any]) -> dict[str, Any]:
        """Run one statement that may write, committed on success."""
        async with self._transaction(read_only=False) as cur:
            await cur.execute(statement, params, binary=True)
            result: dict[str, Any] = {"status": cur.statusmessage, "row_count": cur.rowcount}
            if cur.description:
                fetched = await cur.fetchmany(self.max_rows + 1)
                result["columns"] = [c.name for c in cur.description]
                result["rows"] = [[to_json(v) for v in row] for row in fetched[: self.max_rows]]
                result["truncated"] = len(fetched) > self.max_rows
        return result

    async def list_tables(self, schema: str | None) -> list[dict[str, Any]]:
        query = """
            SELECT n.nspname, c.relname,
                   CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                        WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'f' THEN 'foreign table' END,
                   obj_description(c.oid, 'pg_class')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
              AND (%s::text IS NULL OR n.nspname = %s::text)
              AND has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')
            ORDER BY 1, 2
        """
        async with self._transaction(read_only=True) as cur:
            await cur.execute(query, (schema, schema))
            found = await cur.fetchall()
        return [
            {"schema": s, "name": n, "type": t, **({"comment": c} if c else {})}
            for s, n, t, c in found
        ]

    async def describe_table(self, schema: str, table: str) -> dict[str, Any] | None:
        columns_query = """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
        """
        keys_query = """
            SELECT a.attname
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
            WHERE n.nspname = %s AND c.relname = %s AND i.indisprimary
            ORDER BY array_position(i.indkey, a.attnum)
        """
        async with self._transaction(read_only=True) as cur:
            await cur.execute(columns_query, (schema, table))
            columns = await cur.fetchall()
            await cur.execute(keys_query, (schema, table))
            keys = [row[0] for row in await cur.fetchall()]
        if not columns:
            return None
        return {
            "schema": schema,
            "table": table,
            "columns": [
                {
                    "name": name,
                    "type": type_,
                    "nullable": nullable,
                    "default": default,
                    **({"comment": comment} if comment else {}),
                }
                for name, type_, nullable, default, comment in columns
            ],
            "primary_key": keys,
        }

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
