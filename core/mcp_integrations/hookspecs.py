"""Every hook of mcp-integrations, one place; each hook says when it is called and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from mcp_integrations.models import (
        InstallRequest,
        IntegrationEvent,
        LaunchSpec,
        Principal,
        SourceForm,
    )
    from mcp_integrations.runtime import Runtime
    from mcp_integrations.settings import Settings

PROJECT_NAME = "mcp_integrations"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    """Turn an install source into a LaunchSpec, or return None when this plugin does not
    know the source. Must be fast: the slow work belongs in ``prepare``."""


@hookspec
def install_forms() -> list[SourceForm] | None:
    """The sources this plugin installs, as forms a client builds install bodies from
    (``GET /sources``: the dashboard's install form, the CLI's prompts for secrets)."""


@hookspec(firstresult=True)
def prepare(spec: LaunchSpec, workdir: Path) -> LaunchSpec | None:
    """Do the slow part of an install in ``workdir`` (a venv, npm install, an image pull)
    and return the completed spec, or None when the spec needs nothing from this plugin."""


@hookspec
def cleanup(spec: LaunchSpec, workdir: Path) -> None:
    """Undo ``prepare`` when an integration is removed (its workdir is deleted after)."""


@hookspec(firstresult=True)
def create_runtime(spec: LaunchSpec, workdir: Path) -> Runtime | None:
    """Return a Runtime that can run ``spec`` (by ``spec.runtime``), or None for a runtime
    kind this plugin does not provide. The server runs in ``workdir`` and logs to
    ``workdir / "server.log"``."""


@hookspec(firstresult=True)
def authenticate(request: HTTPConnection, settings: Settings) -> Principal | None:
    """Return who makes ``request`` (a name and a role), or None to leave the decision to
    other plugins; raise ``mcp_integrations.errors.Unauthorized`` to refuse it. Called once
    per request, before any route; ``settings`` holds the hub's tokens."""


@hookspec
def integration_event(event: IntegrationEvent) -> None:
    """Observe a status change of an integration (logging, metrics, event streams).
    Called on the event loop: do not block."""
