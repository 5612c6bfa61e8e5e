"""The postgresql-connector MCP server: ``python -m mcp_integrations_connectors.postgresql``.

Reads ``DATABASE_URL`` (and optionally ``POSTGRES_STATEMENT_TIMEOUT_MS``,
``POSTGRES_MAX_ROWS``, ``POSTGRES_MAX_RESULT_BYTES``, ``POSTGRES_ALLOW_WRITES``) from its
environment; speaks MCP on stdio. It connects before serving, so the tool list can warn
when the role is privileged; ``execute`` refuses every call unless writes are allowed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool, ToolAnnotations
from pydantic import Field

from mcp_integrations_connectors.postgresql.database import Database, DatabaseError

DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
DEFAULT_MAX_ROWS = 1000
DEFAULT_MAX_RESULT_BYTES = 1 << 20
ALLOW_WRITES = "POSTGRES_ALLOW_WRITES"
IDENTIFIER = r"^[^\x00]{1,63}$"

Params = Annotated[
    list[Any] | None,
    Field(
        description="Values for %s placeholders in the statement, in order (with params, "
        "write a literal % as %%; without, the statement is sent as written)"
    ),
]


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = 0
    if value < 1:
        print(f"{name} must be a positive integer, using {default}", file=sys.stderr)
        return default
    return value


def writes_allowed() -> bool:
    """Whether ``execute`` may run: only when the environment says so, never by default."""
    return os.environ.get(ALLOW_WRITES, "").strip().lower() in ("1", "true", "yes", "on")


def _description_notes(database: Database | None) -> dict[str, str]:
    """What this run adds to the tools' descriptions: execute disabled, privileged role."""
    notes: dict[str, str] = {}
    warning = database.privileges.warning if database and database.privileges else None
    if warning:
        notes["query"] = warning
    if not writes_allowed():
        notes["execute"] = (
            f"DISABLED: writes are off, so every call is refused; start the connector with "
            f"{ALLOW_WRITES}=1 to enable it."
        )
    return notes


class PostgresServer(MCPServer[Database | None]):
    """An MCPServer whose tool descriptions tell what this run allows, which is known only
    once it is running: whether writes are on, and whether the role is privileged."""

    database: Database | None = None

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        notes = _description_notes(self.database)
        return [
            tool.model_copy(update={"description": f"{tool.description} {notes[tool.name]}"})
            if tool.name in notes
            else tool
            for tool in tools
        ]


@asynccontextmanager
async def lifespan(app: MCPServer[Database | None]) -> AsyncIterator[Database | None]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("DATABASE_URL is not set; every tool will fail until it is", file=sys.stderr)
        yield None
        return
    database = Database(
        url,
        statement_timeout_ms=_int_env(
            "POSTGRES_STATEMENT_TIMEOUT_MS", DEFAULT_STATEMENT_TIMEOUT_MS
        ),
        max_rows=_int_env("POSTGRES_MAX_ROWS", DEFAULT_MAX_ROWS),
        max_result_bytes=_int_env("POSTGRES_MAX_RESULT_BYTES", DEFAULT_MAX_RESULT_BYTES),
    )
    # Connect before the tool list is served, so its descriptions can carry the
    # privileged-role warning; a database that is down now is retried on each call.
    try:
        await database.connect()
    except DatabaseError as exc:
        print(f"{exc}; the connector will try again on each tool call", file=sys.stderr)
    if isinstance(app, PostgresServer):
        app.database = database
    try:
        yield database
    finally:
        if isinstance(app, PostgresServer):
            app.database = None
        await database.aclose()


server = PostgresServer(
    "postgresql-connector",
    version="0.1.0",
    instructions="Inspect and query a PostgreSQL database. Use query for reads; execute writes.",
    lifespan=lifespan,
)


@asynccontextmanager
async def _database(ctx: Context[Database | None]) -> AsyncIterator[Database]:
    """The database, with its failures turned into tool errors the caller can read."""
    database = ctx.request_context.lifespan_context
    if database is None:
        raise ToolError("DATABASE_URL is not set in the connector's environment")
    try:
        yield database
    except DatabaseError as exc:
        raise ToolError(str(exc)) from None


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def query(
    sql: Annotated[str, Field(description="One SQL statement, e.g. SELECT ... FROM ...")],
    ctx: Context[Database | None],
    params: Params = None,
    max_rows: Annotated[int, Field(ge=1, le=10_000, description="Most rows to return")] = 100,
) -> dict[str, Any]:
    """Execute a read-only SQL query: one SELECT, VALUES, TABLE, WITH ... SELECT, EXPLAIN
    (without ANALYZE) or SHOW. PostgreSQL's parser checks it first: writes, row locks and
    functions that act outside the transaction (server files, programs, dblink, advisory
    locks, sequences, settings) are refused; then it runs in a READ ONLY transaction that
    is rolled back. Results are capped at max_rows and at a size in bytes (see
    'truncated')."""
    async with _database(ctx) as database:
        rows = await database.query(sql, params or [], max_rows)
    return rows.to_json()


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def list_tables(
    ctx: Context[Database | None],
    schema: Annotated[
        str | None, Field(description="Only this schema; all user schemas if omitted")
    ] = None,
) -> dict[str, Any]:
    """List all tables (and views) the connected user can use, with their schema and type."""
    async with _database(ctx) as database:
        return {"tables": await database.list_tables(schema)}


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def describe_table(
    table: Annotated[str, Field(pattern=IDENTIFIER, description="Table or view name")],
    ctx: Context[Database | None],
    schema: Annotated[str, Field(pattern=IDENTIFIER, description="Its schema")] = "public",
) -> dict[str, Any]:
    """Show columns and types of a table or view: name, type, nullability, default, and its
    primary key."""
    async with _database(ctx) as database:
        described = await database.describe_table(schema, table)
    if described is None:
        raise ToolError(f"no table or view {schema}.{table}")
    return described


@server.tool(annotations=ToolAnnotations(destructive_hint=True))
async def execute(
    sql: Annotated[str, Field(description="One SQL statement: INSERT, UPDATE, DELETE, DDL...")],
    ctx: Context[Database | None],
    params: Params = None,
) -> dict[str, Any]:
    """Execute a write SQL statement and commit it. Returns the command status, the number of
    rows affected, and rows of a RETURNING clause."""
    if not writes_allowed():
        raise ToolError(
            f"the execute tool is disabled: writes are off unless the connector's environment "
            f"sets {ALLOW_WRITES}=1 (or true, yes)"
        )
    async with _database(ctx) as database:
        return await database.execute(sql, params or [])


def main() -> None:
    server.run()
