"""Install source ``pypi:REQUIREMENT``: an MCP server on stdio, published on PyPI.

Body: ``{"source": "pypi:mcp-server-time==2026.10.19", "command": "mcp-server-time",
"args": ["--local-timezone", "UTC"], "env": {...}}``. ``REQUIREMENT`` is a PEP 508 name
with optional ``[extras]`` and version specifiers, without spaces; nothing else pip reads
there gets through (URLs, markers, paths, options such as ``--index-url``), so the caller
can only name a project of the index the hub's installer is configured with. ``command``
picks the console script when the distribution declares several (by default the one named
like the project, else the only one); ``args`` come after it. Without an ``id``, the
project's canonical name is the id.

A package runs code of its author's choosing, so installing one is an admin's
(``arbitrary_code``), and every value of ``env`` is secret. ``prepare`` makes a virtual
environment of the hub's own interpreter in ``WORKDIR/venv`` (with ``uv`` when the hub
finds it, else ``venv`` and pip) and installs the requirement there, isolated from the hub
and from every other integration. It installs wheels only (``--only-binary=:all:``):
building an sdist runs the package's build code at install time, in the hub's process tree
and before anyone started anything, and needs compilers the hub's machine may not have;
MCP servers are almost all pure-Python wheels. Installer output goes to ``server.log``; a
start never touches the installer or the network: the spec runs the console script by its
absolute path in the venv.

The installers get the hub's basic variables and their own settings (``PIP_*``, ``UV_*``:
an index mirror, certificates), not the hub's secrets. pip also reads its config files;
uv reads its own (``uv.toml``, ``UV_DEFAULT_INDEX``), not pip's, so a mirror configured
for pip only is not used once uv is installed beside the hub.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mcp_integrations import hookimpl
from mcp_integrations.bodies import only_options, preview, string_list
from mcp_integrations.errors import BadRequest, InstallFailed, UnknownSource
from mcp_integrations.models import InstallRequest, LaunchSpec, SourceForm
from mcp_integrations.private import open_private
from mcp_integrations.processes import base_env
from mcp_integrations_plugins.sources.forms import package_form

PREFIX = "pypi:"
OPTIONS = ("command", "args")
#: The whole of ``prepare``: making the venv, installing, and asking the index after a miss.
INSTALL_TIMEOUT_SECS = 10 * 60.0
#: How much of an installer's output is kept to explain a failure.
OUTPUT_TAIL_CHARS = 64 * 1024
#: ``pip --python`` runs the hub's pip against the venv's interpreter; pip has it from 22.3.
PIP_PYTHON_OPTION = Version("22.3")
#: Characters a requirement may have here: a name, extras and version specifiers. No space,
#: ';' (markers), '@', ':' or '/' (URLs and paths), quotes or shell metacharacters.
REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~*+]*")
SCRIPT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
#: Installer settings of the hub's environment that would install elsewhere, or something
#: else, than the one requirement into the venv; the index, proxy and TLS ones stay.
INSTALLER_ENV_REFUSED = frozenset(
    {
        "PIP_EDITABLE",
        "PIP_NO_BINARY",
        "PIP_ONLY_BINARY",
        "PIP_NO_DEPS",
        "PIP_PREFIX",
        "PIP_PYTHON",
        "PIP_REQUIREMENT",
        "PIP_ROOT",
        "PIP_TARGET",
        "PIP_USER",
        "UV_NO_BINARY",
        "UV_PYTHON",
        "UV_SYSTEM_PYTHON",
        "UV_TARGET",
        "UV_PREFIX",
    }
)
_UV_NOT_FOUND = re.compile(
    r"\bwas not found in the (?:package registry|provided package locations)"
)
_UV_NO_VERSION = re.compile(r"\bthere is no version of\b")
_UV_NO_WHEEL = re.compile(r"\bno usable wheels\b|\bbuilding from source is disabled\b")
_PIP_NO_MATCH = re.compile(r"No matching distribution found for")
_PIP_FROM_VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")
_PIP_FETCH_FAILED = re.compile(r"Could not fetch URL \S+: (.*?)(?: - skipping)?$", re.MULTILINE)


def _refuse(source: str, why: str) -> BadRequest:
    return BadRequest(
        f"'source' {preview(source)} {why}: use pypi:NAME, optionally with [EXTRAS] and "
        "version specifiers, without spaces (pypi:mcp-server-time, "
        "pypi:mcp-server-time==2026.10.19, pypi:name[extra]>=1,<2)"
    )


def _why_not(text: str) -> str:
    """The likeliest reason a requirement is refused, for the caller to fix."""
    if text.startswith("-"):
        return "is a pip option, not a requirement"
    if "://" in text or "@" in text:
        return "names a URL; only requirements from the package index are installed"
    if ";" in text:
        return "has an environment marker; markers are not accepted"
    if any(char.isspace() for char in text):
        return "has spaces"
    if "/" in text or "\\" in text or text.startswith("."):
        return "names a path; only requirements from the package index are installed"
    return "is not a requirement"


def parse_requirement(source: str) -> Requirement:
    """``pypi:NAME[EXTRAS]SPECIFIERS`` checked, or ``BadRequest`` naming 'source'. The
    character set is checked first, so nothing pip or a shell would read as an option, a
    URL, a path or a command reaches the parser, let alone the installer."""
    text = source.removeprefix(PREFIX)
    if not text:
        raise _refuse(source, "names no package")
    if not REQUIREMENT.fullmatch(text):
        raise _refuse(source, _why_not(text))
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        raise _refuse(source, "is not a valid requirement") from None
    if requirement.url is not None or requirement.marker is not None:
        raise _refuse(source, "is not a plain requirement")
    return requirement


def normalised(requirement: Requirement) -> str:
    """The requirement as the spec keeps it: canonical names, sorted extras, specifiers."""
    extras = sorted(canonicalize_name(extra) for extra in requirement.extras)
    shown_extras = f"[{','.join(extras)}]" if extras else ""
    return f"{canonicalize_name(requirement.name)}{shown_extras}{requirement.specifier}"


def _script_option(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not SCRIPT_NAME.fullmatch(raw):
        raise BadRequest(
            "'command' must name one of the package's console scripts (letters, digits, "
            f"'.', '_', '+', '-'), not {preview(raw)}"
        )
    return raw


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    if not source.startswith(PREFIX):
        return None
    requirement = parse_requirement(source)
    only_options(request.options, OPTIONS, "a PyPI package")
    asked = _script_option(request.options.get("command"))
    args = string_list(request.options.get("args"), "args")
    name = canonicalize_name(requirement.name)
    return LaunchSpec(
        runtime="subprocess",
        # completed by ``prepare``: the script asked for (or, without 'command', the one
        # named like the project, else the only one) becomes its absolute path in the venv
        command=(asked or name, *args),
        env=dict(request.env),
        secret_env=tuple(request.env),
        arbitrary_code=True,
        package=f"{PREFIX}{normalised(requirement)}",
        default_id=name,
        description=f"PyPI package {normalised(requirement)}",
    )


def find_uv() -> str | None:
    """``uv`` on the hub's PATH, else beside the hub's interpreter (installed with it)."""
    found = shutil.which("uv")
    if found is not None:
        return found
    beside = Path(sysconfig.get_path("scripts")) / "uv"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def hub_pip() -> bool:
    """Whether the hub's own pip can install into another interpreter (``--python``),
    which spares the venv a copy of pip and its few seconds of setup."""
    if importlib.util.find_spec("pip") is None:
        return False
    try:
        return Version(importlib.metadata.version("pip")) >= PIP_PYTHON_OPTION
    except (importlib.metadata.PackageNotFoundError, InvalidVersion):
        return False


def _installer_env() -> dict[str, str]:
    """The hub's basics (HOME for caches and config, proxies, CAs) and the installers' own
    settings (index, certificates), none of the hub's secrets; no PYTHONPATH, which would
    show the hub's packages to pip as installed already."""
    env = base_env()
    for name, value in os.environ.items():
        if name.startswith(("PIP_", "UV_")) and name not in INSTALLER_ENV_REFUSED:
            env[name] = value
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclasses.dataclass
class _Installer:
    """One installation: where the venv goes, the log, the deadline, and which tool."""

    package: str
    venv: Path
    log_path: Path
    deadline: float
    uv: str | None
    pip_in_hub: bool

    @property
    def name(self) -> str:
        return "uv" if self.uv else "pip"

    @property
    def python(self) -> Path:
        return self.scripts / "python"

    @property
    def scripts(self) -> Path:
        return Path(self._path("scripts"))

    def site_dirs(self) -> list[str]:
        return list(dict.fromkeys((self._path("purelib"), self._path("platlib"))))

    def _path(self, which: str) -> str:
        base = str(self.venv)
        return sysconfig.get_path(which, "venv", vars={"base": base, "platbase": base})

    def run(self, argv: Sequence[str], what: str, *, log: bool = True) -> tuple[int, str]:
        """Run ``argv`` (never through a shell) with its output appended to the log, or
        only kept when ``log`` is false; its exit code and the end of what it said. The
        whole process group is killed at the deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(what)
        with open_private(self.log_path) as logfile:
            logfile.write(f"$ {' '.join(argv)}\n")
            logfile.flush()
            start = self.log_path.stat().st_size
            began = time.monotonic()
            with subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=logfile if log else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=_installer_env(),
                cwd=self.venv.parent,
                start_new_session=True,
            ) as process:
                try:
                    if log:
                        code, captured = process.wait(timeout=remaining), b""
                    else:
                        captured, _ = process.communicate(timeout=remaining)
                        code = process.returncode
                except subprocess.TimeoutExpired:
                    _kill_group(process)
                    process.wait()
                    logfile.write(f"{what}: killed after {INSTALL_TIMEOUT_SECS:g}s\n")
                    raise self._timed_out(what) from None
            if log:
                with open(self.log_path, "rb") as written:
                    written.seek(max(start, written.seek(0, os.SEEK_END) - OUTPUT_TAIL_CHARS))
                    captured = written.read()
            logfile.write(f"{what}: exit code {code} in {time.monotonic() - began:.1f}s\n")
        return code, captured.decode("utf-8", "replace")[-OUTPUT_TAIL_CHARS:]

    def _timed_out(self, what: str) -> InstallFailed:
        return InstallFailed(
            f"PyPI package {self.package!r}: {what} took over {INSTALL_TIMEOUT_SECS:g}s, "
            "and was stopped"
        )

    def create_venv(self) -> list[str]:
        if self.uv:
            return [self.uv, "venv", "--no-progress", "--python", sys.executable, str(self.venv)]
        pip = ["--without-pip"] if self.pip_in_hub else []
        return [sys.executable, "-m", "venv", *pip, str(self.venv)]

    def pip(self, command: str, *args: str) -> list[str]:
        """A pip command for the venv: uv's, the hub's pip aimed at it, or the venv's own."""
        if self.uv:
            return [self.uv, "pip", command, "--python", str(self.python), *args]
        common = ["--disable-pip-version-check", "--no-input"]
        if self.pip_in_hub:
            pip = [sys.executable, "-m", "pip", "--python", str(self.python)]
        else:
            pip = [str(self.python), "-m", "pip"]
        return [*pip, command, *common, *args]

    def install(self, requirement: str) -> list[str]:
        progress = ["--no-progress"] if self.uv else ["--progress-bar", "off"]
        return self.pip("install", "--only-binary", ":all:", *progress, "--", requirement)


def _last_error(output: str) -> str:
    """The installer's own explanation: its last error line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("ERROR:", "error:", "cause:")):
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def _not_found(name: str) -> UnknownSource:
    return UnknownSource(
        f"no package {name!r} on the package index (PyPI, unless the hub's pip or uv is "
        "configured with another)"
    )


def _no_wheel(name: str, detail: str) -> InstallFailed:
    return InstallFailed(
        f"PyPI package {name!r} has no wheel that installs on Python "
        f"{sys.version_info.major}.{sys.version_info.minor} here; the hub installs wheels "
        f"only and does not build sdists{detail}"
    )


def _probe_pip(installer: _Installer, name: str) -> Exception:
    """After pip found no version at all: ask the index again, verbosely (pip says why a
    page could not be fetched only then), to tell a project the index does not have (the
    caller's to fix, 422) from an index it could not reach (502) or a project without a
    wheel for this interpreter (502)."""
    code, output = installer.run(
        installer.pip("index", "-vv", "versions", name), "asking the index", log=False
    )
    if code == 0:
        return _no_wheel(name, "")
    failures = [r for r in _PIP_FETCH_FAILED.findall(output) if not r.startswith("404 ")]
    if failures:
        return InstallFailed(
            f"cannot install PyPI package {name!r}: the package index cannot be reached "
            f"({failures[0][:200]})"
        )
    return _not_found(name)


def _failure(installer: _Installer, requirement: Requirement, output: str) -> Exception:
    """What a failed install means for the caller: a project, or version, the index does
    not have is theirs to fix (422); anything else is the install's (502)."""
    name = canonicalize_name(requirement.name)
    if installer.uv:
        if _UV_NOT_FOUND.search(output):
            return _not_found(name)
        if _UV_NO_VERSION.search(output):
            return UnknownSource(
                f"PyPI package {name!r} has no version matching {normalised(requirement)!r}"
            )
        if _UV_NO_WHEEL.search(output):
            return _no_wheel(name, f" ({_last_error(output)})")
    elif _PIP_NO_MATCH.search(output):
        versions = _PIP_FROM_VERSIONS.search(output)
        if versions is None or versions.group(1).strip() == "none":
            return _probe_pip(installer, name)
        listed = [v.strip() for v in versions.group(1).split(",")]
        return UnknownSource(
            f"PyPI package {name!r} has no version matching {normalised(requirement)!r} "
            f"with a wheel for this Python; the latest: {', '.join(listed[-5:])}"
        )
    return InstallFailed(
        f"cannot install PyPI package {normalised(requirement)!r} ({installer.name}): "
        f"{_last_error(output)}"
    )


def _console_scripts(installer: _Installer, name: str) -> tuple[str, dict[str, Path]]:
    """The version installed and the console scripts the distribution declares, read from
    its metadata in the venv (no code of the venv runs), each with its installed path."""
    found = list(importlib.metadata.distributions(name=name, path=installer.site_dirs()))
    if not found:
        raise InstallFailed(f"the installer did not put PyPI package {name!r} in the venv")
    distribution = found[0]
    scripts: dict[str, Path] = {}
    for entry in distribution.entry_points:
        if entry.group != "console_scripts" or not SCRIPT_NAME.fullmatch(entry.name):
            continue
        path = installer.scripts / entry.name
        if path.is_file():
            scripts[entry.name] = path
    return distribution.version, scripts


def _pick_script(scripts: Mapping[str, Path], wanted: str, name: str) -> str:
    """The script asked for; without a ``command`` (``wanted`` is then the project's
    name), the one named like the project, else the only one."""
    if wanted in scripts:
        return wanted
    if wanted == name:
        alike = [script for script in scripts if canonicalize_name(script) == name]
        if len(alike) == 1:
            return alike[0]
        if len(scripts) == 1:
            return next(iter(scripts))
    if not scripts:
        raise InstallFailed(
            f"PyPI package {name!r} declares no console script to run as an MCP server"
        )
    available = ", ".join(sorted(scripts))
    if wanted == name:
        raise InstallFailed(
            f"PyPI package {name!r} has several console scripts; give the one to run as "
            f"'command': {available}"
        )
    raise InstallFailed(
        f"PyPI package {name!r} has no console script {wanted!r}; its scripts are: {available}"
    )


@hookimpl
def prepare(spec: LaunchSpec, workdir: Path) -> LaunchSpec | None:
    """Install the requirement into its own venv and point the command at its script."""
    if spec.package is None or not spec.package.startswith(PREFIX):
        return None
    requirement = parse_requirement(spec.package)
    name = canonicalize_name(requirement.name)
    wanted, args = (spec.command[0], spec.command[1:]) if spec.command else (name, ())
    installer = _Installer(
        package=normalised(requirement),
        venv=workdir / "venv",
        log_path=workdir / "server.log",
        deadline=time.monotonic() + INSTALL_TIMEOUT_SECS,
        uv=find_uv(),
        pip_in_hub=hub_pip(),
    )
    try:
        with open_private(installer.log_path) as log:
            log.write(f"installing PyPI package {normalised(requirement)} with {installer.name}\n")
        code, output = installer.run(installer.create_venv(), "creating the venv")
        if code != 0:
            raise InstallFailed(f"cannot create a venv for {name!r}: {_last_error(output)}")
        code, output = installer.run(installer.install(normalised(requirement)), "installing")
        if code != 0:
            raise _failure(installer, requirement, output)
        version, scripts = _console_scripts(installer, name)
    except OSError as exc:
        raise InstallFailed(f"cannot install PyPI package {name!r}: {exc}") from None
    script = _pick_script(scripts, wanted, name)
    with open_private(installer.log_path) as log:
        log.write(f"installed {name} {version}; the server runs {scripts[script]}\n")
    return dataclasses.replace(
        spec,
        command=(str(scripts[script]), *args),
        description=f"PyPI package {name} {version}",
    )


@hookimpl
def install_forms() -> list[SourceForm]:
    description = "An MCP server published on PyPI, run in a virtualenv of its own"
    return [package_form(PREFIX, "PyPI package", description, "mcp-server-time==2026.10.19")]
