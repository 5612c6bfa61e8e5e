"""Bearer tokens, kept only as SHA-256 hashes, each with a role and a name.

A token file has one token a line: ``sha256:<hex> <role> [name]``; ``#`` starts a comment.
``mcp-integrations token --role operator`` makes a token and prints its line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcp_integrations.models import Principal, Role

TOKEN_ENV = "MCP_INTEGRATIONS_TOKEN"
MIN_TOKEN_LENGTH = 16
_PREFIX = "sha256:"
#: The cookie the dashboard's login sets: a session id, HttpOnly, for the bearer plugin.
SESSION_COOKIE = "mcp_integrations_session"
#: How long a dashboard login lasts, in seconds.
SESSION_SECS = 12 * 3600.0
#: Logins kept at once; past this, the oldest ends.
MAX_SESSIONS = 1000


def hash_token(token: str) -> str:
    """The form a token file keeps: the token itself never needs to be on disk."""
    return _PREFIX + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenEntry:
    digest: bytes
    role: Role
    name: str

    def line(self) -> str:
        return f"{_PREFIX}{self.digest.hex()} {self.role} {self.name}"


@dataclass(frozen=True)
class TokenTable:
    """The tokens a hub accepts; lookups compare every entry in constant time."""

    entries: tuple[TokenEntry, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entries)

    def lookup(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).digest()
        found: TokenEntry | None = None
        for entry in self.entries:
            if hmac.compare_digest(entry.digest, digest):
                found = entry
        return Principal(found.name, found.role) if found else None

    def __add__(self, other: TokenTable) -> TokenTable:
        return TokenTable(self.entries + other.entries)

    @classmethod
    def plain(cls, token: str, role: Role = Role.ADMIN, name: str = "token") -> TokenTable:
        """A table of one token given in clear (``--token`` or the environment)."""
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"a token must have at least {MIN_TOKEN_LENGTH} characters")
        return cls((TokenEntry(hashlib.sha256(token.encode()).digest(), role, name),))

    @classmethod
    def parse(cls, lines: Iterable[str], origin: str = "token file") -> TokenTable:
        entries = []
        for number, raw in enumerate(lines, 1):
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            where = f"{origin}, line {number}"
            if len(words) not in (2, 3) or not words[0].startswith(_PREFIX):
                raise ValueError(f"{where}: expected 'sha256:<hex> <role> [name]'")
            try:
                digest = bytes.fromhex(words[0].removeprefix(_PREFIX))
            except ValueError:
                digest = b""
            if len(digest) != hashlib.sha256().digest_size:
                raise ValueError(f"{where}: the hash is not 64 hexadecimal digits")
            try:
                role = Role.parse(words[1])
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            entries.append(TokenEntry(digest, role, words[2] if len(words) == 3 else f"#{number}"))
        return cls(tuple(entries))

    @classmethod
    def from_file(cls, path: Path) -> TokenTable:
        return cls.parse(path.read_text(encoding="utf-8").splitlines(), str(path))


class Sessions:
    """The dashboard's logins: each a random id (its cookie) naming who logged in, kept in
    memory. The cookie is not the token: browsers send a host's cookies to every port of
    it, so another local site may see it, and an id ends with a logout, after
    ``SESSION_SECS`` or when the hub stops, where a token lives on."""

    def __init__(self) -> None:
        self._by_digest: dict[bytes, tuple[Principal, float]] = {}

    def open(self, principal: Principal) -> str:
        if len(self._by_digest) >= MAX_SESSIONS:
            del self._by_digest[next(iter(self._by_digest))]
        session = secrets.token_urlsafe(32)
        self._by_digest[_digest(session)] = (principal, time.monotonic() + SESSION_SECS)
        return session

    def lookup(self, session: str) -> Principal | None:
        found = self._by_digest.get(_digest(session))
        if found is None:
            return None
        principal, ends = found
        if time.monotonic() >= ends:
            self.close(session)
            return None
        return principal

    def close(self, session: str) -> None:
        self._by_digest.pop(_digest(session), None)


def _digest(session: str) -> bytes:
    return hashlib.sha256(session.encode()).digest()
