"""Install source ``docker:IMAGE``: an MCP server on stdio, packaged as a container image.

Body: ``{"source": "docker:mcp/time:latest", "id": "time", "env": {...}, "cpus": 0.5,
"memory": "256m", "network": "none"}``. An image runs code of its author's choosing, so
installing one is an admin's (``arbitrary_code``), and every value of ``env`` is secret.
The resource options become ``docker run`` flags, validated here and kept in the spec's
``command``, so the stored spec is all that a restart of the hub needs. ``prepare`` pulls
the image when it is not here yet; a start never pulls.

Like the ``command`` source, this raises ``BadRequest`` naming the field for any bad
option: they are the caller's raw JSON and would otherwise fail at ``docker run``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp_integrations import hookimpl
from mcp_integrations.bodies import kind, only_options, preview
from mcp_integrations.errors import BadRequest, InstallFailed
from mcp_integrations.models import FormField, InstallRequest, LaunchSpec, SourceForm
from mcp_integrations.private import open_private
from mcp_integrations.processes import run_logged
from mcp_integrations_plugins.runtimes.docker import (
    DockerUnavailable,
    describe_failure,
    docker_cli,
    docker_env,
)
from mcp_integrations_plugins.sources.forms import SECRET_ENV

PREFIX = "docker:"
MAX_IMAGE_CHARS = 255
#: Docker refuses less than 0.01 CPU; the upper bound only keeps the number sane, the
#: engine refuses more than the machine has when the container starts.
MIN_CPUS, MAX_CPUS = 0.01, 1024.0
#: Docker's own minimum memory limit, and a bound that keeps the number sane.
MIN_MEMORY, MAX_MEMORY = 6 * 1024**2, 1024**4
MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
OPTIONS = ("cpus", "memory", "network")
PULL_TIMEOUT_SECS = 30 * 60.0
PULL_TAIL_LINES = 5

# An image reference as the docker CLI reads it: [registry[:port]/]path[:tag][@digest].
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_REGISTRY = rf"(?:{_HOST}(?:\.{_HOST})*(?::[0-9]+)?/)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
_DIGEST = r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
IMAGE = re.compile(rf"{_REGISTRY}{_COMPONENT}(?:/{_COMPONENT})*{_TAG}{_DIGEST}")
MEMORY = re.compile(r"([0-9]{1,16}) ?(?:([kmgt])(?:i?b)?|b)?", re.IGNORECASE)
NETWORK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
NO_SUCH_IMAGE = re.compile(r"no such (image|object)", re.IGNORECASE)


def _image(source: str) -> str:
    image = source.removeprefix(PREFIX)
    if len(image) > MAX_IMAGE_CHARS or not IMAGE.fullmatch(image):
        raise BadRequest(
            f"'source' {preview(source)} does not name a docker image: use "
            "docker:NAME[:TAG][@DIGEST] with a lower-case name, e.g. docker:mcp/time:latest"
        )
    return image


def _cpus(raw: Any) -> list[str]:
    if raw is None:
        return []
    cpus = None if isinstance(raw, bool) or not isinstance(raw, int | float) else round(raw, 3)
    if cpus is None or not MIN_CPUS <= cpus <= MAX_CPUS:
        shown = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else kind(raw)
        raise BadRequest(f"'cpus' must be a number from {MIN_CPUS:g} to {MAX_CPUS:g}, not {shown}")
    return [f"--cpus={cpus:g}"]


def _memory(raw: Any) -> list[str]:
    if raw is None:
        return []
    size = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        size = raw
    elif isinstance(raw, str) and (match := MEMORY.fullmatch(raw.strip())):
        size = int(match.group(1)) * MEMORY_UNITS[(match.group(2) or "").lower()]
    if size is None or not MIN_MEMORY <= size <= MAX_MEMORY:
        raise BadRequest(
            "'memory' must be a size from 6m to 1t, as bytes or with a unit (k, m, g, t), "
            f'e.g. "256m" or "1GiB"; not {preview(raw)}'
        )
    return [f"--memory={size}"]


def _network(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, str) or not NETWORK.fullmatch(raw):
        raise BadRequest(
            '\'network\' must name a docker network, e.g. "none", "bridge", "host" '
            f"or one made with 'docker network create'; not {preview(raw)}"
        )
    return [f"--network={raw}"]


def run_flags(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``docker run`` flags for the install options; an unknown option is refused,
    since a misspelt limit silently left out would run the container unlimited."""
    only_options(options, OPTIONS, "a docker image")
    return (
        *_cpus(options.get("cpus")),
        *_memory(options.get("memory")),
        *_network(options.get("network")),
    )


def _check_env_names(env: dict[str, str]) -> None:
    """``env`` reaches the container through the docker CLI's own environment, where a
    ``DOCKER_*`` name would redirect the hub's client (another daemon, another config)."""
    refused = sorted(name for name in env if name.upper().startswith("DOCKER_"))
    if refused:
        raise BadRequest(
            f"'env' may not set {', '.join(refused)} for a docker image: the hub's docker "
            "client reads these variables itself"
        )


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    if not source.startswith(PREFIX):
        return None
    image = _image(source)
    if request.id is None:
        raise BadRequest(f"source {preview(source)} needs an 'id' for the integration")
    env = dict(request.env)
    _check_env_names(env)
    return LaunchSpec(
        runtime="docker",
        image=image,
        command=run_flags(request.options),
        env=env,
        secret_env=tuple(env),
        description=f"docker image {image}",
        arbitrary_code=True,
    )


def _present(docker: str, image: str) -> bool:
    result = subprocess.run(
        [docker, "image", "inspect", "--format={{.Id}}", image],
        capture_output=True,
        env=docker_env(),
        timeout=60,
        check=False,
    )
    if result.returncode == 0:
        return True
    if NO_SUCH_IMAGE.search(result.stderr.decode(errors="replace")):
        return False
    raise DockerUnavailable(describe_failure(f"looking for the image {image!r}", result))


def _pull(docker: str, image: str, log_path: Path) -> None:
    """``docker pull``, its progress appended to the integration's log as it comes."""
    with open_private(log_path) as log:
        log.write(f"pulling docker image {image}\n")
        log.flush()
        pulled = run_logged(
            [docker, "pull", image], log, PULL_TIMEOUT_SECS, env=docker_env(), keep=PULL_TAIL_LINES
        )
    if pulled.timed_out:
        raise InstallFailed(f"pulling docker image {image!r} took over {PULL_TIMEOUT_SECS:g}s")
    if pulled.code != 0:
        detail = pulled.lines[-1] if pulled.lines else "no output"
        raise InstallFailed(
            f"cannot pull docker image {image!r} (docker pull exited with code "
            f"{pulled.code}): {detail}"
        )


@hookimpl
def prepare(spec: LaunchSpec, workdir: Path) -> LaunchSpec | None:
    """Pull the image unless it is here already (a start never pulls)."""
    if spec.runtime != "docker" or spec.image is None:
        return None
    try:
        docker = docker_cli()
        if not _present(docker, spec.image):
            _pull(docker, spec.image, workdir / "server.log")
    except (DockerUnavailable, subprocess.TimeoutExpired) as exc:
        raise InstallFailed(f"cannot install docker image {spec.image!r}: {exc}") from exc
    return None


@hookimpl
def install_forms() -> list[SourceForm]:
    image = FormField("image", required=True, description="e.g. mcp/time:latest")
    fields = (
        FormField("cpus", "number", description=f"{MIN_CPUS:g} or more"),
        FormField("memory", description="a limit such as 256m"),
        FormField("network", description="none, bridge, or a network's name"),
        SECRET_ENV,
    )
    description = "An MCP server on stdio in a container image"
    return [SourceForm(PREFIX, "Docker image", description, image, fields, admin=True)]
