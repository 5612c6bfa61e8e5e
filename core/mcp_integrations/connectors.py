"""What a connector declares, and the registry that finds connectors by entry point.

A connector is an MCP server shipped as a Python module (run as ``python -m module``)
and announced in the entry-point group ``mcp_integrations.connectors``; the hub needs
only this small description of it to install and start it by name.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from importlib_metadata import entry_points

from mcp_integrations.errors import DuplicateConnector, InvalidConnector

ENTRY_POINT_GROUP = "mcp_integrations.connectors"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnvVar:
    """One environment variable a connector reads; secrets are never shown or logged."""

    name: str
    description: str = ""
    required: bool = False
    secret: bool = False


@dataclass(frozen=True)
class Connector:
    """A connector's description: its module, the environment it reads, and ``flags``:
    boolean install options (``"allow_writes": true``) that set a variable to ``1``."""

    module: str
    description: str = ""
    env: tuple[EnvVar, ...] = ()
    flags: Mapping[str, str] = field(default_factory=dict)
    name: str = field(default="", compare=False)

    @property
    def required_env(self) -> tuple[str, ...]:
        return tuple(var.name for var in self.env if var.required)

    @property
    def secret_env(self) -> tuple[str, ...]:
        return tuple(var.name for var in self.env if var.secret)


class ConnectorRegistry(Mapping[str, Connector]):
    """Connectors by name; a second connector under a taken name is an error, not a shadow."""

    def __init__(self, connectors: Iterable[Connector] = ()) -> None:
        self._by_name: dict[str, Connector] = {}
        for connector in connectors:
            self.add(connector)

    def add(self, connector: Connector) -> None:
        if not connector.name:
            raise InvalidConnector(f"connector for module {connector.module!r} has no name")
        if connector.name in self._by_name:
            raise DuplicateConnector(connector.name)
        self._by_name[connector.name] = connector

    def __getitem__(self, name: str) -> Connector:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> ConnectorRegistry:
        """Load every connector announced by an installed distribution; one that fails to
        import is logged and skipped, so it cannot take the others down with it."""
        registry = cls()
        for ep in entry_points(group=group):
            try:
                loaded = ep.load()
            except Exception:
                logger.exception("skipping connector %r: %s cannot be loaded", ep.name, ep.value)
                continue
            if not isinstance(loaded, Connector):
                raise InvalidConnector(
                    f"entry point {ep.name!r} ({ep.value}) is not a mcp_integrations Connector"
                )
            registry.add(dataclasses.replace(loaded, name=ep.name))
        return registry
