"""The MCP side that faces clients: ``/mcp`` for every running integration, names
prefixed, and ``/integrations/{id}/mcp`` for one, as it is."""

from __future__ import annotations

from mcp_integrations.gateway.endpoint import Gateway

__all__ = ["Gateway"]
