"""Scrubbing secret values out of text before it reaches a log, an error or a response."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"
_MIN_SECRET_LEN = 4


def _fragments(value: str) -> Iterable[str]:
    yield value
    if "://" in value:
        parts = urlsplit(value)
        if parts.password:
            yield parts.password


class Redactor:
    """Replaces every known secret value (and the password inside a URL) with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {f for value in secrets for f in _fragments(value) if len(f) >= _MIN_SECRET_LEN}
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text
