"""A tiny MCP server on stdio, baked into the test image of tests/docker_image.py.

CONTAINER_SECRET  printed to stderr at startup, to check that the hub's log scrubs it
"""

from __future__ import annotations

import hashlib
import os
import sys

from mcp.server import MCPServer

server = MCPServer("container", version="0.0.1")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def env_digest(name: str) -> str:
    """The SHA-256 of a variable's value (the hub masks secret values in results)."""
    value = os.environ.get(name)
    return "unset" if value is None else hashlib.sha256(value.encode()).hexdigest()


@server.tool()
def crash(code: int = 3) -> str:
    """Exit the server process at once with the given code."""
    os._exit(code)


def main() -> None:
    if secret := os.environ.get("CONTAINER_SECRET"):
        print(f"container starting with secret {secret}", file=sys.stderr, flush=True)
    server.run()


if __name__ == "__main__":
    main()
