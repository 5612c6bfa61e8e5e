"""A 2026-07-28 client calling a tool of a server that speaks 2025-11-25 (MRTR, SEP-2322).

Such a server asks its client mid-call, on its session, to sample, elicit or list roots;
a stateless client cannot be asked. So the hub keeps the server's call running, answers
the client with an ``input_required`` result naming what the server asked, and when the
client calls again with ``inputResponses`` and the ``requestState`` it was given, hands
the answers to the waiting server and goes on with the same call.

The ``requestState`` the client sees is sealed by the SDK's ``RequestStateBoundary``
(AES-GCM under the hub's key, bound to the method, the tool and its arguments, the
caller, and a deadline); inside it is a one-time id of the parked call, so a state used
once, or for a call that ended, is refused like a forged one.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp.server.context import ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from pydantic import BaseModel, ValidationError

from mcp_integrations.relay import ELICITATION, ROOTS, SAMPLING
from mcp_integrations.runtime import is_modern

#: How long a parked call waits for the client to come back with its answers.
ROUND_SECS = 300.0
#: How long, once a server has asked something, its other questions of the same moment
#: are awaited, to go to the client in the same round.
GATHER_SECS = 0.02
#: What the client is told for a state that is forged, expired, replayed or not its own:
#: the same words as the SDK's boundary, so they tell an attacker nothing.
INVALID_STATE = "Invalid or expired requestState"
_CAPABILITY = {
    SAMPLING: types.ClientCapabilities(sampling=types.SamplingCapability()),
    ELICITATION: types.ClientCapabilities(elicitation=types.ElicitationCapability()),
    ROOTS: types.ClientCapabilities(roots=types.RootsCapability()),
}


_CAPABILITY_OF = {
    "sampling/createMessage": SAMPLING,
    "elicitation/create": ELICITATION,
    "roots/list": ROOTS,
}


def is_modern_client(ctx: ServerRequestContext) -> bool:
    """A client on a stateless revision: it cannot be asked on a session."""
    return is_modern(ctx.protocol_version)


@dataclass
class _Ask:
    """One request of the server, waiting for the client's answer."""

    key: str
    request: types.CreateMessageRequest | types.ElicitRequest | types.ListRootsRequest
    answer_type: type[BaseModel]
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: BaseModel | types.ErrorData | None = None


class _Parked:
    """One call of a server in flight across the client's rounds."""

    def __init__(self, capabilities: set[str]) -> None:
        self.capabilities = capabilities
        self.caller: ModernCaller | None = None
        self.asks: dict[str, _Ask] = {}
        self.unsent: list[_Ask] = []
        self.changed = anyio.Event()
        self.done = anyio.Event()
        self.outcome: Any = None
        #: A capability the server needed that the client did not declare.
        self.missing: str | None = None
        self.scope = anyio.CancelScope()
        #: The one-time id its client must come back with, between rounds.
        self.token: str | None = None

    async def run(self, call: Callable[[], Awaitable[Any]]) -> None:
        with self.scope:
            try:
                self.outcome = await call()
            except MCPError as exc:
                self.outcome = exc
        if self.outcome is None:
            self.outcome = MCPError(types.INTERNAL_ERROR, "the call was abandoned")
        self.done.set()
        self.changed.set()

    def can(self, capability: str) -> bool:
        """Always: a request for a capability the client lacks ends its call with the
        error the spec names, rather than reaching the server as a refusal."""
        return True

    async def ask(
        self,
        request: types.CreateMessageRequest | types.ElicitRequest | types.ListRootsRequest,
        answer_type: type[BaseModel],
        key: str | None = None,
    ) -> Any:
        """Park the server's request until the client answers it in its next round."""
        capability = _CAPABILITY_OF[request.method]
        if capability not in self.capabilities:
            self.missing = capability
            self.changed.set()
            return types.ErrorData(
                code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                message=f"the client did not declare the {capability} capability",
            )
        if key is None or key in self.asks:
            key = f"{request.method.split('/')[0]}-{secrets.token_hex(4)}"
        ask = _Ask(key, request, answer_type)
        self.asks[ask.key] = ask
        self.unsent.append(ask)
        self.changed.set()
        with anyio.move_on_after(ROUND_SECS):
            await ask.answered.wait()
        if ask.answer is None:
            return types.ErrorData(
                code=types.REQUEST_TIMEOUT, message="the client did not answer in time"
            )
        return ask.answer

    def take_answers(self, responses: Mapping[str, Any]) -> None:
        """The client's answers to what it was sent last; each checked against its ask."""
        waiting = [ask for ask in self.asks.values() if not ask.answered.is_set()]
        missing = [ask.key for ask in waiting if ask.key not in responses]
        if missing:
            raise MCPError(types.INVALID_PARAMS, f"inputResponses lacks {', '.join(missing)}")
        for ask in waiting:
            try:
                ask.answer = ask.answer_type.model_validate(responses[ask.key])
            except ValidationError as exc:
                message = f"inputResponses[{ask.key!r}] is not a {ask.request.method} result"
                raise MCPError(types.INVALID_PARAMS, message) from exc
        for ask in waiting:
            ask.answered.set()
            del self.asks[ask.key]

    async def next_round(self) -> list[_Ask]:
        """Wait until the call ends or the server asks something; what to send the client
        (a 2026-07-28 server asks several things at once: they go in one round)."""
        while not self.done.is_set() and not self.unsent and self.missing is None:
            self.changed = anyio.Event()
            await self.changed.wait()
        while not self.done.is_set() and self.missing is None:
            count = len(self.unsent)
            self.changed = anyio.Event()
            with anyio.move_on_after(GATHER_SECS):
                await self.changed.wait()
            if len(self.unsent) == count:
                break
        sent, self.unsent = self.unsent, []
        return sent


class ModernCaller:
    """The relay's ``Caller`` for a stateless client: what the server asks is parked for
    the client's next round, never sent on a session."""

    def __init__(self, parked: _Parked, report: ServerRequestContext) -> None:
        self._parked = parked
        self.report = report

    def can(self, capability: str) -> bool:
        return self._parked.can(capability)

    def declares(self, capability: str) -> bool:
        return capability in self._parked.capabilities

    async def sample(
        self, params: types.CreateMessageRequestParams, key: str | None = None
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        answer_type = (
            types.CreateMessageResultWithTools if params.tools else types.CreateMessageResult
        )
        request = types.CreateMessageRequest(params=params)
        answer: Any = await self._parked.ask(request, answer_type, key)
        return answer  # type: ignore[no-any-return]

    async def elicit(
        self, params: types.ElicitRequestParams, key: str | None = None
    ) -> types.ElicitResult | types.ErrorData:
        request = types.ElicitRequest(params=params)
        answer: Any = await self._parked.ask(request, types.ElicitResult, key)
        return answer  # type: ignore[no-any-return]

    async def list_roots(self, key: str | None = None) -> types.ListRootsResult | types.ErrorData:
        answer: Any = await self._parked.ask(types.ListRootsRequest(), types.ListRootsResult, key)
        return answer  # type: ignore[no-any-return]

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Only if the request opted in to log messages (2026-07-28), which the SDK's
        (deprecated) ``send_log_message`` checks."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await self.report.session.send_log_message(
                params.level, params.data, params.logger, related_request_id=self.report.request_id
            )

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        await self.report.session.report_progress(progress, total, message)


ResultT = TypeVar("ResultT", bound=BaseModel)


class Bridge:
    """Calls parked between rounds, by the one-time id sealed in their ``requestState``."""

    def __init__(self, task_group: TaskGroup) -> None:
        self._tg = task_group
        self._parked: dict[str, _Parked] = {}

    async def call(
        self, ctx: ServerRequestContext, start: Callable[[ModernCaller], Awaitable[ResultT]]
    ) -> ResultT | types.InputRequiredResult:
        """``start`` the request (``tools/call``, ``prompts/get``, ``resources/read``), or
        go on with the one the client's ``requestState`` names; its result, or what the
        server asks next."""
        params = ctx.params or {}
        state = params.get("requestState")
        if state is not None:
            parked = self._parked.pop(state, None)
            if parked is None or parked.done.is_set():
                raise MCPError(types.INVALID_PARAMS, INVALID_STATE)
            try:
                parked.take_answers(params.get("inputResponses") or {})
            except MCPError:
                parked.scope.cancel()
                raise
            if parked.caller is not None:
                parked.caller.report = ctx
        else:
            declared = {
                c for c, need in _CAPABILITY.items() if ctx.session.check_client_capability(need)
            }
            parked = _Parked(declared)
            caller = parked.caller = ModernCaller(parked, ctx)
            self._tg.start_soon(parked.run, lambda: start(caller))
            self._tg.start_soon(self._forget_when_done, parked)
        try:
            sent = await parked.next_round()
        except BaseException:
            # the client went away (a stateless client cancels by closing its request)
            parked.scope.cancel()
            raise
        if parked.missing is not None:
            parked.scope.cancel()
            needed = _CAPABILITY[parked.missing].model_dump(by_alias=True, exclude_none=True)
            raise MCPError(
                types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                f"the server needs the client's {parked.missing} capability, "
                "which this request did not declare",
                data={"requiredCapabilities": needed},
            )
        if parked.done.is_set():
            if isinstance(parked.outcome, MCPError):
                raise parked.outcome
            assert parked.outcome is not None
            result: ResultT = parked.outcome
            return result
        token = parked.token = secrets.token_urlsafe(18)
        self._parked[token] = parked
        requests: dict[str, Any] = {ask.key: ask.request for ask in sent}
        return types.InputRequiredResult(input_requests=requests, request_state=token)

    async def _forget_when_done(self, parked: _Parked) -> None:
        """A call whose client never came back ends (its asks time out); its id goes."""
        await parked.done.wait()
        if parked.token is not None:
            self._parked.pop(parked.token, None)


def principal_of(ctx: ServerRequestContext) -> str | None:
    """Who made the request, as the hub's authentication established it: a state minted
    for one caller is refused to another."""
    request = ctx.request
    scope = getattr(request, "scope", None)
    principal = scope.get("state", {}).get("principal") if isinstance(scope, dict) else None
    return None if principal is None else f"{principal.name}:{principal.role}"


def state_boundary(name: str) -> RequestStateBoundary:
    """Seals every ``requestState`` the endpoint gives out, under a key of this process."""
    security = RequestStateSecurity(
        keys=[os.urandom(32)], ttl=ROUND_SECS, bind_principal=principal_of
    )
    return RequestStateBoundary(security, default_audience=name)
