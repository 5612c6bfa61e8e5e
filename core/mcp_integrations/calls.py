"""Requests to a running server on behalf of the hub's clients: tools, resources, prompts.

Arguments are checked against the tool's input schema before the server sees them, every
call has a deadline (the server is told to cancel when it passes), and what comes back
is the MCP result as the server sent it, with the integration's secrets masked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import anyio
import mcp_types as types
from jsonschema import exceptions as schema_errors
from jsonschema import validators
from jsonschema.protocols import Validator
from mcp import ClientSession
from mcp.client._input_required import run_input_required_driver
from mcp.client.session import ClientRequestContext
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import RequestParamsMeta
from pydantic import BaseModel

from mcp_integrations.catalog import offers
from mcp_integrations.errors import (
    CallTimeout,
    InvalidArguments,
    NotRunning,
    UnknownPrompt,
    UnknownResource,
    UnknownTool,
    UpstreamError,
)
from mcp_integrations.models import JSON, ToolInfo
from mcp_integrations.relay import Caller, undeclared
from mcp_integrations.runtime import (
    FORGOTTEN,
    Connection,
    is_modern,
    session_forgotten,
    withholding,
)
from mcp_integrations.supervisor import Supervisor

DEFAULT_CALL_TIMEOUT = 60.0
#: JSON-RPC error codes servers use for "no such resource" and "no such prompt or tool".
RESOURCE_NOT_FOUND = -32002
R = TypeVar("R")
ResultT = TypeVar("ResultT", bound=BaseModel)
#: Told of each tool call: the integration, its seconds, and ok, tool_error or error.
CallObserver = Callable[[str, float, str], None]


def result_json(result: BaseModel) -> JSON:
    """An MCP model as it goes on the wire: camelCase, no nulls."""
    data: JSON = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def dumped(items: Iterable[BaseModel]) -> list[JSON]:
    return [result_json(item) for item in items]


def _validator(tool: ToolInfo) -> Validator:
    schema = tool.input_schema or {"type": "object"}
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    return cls(schema)


def check_arguments(tool: ToolInfo, arguments: JSON, cache: dict[str, Validator]) -> None:
    """Raise ``InvalidArguments`` naming the first field the input schema refuses."""
    validator = cache.get(tool.name)
    if validator is None:
        try:
            validator = cache[tool.name] = _validator(tool)
        except schema_errors.SchemaError:
            return  # a server's broken schema is the server's to enforce
    if validator.is_valid(arguments):
        return
    error = schema_errors.best_match(validator.iter_errors(arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(the arguments)"
        raise InvalidArguments(f"argument {where!r} of tool {tool.name!r}: {error.message[:200]}")


def _spec_data(exc: MCPError) -> dict[str, object] | None:
    """What of a server's error data a client needs: the capabilities a request lacked
    (-32021); the rest may hold what the server should not have said."""
    data = exc.error.data
    if exc.code != types.MISSING_REQUIRED_CLIENT_CAPABILITY or not isinstance(data, dict):
        return None
    needed = data.get("requiredCapabilities")
    return {"requiredCapabilities": needed} if isinstance(needed, dict) else None


class SessionForgotten(UpstreamError):
    """The server does not know the hub's session any more; a new one will do."""


async def answered(session: ClientSession, ask: Callable[..., Awaitable[Any]]) -> Any:
    """What ``ask`` (a request of a 2026-07-28 server that may answer ``input_required``)
    comes to once what the server asks for (sampling, elicitation, roots) is answered,
    round after round, by the relay: the hub's own client in turn, however that one
    speaks. The SDK's driver does the rounds."""

    async def again(responses: types.InputResponses | None, state: str | None) -> Any:
        return await ask(input_responses=responses, request_state=state, allow_input_required=True)

    first = await again(None, None)
    if not isinstance(first, types.InputRequiredResult):
        return first

    async def dispatch(
        key: str, request: types.InputRequest
    ) -> types.InputResponse | types.ErrorData:
        meta = request.params.meta if request.params else None
        context = ClientRequestContext(session=session, request_id=key, meta=meta)
        return await session.dispatch_input_request(context, request)

    return await run_input_required_driver(first, dispatch=dispatch, retry=again)


class Calls:
    """The calls one supervisor's server answers, each within ``timeout`` seconds, on
    behalf of ``caller`` (who may be asked back), for REST routes and the MCP gateway."""

    def __init__(
        self,
        supervisor: Supervisor,
        timeout: float,
        caller: Caller | None = None,
        observe: CallObserver | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.timeout = timeout
        self.caller = caller
        self.observe = observe

    def _connection(self) -> Connection:
        connection = self.supervisor.connection
        if connection is None:
            raise NotRunning(
                f"integration {self.supervisor.integration.id!r} is {self.supervisor.status}; "
                'start it first, or install it with "start_on_demand": true'
            )
        return connection

    def _session(self) -> ClientSession:
        return self._connection().session

    async def _once_more(self, what: str, send: Callable[[ClientSession], Awaitable[R]]) -> R:
        """One request, sent again once on a new session when the server forgot ours (a
        remote server that restarted); the reconnection shows in status as a restart."""
        connection = self._connection()
        try:
            async with self._upstream(what):
                return await send(connection.session)
        except SessionForgotten:
            connection.lose(FORGOTTEN)
        with anyio.fail_after(self.timeout):
            await self.supervisor.until_replaced(connection)
        async with self._upstream(what):
            return await send(self._session())

    @asynccontextmanager
    async def _upstream(self, what: str) -> AsyncIterator[None]:
        """One request: its deadline, the caller it may ask back, its errors typed."""
        timeout = self.timeout
        relay = self.supervisor.relay
        with (
            self.supervisor.in_use(),
            relay.calling(self.caller),
            withholding(undeclared(self.caller)),
        ):
            try:
                with anyio.fail_after(timeout):
                    yield
            except TimeoutError:
                raise CallTimeout(
                    f"{what} did not answer within {timeout:g}s; the call was cancelled"
                ) from None
            except MCPError as exc:
                if session_forgotten(exc):
                    raise SessionForgotten(FORGOTTEN) from None
                message, code = self.supervisor.redact(exc.error.message), exc.code
                if code == RESOURCE_NOT_FOUND:
                    raise UnknownResource(message, mcp_code=code) from None
                if code == types.INVALID_PARAMS:
                    raise InvalidArguments(
                        f"the server refused {what}: {message}", mcp_code=code
                    ) from None
                raise UpstreamError(
                    f"{what} failed: {message}", mcp_code=code, mcp_data=_spec_data(exc)
                ) from None
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                raise UpstreamError(f"the server went away during {what}") from None

    def tool(self, name: str) -> ToolInfo:
        for tool in self.supervisor.tools:
            if tool.name == name:
                return tool
        raise UnknownTool(
            f"integration {self.supervisor.integration.id!r} has no tool {name[:100]!r}"
        )

    async def call_tool(
        self,
        name: str,
        arguments: JSON,
        progress: ProgressFnT | None = None,
        meta: RequestParamsMeta | None = None,
    ) -> types.CallToolResult:
        self._connection()
        check_arguments(self.tool(name), arguments, self.supervisor.validators)

        async def send(session: ClientSession) -> types.CallToolResult:
            if not is_modern(session.protocol_version):
                return await session.call_tool(
                    name, arguments, progress_callback=progress, meta=meta or None
                )

            call = partial(
                session.call_tool, name, arguments, progress_callback=progress, meta=meta or None
            )
            result: types.CallToolResult = await answered(session, call)
            return result

        began, outcome = time.perf_counter(), "error"
        try:
            result = await self._once_more(f"tool {name!r}", send)
            outcome = "tool_error" if result.is_error else "ok"
            return self.supervisor.scrubbed_model(result)
        finally:
            if self.observe is not None:
                elapsed = time.perf_counter() - began
                self.observe(self.supervisor.integration.id, elapsed, outcome)

    def offers(self, capability: str) -> bool:
        """Whether the running server declared ``capability`` (``prompts``, ``logging``...)."""
        return offers(self._session(), capability)

    def list_resources(self) -> list[types.Resource]:
        return list(self.supervisor.catalog.resources)

    def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return list(self.supervisor.catalog.templates)

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        if not self.offers("resources"):
            raise UnknownResource(
                f"integration {self.supervisor.integration.id!r} offers no resources"
            )

        async def send(session: ClientSession) -> types.ReadResourceResult:
            if not is_modern(session.protocol_version):
                return await session.read_resource(uri)

            read: types.ReadResourceResult = await answered(
                session, partial(session.read_resource, uri)
            )
            return read

        return self.supervisor.scrubbed_model(await self._once_more("resources/read", send))

    def list_prompts(self) -> list[types.Prompt]:
        return list(self.supervisor.catalog.prompts)

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> types.GetPromptResult:
        if not self.offers("prompts"):
            raise UnknownPrompt(f"integration {self.supervisor.integration.id!r} offers no prompts")

        async def send(session: ClientSession) -> types.GetPromptResult:
            if not is_modern(session.protocol_version):
                return await session.get_prompt(name, arguments)

            got: types.GetPromptResult = await answered(
                session, partial(session.get_prompt, name, arguments)
            )
            return got

        return self.supervisor.scrubbed_model(await self._once_more(f"prompt {name!r}", send))

    async def forward(self, request: Any, result_type: type[ResultT], what: str) -> ResultT:
        """Any other request (completion, log level, subscriptions), as the client sent it."""

        async def send(session: ClientSession) -> ResultT:
            return await session.send_request(request, result_type)

        return await self._once_more(what, send)
