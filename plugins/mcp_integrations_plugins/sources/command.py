"""Install source ``command``: any local MCP server started by a command line.

Body: ``{"source": "command", "id": "x", "command": ["python", "server.py"], "env": {...}}``.
Every value in ``env`` is treated as secret, since nothing declares otherwise.
"""

from __future__ import annotations

import shlex

from mcp_integrations import hookimpl
from mcp_integrations.errors import BadRequest
from mcp_integrations.models import InstallRequest, LaunchSpec


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    if source != "command":
        return None
    if request.id is None:
        raise BadRequest("source 'command' needs an 'id' for the integration")
    raw = request.options.get("command")
    command = shlex.split(raw) if isinstance(raw, str) else raw
    if not (
        isinstance(command, list) and command and all(isinstance(a, str) and a for a in command)
    ):
        raise BadRequest("source 'command' needs 'command': a non-empty list of strings")
    required = request.options.get("required_env", [])
    if not (isinstance(required, list) and all(isinstance(n, str) for n in required)):
        raise BadRequest("'required_env' must be a list of variable names")
    return LaunchSpec(
        runtime="subprocess",
        command=tuple(command),
        env=dict(request.env),
        required_env=tuple(required),
        secret_env=tuple(request.env),
    )
