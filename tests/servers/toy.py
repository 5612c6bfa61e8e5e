"""A real MCP server for tests, whose misbehaviour is chosen by environment variables.

TOY_EXIT_AT_START=N  exit with code N before the MCP handshake (after writing to stderr)
TOY_IGNORE_TERM=1    ignore SIGTERM, so only SIGKILL stops it
TOY_CHILD_PIDFILE=F  start a grandchild (``sleep``) in the same process group, pid written to F
TOY_SECRET           printed to stderr at startup, to check that logs scrub it
TOY_SECRET_FORMS=1   also print it URL-encoded, in Basic auth, JSON-escaped, upper-cased
                     and split across two lines
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from mcp.server import MCPServer

server = MCPServer("toy", version="1.2.3")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def crash(code: int = 3) -> str:
    """Exit the server process at once with the given code."""
    os._exit(code)


@server.tool()
def pid() -> int:
    """The server's own process id."""
    return os.getpid()


def main() -> None:
    if secret := os.environ.get("TOY_SECRET"):
        print(f"toy starting with secret {secret}", file=sys.stderr, flush=True)
        if os.environ.get("TOY_SECRET_FORMS"):
            basic = base64.b64encode(f"user:{secret}".encode()).decode()
            half = len(secret) // 2
            for line in (
                f"url {quote(secret, safe='')}",
                f"Authorization: Basic {basic}",
                f"json {json.dumps({'token': secret})}",
                f"upper {secret.upper()}",
                f"split {secret[:half]}",
                f"{secret[half:]} end",
            ):
                print(line, file=sys.stderr, flush=True)
    if code := os.environ.get("TOY_EXIT_AT_START"):
        print("toy: refusing to start", file=sys.stderr, flush=True)
        sys.exit(int(code))
    if os.environ.get("TOY_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if pidfile := os.environ.get("TOY_CHILD_PIDFILE"):
        child = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)
        Path(pidfile).write_text(str(child.pid))
    server.run()


if __name__ == "__main__":
    main()
