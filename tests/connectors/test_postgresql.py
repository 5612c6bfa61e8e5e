"""postgresql-connector as a real child process, over MCP stdio, against a real PostgreSQL."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from mcp import ClientSession
from mcp.types import TextContent

from tests.helpers import connector_session

MODULE = "mcp_integrations_connectors.postgresql"


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh database with a small ``items`` table, a view and a sequence."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE TABLE items (
                id serial PRIMARY KEY,
                name text NOT NULL,
                price numeric(10, 2) DEFAULT 0,
                added date
            );
            COMMENT ON TABLE items IS 'things for sale';
            INSERT INTO items (name, price, added) VALUES
                ('apple', 1.25, '2026-01-02'), ('pear', 2.50, NULL);
            CREATE VIEW cheap AS SELECT * FROM items WHERE price < 2;
            CREATE SEQUENCE counter;
            """
        )
    try:
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def items(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id, name, price::text FROM items ORDER BY id").fetchall()


async def call(session: ClientSession, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """(is_error, structured result or error text) of one tool call."""
    result = await session.call_tool(tool, arguments)
    if result.is_error:
        text = result.content[0]
        assert isinstance(text, TextContent)
        return True, text.text
    return False, result.structured_content


@pytest.mark.anyio
async def test_lists_the_four_tools_with_schemas(database_url: str) -> None:
    async with connector_session(MODULE, {"DATABASE_URL": database_url}) as session:
        listed = (await session.list_tools()).tools
    by_name = {tool.name: tool for tool in listed}
    assert sorted(by_name) == ["describe_table", "execute", "list_tables", "query"]
    assert by_name["query"].input_schema["required"] == ["sql"]
    assert by_name["describe_table"].input_schema["required"] == ["table"]
    assert all(tool.description for tool in listed)
    assert (by_name["query"].description or "").startswith("Execute a read-only SQL query")


@pytest.mark.anyio
async def test_query_list_describe_and_execute(database_url: str) -> None:
    async with connector_session(MODULE, {"DATABASE_URL": database_url}) as session:
        error, rows = await call(session, "query", sql="SELECT name, price, added FROM items")
        assert not error
        assert rows == {
            "columns": ["name", "price", "added"],
            "rows": [["apple", "1.25", "2026-01-02"], ["pear", "2.50", None]],
            "row_count": 2,
            "truncated": False,
        }
        error, rows = await call(
            session, "query", sql="SELECT id FROM items WHERE name = %s", params=["pear"]
        )
        assert (error, rows["rows"]) == (False, [[2]])

        error, listed = await call(session, "list_tables")
        assert not error
        assert {
            "schema": "public",
            "name": "items",
            "type": "table",
            "comment": "things for sale",
        } in (listed["tables"])
        assert {"schema": "public", "name": "cheap", "type": "view"} in listed["tables"]

        error, described = await call(session, "describe_table", table="items")
        assert not error
        assert described["primary_key"] == ["id"]
        columns = {c["name"]: c for c in described["columns"]}
        assert columns["price"]["type"] == "numeric(10,2)"
        assert columns["name"]["nullable"] is False
        assert columns["id"]["default"].startswith("nextval(")
        error, text = await call(session, "describe_table", table="missing")
        assert error and "no table or view public.missing" in text

        error, done = await call(
            session,
            "execute",
            sql="INSERT INTO items (name, price) VALUES (%s, %s) RETURNING id, name",
            params=["plum", "3.10"],
        )
        assert not error
        assert done["status"] == "INSERT 0 1"
        assert done["rows"] == [[3, "plum"]]
        error, done = await call(session, "execute", sql="UPDATE items SET price = price + 1")
        assert (error, done["row_count"]) == (False, 3)
    assert items(database_url) == [(1, "apple", "2.25"), (2, "pear", "3.50"), (3, "plum", "4.10")]


WRITES_THROUGH_QUERY = [
    "INSERT INTO items (name) VALUES ('x')",
    "UPDATE items SET name = 'x'",
    "DELETE FROM items",
    "DROP TABLE items",
    "TRUNCATE items",
    "CREATE TABLE other (x int)",
    "WITH gone AS (DELETE FROM items RETURNING *) SELECT * FROM gone",
    "SELECT nextval('counter')",
    "SELECT * FROM items FOR UPDATE",
    "COMMIT; DELETE FROM items",
    "SET TRANSACTION READ WRITE; DELETE FROM items",
    "BEGIN; DELETE FROM items; COMMIT",
    "delete/**/from items",
    "  \n-- comment\nDeLeTe FROM items",
    "CALL nothing()",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
]


@pytest.mark.anyio
async def test_query_cannot_change_data_however_written(database_url: str) -> None:
    before = items(database_url)
    async with connector_session(MODULE, {"DATABASE_URL": database_url}) as session:
        for statement in WRITES_THROUGH_QUERY:
            error, text = await call(session, "query", sql=statement)
            if statement.startswith("SELECT set_config"):
                continue
            assert error, statement
            assert "PostgreSQL error" in text, statement
        error, text = await call(session, "query", sql="DELETE FROM items")
        assert error and "read-only transaction" in text
        assert "use the execute tool" in text
        error, _ = await call(session, "execute", sql="CREATE TABLE allowed (x int)")
        assert not error
    assert items(database_url) == before
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT last_value FROM counter").fetchone() == (1,)


@pytest.mark.anyio
async def test_row_cap_streams_and_marks_truncation(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "POSTGRES_MAX_ROWS": "50"}
    async with connector_session(MODULE, env) as session:
        error, rows = await call(
            session, "query", sql="SELECT g FROM generate_series(1, 5000000) g", max_rows=5
        )
        assert (error, rows["rows"], rows["truncated"]) == (False, [[1], [2], [3], [4], [5]], True)
        error, rows = await call(
            session, "query", sql="SELECT generate_series(1, 80)", max_rows=500
        )
        assert (rows["row_count"], rows["truncated"]) == (50, True)
        error, rows = await call(session, "query", sql="SELECT 1 AS one")
        assert rows["rows"] == [[1]]


@pytest.mark.anyio
async def test_errors_are_tool_errors_and_the_connector_survives(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "POSTGRES_STATEMENT_TIMEOUT_MS": "300"}
    async with connector_session(MODULE, env) as session:
        error, text = await call(session, "query", sql="SELECT * FROM nowhere")
        assert error and 'relation "nowhere" does not exist' in text and "42P01" in text
        error, text = await call(session, "query", sql="SELECT pg_sleep(5)")
        assert error and "statement timeout" in text and "300 ms" in text
        error, text = await call(
            session, "execute", sql="INSERT INTO items (id, name) VALUES (1, 'dup')"
        )
        assert error and "duplicate key" in text and "DETAIL" in text
        error, text = await call(session, "query", sql="SELEC 1")
        assert error and "syntax error" in text
        error, rows = await call(session, "query", sql="SELECT count(*) FROM items")
        assert (error, rows["rows"]) == (False, [[2]])


@pytest.mark.anyio
async def test_unreachable_database_error_hides_the_password() -> None:
    password = "pw-" + uuid.uuid4().hex
    url = f"postgresql://someone:{password}@127.0.0.1:1/nothing"
    with tempfile.TemporaryFile("w+") as errlog:
        async with connector_session(MODULE, {"DATABASE_URL": url}, errlog=errlog) as session:
            error, text = await call(session, "list_tables")
            assert error and "cannot connect to the database" in text
            assert password not in text
            result = await session.call_tool("query", {"sql": "SELECT 1"})
            assert password not in json.dumps(result.model_dump(mode="json"))
        errlog.seek(0)
        assert password not in errlog.read()


@pytest.mark.anyio
async def test_without_database_url_tools_name_the_variable() -> None:
    async with connector_session(MODULE, {}) as session:
        error, text = await call(session, "query", sql="SELECT 1")
    assert error and "DATABASE_URL" in text
