from __future__ import annotations

from mcp_integrations.cli import main

main()
