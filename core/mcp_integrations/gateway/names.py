"""Names on ``/mcp``: ``{id}__{name}``, within ``^[a-zA-Z0-9_-]{1,64}$``, never two alike.

Characters outside the pattern become ``_``; a name too long keeps its first characters
and ends in 8 hex digits of a hash of the whole. When two (integration, name) pairs still
give the same name, the pair first in (id, name) order keeps it and each later one gets a
hash suffix, so the same set of integrations always gets the same names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

SEPARATOR = "__"
MAX_LENGTH = 64
_OUTSIDE = re.compile(r"[^a-zA-Z0-9_-]")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def _fit(name: str, *parts: str) -> str:
    if len(name) <= MAX_LENGTH:
        return name
    return f"{name[: MAX_LENGTH - 9]}_{_digest(*parts)}"


def prefixed(integration_id: str, name: str) -> str:
    """The name alone, before collisions are settled."""
    return _fit(_OUTSIDE.sub("_", f"{integration_id}{SEPARATOR}{name}"), integration_id, name)


def assign(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Exposed name -> (integration id, the server's own name), for every pair."""
    exposed: dict[str, tuple[str, str]] = {}
    for integration_id, name in sorted(set(pairs)):
        candidate = prefixed(integration_id, name)
        if candidate in exposed:
            base = candidate[: MAX_LENGTH - 9] if len(candidate) > MAX_LENGTH - 9 else candidate
            candidate = f"{base}_{_digest(integration_id, name)}"
        exposed[candidate] = (integration_id, name)
    return exposed
