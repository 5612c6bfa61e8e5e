"""Names on /mcp: prefixed, inside the pattern, deterministic, never two alike."""

from __future__ import annotations

import re

from mcp_integrations.gateway.names import MAX_LENGTH, assign, prefixed

PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_prefixed_names_fit_the_pattern() -> None:
    assert prefixed("github-connector", "list_issues") == "github-connector__list_issues"
    assert prefixed("my.server", "files/read all") == "my_server__files_read_all"
    long = prefixed("a" * 64, "b" * 100)
    assert PATTERN.match(long) and len(long) == MAX_LENGTH
    assert long != prefixed("a" * 64, "b" * 99 + "c")


def test_collisions_are_settled_by_id_order() -> None:
    pairs = [("b.x", "t"), ("b_x", "t"), ("a", "t")]
    exposed = assign(pairs)
    assert exposed["a__t"] == ("a", "t")
    assert exposed["b_x__t"] == ("b.x", "t")
    other = [name for name, pair in exposed.items() if pair == ("b_x", "t")]
    assert len(other) == 1 and other[0].startswith("b_x__t_") and PATTERN.match(other[0])
    assert assign(reversed(pairs)) == exposed
    assert all(PATTERN.match(name) for name in exposed)
