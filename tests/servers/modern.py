"""A real MCP server for tests that asks mid-call only the way 2026-07-28 does: its tools
return input-required results (sampling, elicitation, roots) and read the answers from
the client's retry, never sending a request on a session. ``MODERN_CANCEL_MARKER=F``:
written when a call of ``slow`` is cancelled; ``MODERN_TOOLS_HINT=30000/public``: the
caching hint of its tool list."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server import MCPServer
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.mcpserver import Context


def _hint() -> dict[CacheableMethod, CacheHint] | None:
    ttl, _, scope = os.environ.get("MODERN_TOOLS_HINT", "").partition("/")
    return {"tools/list": CacheHint(int(ttl), scope or "private")} if ttl else None  # type: ignore[arg-type]


server = MCPServer("modern", version="2.0.0", cache_hints=_hint())


@server.tool()
async def capital(country: str, ctx: Context) -> Any:
    """Ask the client's model for the capital of ``country``."""
    answers = ctx.input_responses
    if not answers or "capital" not in answers:
        question = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams(
                messages=[
                    types.SamplingMessage(
                        role="user",
                        content=types.TextContent(type="text", text=f"capital of {country}?"),
                    )
                ],
                max_tokens=20,
            )
        )
        return types.InputRequiredResult(input_requests={"capital": question})
    answer = types.CreateMessageResult.model_validate(answers["capital"].model_dump())
    content = answer.content
    text = content.text if isinstance(content, types.TextContent) else "?"
    return f"the capital of {country} is {text}"


@server.tool()
async def name(ctx: Context) -> Any:
    """Ask the user for their name (elicitation)."""
    answers = ctx.input_responses
    if not answers or "user_name" not in answers:
        schema = {"type": "object", "properties": {"name": {"type": "string"}}}
        params = types.ElicitRequestFormParams(message="Your name?", requested_schema=schema)
        return types.InputRequiredResult(
            input_requests={"user_name": types.ElicitRequest(params=params)}
        )
    answer = types.ElicitResult.model_validate(answers["user_name"].model_dump())
    return f"hello {(answer.content or {}).get('name')}"


@server.tool()
async def where(ctx: Context) -> Any:
    """The client's roots."""
    answers = ctx.input_responses
    if not answers or "roots" not in answers:
        return types.InputRequiredResult(input_requests={"roots": types.ListRootsRequest()})
    roots = types.ListRootsResult.model_validate(answers["roots"].model_dump())
    return " ".join(str(root.uri) for root in roots.roots)


@server.tool()
async def slow(seconds: float, ctx: Context) -> str:
    """Sleep, reporting progress each tenth of the way; cancellable."""
    try:
        for step in range(10):
            await ctx.report_progress(step, 10, f"step {step}")
            await anyio.sleep(seconds / 10)
    except anyio.get_cancelled_exc_class():
        if marker := os.environ.get("MODERN_CANCEL_MARKER"):
            # Synchronously: any await in a cancelled scope is cancelled at once.
            Path(marker).write_text("cancelled")  # noqa: ASYNC240
        raise
    return "done"


@server.tool()
async def declared(ctx: Context) -> str:
    """Which of sampling, elicitation and roots this request's client declared."""
    capabilities = ctx.client_capabilities
    names = ("sampling", "elicitation", "roots")
    return " ".join(n for n in names if capabilities and getattr(capabilities, n) is not None)


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called ``name`` and tell listening clients the list changed."""
    server.add_tool(lambda: name, name=name, description="grown at run time")
    await ctx.notify_tools_changed()
    return f"{name} added"


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    server.run()
