"""Install source ``command``: any local MCP server started by a command line.

Body: ``{"source": "command", "id": "x", "command": ["python", "server.py"], "env": {...}}``;
``command`` may also be one string, split as a POSIX shell would (no shell runs it), or,
as an ``mcpServers`` entry has it, the program alone with its arguments in ``args``;
``cwd`` is the folder it runs in. Every value in ``env`` is treated as secret, since
nothing declares otherwise. Without an ``id``, the program's name is the id.

Whatever the body holds, this raises ``BadRequest`` and nothing else: the options are the
caller's raw JSON, and a bad one must be a 400 naming the field, not a 500 at install or a
failure at exec time (a NUL byte, an argument the OS refuses).
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath
from typing import Any

from mcp_integrations import hookimpl
from mcp_integrations.bodies import (
    MAX_ARG_CHARS,
    MAX_ENV_ENTRIES,
    check_env_name,
    kind,
    preview,
    string_list,
)
from mcp_integrations.errors import BadRequest
from mcp_integrations.models import FormField, InstallRequest, LaunchSpec, SourceForm
from mcp_integrations_plugins.sources.forms import SECRET_ENV

#: A command given as one string is split in Python; bound the work before splitting.
MAX_COMMAND_LINE_CHARS = 64 * 1024
_UNENCODABLE = re.compile(r"[\x00\ud800-\udfff]")
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.-]+")


def _split(line: str) -> list[str]:
    if len(line) > MAX_COMMAND_LINE_CHARS:
        raise BadRequest(
            f"'command' must be at most {MAX_COMMAND_LINE_CHARS} characters, not {len(line)}"
        )
    try:
        return shlex.split(line)
    except ValueError as exc:  # an unclosed quote, a trailing backslash
        raise BadRequest(
            f"'command' is not a valid command line ({exc}): {preview(line)}"
        ) from None


def _command(raw: Any, extra: Any = None) -> tuple[str, ...]:
    if raw is None:
        raise BadRequest("source 'command' needs 'command': a list of strings, or one string")
    if extra is not None:
        if not isinstance(raw, str) or not isinstance(extra, list):
            raise BadRequest("with 'args', 'command' is the program alone and 'args' a list")
        args: Any = [raw, *extra]
    else:
        args = _split(raw) if isinstance(raw, str) else raw
    if not isinstance(args, list):
        raise BadRequest(f"'command' must be a list of strings or one string, not {kind(raw)}")
    if not args:
        raise BadRequest("'command' must name a program to run")
    string_list(args, "command")
    if not args[0]:
        raise BadRequest("'command' must name a program to run: its first argument is empty")
    return tuple(args)


def _required_env(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadRequest(f"'required_env' must be a list of variable names, not {kind(raw)}")
    if len(raw) > MAX_ENV_ENTRIES:
        raise BadRequest(
            f"'required_env' has {len(raw)} names; at most {MAX_ENV_ENTRIES} are allowed"
        )
    return tuple(dict.fromkeys(check_env_name(name, "required_env") for name in raw))


def _cwd(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.startswith("/") or _UNENCODABLE.search(raw):
        raise BadRequest(f"'cwd' must be an absolute path, not {preview(raw)}")
    if len(raw) > MAX_ARG_CHARS:
        raise BadRequest(f"'cwd' must be at most {MAX_ARG_CHARS} characters")
    return raw


def _default_id(program: str) -> str | None:
    name = _NOT_IN_ID.sub("-", PurePosixPath(program).name).strip("-.")[:64]
    return name or None


@hookimpl
def resolve_source(source: str, request: InstallRequest) -> LaunchSpec | None:
    if source != "command":
        return None
    command = _command(request.options.get("command"), request.options.get("args"))
    required = _required_env(request.options.get("required_env"))
    return LaunchSpec(
        runtime="subprocess",
        command=command,
        env=dict(request.env),
        required_env=required,
        secret_env=tuple(request.env),
        cwd=_cwd(request.options.get("cwd")),
        default_id=_default_id(command[0]),
    )


@hookimpl
def install_forms() -> list[SourceForm]:
    fields = (
        FormField("command", "list", required=True, description="the program and its arguments"),
        FormField("cwd", description="the absolute folder it runs in"),
        SECRET_ENV,
    )
    return [
        SourceForm("command", "Local command", "Any MCP server on stdio", fields=fields, admin=True)
    ]
