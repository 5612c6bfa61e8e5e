"""``python -m mcp_integrations_connectors.salesforce``: the Salesforce MCP server over stdio."""

from __future__ import annotations

from mcp_integrations_connectors.salesforce.server import main

if __name__ == "__main__":
    main()
