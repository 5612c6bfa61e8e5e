"""Install source ``npm:SPEC``: an MCP server on stdio, published as an npm package.

Body: ``{"source": "npm:@modelcontextprotocol/server-everything@^2026", "env": {...},
"command": "mcp-server-everything", "args": ["stdio"]}``. ``SPEC`` is a package name
(scoped or not, as npm names new packages: lower case, URL-safe, at most 214 characters)
with an optional exact version, range or dist-tag after ``@``. ``command`` picks one of the
package's bins when it has several; ``args`` are added after the bin. Without an ``id``, the
name after the scope is the id.

A package runs code of its author's choosing, so installing one is an admin's
(``arbitrary_code``), and every value of ``env`` is secret. ``SPEC`` reaches ``npm install``
as one argument, never through a shell; it is checked against a grammar that leaves out
everything else npm would accept there (options, git and http URLs, tarballs, folders,
aliases), so the caller can only name a package of the registry npm is configured with.

``prepare`` runs ``npm install --ignore-scripts`` into ``WORKDIR/npm``: install scripts
(``preinstall``, ``postinstall``, of the package and of every dependency) would run code at
install time, in the hub's process tree, before anyone started anything; the usual place
of npm malware, and most MCP servers ship plain JavaScript that needs none. A package that
needs a native build fails at start instead, with node's error in ``server.log``. The spec
then runs ``node`` (the one on the hub's PATH at install) on the bin's file by its absolute
path, so a start never touches npm or the network.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp_integrations import hookimpl
from mcp_integrations.bodies import only_options, preview, string_list
from mcp_integrations.errors import BadRequest, InstallFailed, UnknownSource
from mcp_integrations.models import InstallRequest, LaunchSpec, SourceForm
from mcp_integrations.private import open_private, private_dir
from mcp_integrations.processes import base_env, run_logged
from mcp_integrations_plugins.sources.forms import package_form

PREFIX = "npm:"
OPTIONS = ("command", "args")
MAX_NAME_CHARS = 214
MAX_VERSION_CHARS = 256
INSTALL_TIMEOUT_SECS = 10 * 60.0
TAIL_LINES = 8
#: npm's own names it refuses as package names.
RESERVED_NAMES = frozenset({"node_modules", "favicon.ico"})

# A name part as npm allows for new packages: lower case and URL-safe (no ~'!()*
# either); starting with a letter or digit, so never an option, a path or a dotfile.
_PART = r"[a-z0-9][a-z0-9._~-]*"
NAME = re.compile(rf"(?:@(?P<scope>{_PART})/)?(?P<base>{_PART})")
# A version, range or dist-tag without whitespace: what ``npm install name@X`` reads as
# one, and nothing that could be a URL, a path or an alias (no ':' or '/').
_XR = r"(?:0|[1-9][0-9]*|[xX*])"
_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION = rf"v?{_XR}(?:\.{_XR}){{0,2}}(?:-{_IDENT})?(?:\+{_IDENT})?"
_COMPARATOR = rf"(?:[~^]|[<>]=?|=)?{_VERSION}"
_RANGE = rf"{_COMPARATOR}(?:\|\|{_COMPARATOR})*"
_TAG = r"[A-Za-z][A-Za-z0-9._-]{0,127}"
VERSION = re.compile(rf"{_RANGE}|{_TAG}")
BIN_NAME = re.compile(r"[A-Za-z0-9@][A-Za-z0-9@._~+-]{0,213}")
_E404 = re.compile(r"\bcode E404\b")
_ETARGET = re.compile(r"\bcode ETARGET\b")


@dataclasses.dataclass(frozen=True)
class PackageSpec:
    """A checked ``npm:`` spec: the package's name and what version of it to install."""

    name: str
    version: str | None

    @property
    def base(self) -> str:
        """The name after the scope: the default id and the bin npm names after it."""
        return self.name.rpartition("/")[2]

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def _refuse(source: str, why: str) -> BadRequest:
    return BadRequest(
        f"'source' {preview(source)} {why}: use npm:NAME or npm:NAME@VERSION, NAME a "
        "package of the npm registry (lower case, e.g. @scope/name) and VERSION a version, "
        "range or dist-tag without spaces (1.2.3, ^1, latest)"
    )


def parse_spec(source: str) -> PackageSpec:
    """``npm:NAME[@VERSION]`` checked, or ``BadRequest`` naming 'source'; nothing else
    npm could read in its place (an option, a URL, a path, a tarball) gets through."""
    spec = source.removeprefix(PREFIX)
    # the version starts at the first '@' after the name's own (a scope's) leading one
    at = spec.find("@", 1)
    name, version = (spec, None) if at < 0 else (spec[:at], spec[at + 1 :])
    match = NAME.fullmatch(name)
    if match is None:
        raise _refuse(source, "does not name an npm package")
    if len(name) > MAX_NAME_CHARS:
        raise _refuse(source, f"has a name over {MAX_NAME_CHARS} characters")
    if match["base"] in RESERVED_NAMES or match["scope"] in RESERVED_NAMES:
        raise _refuse(source, "uses a name npm reserves")
    if version is not None and (len(version) > MAX_VERSION_CHARS or not VERSION.fullmatch(version)):
        raise _refuse(source, "has a version that is not a version, range or dist-tag")
    return PackageSpec(name, version)


def _bin_option(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not BIN_NAME.fullmatch(raw):
        raise BadRequest(
            f"'command' must name one of the package's bins (letters, digits, '@', '.', "
            f"'_', '~', '+', '-'), not {preview(raw)}"
        )
    return raw


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    if not source.startswith(PREFIX):
        return None
    package = parse_spec(source)
    only_options(request.options, OPTIONS, "an npm package")
    asked = _bin_option(request.options.get("command"))
    args = string_list(request.options.get("args"), "args")
    return LaunchSpec(
        runtime="subprocess",
        # completed by ``prepare``: the bin asked for (or the name npm gives a lone bin)
        # becomes node and the bin's file
        command=(asked or package.base, *args),
        env=dict(request.env),
        secret_env=tuple(request.env),
        arbitrary_code=True,
        package=f"{PREFIX}{package}",
        default_id=package.base,
        description=f"npm package {package}",
    )


def _npm_env() -> dict[str, str]:
    """The hub's basics (HOME for ~/.npmrc, proxies, CAs) and npm's own settings; none of
    the hub's secrets, though with install scripts off npm runs no package code."""
    env = base_env()
    env.update({k: v for k, v in os.environ.items() if k.lower().startswith("npm_config_")})
    return env


def _run_npm(npm: str, package: PackageSpec, prefix: Path, log_path: Path) -> list[str]:
    """``npm install`` into ``prefix``, its output appended to the integration's log as it
    comes; npm's error lines when it fails, else nothing. Killed (with anything it
    started, e.g. git) at the deadline."""
    argv = [
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--ignore-scripts",
        "--omit=dev",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--color=false",
        "--",
        str(package),
    ]
    with open_private(log_path) as log:
        log.write(f"installing npm package {package}: {' '.join(argv[1:])}\n")
        log.flush()
        began = time.monotonic()
        done = run_logged(argv, log, INSTALL_TIMEOUT_SECS, env=_npm_env(), cwd=prefix, keep=200)
        code = done.code
        log.write(f"npm install exited with code {code} in {time.monotonic() - began:.1f}s\n")
    if done.timed_out:
        raise InstallFailed(
            f"installing npm package {str(package)!r} took over {INSTALL_TIMEOUT_SECS:g}s"
        )
    errors = [line for line in done.lines if line.startswith(("npm error", "npm ERR!"))]
    tail = done.lines[-TAIL_LINES:]
    return [] if code == 0 else errors or list(tail) or [f"npm exited with code {code}"]


def _failure(package: PackageSpec, output: list[str]) -> Exception:
    """What a failed ``npm install`` means for the caller: a package (or version) the
    registry does not have is theirs to fix (422); anything else is the install's (502)."""
    text = "\n".join(output)
    quoted = re.escape(package.name)
    if _E404.search(text) and re.search(rf"(?:/|'){quoted}(?:@|'|\s|$)", text):
        return UnknownSource(
            f"npm package {package.name!r} is not in the npm registry (or not readable "
            "with the hub's npm credentials)"
        )
    if _ETARGET.search(text) and re.search(rf"found for {quoted}@", text):
        return UnknownSource(f"npm package {package.name!r} has no version matching {package}")
    detail = next((line for line in output if "code " not in line), output[-1])
    return InstallFailed(f"cannot install npm package {str(package)!r}: {detail[:300]}")


def _bins(manifest: Mapping[str, Any], base: str) -> dict[str, str]:
    """The package's bins as npm links them: a string ``bin`` is named after the package."""
    raw = manifest.get("bin")
    if isinstance(raw, str):
        return {base: raw}
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items() if isinstance(v, str)}
    return {}


def _pick_bin(bins: Mapping[str, str], wanted: str, package: PackageSpec) -> str:
    """The bin asked for; without a ``command`` (``wanted`` is then the name after the
    scope), the one named after the package, else the only one."""
    if wanted in bins:
        return wanted
    if wanted == package.base and len(bins) == 1:
        return next(iter(bins))
    if not bins:
        raise InstallFailed(f"npm package {package.name!r} has no bin to run as an MCP server")
    available = ", ".join(sorted(bins))
    if wanted == package.base:
        raise InstallFailed(
            f"npm package {package.name!r} has several bins, give the one to run as "
            f"'command': {available}"
        )
    raise InstallFailed(
        f"npm package {package.name!r} has no bin {wanted!r}; its bins are: {available}"
    )


def _entry_point(prefix: Path, package: PackageSpec, wanted: str) -> tuple[Path, str]:
    """The absolute path of the chosen bin's file, and the version npm installed."""
    root = prefix / "node_modules" / package.name
    try:
        manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InstallFailed(
            f"npm installed {package.name!r} but its package.json cannot be read: {exc}"
        ) from None
    if not isinstance(manifest, dict):
        raise InstallFailed(f"npm package {package.name!r}: package.json is not an object")
    bins = _bins(manifest, package.base)
    chosen = _pick_bin(bins, wanted, package)
    target = (root / bins[chosen]).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file():
        raise InstallFailed(
            f"npm package {package.name!r}: bin {chosen!r} is not a file inside the package"
        )
    version = manifest.get("version")
    return target, version if isinstance(version, str) else "unknown version"


@hookimpl
def prepare(spec: LaunchSpec, workdir: Path) -> LaunchSpec | None:
    """Install the package into ``workdir/npm`` and point the command at node and its bin."""
    if spec.package is None or not spec.package.startswith(PREFIX):
        return None
    package = parse_spec(spec.package)
    wanted, args = (spec.command[0], spec.command[1:]) if spec.command else (package.base, ())
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if p is None)
        raise InstallFailed(f"cannot install npm package {str(package)!r}: no {missing} on PATH")
    prefix = private_dir(workdir / "npm")
    try:
        output = _run_npm(npm, package, prefix, workdir / "server.log")
    except OSError as exc:
        raise InstallFailed(f"cannot run npm for {str(package)!r}: {exc}") from None
    if output:
        raise _failure(package, output)
    entry, version = _entry_point(prefix, package, wanted)
    return dataclasses.replace(
        spec,
        command=(os.path.abspath(node), str(entry), *args),
        description=f"npm package {package.name}@{version}",
    )


@hookimpl
def install_forms() -> list[SourceForm]:
    description = "An MCP server published on npm"
    return [
        package_form(
            PREFIX, "npm package", description, "@modelcontextprotocol/server-everything@2025.9.25"
        )
    ]
