"""postgresql-connector: SQL over MCP, with reads that PostgreSQL's parser vets and a
READ ONLY transaction confines, and writes only when they are switched on."""

from __future__ import annotations

from mcp_integrations.connectors import Connector, EnvVar

connector = Connector(
    module="mcp_integrations_connectors.postgresql",
    description="Query and change a PostgreSQL database: read-only queries, schema, writes "
    "(off unless enabled).",
    env=(
        EnvVar(
            "DATABASE_URL",
            "libpq connection URI, e.g. postgresql://user:password@host:5432/dbname",
            required=True,
            secret=True,
        ),
        EnvVar("POSTGRES_STATEMENT_TIMEOUT_MS", "statement timeout per tool call (default 30000)"),
        EnvVar("POSTGRES_MAX_ROWS", "most rows any tool returns (default 1000)"),
        EnvVar(
            "POSTGRES_MAX_RESULT_BYTES",
            "most bytes of row data (as JSON) any tool returns (default 1048576)",
        ),
        EnvVar(
            "POSTGRES_ALLOW_WRITES",
            "1 (or true, yes) enables the execute tool; without it writes are refused",
        ),
    ),
    flags={"allow_writes": "POSTGRES_ALLOW_WRITES"},
)
