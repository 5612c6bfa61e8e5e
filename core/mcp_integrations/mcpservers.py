"""The ``mcpServers`` form of Claude Desktop, Cursor and VS Code, both ways, and the MCP
registry's ``server.json``: what users already have, turned into install requests.

An entry that runs ``npx PKG``, ``uvx PKG`` or ``docker run IMAGE`` becomes an ``npm:``,
``pypi:`` or ``docker:`` install (set up once, started offline); anything else runs as the
command it is. Exported entries carry ``${NAME}`` in place of every secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from mcp_integrations.bodies import kind, parse_install, preview
from mcp_integrations.errors import BadRequest
from mcp_integrations.models import JSON, InstallRequest, Integration

MAX_ENTRIES = 200
_NPX_FLAGS = {"-y", "--yes"}
_DOCKER_FLAGS = {"-i", "--interactive", "--rm", "--init", "-t"}


def _package_source(command: str, args: list[str]) -> tuple[str, list[str]] | None:
    """``npx -y PKG ...`` / ``uvx PKG ...`` / ``docker run -i --rm IMAGE ...`` as a source
    and the arguments after it, when the entry is that simple; else None."""
    program = PurePosixPath(command).name
    if program in ("npx", "uvx"):
        rest = [a for a in args if not (program == "npx" and a in _NPX_FLAGS)]
        if rest and not rest[0].startswith("-"):
            if program == "npx":
                return "npm:" + rest[0], rest[1:]
            name, _, version = rest[0].partition("@")  # uvx's NAME@VERSION form
            pinned = f"{name}=={version}" if version and version != "latest" else name
            return "pypi:" + pinned, rest[1:]
        return None
    if program == "docker" and args[:1] == ["run"]:
        rest = args[1:]
        while rest and rest[0] in _DOCKER_FLAGS:
            rest = rest[1:]
        if rest and not rest[0].startswith("-"):
            return "docker:" + rest[0], rest[1:]
    return None


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{field!r} must be a list of strings, not {kind(value)}")
    return list(value)


def entry_request(name: str, entry: Any) -> InstallRequest:
    """One ``mcpServers`` entry as an install request with ``name`` as its id."""
    if not isinstance(entry, Mapping):
        raise BadRequest(f"entry {preview(name)} must be an object, not {kind(entry)}")
    body: dict[str, Any] = {"id": name, "env": entry.get("env") or {}}
    if "url" in entry:
        kind_of = entry.get("type") or entry.get("transport")
        body |= {"source": entry["url"], "headers": entry.get("headers")}
        if kind_of is not None:
            body["transport"] = "sse" if kind_of == "sse" else "streamable-http"
    else:
        command = entry.get("command")
        if not isinstance(command, str) or not command:
            raise BadRequest(f"entry {preview(name)} needs 'command' (a string) or 'url'")
        args = _strings(entry.get("args"), "args")
        package = _package_source(command, args)
        if package is not None:
            body["source"] = package[0]
            if package[1]:
                body["args"] = package[1]
        else:
            body |= {"source": "command", "command": command, "args": args}
            if entry.get("cwd") is not None:
                body["cwd"] = entry["cwd"]
    return parse_install(body)


def entries(document: Any) -> list[tuple[str, Any]]:
    """The entries of ``{"mcpServers": {...}}`` (or VS Code's ``{"servers": {...}}``)."""
    if not isinstance(document, Mapping):
        raise BadRequest("the body must be a JSON object with 'mcpServers'")
    servers = document.get("mcpServers", document.get("servers"))
    if not isinstance(servers, Mapping):
        raise BadRequest("'mcpServers' must be an object of named server entries")
    if len(servers) > MAX_ENTRIES:
        raise BadRequest(f"'mcpServers' has {len(servers)} entries; at most {MAX_ENTRIES} at once")
    return list(servers.items())


def _references(names: Iterable[str], secret: Iterable[str], values: Mapping[str, str]) -> JSON:
    hidden = set(secret)
    return {n: f"${{{n}}}" if n in hidden else values[n] for n in names}


def export_entry(integration: Integration) -> JSON:
    """An integration as an ``mcpServers`` entry another client can run."""
    spec = integration.spec
    if spec.runtime == "remote":
        headers = {name: f"${{{name.upper().replace('-', '_')}}}" for name in spec.headers}
        entry: JSON = {"url": spec.url, "type": "sse" if spec.transport == "sse" else "http"}
        return entry | ({"headers": headers} if headers else {})
    env = _references(spec.env, spec.secret_env, spec.env)
    if spec.package and spec.package.startswith("pypi:"):
        script = PurePosixPath(spec.command[0]).name if spec.command else ""
        entry = {"command": "uvx", "args": ["--from", spec.package[5:], script, *spec.command[1:]]}
    elif spec.package and spec.package.startswith("npm:"):
        entry = {"command": "npx", "args": ["-y", spec.package[4:], *spec.command[2:]]}
    elif spec.runtime == "docker" and spec.image:
        flags = [arg for name in spec.env for arg in ("-e", name)]
        entry = {"command": "docker", "args": ["run", "-i", "--rm", *flags, spec.image]}
    else:
        entry = {"command": spec.command[0], "args": list(spec.command[1:])}
        if spec.cwd:
            entry["cwd"] = spec.cwd
    return entry | ({"env": env} if env else {})


#: The registry's package kinds, in the order the hub prefers them.
_REGISTRY = {
    "pypi": "pypi:{name}=={version}",
    "npm": "npm:{name}@{version}",
    "oci": "docker:{name}:{version}",
}


def is_server_json(body: Mapping[str, Any]) -> bool:
    schema = body.get("$schema")
    return isinstance(schema, str) and "server.schema.json" in schema


def server_json_request(body: Mapping[str, Any]) -> InstallRequest:
    """An install from the MCP registry's ``server.json``: its first package the hub can
    run (PyPI, npm, OCI), else its first remote; ``id`` and ``env`` may come with it."""
    overrides = {k: body[k] for k in ("id", "env", "headers") if k in body}
    packages = body.get("packages") or []
    for registry, pattern in _REGISTRY.items():
        for package in packages if isinstance(packages, list) else []:
            if isinstance(package, Mapping) and package.get("registryType") == registry:
                name, version = package.get("identifier"), package.get("version")
                if not isinstance(name, str) or not isinstance(version, str):
                    raise BadRequest("a server.json package needs 'identifier' and 'version'")
                source = pattern.format(name=name, version=version)
                default_id = name.rsplit("/", 1)[-1]
                return parse_install({"source": source, "id": default_id, **overrides})
    remotes = body.get("remotes") or []
    for remote in remotes if isinstance(remotes, list) else []:
        if isinstance(remote, Mapping) and isinstance(remote.get("url"), str):
            name = str(body.get("name", "remote")).rsplit("/", 1)[-1]
            transport = "sse" if remote.get("type") == "sse" else "streamable-http"
            fields = {"source": remote["url"], "id": name, "transport": transport}
            return parse_install(fields | overrides)
    raise BadRequest("the server.json has no PyPI, npm or OCI package nor a remote the hub can run")
