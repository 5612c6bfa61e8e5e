"""How much the hub adds to bringing an MCP server up, and what it costs to ask its status.

Measured in one run, on the same machine, against the same toy server:
- direct: the SDK's own stdio_client + initialize + tools/list, then close;
- hub:    POST /start (spawn, handshake, tools/list, status JSON), then POST /stop;
- status: GET /status on a running integration, against a bare Starlette JSON route.
Prints medians and the ratios between them. Run: ``nox -s bench``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.settings import Settings

ROOT = Path(__file__).parent.parent
TOY = ROOT / "tests" / "servers" / "toy.py"
ROUNDS = 7
REQUESTS = 300


async def direct_start() -> None:
    params = StdioServerParameters(command=sys.executable, args=[str(TOY)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()


def median_secs(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> None:
    direct = median_secs(lambda: anyio.run(direct_start), ROUNDS)
    body = {"source": "command", "id": "toy", "command": [sys.executable, str(TOY)]}
    with (
        tempfile.TemporaryDirectory() as data,
        TestClient(create_app(Path(data), settings=Settings(allowed_hosts=("testserver",)))) as hub,
    ):
        hub.post("/integrations/install", json=body)

        def cycle() -> None:
            hub.post("/integrations/toy/start")
            hub.post("/integrations/toy/stop")

        via_hub = median_secs(cycle, ROUNDS)
        hub.post("/integrations/toy/start")
        status = median_secs(lambda: hub.get("/integrations/toy/status"), REQUESTS)
        hub.post("/integrations/toy/stop")

    bare_app = Starlette(routes=[Route("/s", lambda r: JSONResponse({"status": "running"}))])
    with TestClient(bare_app) as bare_client:
        bare = median_secs(lambda: bare_client.get("/s"), REQUESTS)

    print(
        f"start+stop  direct SDK {direct * 1000:8.1f} ms   via hub {via_hub * 1000:8.1f} ms   "
        f"ratio {via_hub / direct:.2f}"
    )
    print(
        f"status GET  bare route {bare * 1e6:8.0f} us   hub     {status * 1e6:8.0f} us   "
        f"ratio {status / bare:.2f}"
    )


if __name__ == "__main__":
    main()
