"""The client verbs of ``mcp-integrations`` (``ls``, ``install``, ``call``, ``logs``...): their
arguments, and ``run``, which turns what went wrong into one line and an exit code
(0 done; 1 the hub said no; 2 bad usage; 3 the hub cannot be reached)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shtab

from mcp_integrations import envfile, handlers
from mcp_integrations.client import (
    DEFAULT_URL,
    URL_ENV,
    ConfigError,
    HubClient,
    HubRefused,
    HubTimeout,
    HubUnreachable,
    hub_token,
    hub_url,
)
from mcp_integrations.handlers import (
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Handler,
    UsageError,
    json_or_text,
    refused,
)
from mcp_integrations.tables import Output

SHELLS = ("bash", "zsh", "tcsh")


def _assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with the value parsed as JSON when it parses (``3``, ``true``,
    ``["a"]``), else kept as a string."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text[:60]!r}")
    return name, json_or_text(value)


def _env_pair(text: str) -> tuple[str, str]:
    try:
        return envfile.pair(text, os.environ)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds above 0, not {text[:20]!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text[:20]!r}")
    return int(text)


class _JsonOrArguments(argparse.Action):
    """``call``'s ``--json``: alone, print the hub's JSON (as on every verb); with a value,
    the tool's arguments as one JSON object."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if values is None:
            namespace.as_json = True
            return
        parsed = json_or_text(str(values))
        if not isinstance(parsed, dict):
            parser.error(f"argument --json: expected a JSON object of arguments, not {values!r}")
        namespace.arguments = parsed


def add_verbs(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The client verbs, each with ``--url`` and (but ``completion``) ``--json``."""
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--url", help=f"the hub's base URL (default: ${URL_ENV}, else {DEFAULT_URL})"
    )
    common = argparse.ArgumentParser(add_help=False, parents=[connection])
    common.add_argument(
        "--json", dest="as_json", action="store_true", help="print the hub's JSON answer as it is"
    )

    def verb(name: str, handler: Handler, about: str, *, json_flag: bool = True) -> Any:
        parser = commands.add_parser(
            name, help=about, description=about, parents=[common if json_flag else connection]
        )
        parser.set_defaults(handler=handler, as_json=False)
        return parser

    verb("ls", handlers.ls, "list the installed integrations")
    verb("status", handlers.status, "show an integration's status").add_argument("id")
    install = verb("install", handlers.install, "install an integration from a source")
    install.add_argument("source", help="a connector's name, command, pypi:PKG, npm:PKG, ...")
    install.add_argument("--id", help="the integration's id (default: from the source)")
    install.add_argument(
        "--env",
        action="append",
        type=_env_pair,
        default=[],
        metavar="KEY=VALUE",
        help="a variable for the server (repeatable); KEY alone takes this shell's value",
    )
    install.add_argument(
        "--env-file",
        dest="env_files",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="variables from a dotenv file of KEY=VALUE lines (repeatable)",
    ).complete = shtab.FILE
    install.add_argument(
        "--option",
        dest="options",
        action="append",
        type=_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="another key of the install body, its value as JSON (start_on_demand=true, "
        'command=["python","s.py"]) or else a string (repeatable)',
    )
    imported = verb(
        "import", handlers.import_servers, "install each entry of an mcpServers JSON file"
    )
    imported.add_argument(
        "file", type=Path, help="the JSON file ('-' for standard input)"
    ).complete = shtab.FILE
    for name, action, about in (
        ("start", "start", "start integrations"),
        ("stop", "stop", "stop integrations"),
        ("restart", "restart", "restart integrations"),
        ("rm", "remove", "remove integrations (stopping them first)"),
    ):
        verb(name, handlers.each(action), about).add_argument("ids", nargs="+", metavar="ID")
    verb("tools", handlers.tools, "list an integration's tools").add_argument("id")
    call = verb("call", handlers.call, "call a tool", json_flag=False)
    call.set_defaults(arguments=None)
    call.add_argument("id")
    call.add_argument("tool")
    call.add_argument(
        "--arg",
        dest="args",
        action="append",
        type=_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="an argument, its value as JSON when it parses, else a string (repeatable)",
    )
    call.add_argument(
        "--json",
        nargs="?",
        action=_JsonOrArguments,
        metavar="ARGUMENTS",
        help="with a JSON object: the tool's arguments (--arg wins); alone: print the "
        "hub's JSON answer as it is",
    )
    call.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="the call's deadline on the hub"
    )
    logs = verb("logs", handlers.logs, "show an integration's server log")
    logs.add_argument("id")
    logs.add_argument("-f", "--follow", action="store_true", help="go on showing new lines")
    logs.add_argument("--tail", type=_count, metavar="N", help="the last N lines (default: 100)")
    verb("events", handlers.events, "follow status changes and installs as they happen")
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        description="print a shell completion script, e.g.: "
        "mcp-integrations completion bash > ~/.local/share/bash-completion/completions/"
        "mcp-integrations",
    )
    completion.add_argument("shell", choices=SHELLS)


def run(args: argparse.Namespace, root: argparse.ArgumentParser) -> int:
    """Run a client verb; the exit code."""
    if args.command == "completion":
        sys.stdout.write(shtab.complete(root, shell=args.shell))
        return 0
    out = Output(args.as_json)
    try:
        url = hub_url(args.url, os.environ)
        token = hub_token(os.environ)
    except ConfigError as exc:
        out.error(str(exc))
        return EXIT_USAGE
    with HubClient(url, token) as hub:
        try:
            handler: Handler = args.handler
            return handler(args, hub, out)
        except UsageError as exc:
            out.error(str(exc))
            return EXIT_USAGE
        except HubTimeout as exc:
            out.error(f"the hub at {url} took the request but gave {exc.reason}")
            return EXIT_UNREACHABLE
        except HubUnreachable as exc:
            out.error(f'{exc}; is it running? start it with "mcp-integrations serve"')
            return EXIT_UNREACHABLE
        except HubRefused as exc:
            refused(out, exc, getattr(args, "id", None))
            return EXIT_REFUSED
