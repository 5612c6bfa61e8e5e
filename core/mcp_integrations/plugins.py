"""The plugin manager: builtin plugins by module name, third-party ones by entry point,
and ``Hooks``, a typed facade over ``pm.hook`` that turns 'nobody answered' into errors."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pluggy

from mcp_integrations import hookspecs
from mcp_integrations.errors import InvalidConnector, UnknownSource, UnsupportedRuntime

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

ENTRY_POINT_GROUP = "mcp_integrations"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "mcp_integrations_plugins.sources.connectors",
    "mcp_integrations_plugins.sources.command",
    "mcp_integrations_plugins.sources.remote",
    "mcp_integrations_plugins.sources.docker",
    "mcp_integrations_plugins.sources.pypi",
    "mcp_integrations_plugins.sources.npm",
    "mcp_integrations_plugins.runtimes.subprocess",
    "mcp_integrations_plugins.runtimes.remote",
    "mcp_integrations_plugins.runtimes.docker",
    "mcp_integrations_plugins.events.log",
    "mcp_integrations_plugins.auth.bearer",
)


def make_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A new manager with the builtin plugins and, unless told not to, installed ones."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


class Hooks:
    """The calls the core makes into plugins, typed, with errors for hooks nobody answers."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def resolve_source(self, request: InstallRequest) -> LaunchSpec:
        spec = self.pm.hook.resolve_source(source=request.source, request=request)
        if spec is None:
            raise UnknownSource(f"no installed plugin knows the source {request.source[:200]!r}")
        return cast("LaunchSpec", spec)

    def install_forms(self) -> list[SourceForm]:
        """Every plugin's forms, by prefix; two plugins claiming one prefix is an error."""
        forms: dict[str, SourceForm] = {}
        for listed in self.pm.hook.install_forms():
            for form in listed or ():
                if form.prefix in forms:
                    raise InvalidConnector(f"two plugins describe the source {form.prefix!r}")
                forms[form.prefix] = form
        return [forms[prefix] for prefix in sorted(forms)]

    def prepare(self, spec: LaunchSpec, workdir: Path) -> LaunchSpec:
        prepared = self.pm.hook.prepare(spec=spec, workdir=workdir)
        return spec if prepared is None else cast("LaunchSpec", prepared)

    def cleanup(self, spec: LaunchSpec, workdir: Path) -> None:
        self.pm.hook.cleanup(spec=spec, workdir=workdir)

    def create_runtime(self, spec: LaunchSpec, workdir: Path) -> Runtime:
        runtime = self.pm.hook.create_runtime(spec=spec, workdir=workdir)
        if runtime is None:
            raise UnsupportedRuntime(f"no installed plugin provides the runtime {spec.runtime!r}")
        return cast("Runtime", runtime)

    def authenticate(self, request: HTTPConnection, settings: Settings) -> Principal | None:
        principal = self.pm.hook.authenticate(request=request, settings=settings)
        return cast("Principal | None", principal)

    def integration_event(self, event: IntegrationEvent) -> None:
        self.pm.hook.integration_event(event=event)
