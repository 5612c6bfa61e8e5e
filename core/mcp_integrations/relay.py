"""What a server sends the hub unasked, relayed to the hub's own clients.

A server may ask its client to sample, elicit or list roots while it serves a call; the
hub is that client, so it asks the client whose call is in flight in turn (the newest
one that declared the capability, when calls of several clients overlap), and answers
with an error when none can. Log messages go to the callers in flight at once, so they
arrive before the result they precede; other notifications (list changes, resource
updates) go through a queue that the supervisor drains, off the session's read loop,
since handling them means asking the server again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.session import ClientRequestContext, IncomingMessage

from mcp_integrations.runtime import ClientHandlers

SAMPLING, ELICITATION, ROOTS = "sampling", "elicitation", "roots"
#: Notifications waiting for the supervisor; past this, the oldest are dropped.
QUEUE_SIZE = 256
#: How long a log message may wait for a slow client before it is dropped for that client.
LOG_SEND_SECS = 1.0


class Caller(Protocol):
    """A client of the hub whose request an integration is serving."""

    def can(self, capability: str) -> bool: ...

    def declares(self, capability: str) -> bool:
        """Whether the client declared ``capability``: what a 2026-07-28 server is told
        it may ask for (``can`` may say yes to turn a request into the spec's error)."""
        ...

    # ``key``: what the server called its request, when it is a 2026-07-28 server's key
    async def sample(
        self, params: types.CreateMessageRequestParams, key: str | None = None
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData: ...

    async def elicit(
        self, params: types.ElicitRequestParams, key: str | None = None
    ) -> types.ElicitResult | types.ErrorData: ...

    async def list_roots(
        self, key: str | None = None
    ) -> types.ListRootsResult | types.ErrorData: ...

    async def log(self, params: types.LoggingMessageNotificationParams) -> None: ...


def _key(context: ClientRequestContext) -> str | None:
    """A 2026-07-28 server names each of its input requests; a 2025-11-25 one's requests
    have JSON-RPC ids (numbers) that mean nothing past the session."""
    return context.request_id if isinstance(context.request_id, str) else None


def undeclared(caller: Caller | None) -> frozenset[str]:
    """What a 2026-07-28 server must not ask for on behalf of ``caller`` (everything, for
    the hub's own REST calls, which nobody can answer)."""
    asked = (SAMPLING, ELICITATION, ROOTS)
    return frozenset(c for c in asked if caller is None or not caller.declares(c))


def _nobody(capability: str) -> types.ErrorData:
    return types.ErrorData(
        code=types.INVALID_REQUEST,
        message=f"no client of the hub that supports {capability} is waiting on this server",
    )


class Relay:
    """One integration's relay: the callers in flight and the queue of notifications."""

    def __init__(self) -> None:
        self._callers: list[Caller] = []
        self._send: MemoryObjectSendStream[types.ServerNotification]
        self._receive: MemoryObjectReceiveStream[types.ServerNotification]
        self._send, self._receive = anyio.create_memory_object_stream[types.ServerNotification](
            QUEUE_SIZE
        )

    @contextmanager
    def calling(self, caller: Caller | None) -> Iterator[None]:
        """While the block runs, server-to-client requests may go to ``caller``."""
        if caller is None:
            yield
            return
        self._callers.append(caller)
        try:
            yield
        finally:
            self._callers.remove(caller)

    def callers(self) -> list[Caller]:
        return list(self._callers)

    def _caller_for(self, capability: str) -> Caller | None:
        """The newest caller that can answer: a server on stdio does not say which call a
        request belongs to, and the newest is the likeliest (an older one may be a call
        parked for a stateless client that is not coming back)."""
        return next((c for c in reversed(self._callers) if c.can(capability)), None)

    def handlers(self) -> ClientHandlers:
        return ClientHandlers(
            sampling=self._sampling,
            elicitation=self._elicitation,
            list_roots=self._list_roots,
            logging=self._log,
            message=self._message,
        )

    async def _sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        caller = self._caller_for(SAMPLING)
        return await caller.sample(params, _key(context)) if caller else _nobody(SAMPLING)

    async def _elicitation(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        caller = self._caller_for(ELICITATION)
        return await caller.elicit(params, _key(context)) if caller else _nobody(ELICITATION)

    async def _list_roots(
        self, context: ClientRequestContext
    ) -> types.ListRootsResult | types.ErrorData:
        caller = self._caller_for(ROOTS)
        return await caller.list_roots(_key(context)) if caller else types.ListRootsResult(roots=[])

    async def _log(self, params: types.LoggingMessageNotificationParams) -> None:
        for caller in self.callers():
            with anyio.move_on_after(LOG_SEND_SECS):
                await caller.log(params)

    async def _message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception | types.LoggingMessageNotification):
            return
        self.put(message)

    def put(self, message: types.ServerNotification) -> None:
        """Queue a notification for the supervisor, dropping the oldest when it is full."""
        try:
            self._send.send_nowait(message)
        except anyio.WouldBlock:
            self._receive.receive_nowait()
            self._send.send_nowait(message)

    def notifications(self) -> MemoryObjectReceiveStream[types.ServerNotification]:
        """The queue the supervisor drains while the server runs."""
        return self._receive
