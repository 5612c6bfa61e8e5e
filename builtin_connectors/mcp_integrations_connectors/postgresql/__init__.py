"""postgresql-connector: SQL over MCP, with reads that PostgreSQL itself keeps read-only."""

from __future__ import annotations

from mcp_integrations.connectors import Connector, EnvVar

connector = Connector(
    module="mcp_integrations_connectors.postgresql",
    description="Query and change a PostgreSQL database: read-only queries, schema, writes.",
    env=(
        EnvVar(
            "DATABASE_URL",
            "libpq connection URI, e.g. postgresql://user:password@host:5432/dbname",
            required=True,
            secret=True,
        ),
        EnvVar("POSTGRES_STATEMENT_TIMEOUT_MS", "statement timeout per tool call (default 30000)"),
        EnvVar("POSTGRES_MAX_ROWS", "most rows any tool returns (default 1000)"),
    ),
)
