"""Entry point: ``python -m mcp_integrations_connectors.github`` serves MCP over stdio."""

from __future__ import annotations

from mcp_integrations_connectors.github.server import main

if __name__ == "__main__":
    main()
