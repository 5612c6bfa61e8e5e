"""A real MCP server for tests that speaks 2026-07-28 only in the way that revision asks
mid-call: its ``capital`` tool returns an input-required result for sampling, and reads
the answer from the client's retry (no server-to-client request on a session)."""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

server = MCPServer("modern", version="2.0.0")


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
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    server.run()
