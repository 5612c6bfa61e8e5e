"""The ``subprocess`` runtime: the server is a local child process speaking MCP on stdio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from mcp_integrations import hookimpl
from mcp_integrations.models import LaunchSpec
from mcp_integrations.redact import Redactor
from mcp_integrations.runtime import ClientHandlers, Connection
from mcp_integrations.stdio import stdio_connection

GRACE_SECS = 5.0
START_TIMEOUT_SECS = 30.0


@dataclass
class SubprocessRuntime:
    spec: LaunchSpec
    workdir: Path
    grace: float
    start_timeout: float

    @asynccontextmanager
    async def connect(self, handlers: ClientHandlers) -> AsyncIterator[Connection]:
        secrets = [self.spec.env[name] for name in self.spec.secret_env if name in self.spec.env]
        async with stdio_connection(
            self.spec.command,
            {**self.spec.host_env, **self.spec.env},
            self.workdir,
            redact=Redactor(secrets),
            grace=self.grace,
            start_timeout=self.start_timeout,
            handlers=handlers,
            cwd=Path(self.spec.cwd) if self.spec.cwd else None,
            limits=self.spec.limits,
            protocol=self.spec.protocol,
        ) as connection:
            yield connection


@hookimpl
def create_runtime(spec: LaunchSpec, workdir: Path) -> SubprocessRuntime | None:
    if spec.runtime != "subprocess" or spec.transport != "stdio":
        return None
    return SubprocessRuntime(spec, workdir, GRACE_SECS, START_TIMEOUT_SECS)
