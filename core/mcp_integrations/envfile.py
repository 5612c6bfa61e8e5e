"""Environment for an install from the command line: ``KEY=VALUE`` words and dotenv files.

Messages about a bad line name the file and the line's number, never its value: it may be
a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class EnvFileError(ValueError):
    """A line of an env file that is not ``KEY=VALUE``, or a file that cannot be read."""


def pair(text: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """``KEY=VALUE``, or ``KEY`` alone for the value this shell has (so a secret need not be
    typed on a command line, where ``ps`` and the shell's history would keep it)."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise ValueError(f"expected KEY=VALUE, not {_shown(name)}")
    if not equals:
        if name not in environ:
            raise ValueError(f"{name} is not set in this shell; give it as {name}=VALUE")
        return name, environ[name]
    return name, value


def _shown(name: str) -> str:
    return repr(name[:40]) if name else "an empty name"


def _unquoted(raw: str, where: str) -> str:
    """A value as written after ``=``: quoted (single: as is; double: with ``\\n``-style
    escapes) or bare (up to a ``#`` comment that follows a blank)."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = _closing(raw, quote)
        if end is None:
            raise EnvFileError(f"{where}: the value's {quote} quote is not closed")
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise EnvFileError(f"{where}: unexpected text after the quoted value")
        inner = raw[1:end]
        if quote == "'":
            return inner
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], "\\" + m[1]), inner)
    return re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()


def _closing(raw: str, quote: str) -> int | None:
    index = 1
    while index < len(raw):
        if raw[index] == "\\" and quote == '"':
            index += 2
            continue
        if raw[index] == quote:
            return index
        index += 1
    return None


def parse(lines: Iterable[str], origin: str = "env file") -> dict[str, str]:
    """A dotenv file: ``KEY=VALUE`` lines (``export`` allowed), ``#`` comments, blank lines,
    values in optional quotes; a later line wins."""
    found: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{origin}, line {number}"
        stripped = re.sub(r"^export\s+", "", stripped)
        name, equals, raw = stripped.partition("=")
        name = name.strip()
        if not equals or not _NAME.fullmatch(name):
            raise EnvFileError(f"{where}: expected KEY=VALUE")
        found[name] = _unquoted(raw, where)
    return found


def read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise EnvFileError(f"cannot read {path}: {reason}") from None
    return parse(text.splitlines(), str(path))
