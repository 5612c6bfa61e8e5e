"""Install source: a connector announced by an installed distribution, by its name."""

from __future__ import annotations

import sys

from mcp_integrations import hookimpl
from mcp_integrations.connectors import ConnectorRegistry
from mcp_integrations.models import InstallRequest, LaunchSpec


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    connector = ConnectorRegistry.from_entry_points().get(source)
    if connector is None:
        return None
    return LaunchSpec(
        runtime="subprocess",
        command=(sys.executable, "-m", connector.module),
        env=dict(request.env),
        required_env=connector.required_env,
        secret_env=connector.secret_env,
        description=connector.description,
    )
