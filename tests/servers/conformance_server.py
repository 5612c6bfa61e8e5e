"""The MCP server the official conformance suite (``@modelcontextprotocol/conformance``)
expects at the other end of its server scenarios: the tools, resources, prompts and
completions those scenarios call by name, with the behaviour each one checks.

Built on the SDK's low-level ``Server`` rather than ``MCPServer``, because the scenarios
need things ``MCPServer`` decides for us: exact input schemas (JSON Schema 2020-12
keywords), raw elicitation schemas (titled enums, ``enumNames``), ``logging/setLevel``
and ``resources/subscribe``.

    python tests/servers/conformance_server.py              # stdio (how the hub runs it)
    python tests/servers/conformance_server.py --http PORT  # streamable HTTP at /mcp
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import struct
import warnings
import wave
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

import anyio
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

Ctx = ServerRequestContext[Any, Any]
ToolHandler = Callable[[Ctx, Mapping[str, Any]], Awaitable[types.CallToolResult]]

LOG_LEVELS: tuple[str, ...] = get_args(types.LoggingLevel)


def _png_1x1_red() -> str:
    """A valid 1x1 red PNG, base64: built here so no opaque blob sits in the source."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then one red pixel
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


def _wav_silence() -> str:
    """A valid 50 ms mono 8 kHz WAV of silence, base64."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 400)
    return base64.b64encode(buffer.getvalue()).decode()


PNG = _png_1x1_red()
WAV = _wav_silence()


def _text(text: str, *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=is_error)


def _connection_key(ctx: Ctx) -> str:
    """Which client a request belongs to: its HTTP session, or the one stdio peer."""
    headers = getattr(ctx.request, "headers", None)
    session_id = headers.get("mcp-session-id") if headers is not None else None
    return session_id or "stdio"


# Per-connection state the scenarios set and read back.
log_levels: dict[str, str] = {}
subscriptions: dict[str, set[str]] = {}


async def _log(ctx: Ctx, level: types.LoggingLevel, message: str) -> None:
    """A log notification on this request's stream, unless the client asked for less."""
    minimum = log_levels.get(_connection_key(ctx), "debug")
    if LOG_LEVELS.index(level) >= LOG_LEVELS.index(minimum):
        await ctx.session.send_log_message(
            level, message, logger="conformance", related_request_id=ctx.request_id
        )


# --- tools ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    tool: types.Tool
    handler: ToolHandler


TOOLS: dict[str, ToolSpec] = {}
NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}


def tool(
    description: str, input_schema: dict[str, Any] | None = None
) -> Callable[[ToolHandler], ToolHandler]:
    """Register a handler as the tool of the same name."""

    def register(handler: ToolHandler) -> ToolHandler:
        name = handler.__name__
        schema = input_schema or NO_ARGS
        TOOLS[name] = ToolSpec(
            types.Tool(name=name, description=description, input_schema=schema), handler
        )
        return handler

    return register


def _string_args(*names: str) -> dict[str, Any]:
    properties = {name: {"type": "string", "description": name} for name in names}
    return {"type": "object", "properties": properties, "required": list(names)}


@tool("Returns one text block.")
async def test_simple_text(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    return _text("This is a simple text response for testing.")


@tool("Returns a 1x1 red PNG.")
async def test_image_content(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.ImageContent(data=PNG, mime_type="image/png")])


@tool("Returns a short WAV of silence.")
async def test_audio_content(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.AudioContent(data=WAV, mime_type="audio/wav")])


@tool("Returns an embedded text resource.")
async def test_embedded_resource(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    resource = types.TextResourceContents(
        uri="test://embedded-resource",
        mime_type="text/plain",
        text="This is an embedded resource content.",
    )
    return types.CallToolResult(content=[types.EmbeddedResource(resource=resource)])


@tool("Returns text, an image and an embedded resource together.")
async def test_multiple_content_types(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    resource = types.TextResourceContents(
        uri="test://mixed-content-resource",
        mime_type="application/json",
        text=json.dumps({"test": "data", "value": 123}),
    )
    return types.CallToolResult(
        content=[
            types.TextContent(text="Multiple content types test:"),
            types.ImageContent(data=PNG, mime_type="image/png"),
            types.EmbeddedResource(resource=resource),
        ]
    )


@tool("Sends three info log notifications while it runs.")
async def test_tool_with_logging(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    await _log(ctx, "info", "Tool execution started")
    await anyio.sleep(0.05)
    await _log(ctx, "info", "Tool processing data")
    await anyio.sleep(0.05)
    await _log(ctx, "info", "Tool execution completed")
    return _text("Tool with logging executed successfully")


@tool("Reports progress 0, 50 and 100 of 100 when the caller asks for progress.")
async def test_tool_with_progress(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    for step, progress in enumerate((0, 50, 100)):
        if step:
            await anyio.sleep(0.05)
        await ctx.session.report_progress(progress, 100, f"step {step + 1} of 3")
    return _text("Tool with progress executed successfully")


@tool("Always fails, as a tool error the model can read.")
async def test_error_handling(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    return _text("This tool intentionally returns an error for testing", is_error=True)


@tool("Asks the client's model to answer the prompt (sampling).", _string_args("prompt"))
async def test_sampling(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    wanted = types.ClientCapabilities(sampling=types.SamplingCapability())
    if not ctx.session.check_client_capability(wanted):
        return _text("The client does not support sampling", is_error=True)
    message = types.SamplingMessage(
        role="user", content=types.TextContent(text=str(args["prompt"]))
    )
    result = await ctx.session.create_message(
        messages=[message], max_tokens=100, related_request_id=ctx.request_id
    )
    answer = result.content.text if isinstance(result.content, types.TextContent) else "(not text)"
    return _text(f"LLM response: {answer}")


async def _elicit(ctx: Ctx, message: str, schema: dict[str, Any]) -> types.ElicitResult | None:
    wanted = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    if not ctx.session.check_client_capability(wanted):
        return None
    return await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)


def _elicited(result: types.ElicitResult | None, prefix: str) -> types.CallToolResult:
    if result is None:
        return _text("The client does not support elicitation", is_error=True)
    return _text(f"{prefix}: action={result.action}, content={json.dumps(result.content)}")


@tool("Asks the user for a username and an email (elicitation).", _string_args("message"))
async def test_elicitation(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    return _elicited(await _elicit(ctx, str(args["message"]), schema), "User response")


@tool("Elicits a form whose every primitive field has a default (SEP-1034).")
async def test_elicitation_sep1034_defaults(
    ctx: Ctx, args: Mapping[str, Any]
) -> types.CallToolResult:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Your name", "default": "John Doe"},
            "age": {"type": "integer", "description": "Your age", "default": 30},
            "score": {"type": "number", "description": "Your score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "Account status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verified?", "default": True},
        },
    }
    result = await _elicit(ctx, "Please review these defaulted fields", schema)
    return _elicited(result, "Elicitation completed")


def _titled(prefix: str, titles: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"const": f"{prefix}{i}", "title": title} for i, title in enumerate(titles, 1)]


@tool("Elicits all five enum shapes of SEP-1330.")
async def test_elicitation_sep1330_enums(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    options = ["option1", "option2", "option3"]
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": options},
            "titledSingle": {
                "type": "string",
                "oneOf": _titled("value", ("First Option", "Second Option", "Third Option")),
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": options}},
            "titledMulti": {
                "type": "array",
                "items": {
                    "anyOf": _titled("value", ("First Choice", "Second Choice", "Third Choice"))
                },
            },
        },
    }
    result = await _elicit(ctx, "Please pick from these enums", schema)
    return _elicited(result, "Elicitation completed")


@tool(
    "Tool with JSON Schema 2020-12 features",
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "additionalProperties": False,
    },
)
async def json_schema_2020_12_tool(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    return _text(f"Received: {json.dumps(dict(args), sort_keys=True)}")


async def list_tools(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[spec.tool for spec in TOOLS.values()])


async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    spec = TOOLS.get(params.name)
    if spec is None:
        return _text(f"Unknown tool: {params.name}", is_error=True)
    return await spec.handler(ctx, params.arguments or {})


# --- resources -----------------------------------------------------------------------

STATIC_TEXT = "This is the content of the static text resource."
RESOURCES = [
    types.Resource(
        uri="test://static-text",
        name="static-text",
        description="A static text resource",
        mime_type="text/plain",
    ),
    types.Resource(
        uri="test://static-binary",
        name="static-binary",
        description="A static binary resource (a 1x1 PNG)",
        mime_type="image/png",
    ),
    types.Resource(
        uri="test://watched-resource",
        name="watched-resource",
        description="A resource clients may subscribe to",
        mime_type="text/plain",
    ),
]
TEMPLATE_PREFIX, TEMPLATE_SUFFIX = "test://template/", "/data"


async def list_resources(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    return types.ListResourcesResult(resources=RESOURCES)


async def list_resource_templates(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListResourceTemplatesResult:
    template = types.ResourceTemplate(
        uri_template=f"{TEMPLATE_PREFIX}{{id}}{TEMPLATE_SUFFIX}",
        name="template-data",
        description="JSON data for the id in the URI",
        mime_type="application/json",
    )
    return types.ListResourceTemplatesResult(resource_templates=[template])


async def read_resource(
    ctx: Ctx, params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    uri = str(params.uri)
    contents: types.TextResourceContents | types.BlobResourceContents
    if uri == "test://static-text":
        contents = types.TextResourceContents(uri=uri, mime_type="text/plain", text=STATIC_TEXT)
    elif uri == "test://static-binary":
        contents = types.BlobResourceContents(uri=uri, mime_type="image/png", blob=PNG)
    elif uri == "test://watched-resource":
        contents = types.TextResourceContents(uri=uri, mime_type="text/plain", text="watched")
    elif uri.startswith(TEMPLATE_PREFIX) and uri.endswith(TEMPLATE_SUFFIX):
        item = uri[len(TEMPLATE_PREFIX) : -len(TEMPLATE_SUFFIX)]
        data = {"id": item, "templateTest": True, "data": f"Data for ID: {item}"}
        contents = types.TextResourceContents(
            uri=uri, mime_type="application/json", text=json.dumps(data)
        )
    else:
        raise MCPError(code=-32002, message=f"Resource not found: {uri}")
    return types.ReadResourceResult(contents=[contents])


async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
    subscriptions.setdefault(_connection_key(ctx), set()).add(str(params.uri))
    return types.EmptyResult()


async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
    subscriptions.get(_connection_key(ctx), set()).discard(str(params.uri))
    return types.EmptyResult()


# --- prompts and completions ---------------------------------------------------------

PROMPTS = [
    types.Prompt(name="test_simple_prompt", description="A prompt without arguments"),
    types.Prompt(
        name="test_prompt_with_arguments",
        description="A prompt with two required arguments",
        arguments=[
            types.PromptArgument(name="arg1", description="First test argument", required=True),
            types.PromptArgument(name="arg2", description="Second test argument", required=True),
        ],
    ),
    types.Prompt(
        name="test_prompt_with_embedded_resource",
        description="A prompt that embeds the resource named by its argument",
        arguments=[
            types.PromptArgument(name="resourceUri", description="URI to embed", required=True)
        ],
    ),
    types.Prompt(name="test_prompt_with_image", description="A prompt carrying an image"),
]
COMPLETIONS = {"arg1": ["paris", "park", "party", "test", "testing"], "arg2": ["hello", "world"]}


async def list_prompts(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=PROMPTS)


def _user(
    content: types.TextContent | types.ImageContent | types.EmbeddedResource,
) -> types.PromptMessage:
    return types.PromptMessage(role="user", content=content)


async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
    args = params.arguments or {}
    if params.name == "test_simple_prompt":
        messages = [_user(types.TextContent(text="This is a simple prompt for testing."))]
    elif params.name == "test_prompt_with_arguments":
        arg1, arg2 = args.get("arg1", ""), args.get("arg2", "")
        text = f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
        messages = [_user(types.TextContent(text=text))]
    elif params.name == "test_prompt_with_embedded_resource":
        resource = types.TextResourceContents(
            uri=args.get("resourceUri", "test://example-resource"),
            mime_type="text/plain",
            text="Embedded resource content for testing.",
        )
        messages = [
            _user(types.EmbeddedResource(resource=resource)),
            _user(types.TextContent(text="Please process the embedded resource above.")),
        ]
    elif params.name == "test_prompt_with_image":
        messages = [
            _user(types.ImageContent(data=PNG, mime_type="image/png")),
            _user(types.TextContent(text="Please analyze the image above.")),
        ]
    else:
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt: {params.name}")
    return types.GetPromptResult(messages=messages)


async def complete(ctx: Ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
    values: list[str] = []
    if isinstance(params.ref, types.PromptReference):
        candidates = COMPLETIONS.get(params.argument.name, [])
        values = [value for value in candidates if value.startswith(params.argument.value)]
    return types.CompleteResult(
        completion=types.Completion(values=values, total=len(values), has_more=False)
    )


async def set_level(ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
    log_levels[_connection_key(ctx)] = params.level
    return types.EmptyResult()


def build_server() -> Server[Any]:
    server: Server[Any] = Server(
        "conformance-fixture",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
    )
    # Registered here, not as ``on_set_logging_level``, which only adds a deprecation
    # warning on stderr: logging is deprecated from 2026-07-28, but these scenarios are
    # on 2025-11-25, where it is part of the protocol.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server


async def serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The MCP conformance suite's server fixture.")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP at /mcp")
    parser.add_argument("--host", default="127.0.0.1")
    options = parser.parse_args(argv)
    # Logging and sampling are deprecated from 2026-07-28 on, not in the 2025-11-25
    # protocol these scenarios speak: no warning per call in the server's log.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    server = build_server()
    if options.http is None:
        anyio.run(serve_stdio, server)
        return
    # On a loopback host the SDK turns on its DNS-rebinding protection (Host and Origin
    # checked), which the dns-rebinding-protection scenario expects.
    app = server.streamable_http_app(host=options.host)
    uvicorn.run(app, host=options.host, port=options.http, log_level="warning")


if __name__ == "__main__":
    main()
