"""What an MCP endpoint shows: one integration as it is, or every running one with its
names prefixed (``names.py``); and where each name leads back to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mcp_integrations.errors import UnknownPrompt, UnknownTool
from mcp_integrations.gateway import names
from mcp_integrations.manager import Manager
from mcp_integrations.models import Status
from mcp_integrations.supervisor import Supervisor


def _shown(supervisor: Supervisor) -> bool:
    """On ``/mcp``: what runs, and what starts on its first call (with the lists it had
    when it last ran), so a client sees those tools before anything starts."""
    if supervisor.status is Status.RUNNING:
        return True
    waiting = supervisor.status in (Status.STOPPED, Status.STARTING)
    return waiting and supervisor.on_demand.start_on_demand and supervisor.unreadable is None


@dataclass
class View:
    """A view over one integration (``only``) or over all that run or start on demand
    (``only`` is None)."""

    manager: Manager
    only: str | None = None
    _tools: dict[str, tuple[str, str]] = field(default_factory=dict)
    _generation: int = -1
    _prompts: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def aggregate(self) -> bool:
        return self.only is None

    def integration_ids(self) -> list[str]:
        if self.only is not None:
            self.manager.get(self.only)
            return [self.only]
        return [s.integration.id for s in self.manager.list() if _shown(s)]

    def _assign(self, pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
        if self.only is not None:
            return {name: (integration_id, name) for integration_id, name in pairs}
        return names.assign(pairs)

    def tools(self) -> dict[str, tuple[str, str]]:
        """Exposed tool name -> (integration id, the server's name), as of now: made again
        only when an integration started, stopped or changed its tools since."""
        if self._generation != self.manager.generation:
            generation = self.manager.generation
            pairs = [
                (integration_id, tool.name)
                for integration_id in self.integration_ids()
                for tool in self.manager.get(integration_id).tools
            ]
            self._tools, self._generation = self._assign(pairs), generation
        return self._tools

    def tool(self, exposed: str) -> tuple[str, str]:
        found = self.tools().get(exposed)
        if found is None:
            raise UnknownTool(f"no tool {exposed[:100]!r} here")
        return found

    def name_prompts(self, pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
        self._prompts = self._assign(pairs)
        return self._prompts

    def prompt(self, exposed: str) -> tuple[str, str]:
        if self.only is not None:
            return self.only, exposed
        found = self._prompts.get(exposed)
        if found is None:
            raise UnknownPrompt(f"no prompt {exposed[:100]!r} here; list the prompts first")
        return found
