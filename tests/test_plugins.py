"""The plugin contract: documented hooks, builtin plugins by name, entry points, errors."""

from __future__ import annotations

import inspect
from pathlib import Path

import pluggy
import pytest

from mcp_integrations import hookimpl, hookspecs
from mcp_integrations.connectors import Connector, ConnectorRegistry, EnvVar
from mcp_integrations.errors import (
    DuplicateConnector,
    InvalidConnector,
    UnknownSource,
    UnsupportedRuntime,
)
from mcp_integrations.models import FormField, InstallRequest, LaunchSpec, SourceForm
from mcp_integrations.plugins import BUILTIN_PLUGINS, Hooks


def test_every_hook_is_documented() -> None:
    hooks = [
        f
        for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert {f.__name__ for f in hooks} >= {
        "resolve_source",
        "prepare",
        "cleanup",
        "create_runtime",
        "authenticate",
        "integration_event",
        "install_forms",
    }
    for hook in hooks:
        assert hook.__doc__ and len(hook.__doc__.split()) >= 8, f"{hook.__name__} needs a docstring"


def test_builtin_plugins_are_registered_by_module_name(
    plugin_manager: pluggy.PluginManager,
) -> None:
    names = {plugin_manager.get_name(p) for p in plugin_manager.get_plugins()}
    assert set(BUILTIN_PLUGINS) <= names


def test_a_registered_plugin_resolves_a_source(plugin_manager: pluggy.PluginManager) -> None:
    class EchoSource:
        @hookimpl
        def resolve_source(self, source: str, request: InstallRequest) -> LaunchSpec | None:
            if not source.startswith("echo:"):
                return None
            return LaunchSpec(runtime="subprocess", command=("echo", source[5:]))

    hooks = Hooks(plugin_manager)
    plugin = EchoSource()
    plugin_manager.register(plugin, name="echo-source")
    try:
        spec = hooks.resolve_source(InstallRequest("echo:hi"))
        assert spec.command == ("echo", "hi")
        with pytest.raises(UnknownSource, match="'nothing:here'"):
            hooks.resolve_source(InstallRequest("nothing:here"))
    finally:
        plugin_manager.unregister(plugin)
    with pytest.raises(UnknownSource):
        hooks.resolve_source(InstallRequest("echo:hi"))


def test_unknown_runtime_is_an_error(plugin_manager: pluggy.PluginManager, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedRuntime, match="'quantum'"):
        Hooks(plugin_manager).create_runtime(LaunchSpec(runtime="quantum"), tmp_path)


def test_connectors_source_builds_the_launch_spec(plugin_manager: pluggy.PluginManager) -> None:
    request = InstallRequest("postgresql-connector", env={"DATABASE_URL": "postgresql://x"})
    spec = Hooks(plugin_manager).resolve_source(request)
    assert spec.command[1:] == ("-m", "mcp_integrations_connectors.postgresql")
    assert spec.required_env == spec.secret_env == ("DATABASE_URL",)
    assert "DATABASE_URL" not in spec.public() and "postgresql://x" not in str(spec.public())


def test_installed_connectors_are_found_by_entry_point() -> None:
    registry = ConnectorRegistry.from_entry_points()
    assert {"postgresql-connector", "github-connector", "salesforce-connector"} <= set(registry)
    assert registry["github-connector"].module == "mcp_integrations_connectors.github"


def test_registry_refuses_duplicates_and_nameless_connectors() -> None:
    one = Connector("a.module", env=(EnvVar("X", required=True),), name="same")
    registry = ConnectorRegistry([one])
    with pytest.raises(DuplicateConnector, match="'same'"):
        registry.add(Connector("b.module", name="same"))
    with pytest.raises(InvalidConnector):
        registry.add(Connector("c.module"))
    assert registry["same"].required_env == ("X",)


def test_a_broken_connector_entry_point_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib_metadata import EntryPoint

    from mcp_integrations import connectors

    broken = EntryPoint(
        "broken-connector", "no_such_module_anywhere:connector", connectors.ENTRY_POINT_GROUP
    )
    wrong = EntryPoint("wrong-connector", "os:sep", connectors.ENTRY_POINT_GROUP)
    good = EntryPoint(
        "pg", "mcp_integrations_connectors.postgresql:connector", connectors.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(connectors, "entry_points", lambda group: [broken, good])
    assert list(ConnectorRegistry.from_entry_points()) == ["pg"]
    monkeypatch.setattr(connectors, "entry_points", lambda group: [wrong])
    with pytest.raises(InvalidConnector, match="'wrong-connector'"):
        ConnectorRegistry.from_entry_points()


def test_install_forms_describe_every_builtin_source(plugin_manager: pluggy.PluginManager) -> None:
    forms = {form.prefix: form for form in Hooks(plugin_manager).install_forms()}
    assert {"command", "", "pypi:", "npm:", "docker:", "postgresql-connector"} <= set(forms)
    database_url = next(f for f in forms["postgresql-connector"].fields if f.name == "DATABASE_URL")
    assert database_url.env and database_url.secret and database_url.required
    assert forms["pypi:"].source_field is not None and forms["pypi:"].admin
    assert not forms["postgresql-connector"].admin


def test_two_plugins_cannot_describe_one_source(plugin_manager: pluggy.PluginManager) -> None:
    class Shadow:
        @hookimpl
        def install_forms(self) -> list[SourceForm]:
            return [SourceForm("command", "Another command", fields=(FormField("x"),))]

    plugin = Shadow()
    plugin_manager.register(plugin, name="shadow")
    try:
        with pytest.raises(InvalidConnector, match="'command'"):
            Hooks(plugin_manager).install_forms()
    finally:
        plugin_manager.unregister(plugin)
