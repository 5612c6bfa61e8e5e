"""What a server lists (tools, resources, templates, prompts), kept in memory so the hub
answers lists without asking the server: listed when it starts and again when it says a
list changed. Also the caching hints (2026-07-28) such lists carry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import mcp_types as types
from mcp import ClientSession
from mcp.server.caching import CacheHint
from mcp.types import PaginatedRequestParams

from mcp_integrations.models import ToolInfo

T = TypeVar("T")
#: The lists besides tools, by the capability a server declares for them.
KINDS = ("resources", "prompts")


@dataclass(frozen=True)
class Listed:
    """A server's whole tool list, and how long it said the list stays fresh: ``hint`` is
    None for a server that gave no hint (2025-11-25 has none)."""

    tools: tuple[ToolInfo, ...]
    hint: CacheHint | None = None


def _merged(first: CacheHint | None, second: CacheHint) -> CacheHint:
    """The hint of a list made of parts: the shortest freshness, private if any part is."""
    if first is None:
        return second
    private = "private" in (first.scope, second.scope)
    return CacheHint(min(first.ttl_ms, second.ttl_ms), "private" if private else "public")


def merged_hint(hints: Iterable[CacheHint | None]) -> CacheHint:
    """A hint the hub can honour for parts with ``hints``: a part without a hint counts
    as immediately stale and private, which is also what an empty list gets."""
    found: CacheHint | None = None
    for hint in hints:
        found = _merged(found, hint or CacheHint())
    return found or CacheHint()


async def list_all_tools(session: ClientSession) -> Listed:
    """Every tool the server lists, following its pagination cursor."""
    hint: CacheHint | None = None

    def items(page: types.ListToolsResult) -> list[ToolInfo]:
        nonlocal hint
        if "ttl_ms" in page.model_fields_set:
            hint = _merged(hint, CacheHint(page.ttl_ms, page.cache_scope))
        return [
            ToolInfo.from_wire(t.model_dump(mode="json", by_alias=True, exclude_none=True))
            for t in page.tools
        ]

    tools = await _all_pages(lambda params: session.list_tools(params=params), items)
    return Listed(tuple(tools), hint)


async def _all_pages(
    fetch: Callable[[PaginatedRequestParams | None], Awaitable[Any]],
    items: Callable[[Any], list[T]],
) -> list[T]:
    found: list[T] = []
    cursor: str | None = None
    while True:
        page = await fetch(PaginatedRequestParams(cursor=cursor) if cursor else None)
        found.extend(items(page))
        cursor = getattr(page, "next_cursor", None)
        if not cursor:
            return found


@dataclass(frozen=True)
class Catalog:
    """A server's resources, resource templates and prompts, as last listed (empty for
    what it does not offer)."""

    resources: tuple[types.Resource, ...] = ()
    templates: tuple[types.ResourceTemplate, ...] = ()
    prompts: tuple[types.Prompt, ...] = ()


def offers(session: ClientSession, kind: str) -> bool:
    """Whether the server declared the capability ``kind`` (``resources``, ``prompts``...)."""
    capabilities = session.server_capabilities
    return capabilities is not None and getattr(capabilities, kind, None) is not None


async def relisted(catalog: Catalog, session: ClientSession, kinds: Iterable[str]) -> Catalog:
    """``catalog`` with the lists of ``kinds`` fetched again from the server."""
    update: dict[str, tuple[Any, ...]] = {}
    for kind in kinds:
        if not offers(session, kind):
            continue
        if kind == "resources":
            resources = await _all_pages(
                lambda params: session.list_resources(params=params), lambda page: page.resources
            )
            templates = await _all_pages(
                lambda params: session.list_resource_templates(params=params),
                lambda page: page.resource_templates,
            )
            update |= {"resources": tuple(resources), "templates": tuple(templates)}
        elif kind == "prompts":
            prompts = await _all_pages(
                lambda params: session.list_prompts(params=params), lambda page: page.prompts
            )
            update["prompts"] = tuple(prompts)
    return dataclasses.replace(catalog, **update)
