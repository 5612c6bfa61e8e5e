"""psycopg-style ``%s`` placeholders rewritten to PostgreSQL's own ``$1, $2...``.

The statement is rewritten here, once, and then sent verbatim (a raw cursor): so the text
the query tool's classifier parses is exactly the text the server parses, never a second
rendering of it by a driver that could disagree.
"""

from __future__ import annotations

import re

# The same lexing as psycopg's: '%' and the next character (or a "%(name)x" placeholder);
# like psycopg, a '%' before a newline or at the very end stays a literal '%'.
_PERCENT = re.compile(r"%(?:\(([^)]+)\).|.)")


class PlaceholderError(ValueError):
    """The statement's placeholders do not fit the parameters given."""


def to_numbered(statement: str, param_count: int) -> str:
    """``statement`` as PostgreSQL should receive it for ``param_count`` parameters.

    Without parameters the text is left alone, so a literal ``%`` needs no escaping. With
    them, ``%s`` (or ``%b``, ``%t``) becomes ``$1``, ``$2``... and ``%%`` a literal ``%``;
    a statement with no ``%s`` at all may use ``$1``-style parameters itself.
    """
    if param_count == 0:
        return statement
    found = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        token = match.group(0)
        if token == "%%":
            return "%"
        if match.group(1) is not None:
            raise PlaceholderError(
                f"named placeholders ({token}) need named values; use %s and a list of params"
            )
        if token[1] not in "sbt":
            raise PlaceholderError(
                f"only %s placeholders are allowed, got {token!r}; write a literal % as %%"
            )
        found += 1
        return f"${found}"

    numbered = _PERCENT.sub(replace, statement)
    if found and found != param_count:
        raise PlaceholderError(
            f"the statement has {found} %s placeholders but {param_count} params were given"
        )
    return numbered
