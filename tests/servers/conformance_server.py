"""The MCP server the official conformance suite (``@modelcontextprotocol/conformance``)
expects at the other end of its server scenarios, for both revisions it checks (2025-11-25
and the stateless 2026-07-28): the tools, resources, prompts and completions those
scenarios call by name, with the behaviour each one checks.

Built on the SDK's low-level ``Server`` rather than ``MCPServer``, because the scenarios
need things ``MCPServer`` decides for us: exact input schemas (JSON Schema 2020-12
keywords), raw elicitation schemas (titled enums, ``enumNames``), ``logging/setLevel``,
``resources/subscribe``, and the exact keys of an ``input_required`` result's requests.

The interactive tools (and one prompt) ask the client as its revision allows: on
2025-11-25, mid-call, with sampling, elicitation and roots requests on the session; on
2026-07-28, by answering with an ``input_required`` result the client retries with its
answers (SEP-2322), the answers of earlier rounds riding a ``requestState`` the SDK's
``RequestStateBoundary`` seals.

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
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

import anyio
import jsonschema
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

Ctx = ServerRequestContext[Any, Any]
ToolResult = types.CallToolResult | types.InputRequiredResult
ToolCall = Callable[[Ctx, types.CallToolRequestParams], Awaitable[ToolResult]]
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


def _modern(ctx: Ctx) -> bool:
    """Whether this request speaks a stateless revision (2026-07-28 on)."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


# Per-connection state the scenarios set and read back.
log_levels: dict[str, str] = {}
subscriptions: dict[str, set[str]] = {}


async def _log(ctx: Ctx, level: types.LoggingLevel, message: str) -> None:
    """A log notification on this request's stream, unless the client asked for less: with
    ``logging/setLevel`` until 2025-11-25; from 2026-07-28 on, a request opts in with a
    ``logLevel`` in its ``_meta``, and the SDK drops what it did not ask for."""
    minimum = "debug" if _modern(ctx) else log_levels.get(_connection_key(ctx), "debug")
    if LOG_LEVELS.index(level) >= LOG_LEVELS.index(minimum):
        await ctx.session.send_log_message(
            level, message, logger="conformance", related_request_id=ctx.request_id
        )


# --- asking the client ---------------------------------------------------------------

#: What a client must have declared to be asked each kind of question.
_NEEDS: dict[str, types.ClientCapabilities] = {
    "sampling/createMessage": types.ClientCapabilities(sampling=types.SamplingCapability()),
    "elicitation/create": types.ClientCapabilities(elicitation=types.ElicitationCapability()),
    "roots/list": types.ClientCapabilities(roots=types.RootsCapability()),
}
_ANSWER_TYPES: dict[str, type[types.Result]] = {
    "sampling/createMessage": types.CreateMessageResult,
    "elicitation/create": types.ElicitResult,
    "roots/list": types.ListRootsResult,
}


class NeedInput(Exception):
    """Some questions are not answered yet (2026-07-28): the request's result is this
    ``input_required`` one, and the client comes back with the answers."""

    def __init__(self, result: types.InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


def _sample(text: str, max_tokens: int = 100) -> types.CreateMessageRequest:
    message = types.SamplingMessage(role="user", content=types.TextContent(text=text))
    params = types.CreateMessageRequestParams(messages=[message], max_tokens=max_tokens)
    return types.CreateMessageRequest(params=params)


def _elicit_form(message: str, **fields: str) -> types.ElicitRequest:
    """An elicitation of the required fields ``fields`` (name: JSON type)."""
    schema = {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in fields.items()},
        "required": list(fields),
    }
    params = types.ElicitRequestFormParams(message=message, requested_schema=schema)
    return types.ElicitRequest(params=params)


def _missing_capability(request: types.InputRequest) -> MCPError:
    """-32021 naming what the client lacks, as ``requiredCapabilities`` (SEP-2575)."""
    data = types.MissingRequiredClientCapabilityErrorData(
        required_capabilities=_NEEDS[request.method]
    ).model_dump(by_alias=True, mode="json", exclude_none=True)
    return MCPError(
        code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
        message=f"the client did not declare what {request.method} needs",
        data=data,
    )


class Asker:
    """Puts questions to the client of one request, the way its revision allows.

    On 2025-11-25 each question is a request on the session, answered mid-call. On
    2026-07-28 the handler runs again from the start each round: a question answered in
    ``inputResponses`` (or in an earlier round, recorded in ``requestState``) is answered,
    and the rest end this round with an ``input_required`` result (``NeedInput``). The
    state is plain JSON here; the ``RequestStateBoundary`` seals it on the way out and
    refuses a tampered one on the way in, so what comes back is what this server wrote.
    """

    def __init__(self, ctx: Ctx, params: types.InputResponseRequestParams) -> None:
        self.ctx = ctx
        self.modern = _modern(ctx)
        #: Whether the client sent back the state of an earlier round.
        self.state_returned = self.modern and params.request_state is not None
        self._responses = (params.input_responses or {}) if self.modern else {}
        self._answered: dict[str, dict[str, Any]] = {}
        if self.state_returned and params.request_state:
            self._answered = json.loads(params.request_state)["answered"]

    def can_ask(self, request: types.InputRequest) -> bool:
        return self.ctx.session.check_client_capability(_NEEDS[request.method])

    async def ask(
        self, questions: Mapping[str, types.InputRequest], *, need_state: bool = False
    ) -> dict[str, Any]:
        """The answers to ``questions``, by key. With ``need_state``, answers count on
        2026-07-28 only when the client also sent back the state they were asked with.

        Raises MCPError -32021 if the client cannot be asked one of them, and NeedInput
        (2026-07-28) while some are unanswered."""
        for request in questions.values():
            if not self.can_ask(request):
                raise _missing_capability(request)
        if not self.modern:
            metadata = ServerMessageMetadata(related_request_id=self.ctx.request_id)
            return {
                key: await self.ctx.session.send_request(
                    request, _ANSWER_TYPES[request.method], metadata=metadata
                )
                for key, request in questions.items()
            }
        answers: dict[str, Any] = {}
        pending: dict[str, types.InputRequest] = {}
        for key, request in questions.items():
            answer = self._recorded(key, request)
            if answer is None and (self.state_returned or not need_state):
                answer = self._fitting(request, self._responses.get(key))
            if answer is None:
                pending[key] = request
                continue
            answers[key] = answer
            self._answered[key] = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
        if pending:
            state = json.dumps({"answered": self._answered})
            raise NeedInput(types.InputRequiredResult(input_requests=pending, request_state=state))
        return answers

    def _recorded(self, key: str, request: types.InputRequest) -> types.Result | None:
        recorded = self._answered.get(key)
        if recorded is None:
            return None
        return _ANSWER_TYPES[request.method].model_validate(recorded)

    @staticmethod
    def _fitting(request: types.InputRequest, answer: types.InputResponse | None) -> Any:
        """``answer`` if it answers ``request`` (an accepted form must match its schema),
        else None: the question is asked again."""
        if not isinstance(answer, _ANSWER_TYPES[request.method]):
            return None
        if isinstance(answer, types.ElicitResult) and answer.action == "accept":
            assert isinstance(request, types.ElicitRequest)
            assert isinstance(request.params, types.ElicitRequestFormParams)
            try:
                jsonschema.validate(answer.content or {}, request.params.requested_schema)
            except jsonschema.ValidationError:
                return None
        return answer


def _said(answer: types.CreateMessageResult) -> str:
    content = answer.content
    return content.text if isinstance(content, types.TextContent) else f"({content.type})"


def _form(answer: types.ElicitResult, field: str) -> str:
    if answer.action != "accept" or not answer.content:
        return f"({answer.action})"
    return str(answer.content.get(field))


def _roots(answer: types.ListRootsResult) -> str:
    return ", ".join(str(root.uri) for root in answer.roots) or "(none)"


# --- tools ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    tool: types.Tool
    call: ToolCall


TOOLS: dict[str, ToolSpec] = {}
NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}
AskingHandler = Callable[[Asker, Mapping[str, Any]], Awaitable[types.CallToolResult]]


def _register(name: str, description: str, schema: dict[str, Any] | None, call: ToolCall) -> None:
    tool = types.Tool(name=name, description=description, input_schema=schema or NO_ARGS)
    TOOLS[name] = ToolSpec(tool, call)


def tool(
    description: str, input_schema: dict[str, Any] | None = None
) -> Callable[[ToolHandler], ToolHandler]:
    """Register a handler as the tool of the same name."""

    def register(handler: ToolHandler) -> ToolHandler:
        async def call(ctx: Ctx, params: types.CallToolRequestParams) -> ToolResult:
            return await handler(ctx, params.arguments or {})

        _register(handler.__name__, description, input_schema, call)
        return handler

    return register


def asking_tool(description: str) -> Callable[[AskingHandler], AskingHandler]:
    """Register a handler that asks the client things as the tool of the same name (no
    arguments); an unanswered round ends with its ``input_required`` result."""

    def register(handler: AskingHandler) -> AskingHandler:
        async def call(ctx: Ctx, params: types.CallToolRequestParams) -> ToolResult:
            try:
                return await handler(Asker(ctx, params), params.arguments or {})
            except NeedInput as need:
                return need.result

        _register(handler.__name__, description, None, call)
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
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False,
    },
)
async def json_schema_2020_12_tool(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    return _text(f"Received: {json.dumps(dict(args), sort_keys=True)}")


@tool(
    "Echoes its arguments; region and priority are mirrored in Mcp-Param headers (SEP-2243).",
    {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "priority": {"type": "integer", "x-mcp-header": "Priority"},
            "query": {"type": "string"},
        },
        "required": ["region"],
    },
)
async def test_custom_headers(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    return _text(f"Received: {json.dumps(dict(args), sort_keys=True)}")


@tool("Closes its SSE stream mid-call, then answers: the client resumes it (SEP-1699).")
async def test_reconnection(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    # Only HTTP with an event store offers the close (stdio has no stream to close).
    if ctx.close_sse_stream is not None:
        await ctx.close_sse_stream()
        await anyio.sleep(0.2)
    return _text("Reconnection test completed")


# The interactive tools of the 2026-07-28 scenarios (SEP-2322), keys as they expect them.


@asking_tool("Asks the user's name (elicitation), then greets them.")
async def test_input_required_result_elicitation(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    answers = await ask.ask({"user_name": _elicit_form("What is your name?", name="string")})
    return _text(f"Hello, {_form(answers['user_name'], 'name')}!")


@asking_tool("Asks the client's model a question (sampling) and reports its answer.")
async def test_input_required_result_sampling(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    answers = await ask.ask({"capital_question": _sample("What is the capital of France?")})
    return _text(f"The model answered: {_said(answers['capital_question'])}")


@asking_tool("Asks the client for its roots and lists them.")
async def test_input_required_result_list_roots(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    answers = await ask.ask({"client_roots": types.ListRootsRequest()})
    return _text(f"The client's roots: {_roots(answers['client_roots'])}")


@asking_tool("Asks for a confirmation, answered only with the state it was asked with.")
async def test_input_required_result_request_state(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    answers = await ask.ask(
        {"confirm": _elicit_form("Please confirm", ok="boolean")}, need_state=True
    )
    state = "state-ok" if ask.state_returned else "asked mid-call"
    return _text(f"{state}: confirmed={_form(answers['confirm'], 'ok')}")


@asking_tool("Like test_input_required_result_request_state: its state must come back intact.")
async def test_input_required_result_tampered_state(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    answers = await ask.ask(
        {"confirm": _elicit_form("Please confirm", ok="boolean")}, need_state=True
    )
    return _text(f"state-ok: confirmed={_form(answers['confirm'], 'ok')}")


@asking_tool("Asks three things at once: a name, a model's greeting and the roots.")
async def test_input_required_result_multiple_inputs(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    answers = await ask.ask(
        {
            "user_name": _elicit_form("What is your name?", name="string"),
            "greeting": _sample("Generate a greeting", max_tokens=50),
            "client_roots": types.ListRootsRequest(),
        }
    )
    name, greeting = _form(answers["user_name"], "name"), _said(answers["greeting"])
    return _text(f"{greeting} {name} (roots: {_roots(answers['client_roots'])})")


@asking_tool("Asks a name, then (a second round) a favourite colour.")
async def test_input_required_result_multi_round(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    first = await ask.ask({"step1": _elicit_form("Step 1: What is your name?", name="string")})
    second = await ask.ask(
        {"step2": _elicit_form("Step 2: What is your favorite color?", color="string")}
    )
    name, color = _form(first["step1"], "name"), _form(second["step2"], "color")
    return _text(f"{name}'s favourite colour is {color}")


@asking_tool("Asks only what the client declared it can answer: sampling, elicitation.")
async def test_input_required_result_capabilities(
    ask: Asker, args: Mapping[str, Any]
) -> types.CallToolResult:
    wanted: dict[str, types.InputRequest] = {
        "capital_question": _sample("What is the capital of France?"),
        "user_name": _elicit_form("What is your name?", name="string"),
    }
    questions = {key: q for key, q in wanted.items() if ask.can_ask(q)}
    answers = await ask.ask(questions or wanted)  # a client that can answer none: -32021
    return _text(f"Asked {sorted(answers)}")


@asking_tool("Needs sampling: a client that did not declare it gets -32021 (SEP-2575).")
async def test_missing_capability(ask: Asker, args: Mapping[str, Any]) -> types.CallToolResult:
    answers = await ask.ask({"hello": _sample("Say hello")})
    return _text(f"The model said: {_said(answers['hello'])}")


@asking_tool("Asks a confirmation (elicitation): never a request on the response stream.")
async def test_streaming_elicitation(ask: Asker, args: Mapping[str, Any]) -> types.CallToolResult:
    answers = await ask.ask({"confirm": _elicit_form("Shall I go on?", ok="boolean")})
    return _text(f"confirmed={_form(answers['confirm'], 'ok')}")


@tool("Logs at debug, info and warning (from 2026-07-28, only if the request opted in).")
async def test_logging_tool(ctx: Ctx, args: Mapping[str, Any]) -> types.CallToolResult:
    for level in ("debug", "info", "warning"):
        await _log(ctx, level, f"a {level} message")
    return _text("Logged at debug, info and warning")


async def list_tools(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[spec.tool for spec in TOOLS.values()])


def tool_input_schema(name: str) -> dict[str, Any] | None:
    """A tool's input schema, for the SDK's Mcp-Param header checks (no tools/list)."""
    spec = TOOLS.get(name)
    return spec.tool.input_schema if spec is not None else None


async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> ToolResult:
    spec = TOOLS.get(params.name)
    if spec is None:  # a protocol error, not a tool's: the model did not run anything
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
    return await spec.call(ctx, params)


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
        # -32002 until 2025-11-25; SEP-2164 settles on invalid params from 2026-07-28.
        code = types.INVALID_PARAMS if _modern(ctx) else -32002
        raise MCPError(code=code, message=f"Resource not found: {uri}", data={"uri": uri})
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
    types.Prompt(
        name="test_input_required_result_prompt",
        description="A prompt that first asks the user for its context (elicitation)",
    ),
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


async def get_prompt(
    ctx: Ctx, params: types.GetPromptRequestParams
) -> types.GetPromptResult | types.InputRequiredResult:
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
    elif params.name == "test_input_required_result_prompt":
        question = _elicit_form("What context should the prompt use?", context="string")
        try:
            answers = await Asker(ctx, params).ask({"user_context": question})
        except NeedInput as need:
            return need.result
        context = _form(answers["user_context"], "context")
        messages = [_user(types.TextContent(text=f"Answer in this context: {context}"))]
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


class MemoryEventStore(EventStore):
    """The events of every SSE stream, in memory, so a client whose stream was closed
    mid-call resumes it with ``Last-Event-ID`` (the server-sse-polling scenario). Keeps
    the latest ``limit`` events: enough for a test server."""

    def __init__(self, limit: int = 10_000) -> None:
        self._events: OrderedDict[int, tuple[StreamId, types.JSONRPCMessage | None]] = OrderedDict()
        self._next = 0
        self._limit = limit

    async def store_event(
        self, stream_id: StreamId, message: types.JSONRPCMessage | None
    ) -> EventId:
        self._next += 1
        self._events[self._next] = (stream_id, message)
        while len(self._events) > self._limit:
            self._events.popitem(last=False)
        return str(self._next)

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        last = int(last_event_id) if last_event_id.isdigit() else -1
        if last not in self._events:
            return None
        stream_id = self._events[last][0]
        for event_id, (stream, message) in list(self._events.items()):
            if event_id > last and stream == stream_id and message is not None:
                await send_callback(EventMessage(message, str(event_id)))
        return stream_id


def build_server() -> Server[Any]:
    server: Server[Any] = Server(
        "conformance-fixture",
        version="1.0.0",
        get_tool_input_schema=tool_input_schema,
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
    # warning on stderr: logging is gone from 2026-07-28 on (the SDK answers it with
    # "method not found" there), but part of the 2025-11-25 protocol.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    # Seals the requestState of input_required results and refuses a tampered one with
    # -32602 (the input-required-result-tampered-state scenario). The key lives as long
    # as the process: one process serves every round here.
    security = RequestStateSecurity.ephemeral()
    server.middleware.append(RequestStateBoundary(security, default_audience=server.name))
    return server


async def serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The MCP conformance suite's server fixture.")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP at /mcp")
    parser.add_argument("--host", default="127.0.0.1")
    options = parser.parse_args(argv)
    # Logging and sampling are deprecated from 2026-07-28 on, but part of 2025-11-25,
    # which this server speaks too: no warning per call in the server's log.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    server = build_server()
    if options.http is None:
        anyio.run(serve_stdio, server)
        return
    # On a loopback host the SDK turns on its DNS-rebinding protection (Host and Origin
    # checked), which the dns-rebinding-protection scenario expects. The event store
    # makes streams resumable, with a priming event and a retry hint (SEP-1699).
    app = server.streamable_http_app(
        host=options.host, event_store=MemoryEventStore(), retry_interval=100
    )
    # h11, not httptools (uvicorn's default when installed): httptools keeps the trailing
    # whitespace of a header value, which HTTP says is not part of it (RFC 9110 5.5), and
    # the SDK compares Mcp-Name with the body as it gets it (http-header-validation).
    uvicorn.run(app, host=options.host, port=options.http, log_level="warning", http="h11")


if __name__ == "__main__":
    main()
