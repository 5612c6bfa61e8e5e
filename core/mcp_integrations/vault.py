"""Secret values encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256 tag).

The key comes from ``MCP_INTEGRATIONS_SECRET_KEY`` or a 0600 file ``secret.key`` made in
the data dir on first use. A copied database or backup alone reveals no secret; someone
who can read both the key and the database, as the hub's user can, still can.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from mcp_integrations.errors import SecretsUnreadable
from mcp_integrations.private import FILE_MODE

KEY_ENV = "MCP_INTEGRATIONS_SECRET_KEY"
KEY_FILE = "secret.key"


def _key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        path.chmod(FILE_MODE)
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
    return key


class Vault:
    """Seals and unseals text with one key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SecretsUnreadable(
                "the secret key is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None

    @classmethod
    def open(cls, data_dir: Path, environ: Mapping[str, str] = os.environ) -> Vault:
        key = environ.get(KEY_ENV)
        return cls(key.encode() if key else _key_file(data_dir / KEY_FILE))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def unseal(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretsUnreadable(
                f"stored secrets cannot be decrypted: {KEY_ENV} or {KEY_FILE} is not the key "
                "they were sealed with"
            ) from None
