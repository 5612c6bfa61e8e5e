"""Environment variables that make an interpreter or loader run code of the caller's choice.

Setting ``PYTHONWARNINGS``, ``BROWSER`` or ``LD_PRELOAD`` for a connector is as good as
installing a command, so such names are an admin's to set, and a server that runs only
installed code (a connector) gets them only when it declares them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from mcp_integrations.auth import require
from mcp_integrations.errors import EnvNotAllowed, Forbidden, UnresolvedReference
from mcp_integrations.models import LaunchSpec, Principal, Role

#: Exact names: shells, browsers and editors started by libraries, loader and TLS hooks.
INTERPRETER_NAMES = frozenset(
    {
        "BASH_ENV",
        "BROWSER",
        "CLASSPATH",
        "EDITOR",
        "ENV",
        "GCONV_PATH",
        "HOME",
        "IFS",
        "JAVA_TOOL_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "_JAVA_OPTIONS",
        "PAGER",
        "PATH",
        "PROMPT_COMMAND",
        "PS4",
        "SHELLOPTS",
        "SSH_ASKPASS",
        "VISUAL",
    }
)
#: Prefixes: the dynamic loader, Python, Node and npm, Perl, Ruby, git, OpenSSL, bash functions.
INTERPRETER_PREFIXES = (
    "BASH_FUNC_",
    "DYLD_",
    "GEM_",
    "GIT_",
    "LD_",
    "NODE_",
    "NPM_CONFIG_",
    "OPENSSL_",
    "PERL",
    "PYTHON",
    "RUBY",
)
#: The hub's own settings and secrets are never handed to a server by reference.
HUB_PREFIX = "MCP_INTEGRATIONS_"
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def controls_interpreter(name: str) -> bool:
    upper = name.upper()
    return upper in INTERPRETER_NAMES or upper.startswith(INTERPRETER_PREFIXES)


def undeclared_interpreter_env(spec: LaunchSpec) -> list[str]:
    """Interpreter-control names in ``spec.env`` that its server did not declare."""
    if spec.arbitrary_code:
        return []
    declared = set(spec.declared_env)
    return sorted(n for n in spec.env if controls_interpreter(n) and n not in declared)


def references(values: Iterable[str]) -> set[str]:
    return {name for value in values for name in REFERENCE.findall(value)}


def check_env(spec: LaunchSpec) -> None:
    """Refuse a spec that would let ``env`` change which code a connector runs."""
    refused = undeclared_interpreter_env(spec)
    if refused:
        raise EnvNotAllowed(
            f"'env' may not set {', '.join(refused)}: these change how the server's "
            "interpreter loads code, and this server does not declare them"
        )


def check_install(principal: Principal, spec: LaunchSpec) -> None:
    """Who may install what: arbitrary code, interpreter variables and references to the
    hub's own environment are an admin's; nobody references the hub's settings."""
    if spec.arbitrary_code:
        require(principal, Role.ADMIN, "installing a source that runs arbitrary code")
    check_env(spec)
    if any(controls_interpreter(name) for name in spec.env):
        require(principal, Role.ADMIN, "setting interpreter-control variables")
    referenced = references(spec.env.values())
    if referenced:
        require(principal, Role.ADMIN, "referencing the hub's environment with ${VAR}")
    hub_own = sorted(n for n in referenced if n.upper().startswith(HUB_PREFIX))
    if hub_own:
        raise Forbidden(f"'env' may not reference the hub's own settings ({', '.join(hub_own)})")


def resolve_references(spec: LaunchSpec, environ: Mapping[str, str]) -> LaunchSpec:
    """The spec with every ``${VAR}`` replaced from the hub's environment, as late as the
    start: the value never reaches the store, and is masked like any secret."""
    referenced = references(spec.env.values())
    if not referenced:
        return spec
    hub_own = sorted(n for n in referenced if n.upper().startswith(HUB_PREFIX))
    missing = sorted(n for n in referenced if n not in environ or n in hub_own)
    if missing:
        raise UnresolvedReference(
            f"'env' refers to ${{{missing[0]}}}, which the hub's environment does not provide"
            + (f" (nor {', '.join(missing[1:])})" if missing[1:] else "")
        )
    env = {
        name: REFERENCE.sub(lambda match: environ[match.group(1)], value)
        for name, value in spec.env.items()
    }
    secret = set(spec.secret_env) | {name for name in env if env[name] != spec.env[name]}
    return dataclasses.replace(spec, env=env, secret_env=tuple(sorted(secret)))
