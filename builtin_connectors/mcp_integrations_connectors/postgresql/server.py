"""The postgresql-connector MCP server: ``python -m mcp_integrations_connectors.postgresql``.

Reads ``DATABASE_URL`` (and optionally ``POSTGRES_STATEMENT_TIMEOUT_MS``,
``POSTGRES_MAX_ROWS``) from its environment; speaks MCP on stdio.
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
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_integrations_connectors.postgresql.database import Database, DatabaseError

DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
DEFAULT_MAX_ROWS = 1000
IDENTIFIER = r"^[^\x00]{1,63}$"

Params = Annotated[
    list[Any] | None,
    Field(description="Values for the $1-style %s placeholders in the statement, in order"),
]


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        print(f"{name} must be an integer, using {default}", file=sys.stderr)
        return default


@asynccontextmanager
async def lifespan(server: MCPServer[Database | None]) -> AsyncIterator[Database | None]:
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
    )
    try:
        yield database
    finally:
        await database.aclose()


server: MCPServer[Database | None] = MCPServer(
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
    """Execute a read-only SQL query. It runs in a READ ONLY transaction that is rolled back,
    so it cannot change data; results are capped at max_rows (see 'truncated')."""
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
    async with _database(ctx) as database:
        return await database.execute(sql, params or [])


def main() -> None:
    server.run()
