"""mcp-integrations: install, run and supervise MCP servers behind a small HTTP API."""

from __future__ import annotations

from mcp_integrations.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
__version__ = "0.1.0"
