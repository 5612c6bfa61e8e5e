"""postgresql-connector as a real child process, over MCP stdio, against a real PostgreSQL.

The read-only tests run each attack as the superuser and as a plain role (with every
privilege on the test tables, so what stops it is the connector, not a GRANT), and check
from outside that nothing happened: table contents, sequence, files, locks, settings,
other backends.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from tests.helpers import connector_session

MODULE = "mcp_integrations_connectors.postgresql"
WRITES = {"POSTGRES_ALLOW_WRITES": "1"}
REFUSED = "the query tool refused this statement"


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


def counter(url: str) -> tuple[Any, ...] | None:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT last_value, is_called FROM counter").fetchone()


def make_role(database_url: str, password: str, *grants: str) -> str:
    """A new LOGIN role with every privilege on the test database's tables and sequences
    (and the given predefined roles); returns its name."""
    name = f"plain_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
        conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {name}")
        for grant in grants:
            conn.execute(f"GRANT {grant} TO {name}")
    return name


def drop_role(database_url: str, postgres_url: str, name: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


def as_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return f"postgresql://{user}:{password}@{parts.hostname}:{parts.port}{parts.path}"


@dataclass(frozen=True)
class Target:
    """The connector's view (``url``, as ``role``) and the test's (``admin``) of one database."""

    role: str
    url: str
    admin: str
    password: str


@pytest.fixture(params=["superuser", "plain"])
def target(
    request: pytest.FixtureRequest, database_url: str, postgres_url: str
) -> Iterator[Target]:
    """The test database, reached by the connector as the superuser or as a plain role;
    either way through a URL with a password, which must never show."""
    password = "pw-" + uuid.uuid4().hex
    if request.param == "superuser":
        yield Target(
            "superuser", as_user(database_url, "postgres", password), database_url, password
        )
        return
    name = make_role(database_url, password)
    try:
        yield Target("plain", as_user(database_url, name, password), database_url, password)
    finally:
        drop_role(database_url, postgres_url, name)


@dataclass
class Scratch:
    """Unique paths under /tmp, which the postgres OS user can read and write."""

    stem: str = field(default_factory=lambda: f"/tmp/mcp-pg-{uuid.uuid4().hex}")

    def path(self, suffix: str) -> Path:
        return Path(f"{self.stem}.{suffix}")

    def secret(self) -> tuple[Path, str]:
        """A file the server could read, holding a unique text to look for in results."""
        path, content = self.path("secret"), f"secret-{uuid.uuid4().hex}"
        path.write_text(content)
        path.chmod(0o644)
        return path, content

    def leftovers(self) -> list[str]:
        return sorted(str(p) for p in Path("/tmp").glob(Path(self.stem).name + "*"))


@pytest.fixture
def scratch() -> Iterator[Scratch]:
    made = Scratch()
    try:
        yield made
    finally:
        for leftover in made.leftovers():
            os.unlink(leftover)


def unpack(result: CallToolResult) -> tuple[bool, Any]:
    """(is_error, structured result or error text) of one tool call's result."""
    if result.is_error:
        text = result.content[0]
        assert isinstance(text, TextContent)
        return True, text.text
    return False, result.structured_content


async def call(session: ClientSession, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """(is_error, structured result or error text) of one tool call."""
    return unpack(await session.call_tool(tool, arguments))


@dataclass
class Connector:
    """A live connector session that remembers everything it answered, and its stderr."""

    session: ClientSession
    answers: list[str] = field(default_factory=list)
    stderr: str = ""

    async def call(self, tool: str, **arguments: Any) -> tuple[bool, Any]:
        result = await self.session.call_tool(tool, arguments)
        self.answers.append(json.dumps(result.model_dump(mode="json")))
        return unpack(result)

    async def refused(self, sql: str, *, why: str, **arguments: Any) -> None:
        """Assert that the query tool refuses ``sql`` before running it, naming ``why``."""
        error, text = await self.call("query", sql=sql, **arguments)
        assert error, sql
        assert REFUSED in text, (sql, text)
        assert why in text, (sql, text)

    async def description(self, tool: str) -> str:
        listed = {t.name: t.description or "" for t in (await self.session.list_tools()).tools}
        return listed[tool]


@asynccontextmanager
async def connector(target: Target, **env: str) -> AsyncIterator[Connector]:
    """A connector session as ``target``'s role; when it ends, asserts that the password
    showed neither in any answer nor on stderr."""
    with tempfile.TemporaryFile("w+") as errlog:
        environment = {"DATABASE_URL": target.url, **env}
        async with connector_session(MODULE, environment, errlog=errlog) as session:
            live = Connector(session)
            yield live
        errlog.seek(0)
        live.stderr = errlog.read()
    assert target.password not in live.stderr
    assert not [answer for answer in live.answers if target.password in answer]


@pytest.mark.anyio
async def test_lists_the_four_tools_with_schemas(database_url: str) -> None:
    async with connector_session(MODULE, {"DATABASE_URL": database_url}) as session:
        listed = (await session.list_tools()).tools
    by_name = {tool.name: tool for tool in listed}
    assert [tool.name for tool in listed] == ["query", "list_tables", "describe_table", "execute"]
    assert by_name["query"].input_schema["required"] == ["sql"]
    assert by_name["describe_table"].input_schema["required"] == ["table"]
    assert all(tool.description for tool in listed)
    assert (by_name["query"].description or "").startswith("Execute a read-only SQL query")


@pytest.mark.anyio
async def test_query_list_describe_and_execute(database_url: str) -> None:
    async with connector_session(MODULE, {"DATABASE_URL": database_url, **WRITES}) as session:
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
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION bump() RETURNS int LANGUAGE sql"
            " AS 'UPDATE items SET price = price + 1 RETURNING 1'"
        )
    async with connector_session(MODULE, {"DATABASE_URL": database_url, **WRITES}) as session:
        for statement in WRITES_THROUGH_QUERY:
            error, text = await call(session, "query", sql=statement)
            assert error, statement
            assert REFUSED in text, statement
        error, text = await call(session, "query", sql="DELETE FROM items")
        assert error and "DELETE is not a plain read" in text
        assert "use the execute tool" in text
        # What the parse tree cannot show (a function that writes) the READ ONLY
        # transaction still stops.
        error, text = await call(session, "query", sql="SELECT bump()")
        assert error and "PostgreSQL error" in text and "read-only transaction" in text
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
    env = {"DATABASE_URL": database_url, "POSTGRES_STATEMENT_TIMEOUT_MS": "300", **WRITES}
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


def dsn(url: str) -> str:
    """``url`` as a libpq key=value string, for dblink."""
    parts = urlsplit(url)
    return f"host={parts.hostname} port={parts.port} dbname={parts.path[1:]} user={parts.username}"


def advisory_locks(url: str, key: int) -> int:
    """How many backends hold advisory lock ``key``, seen from a connection of its own."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks"
            " WHERE locktype = 'advisory' AND classid = 0 AND objid = %s AND objsubid = 1",
            (key,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def lock_key() -> int:
    return 1_000_000 + uuid.uuid4().int % 1_000_000


def test_the_attacks_are_real_without_the_classifier(database_url: str, scratch: Scratch) -> None:
    """What a superuser does in a rolled-back READ ONLY transaction alone, which the tests
    below show the connector refusing: their attack strings are live ammunition."""
    marker, out = scratch.path("ran"), scratch.path("out")
    secret, content = scratch.secret()
    key = lock_key()
    with psycopg.connect(database_url, autocommit=True) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'")
            read = conn.execute(f"SELECT ('{secret}'::text).pg_read_file").fetchone()
            conn.execute(f"COPY items TO '{out}'")
            conn.execute(f"SELECT pg_advisory_lock({key})")
        assert marker.exists() and out.exists() and read == (content,)
        assert advisory_locks(database_url, key) == 1


@pytest.mark.anyio
async def test_programs_do_not_run(target: Target, scratch: Scratch) -> None:
    marker = scratch.path("ran")
    touch = f"touch {marker}"
    async with connector(target) as live:
        await live.refused(f"COPY (SELECT 1) TO PROGRAM '{touch}'", why="COPY is not a plain read")
        await live.refused(f"copy items to program '{touch}'", why="COPY")
        await live.refused(
            f"DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''{touch}'''; END $$",
            why="DO is not a plain read",
        )
        await live.refused(
            "CREATE FUNCTION run() RETURNS void LANGUAGE plpgsql AS"
            f" $$ BEGIN COPY (SELECT 1) TO PROGRAM '{touch}'; END $$; SELECT run()",
            why="2 statements",
        )
        await live.refused(
            f"SELECT query_to_xml('COPY (SELECT 1) TO PROGRAM ''{touch}''', true, false, '')",
            why="runs SQL given as text",
        )
        await live.refused(
            f"SELECT dblink_exec('{dsn(target.admin)}', 'COPY (SELECT 1) TO PROGRAM ''{touch}''')",
            why="opens another database connection",
        )
    assert not marker.exists()
    assert scratch.leftovers() == []


@pytest.mark.anyio
async def test_server_files_are_out_of_reach(target: Target, scratch: Scratch) -> None:
    secret, content = scratch.secret()
    out = scratch.path("out")
    before = items(target.admin)
    files = "reads, lists or writes files on the database server"
    large = "works on large objects"
    async with connector(target) as live:
        await live.refused(f"SELECT pg_read_file('{secret}')", why=files)
        await live.refused("SELECT pg_read_file(%s)", params=[str(secret)], why=files)
        await live.refused(f"SELECT pg_catalog.pg_read_binary_file('{secret}')", why=files)
        await live.refused(f"SELECT \"PG_READ_FILE\"('{secret}')", why=files)
        await live.refused(f"SELECT ('{secret}'::text).pg_read_file", why="column notation")
        await live.refused(f"SELECT length(pg_read_file('{secret}')) FROM items", why=files)
        await live.refused("SELECT * FROM pg_ls_dir('/tmp')", why=files)
        await live.refused("SELECT * FROM pg_catalog.pg_ls_tmpdir()", why=files)
        await live.refused(f"SELECT pg_stat_file('{secret}')", why=files)
        await live.refused(f"EXPLAIN SELECT pg_read_file('{secret}')", why=files)
        await live.refused(f"COPY items TO '{out}'", why="COPY is not a plain read")
        await live.refused(f"COPY items (name) FROM '{secret}'", why="COPY is not a plain read")
        await live.refused(f"SELECT lo_import('{secret}')", why=large)
        await live.refused(f"SELECT lo_export(lo_from_bytea(0, 'x'), '{out}')", why=large)
        await live.refused("SELECT lo_create(0)", why=large)
    assert not out.exists()
    assert not [answer for answer in live.answers if content in answer]
    assert items(target.admin) == before
    with psycopg.connect(target.admin) as conn:
        assert conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone() == (0,)


@pytest.mark.anyio
async def test_dblink_cannot_commit_elsewhere(target: Target) -> None:
    """dblink's work commits in a session of its own: refused by name, installed or not."""
    installed = True
    with psycopg.connect(target.admin, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION dblink")
        except psycopg.Error:
            installed = False
    before = items(target.admin)
    other = dsn(target.admin)
    why = "opens another database connection, whose work commits on its own"
    async with connector(target) as live:
        await live.refused(f"SELECT dblink_exec('{other}', 'DELETE FROM items')", why=why)
        await live.refused(
            f"SELECT * FROM public.dblink('{other}', 'DELETE FROM items RETURNING id')"
            " AS gone(id int)",
            why=why,
        )
        await live.refused(f"SELECT dblink_connect('sneaky', '{other}')", why=why)
        await live.refused("SELECT DBLINK_EXEC('sneaky', 'DELETE FROM items')", why=why)
    assert items(target.admin) == before
    if installed:
        # dblink works here and commits past a rolled-back READ ONLY transaction: the
        # refusals above are what kept the rows.
        with (
            psycopg.connect(target.admin, autocommit=True) as conn,
            conn.transaction(force_rollback=True),
        ):
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(f"SELECT dblink_exec('{other}', 'DELETE FROM items')")
        assert items(target.admin) == []


@pytest.mark.anyio
async def test_other_backends_cannot_be_signalled(target: Target) -> None:
    signals = "signals or starts other server processes"
    with psycopg.connect(target.url, autocommit=True) as victim:
        found = victim.execute("SELECT pg_backend_pid()").fetchone()
        assert found is not None
        pid = found[0]
        async with connector(target) as live:
            await live.refused(f"SELECT pg_terminate_backend({pid})", why=signals)
            await live.refused(f"SELECT pg_catalog.pg_cancel_backend({pid})", why=signals)
            await live.refused(f"SELECT ({pid}).pg_terminate_backend", why=signals)
            await live.refused(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s",
                params=[pid],
                why=signals,
            )
            await live.refused("SELECT pg_reload_conf()", why=signals)
            await live.refused("SELECT pg_rotate_logfile()", why=signals)
        assert victim.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
        assert not victim.broken


@pytest.mark.anyio
async def test_advisory_locks_do_not_outlive_a_call(target: Target) -> None:
    key = lock_key()
    locks = "advisory locks"
    async with connector(target, **WRITES) as live:
        await live.refused(f"SELECT pg_advisory_lock({key})", why=locks)
        await live.refused(f"SELECT pg_catalog.PG_ADVISORY_LOCK_SHARED({key})", why=locks)
        await live.refused(f"SELECT pg_try_advisory_lock({key})", why=locks)
        await live.refused(f"SELECT ({key}::bigint).pg_advisory_lock", why=locks)
        await live.refused("SELECT pg_advisory_lock(%s)", params=[key], why=locks)
        assert advisory_locks(target.admin, key) == 0
        # Belt and braces: a lock taken where that is allowed (execute) ends with the call.
        error, done = await live.call("execute", sql=f"SELECT pg_advisory_lock({key})")
        assert not error, done
        assert advisory_locks(target.admin, key) == 0
        with psycopg.connect(target.admin) as other:
            assert other.execute(f"SELECT pg_try_advisory_lock({key})").fetchone() == (True,)


@pytest.mark.anyio
async def test_settings_do_not_outlive_a_call(target: Target) -> None:
    setting = "changes a setting"
    async with connector(target, **WRITES) as live:
        await live.refused("SET search_path = nowhere", why="SET/RESET is not a plain read")
        await live.refused("SET SESSION work_mem = '77kB'", why="SET/RESET")
        await live.refused("RESET ALL", why="SET/RESET")
        await live.refused("SELECT set_config('search_path', 'nowhere', false)", why=setting)
        await live.refused("SELECT pg_catalog.set_config('work_mem', '77kB', false)", why=setting)
        show = "SELECT current_setting('search_path'), current_setting('work_mem')"
        defaults = [['"$user", public', "4MB"]]
        error, shown = await live.call("query", sql=show)
        assert (error, shown["rows"]) == (False, defaults)
        # Belt and braces: settings changed where that is allowed (execute) end with the call.
        error, _ = await live.call("execute", sql="SET search_path = nowhere")
        assert not error
        error, _ = await live.call("execute", sql="SELECT set_config('work_mem', '77kB', false)")
        assert not error
        error, shown = await live.call("query", sql=show)
        assert (error, shown["rows"]) == (False, defaults)


@pytest.mark.anyio
async def test_sequences_do_not_move(target: Target) -> None:
    before = counter(target.admin)
    moves = "advances or sets a sequence"
    async with connector(target) as live:
        await live.refused("SELECT nextval('counter')", why=moves)
        await live.refused("SELECT nextval(%s)", params=["counter"], why=moves)
        await live.refused("SELECT pg_catalog.nextval('public.counter'::regclass)", why=moves)
        await live.refused("SELECT setval('counter', 99)", why=moves)
        await live.refused("SELECT ('counter'::regclass).nextval", why=moves)
        await live.refused("SELECT * FROM items WHERE id < nextval('counter')", why=moves)
        await live.refused("VALUES ((SELECT nextval('items_id_seq')))", why=moves)
    assert counter(target.admin) == before == (1, False)
    with psycopg.connect(target.admin) as conn:
        assert conn.execute("SELECT last_value FROM items_id_seq").fetchone() == (2,)


@pytest.mark.anyio
async def test_writes_and_row_locks_hidden_in_reads_are_refused(target: Target) -> None:
    before = items(target.admin)
    changes = "data-modifying"
    locks = "FOR UPDATE / FOR SHARE locks rows"
    async with connector(target) as live:
        await live.refused(
            "WITH gone AS (DELETE FROM items RETURNING *) SELECT * FROM gone", why=changes
        )
        await live.refused(
            "WITH up AS (UPDATE items SET name = 'x' RETURNING 1) SELECT count(*) FROM up",
            why=changes,
        )
        await live.refused(
            "SELECT * FROM (WITH new AS (INSERT INTO items (name) VALUES ('x') RETURNING id)"
            " SELECT id FROM new) AS sub",
            why=changes,
        )
        await live.refused(
            "WITH a AS (SELECT 1), b AS (DELETE FROM items RETURNING id) TABLE a", why=changes
        )
        await live.refused("SELECT * INTO stolen FROM items", why="SELECT INTO creates a table")
        await live.refused("SELECT * FROM items FOR UPDATE", why=locks)
        await live.refused("SELECT * FROM items FOR NO KEY UPDATE NOWAIT", why=locks)
        await live.refused("SELECT * FROM items FOR SHARE SKIP LOCKED", why=locks)
        await live.refused(
            "SELECT count(*) FROM (SELECT * FROM items FOR KEY SHARE) AS locked", why=locks
        )
        await live.refused("EXPLAIN ANALYZE DELETE FROM items", why="EXPLAIN ANALYZE runs")
        await live.refused("EXPLAIN (ANALYZE, COSTS off) SELECT 1", why="EXPLAIN ANALYZE runs")
        await live.refused("EXPLAIN DELETE FROM items", why="explains only reads")
        await live.refused(
            "MERGE INTO items USING items AS s ON false WHEN NOT MATCHED THEN DO NOTHING",
            why="MERGE is not a plain read",
        )
        await live.refused("TABLE items; DELETE FROM items", why="2 statements")
        await live.refused("SELECT 1; SELECT 2", why="send one per call")
        await live.refused("COMMIT; DELETE FROM items", why="2 statements")
        await live.refused("BEGIN; DELETE FROM items; COMMIT", why="3 statements")
        await live.refused("-- nothing", why="no statement")
        await live.refused("LOCK items", why="LOCK is not a plain read")
        await live.refused("PREPARE p AS DELETE FROM items", why="PREPARE is not a plain read")
        await live.refused("EXECUTE p", why="EXECUTE is not a plain read")
        await live.refused("LISTEN somewhere", why="LISTEN is not a plain read")
        await live.refused("SELECT pg_notify('somewhere', 'x')", why="notifications")
        await live.refused("SELECT txid_current()", why="transaction ids")
        await live.refused("LOAD 'plpgsql'", why="LOAD is not a plain read")
    assert items(target.admin) == before
    with psycopg.connect(target.admin) as conn:
        assert conn.execute("SELECT to_regclass('stolen')").fetchone() == (None,)


@pytest.mark.anyio
async def test_sql_in_a_string_is_refused(target: Target, scratch: Scratch) -> None:
    """Functions that run SQL given as text would carry any call past the parse tree."""
    secret, content = scratch.secret()
    inner = f"SELECT pg_read_file(''{secret}'')"
    text = "runs SQL given as text"
    async with connector(target) as live:
        await live.refused(f"SELECT query_to_xml('{inner}', true, false, '')", why=text)
        await live.refused(f"SELECT query_to_xmlschema('{inner}', true, false, '')", why=text)
        await live.refused(
            f"SELECT pg_catalog.query_to_xml_and_xmlschema('{inner}', true, false, '')", why=text
        )
        await live.refused(
            "SELECT query_to_xml(%s, true, false, '')",
            params=["SELECT nextval('counter')"],
            why=text,
        )
        await live.refused("SELECT cursor_to_xml('c', 1, true, false, '')", why=text)
        await live.refused(
            f"SELECT * FROM ts_stat($$SELECT to_tsvector(pg_read_file('{secret}'))$$)", why=text
        )
        await live.refused(
            "SELECT ts_rewrite('a'::tsquery, $$SELECT 'a'::tsquery, 'b'::tsquery$$)", why=text
        )
        await live.refused(f"SELECT * FROM crosstab('{inner}') AS t(a text)", why=text)
        # Built from a quoted relation name, not from SQL text: a plain read, allowed.
        error, xml = await live.call("query", sql="SELECT table_to_xml('items', true, false, '')")
        assert not error and "apple" in xml["rows"][0][0]
    assert not [answer for answer in live.answers if content in answer]
    assert counter(target.admin) == (1, False)


@pytest.mark.anyio
async def test_plain_reads_run(target: Target) -> None:
    async with connector(target) as live:
        for sql, rows in [
            ("SELECT name FROM items ORDER BY id", [["apple"], ["pear"]]),
            ("TABLE cheap", [[1, "apple", "1.25", "2026-01-02"]]),
            ("VALUES (1, 'a'), (2, 'b')", [[1, "a"], [2, "b"]]),
            ("WITH n AS (SELECT count(*) AS c FROM items) SELECT c FROM n", [[2]]),
            ("SELECT 1 UNION ALL SELECT 2 ORDER BY 1", [[1], [2]]),
            ("SELECT '100%' AS pct", [["100%"]]),
            ("SELECT (x).length FROM (SELECT 'abc'::text AS x) AS s", [[3]]),
            ("SELECT s.x FROM (SELECT 1 AS x) AS s", [[1]]),
            ("SHOW standard_conforming_strings", [["on"]]),
            ("SELECT 1;", [[1]]),
        ]:
            error, found = await live.call("query", sql=sql)
            assert not error, (sql, found)
            assert found["rows"] == rows, sql
        error, found = await live.call(
            "query", sql="SELECT name, '5%%' FROM items WHERE price > %s ORDER BY id", params=[2]
        )
        assert (error, found["rows"]) == (False, [["pear", "5%"]])
        error, found = await live.call("query", sql="SELECT $1::int + 1", params=[41])
        assert (error, found["rows"]) == (False, [[42]])
        error, found = await live.call("query", sql="EXPLAIN (COSTS off) SELECT * FROM items")
        assert not error and "Seq Scan on items" in found["rows"][0][0]
        error, text = await live.call("query", sql="SELECT %s, %s", params=[1])
        assert error and "2 %s placeholders but 1 params" in text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        (None, "is a superuser, so PostgreSQL lets it run programs, read files and write files"),
        ((), None),
        (
            ("pg_read_server_files",),
            "is a member of pg_read_server_files, so PostgreSQL lets it read files",
        ),
        (
            ("pg_execute_server_program", "pg_write_server_files"),
            "is a member of pg_execute_server_program, pg_write_server_files, so PostgreSQL"
            " lets it run programs and write files",
        ),
    ],
    ids=["superuser", "plain", "reads-files", "programs-and-writes"],
)
async def test_privileged_roles_are_warned_about(
    database_url: str, postgres_url: str, grants: tuple[str, ...] | None, expected: str | None
) -> None:
    password = "pw-" + uuid.uuid4().hex
    name = "postgres" if grants is None else make_role(database_url, password, *grants)
    target = Target("role", as_user(database_url, name, password), database_url, password)
    try:
        async with connector(target) as live:
            description = await live.description("query")
            error, _ = await live.call("query", sql="SELECT 1")
            assert not error
    finally:
        if grants is not None:
            drop_role(database_url, postgres_url, name)
    assert description.startswith("Execute a read-only SQL query")
    if expected is None:
        assert "WARNING" not in description
        assert "WARNING" not in live.stderr
    else:
        assert f"WARNING: the connected database role {expected}" in description
        warned = [line for line in live.stderr.splitlines() if "WARNING" in line]
        assert len(warned) == 1 and expected in warned[0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("setting", "enabled"),
    [(None, False), ("0", False), ("no", False), ("1", True), ("true", True), ("YES", True)],
)
async def test_execute_is_off_unless_allowed(
    database_url: str, setting: str | None, enabled: bool
) -> None:
    env = {"DATABASE_URL": database_url}
    if setting is not None:
        env["POSTGRES_ALLOW_WRITES"] = setting
    async with connector_session(MODULE, env) as session:
        tools = {t.name: t.description or "" for t in (await session.list_tools()).tools}
        error, done = await call(session, "execute", sql="DELETE FROM items WHERE name = 'pear'")
    assert tools["execute"].startswith("Execute a write SQL statement")
    if enabled:
        assert (error, done["row_count"]) == (False, 1)
        assert "DISABLED" not in tools["execute"]
        assert [row[1] for row in items(database_url)] == ["apple"]
    else:
        assert error and "the execute tool is disabled" in done
        assert "POSTGRES_ALLOW_WRITES=1" in done
        assert "DISABLED" in tools["execute"] and "POSTGRES_ALLOW_WRITES=1" in tools["execute"]
        assert len(items(database_url)) == 2


@pytest.mark.anyio
async def test_result_bytes_are_capped(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "POSTGRES_MAX_RESULT_BYTES": "2000", **WRITES}
    wide = "SELECT repeat('x', 100) AS x FROM generate_series(1, 1000)"

    def size(rows: list[Any]) -> int:
        return len(json.dumps(rows, separators=(",", ":")))

    async with connector_session(MODULE, env) as session:
        error, found = await call(session, "query", sql=wide, max_rows=10_000)
        assert not error and found["truncated"] is True
        assert 10 < found["row_count"] < 20 and size(found["rows"]) <= 2000
        error, found = await call(session, "query", sql="SELECT repeat('x', 5000)")
        assert (error, found["rows"], found["truncated"]) == (False, [], True)
        error, found = await call(session, "query", sql="SELECT repeat('x', 100)")
        assert (error, found["row_count"], found["truncated"]) == (False, 1, False)
        error, done = await call(session, "execute", sql=wide)
        assert not error and done["truncated"] is True
        assert 10 < len(done["rows"]) < 20 and size(done["rows"]) <= 2000
