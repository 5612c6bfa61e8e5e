"""An MCP server on the mcp 1.x SDK, which speaks 2025-11-25 and older only: for the
cross-revision tests, run by a Python that has ``mcp<2`` installed. Its tools ask their
client mid-call the 2025-11-25 way, with requests on the session."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel

server = FastMCP("v1")


@server.tool()
async def sample(prompt: str, ctx: Context) -> str:
    """Ask the client's model."""
    message = SamplingMessage(role="user", content=TextContent(type="text", text=prompt))
    answer = await ctx.session.create_message(messages=[message], max_tokens=20)
    return answer.content.text if isinstance(answer.content, TextContent) else "?"


class Name(BaseModel):
    name: str


@server.tool()
async def ask_name(ctx: Context) -> str:
    """Ask the user for their name."""
    answer = await ctx.elicit("Your name?", Name)
    return f"hello {answer.data.name}" if answer.action == "accept" else answer.action


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots."""
    listed = await ctx.session.list_roots()
    return " ".join(str(root.uri) for root in listed.roots)


@server.tool()
async def slow(seconds: float, ctx: Context) -> str:
    """Sleep, reporting progress each tenth of the way; cancellable."""
    try:
        for step in range(10):
            await ctx.report_progress(step, 10)
            await anyio.sleep(seconds / 10)
    except anyio.get_cancelled_exc_class():
        if marker := os.environ.get("V1_CANCEL_MARKER"):
            # Synchronously: any await in a cancelled scope is cancelled at once.
            Path(marker).write_text("cancelled")  # noqa: ASYNC240
        raise
    return "done"


if __name__ == "__main__":
    server.run()
