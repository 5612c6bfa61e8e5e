"""The ``docker`` runtime: the server is a container speaking MCP on stdio.

The hub runs ``docker run --interactive --rm`` as a child process and speaks MCP over
its stdin and stdout: the stdio wire, stderr log and exit watching of the subprocess
runtime, unchanged. Values of ``env`` travel in the child's environment (``--env NAME``
without a value), so no secret is on a command line. Stopping stops the container (TERM,
a grace period, KILL) and removes it. Every container is labelled with its integration
and that integration's workdir (which names the hub's data dir too), so one left behind
by a crash is removed at the next start, and on DELETE, without touching another hub's.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcp_integrations import hookimpl, processes
from mcp_integrations.errors import StartFailed
from mcp_integrations.models import LaunchSpec
from mcp_integrations.redact import Redactor
from mcp_integrations.runtime import ClientHandlers, Connection
from mcp_integrations.stdio import stdio_connection

logger = logging.getLogger(__name__)

LABEL_ID = "mcp-integrations.id"
LABEL_WORKDIR = "mcp-integrations.workdir"
GRACE_SECS = 5.0
#: A container's start includes the engine's work; images of interpreters import slowly.
START_TIMEOUT_SECS = 60.0
#: For the short docker commands: ps, inspect, rm.
CLI_TIMEOUT_SECS = 30.0
#: How long a removal may wait for the engine's own ``--rm`` removal in progress.
REMOVE_TIMEOUT_SECS = 10.0
#: What ``docker rm`` says of a container that is gone, or going (``--rm`` at work).
GONE = ("no such container", "already in progress")


class DockerUnavailable(Exception):
    """No docker CLI here, or no daemon answering it."""


def docker_cli() -> str:
    """The docker CLI's path, found on the hub's ``PATH``."""
    found = shutil.which("docker")
    if found is None:
        raise DockerUnavailable("the docker CLI is not installed here (no 'docker' on PATH)")
    return found


def docker_client_env() -> dict[str, str]:
    """The hub's own docker client settings (``DOCKER_HOST``, ``DOCKER_CONFIG``, ...), with
    the client's config dir pinned, since ``env`` may give the container another ``HOME``."""
    own = {name: value for name, value in os.environ.items() if name.startswith("DOCKER_")}
    return own | {"DOCKER_CONFIG": own.get("DOCKER_CONFIG") or str(Path.home() / ".docker")}


def docker_env() -> dict[str, str]:
    """The environment of the hub's own docker commands (ps, rm, pull, ...)."""
    return processes.base_env() | docker_client_env()


def labels(workdir: Path) -> dict[str, str]:
    """The labels of an integration's containers: its id and its workdir."""
    return {LABEL_ID: workdir.name, LABEL_WORKDIR: os.path.abspath(workdir)}


def label_filters(workdir: Path) -> list[str]:
    return [f"--filter=label={key}={value}" for key, value in labels(workdir).items()]


def describe_failure(action: str, result: subprocess.CompletedProcess[bytes]) -> str:
    output = (result.stderr or b"").decode(errors="replace").strip()
    return f"{action} failed (docker exited with code {result.returncode}): {output}"


def _docker_now(docker: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [docker, *args],
            capture_output=True,
            env=docker_env(),
            timeout=CLI_TIMEOUT_SECS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DockerUnavailable(
            f"'docker {args[0]}' did not answer in {CLI_TIMEOUT_SECS:g}s"
        ) from None


def remove_labelled_now(workdir: Path) -> list[str]:
    """Remove every container of the integration in ``workdir``, blocking; their ids."""
    docker = docker_cli()
    found = _docker_now(docker, "ps", "--all", "--quiet", "--no-trunc", *label_filters(workdir))
    if found.returncode != 0:
        raise DockerUnavailable(describe_failure("listing containers", found))
    ids = found.stdout.decode().split()
    if ids:
        removed = _docker_now(docker, "rm", "--force", *ids)
        error = (removed.stderr or b"").decode(errors="replace").lower()
        if removed.returncode != 0 and not any(ok in error for ok in GONE):
            raise DockerUnavailable(describe_failure("removing containers", removed))
    return ids


async def _docker(
    docker: str, *args: str, limit: float = CLI_TIMEOUT_SECS
) -> subprocess.CompletedProcess[bytes]:
    """Run a short docker command; one that hangs is killed and reads as a failure."""
    command = [docker, *args]
    with anyio.move_on_after(limit):
        return await anyio.run_process(command, env=docker_env(), check=False)
    return subprocess.CompletedProcess(command, -1, b"", f"no answer in {limit:g}s".encode())


def _host_pid(pid: int, container_id: str) -> int | None:
    """``pid`` if it is a process of the container as this host sees it, else None: a
    daemon in another pid namespace (a VM, a remote host) gives a number that means
    nothing here, and a wrong pid is worse than none."""
    try:
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    return pid if container_id in cgroups else None


@dataclass
class DockerRuntime:
    spec: LaunchSpec
    workdir: Path
    grace: float
    start_timeout: float

    def run_command(self, docker: str, name: str) -> list[str]:
        """``docker run`` for the spec: ``--init`` so the server is not pid 1 (which ignores
        TERM), no log driver (the hub keeps stderr itself, and stdout is the MCP traffic),
        never a pull (install pulls), then the flags install validated into ``command``."""
        assert self.spec.image is not None
        return [
            docker,
            "run",
            "--interactive",
            "--rm",
            "--init",
            "--pull=never",
            "--log-driver=none",
            f"--name={name}",
            *(f"--label={key}={value}" for key, value in labels(self.workdir).items()),
            *(f"--env={variable}" for variable in self.spec.env),
            *self.spec.command,
            self.spec.image,
        ]

    @asynccontextmanager
    async def connect(self, handlers: ClientHandlers) -> AsyncIterator[Connection]:
        try:
            docker = docker_cli()
            await self._remove_leftovers()
        except DockerUnavailable as exc:
            raise StartFailed(str(exc)) from exc
        name = f"mcp-integrations-{self.workdir.name}-{secrets.token_hex(4)}"
        values = [self.spec.env[n] for n in self.spec.secret_env if n in self.spec.env]
        # The CLI gets the hub's variables servers get, but only ``env`` reaches the
        # container: the rest describes this host (its paths, its CA files).
        env = {**self.spec.host_env, **self.spec.env, **docker_client_env()}
        try:
            async with stdio_connection(
                self.run_command(docker, name),
                env,
                self.workdir,
                redact=Redactor(values),
                grace=self.grace,
                start_timeout=self.start_timeout,
                handlers=handlers,
                limits=self.spec.limits,
                protocol=self.spec.protocol,
            ) as connection:
                try:
                    connection.container_id, connection.pid = await self._inspect(docker, name)
                    yield connection
                finally:
                    with anyio.CancelScope(shield=True):
                        await _docker(
                            docker,
                            "stop",
                            f"--time={math.ceil(self.grace)}",
                            name,
                            limit=self.grace + CLI_TIMEOUT_SECS,
                        )
        finally:
            with anyio.CancelScope(shield=True):
                await self._remove(docker, name)

    async def _remove_leftovers(self) -> None:
        removed = await anyio.to_thread.run_sync(remove_labelled_now, self.workdir)
        if removed:
            logger.warning(
                "removed %d container(s) left by an earlier run of %s: %s",
                len(removed),
                self.workdir.name,
                " ".join(c[:12] for c in removed),
            )

    async def _inspect(self, docker: str, name: str) -> tuple[str | None, int | None]:
        """The container's id, and the pid of its main process (``docker-init``, whose
        child is the server) when the engine shares this host's process ids."""
        result = await _docker(docker, "inspect", "--format={{.Id}} {{.State.Pid}}", name)
        fields = result.stdout.decode().split()
        if result.returncode != 0 or len(fields) != 2 or not fields[1].isdigit():
            return None, None
        container_id, pid = fields[0], int(fields[1])
        return container_id, _host_pid(pid, container_id) if pid else None

    async def _remove(self, docker: str, name: str) -> None:
        """Remove the container whatever its state; waits out an ``--rm`` in progress."""
        with anyio.move_on_after(REMOVE_TIMEOUT_SECS):
            while True:
                result = await _docker(docker, "rm", "--force", name)
                error = (result.stderr or b"").decode(errors="replace").strip()
                if result.returncode == 0 or GONE[0] in error.lower():
                    return
                if GONE[1] not in error.lower():
                    break
                await anyio.sleep(0.1)
            logger.warning("container %s may be left behind: %s", name, error)
            return
        logger.warning("container %s may be left behind: its removal did not end", name)


@hookimpl
def create_runtime(spec: LaunchSpec, workdir: Path) -> DockerRuntime | None:
    if spec.runtime != "docker" or spec.transport != "stdio" or not spec.image:
        return None
    return DockerRuntime(spec, workdir, GRACE_SECS, START_TIMEOUT_SECS)


@hookimpl
def cleanup(spec: LaunchSpec, workdir: Path) -> None:
    """On DELETE, remove any container of the integration still there."""
    if spec.runtime != "docker":
        return
    try:
        remove_labelled_now(workdir)
    except DockerUnavailable as exc:
        logger.warning("could not remove the containers of %s: %s", workdir.name, exc)
