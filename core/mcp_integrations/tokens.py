"""Bearer tokens, kept only as SHA-256 hashes, each with a role and a name.

A token file has one token a line: ``sha256:<hex> <role> [name]``; ``#`` starts a comment.
``mcp-integrations token --role operator`` makes a token and prints its line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcp_integrations.models import Principal, Role

TOKEN_ENV = "MCP_INTEGRATIONS_TOKEN"
MIN_TOKEN_LENGTH = 16
_PREFIX = "sha256:"


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
