"""Logs every status change of an integration."""

from __future__ import annotations

import logging

from mcp_integrations import hookimpl
from mcp_integrations.models import IntegrationEvent, Status

logger = logging.getLogger("mcp_integrations.events")


@hookimpl
def integration_event(event: IntegrationEvent) -> None:
    level = logging.WARNING if event.status in (Status.CRASHED, Status.FAILED) else logging.INFO
    details = []
    if event.pid is not None:
        details.append(f"pid {event.pid}")
    if event.exit_code is not None:
        details.append(f"exit code {event.exit_code}")
    if event.error:
        details.append(event.error.splitlines()[0])
    suffix = f" ({', '.join(details)})" if details else ""
    logger.log(level, "%s: %s -> %s%s", event.id, event.previous, event.status, suffix)
