"""Secrets masked in every log record, whichever logger or handler it goes to.

Each hub (``Manager``) registers the secrets of its integrations in a ``SecretSet``; a log
record factory masks them in the message and in the formatted traceback as the record is
made, so no handler, formatter or test capture ever sees them.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

Redact = Callable[[str], str]
_live: weakref.WeakSet[SecretSet] = weakref.WeakSet()
_installed = False


class SecretSet:
    """The redactors of one hub's integrations, by id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Redact] = {}
        _live.add(self)
        _install()

    def set(self, integration_id: str, redact: Redact) -> None:
        self._by_id[integration_id] = redact

    def discard(self, integration_id: str) -> None:
        self._by_id.pop(integration_id, None)

    def __bool__(self) -> bool:
        return bool(self._by_id)

    def __call__(self, text: str) -> str:
        for redact in list(self._by_id.values()):
            text = redact(text)
        return text


def scrub(text: str) -> str:
    """``text`` with the secrets of every live hub masked."""
    for secrets in list(_live):
        if secrets:
            text = secrets(text)
    return text


def _scrub_arg(arg: Any) -> Any:
    """An argument with secrets masked; numbers stay numbers for ``%d``-style formats."""
    if arg is None or isinstance(arg, int | float):
        return arg
    text = str(arg)
    scrubbed = scrub(text)
    return arg if scrubbed == text else scrubbed


def _scrub_record(record: logging.LogRecord) -> None:
    """Masks the message and its arguments in place, keeping the format: formatters such as
    uvicorn's access log read ``record.args`` themselves."""
    if isinstance(record.msg, str):
        record.msg = scrub(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_scrub_arg(arg) for arg in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {key: _scrub_arg(value) for key, value in record.args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))


def _install() -> None:
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if any(_live):
            _scrub_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
