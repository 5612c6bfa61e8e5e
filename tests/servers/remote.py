"""An MCP server on loopback over HTTP, for the remote runtime's tests.

``python remote.py streamable-http PORT`` (path /mcp) or ``python remote.py sse PORT``
(path /sse). With ``EXPECT_AUTH`` set, the ``authorized`` tool says whether requests
carried that ``Authorization`` header.
"""

from __future__ import annotations

import os
import sys

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

server = MCPServer("remote-toy", version="0.1.0")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def authorized(ctx: Context) -> bool:
    """Whether this request carried the expected Authorization header."""
    headers = ctx.headers or {}
    return headers.get("authorization") == os.environ.get("EXPECT_AUTH")


@server.tool()
def pid() -> int:
    """The server's process id, to tell one life of it from the next."""
    return os.getpid()


if __name__ == "__main__":
    transport, port = sys.argv[1], int(sys.argv[2])
    if transport == "sse":
        server.run("sse", host="127.0.0.1", port=port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=port)
