"""Install source: a connector announced by an installed distribution, by its name.

A connector runs code the machine's owner installed, so it is not ``arbitrary_code``; it
reads only the variables it declares, and its ``flags`` turn install options into them.
"""

from __future__ import annotations

import sys

from mcp_integrations import hookimpl
from mcp_integrations.connectors import Connector, ConnectorRegistry
from mcp_integrations.errors import BadRequest
from mcp_integrations.models import FormField, InstallRequest, LaunchSpec, SourceForm


def _flag_env(connector: Connector, request: InstallRequest) -> dict[str, str]:
    env = {}
    for option, variable in connector.flags.items():
        value = request.options.get(option)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise BadRequest(f"'{option}' must be true or false")
        if value:
            env[variable] = "1"
    return env


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    connector = ConnectorRegistry.from_entry_points().get(source)
    if connector is None:
        return None
    return LaunchSpec(
        runtime="subprocess",
        command=(sys.executable, "-m", connector.module),
        env={**request.env, **_flag_env(connector, request)},
        required_env=connector.required_env,
        secret_env=connector.secret_env,
        description=connector.description,
        arbitrary_code=False,
        declared_env=tuple(var.name for var in connector.env),
    )


@hookimpl
def install_forms() -> list[SourceForm]:
    """Each connector installed, with the variables it declares and its flags."""
    forms = []
    for name, connector in ConnectorRegistry.from_entry_points().items():
        env = tuple(
            FormField(
                v.name, required=v.required, secret=v.secret, env=True, description=v.description
            )
            for v in connector.env
        )
        flags = tuple(
            FormField(option, "boolean", description=f"sets {variable}=1")
            for option, variable in connector.flags.items()
        )
        forms.append(SourceForm(name, name, connector.description, fields=env + flags))
    return forms
