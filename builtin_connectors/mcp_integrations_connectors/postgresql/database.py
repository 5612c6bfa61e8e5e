"""The database side of postgresql-connector: one connection, one transaction per call.

Reads are first classified by PostgreSQL's own parser (:mod:`.statements`): one plain read,
calling no function that acts outside the transaction. They then run in a ``READ ONLY``
transaction that is always rolled back, through the extended query protocol (one statement
per call, enforced by the server), under a statement timeout. After every call the session
is reset (``DISCARD ALL``: advisory locks, settings, role, cursors, temporary tables), so
nothing one call does carries over to the next.
"""

from __future__ import annotations

import datetime
import decimal
import json
import sys
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import anyio
import psycopg
from psycopg.conninfo import conninfo_to_dict

from mcp_integrations.redact import Redactor
from mcp_integrations_connectors.postgresql import privileges
from mcp_integrations_connectors.postgresql.placeholders import PlaceholderError, to_numbered
from mcp_integrations_connectors.postgresql.privileges import Privileges
from mcp_integrations_connectors.postgresql.statements import NotAllowed, check_read_only

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


class Capped:
    """Rows turned into JSON until the row or the byte budget runs out; ``truncated`` once
    a row had to be left out."""

    def __init__(self, max_rows: int, max_bytes: int) -> None:
        self.rows: list[list[JSONValue]] = []
        self.truncated = False
        self._max_rows = max_rows
        self._bytes_left = max_bytes - len("[]")

    def add(self, row: Sequence[Any]) -> bool:
        """Keep ``row`` if it fits; False once the budget is spent, so the caller stops."""
        if len(self.rows) >= self._max_rows:
            self.truncated = True
            return False
        values = [to_json(v) for v in row]
        size = len(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        if size > self._bytes_left:
            self.truncated = True
            return False
        self._bytes_left -= size
        self.rows.append(values)
        return True


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


def _secrets(url: str) -> list[str]:
    """The URL and, for a ``key=value`` connection string too, the password inside it."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    return [url, str(password)] if password else [url]


class Database:
    """A lazily opened connection to ``url``, reopened after it breaks."""

    def __init__(
        self, url: str, *, statement_timeout_ms: int, max_rows: int, max_result_bytes: int
    ) -> None:
        self._url = url
        self.statement_timeout_ms = statement_timeout_ms
        self.max_rows = max_rows
        self.max_result_bytes = max_result_bytes
        self.privileges: Privileges | None = None
        self._redact = Redactor(_secrets(url))
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
                # No server-side prepared statements: DISCARD ALL after each call drops
                # them, and psycopg would go on using its cached names.
                self._conn = await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=10,
                    application_name="mcp-postgresql",
                    prepare_threshold=None,
                )
            except psycopg.Error as exc:
                raise DatabaseError(
                    self._redact(f"cannot connect to the database: {str(exc).strip()}")
                ) from None
            await self._check_privileges(self._conn)
        return self._conn

    async def _check_privileges(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Learn what the role can do outside the database; warn on stderr when that is
        news (the first connection, or a reconnection that found a different role)."""
        try:
            found = await privileges.check(conn)
        except psycopg.Error as exc:
            print(self._redact(f"cannot check the role's privileges: {exc}"), file=sys.stderr)
            return
        if found != self.privileges and found.warning:
            print(f"postgresql-connector: {found.warning}", file=sys.stderr, flush=True)
        self.privileges = found

    async def connect(self) -> None:
        """Open the connection now (and learn the role's privileges) rather than on first use."""
        async with self._lock:
            await self._connection()

    async def _reset(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Give the next call a clean session: DISCARD ALL releases advisory locks and
        resets settings, role, cursors, LISTENs and temporary tables. A session that cannot
        be reset is closed instead, which releases all of it too."""
        if conn.closed or conn.broken:
            return
        try:
            await conn.execute("DISCARD ALL")
        except psycopg.Error:
            await conn.close()

    @asynccontextmanager
    async def _transaction(self, *, read_only: bool) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        async with self._lock:
            conn = await self._connection()
            try:
                async with conn.transaction(force_rollback=read_only), conn.cursor() as cur:
                    if read_only:
                        await cur.execute("SET TRANSACTION READ ONLY")
                    # Strings lexed as the classifier lexed them, whatever the role's default.
                    await cur.execute(
                        "SELECT set_config('statement_timeout', %s, true),"
                        " set_config('standard_conforming_strings', 'on', true)",
                        (str(self.statement_timeout_ms),),
                    )
                    yield cur
            except psycopg.Error as exc:
                raise self._error(exc) from None
            finally:
                with anyio.CancelScope(shield=True):
                    await self._reset(conn)

    def _numbered(self, statement: str, params: Sequence[Any]) -> str:
        try:
            return to_numbered(statement, len(params))
        except PlaceholderError as exc:
            raise DatabaseError(str(exc)) from None

    async def query(self, statement: str, params: Sequence[Any], max_rows: int) -> Rows:
        """Run one plain read in a read-only transaction, streaming rows until ``max_rows``
        or the byte cap, so a huge result never reaches memory.

        The text checked is the text sent: placeholders are numbered first, then the
        statement is classified, then sent verbatim through a raw cursor."""
        sql = self._numbered(statement, params)
        try:
            check_read_only(sql)
        except NotAllowed as exc:
            raise DatabaseError(f"the query tool refused this statement: {exc}") from None
        capped = Capped(min(max_rows, self.max_rows), self.max_result_bytes)
        async with (
            self._transaction(read_only=True) as cur,
            psycopg.AsyncRawCursor(cur.connection) as raw,
        ):
            # stream() is an async generator: close it on an early break, which cancels
            # the rest of the query, before the transaction ends.
            stream = cast(AsyncGenerator[Any, None], raw.stream(sql, list(params) or None))
            async with aclosing(stream) as rows:
                async for row in rows:
                    if not capped.add(row):
                        break
            columns = [c.name for c in raw.description or ()]
        return Rows(columns, capped.rows, capped.truncated)

    async def execute(self, statement: str, params: Sequence[Any]) -> dict[str, Any]:
        """Run one statement that may write, committed on success."""
        sql = self._numbered(statement, params)
        async with (
            self._transaction(read_only=False) as cur,
            psycopg.AsyncRawCursor(cur.connection) as raw,
        ):
            await raw.execute(sql, list(params) or None, binary=True)
            result: dict[str, Any] = {"status": raw.statusmessage, "row_count": raw.rowcount}
            if raw.description:
                capped = Capped(self.max_rows, self.max_result_bytes)
                for row in await raw.fetchmany(self.max_rows + 1):
                    if not capped.add(row):
                        break
                result["columns"] = [c.name for c in raw.description]
                result["rows"] = capped.rows
                result["truncated"] = capped.truncated
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
