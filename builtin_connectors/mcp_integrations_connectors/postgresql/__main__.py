from __future__ import annotations

from mcp_integrations_connectors.postgresql.server import main

main()
