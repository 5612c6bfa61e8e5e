"""``mcp-integrations``: ``serve`` runs the API (on loopback port 4200 by default), ``token``
makes a token, and the client verbs of ``verbs`` talk to a running hub."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import platformdirs

from mcp_integrations import __version__, verbs
from mcp_integrations.errors import BadRequest
from mcp_integrations.models import OnDemand, Role
from mcp_integrations.settings import Settings
from mcp_integrations.tokens import TOKEN_ENV, TokenTable, hash_token, new_token

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("mcp-integrations"))


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse ``type``: a ``kind`` above 0."""

    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _idle_seconds(text: str) -> float:
    """An argparse ``type``: seconds for ``--idle-timeout``, as an install's option takes."""
    from mcp_integrations.bodies import idle_timeout  # with the MCP SDK: only ``serve`` needs it

    try:
        value = idle_timeout(float(text), "--idle-timeout")
    except (ValueError, BadRequest) as exc:
        message = exc.message if isinstance(exc, BadRequest) else f"not a number: {text}"
        raise argparse.ArgumentTypeError(message) from None
    return value or 0.0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="mcp-integrations",
        description="Install, run and supervise MCP integration servers behind an HTTP API.",
    )
    root.add_argument("--version", action="version", version=__version__)
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the Integrations API")
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="where integrations, their workdirs and logs live (default: %(default)s)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--token",
        help=f"an admin bearer token callers must send (or set {TOKEN_ENV}); "
        "at least 16 characters",
    )
    serve.add_argument(
        "--token-file",
        type=Path,
        help="a file of token hashes with roles, one 'sha256:<hex> <role> [name]' a line "
        "(make lines with: mcp-integrations token)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="answer requests for this host name too (repeatable; '*' for any)",
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let browser pages from this origin call the API, with CORS (repeatable)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=Settings.max_body_bytes,
        help="largest request body accepted (default: %(default)s)",
    )
    serve.add_argument(
        "--header-timeout",
        type=_positive(float),
        default=Settings.header_timeout,
        metavar="SECONDS",
        help="close a connection that has not sent its request headers in this time "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--body-timeout",
        type=_positive(float),
        default=Settings.body_timeout,
        metavar="SECONDS",
        help="answer 408 when a request body pauses this long (default: %(default)s)",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive(int),
        metavar="N",
        help="close new connections while this many are open (default: a quarter of the "
        "open-files limit, at most 1000)",
    )
    serve.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="also pass this variable of the hub's environment to every server (repeatable; "
        "proxies, CA bundles and locale are passed already)",
    )
    serve.add_argument(
        "--start-on-demand",
        action="store_true",
        help="integrations that do not say otherwise start on their first call",
    )
    serve.add_argument(
        "--idle-timeout",
        type=_idle_seconds,
        metavar="SECONDS",
        help="stop a server after this long without a call, unless its install says "
        "otherwise (default: never)",
    )
    serve.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback address without any token (only behind other protection)",
    )
    token = commands.add_parser("token", help="make a new token and print its token-file line")
    token.add_argument("--role", default="admin", choices=[str(r) for r in Role])
    token.add_argument("--name", default="token", help="who or what uses it (no spaces)")
    verbs.add_verbs(commands)
    return root


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The hub's settings from its flags and environment; ValueError says what is wrong."""
    tokens = TokenTable()
    plain = args.token or environ.get(TOKEN_ENV)
    if plain:
        tokens += TokenTable.plain(plain)
    if args.token_file:
        try:
            tokens += TokenTable.from_file(args.token_file)
        except OSError as exc:
            raise ValueError(f"cannot read the token file: {exc.strerror}") from None
    settings = Settings(
        host=args.host,
        allowed_hosts=tuple(args.allowed_host),
        allowed_origins=tuple(args.allowed_origin),
        tokens=tokens,
        max_body_bytes=args.max_body_bytes,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_connections=args.max_connections,
        insecure=args.insecure,
        pass_env=tuple(args.pass_env),
        on_demand=OnDemand(args.start_on_demand, args.idle_timeout or None),
    )
    problem = settings.problem()
    if problem:
        raise ValueError(problem)
    return settings


def _print_token(args: argparse.Namespace) -> None:
    if any(c.isspace() for c in args.name):
        raise SystemExit("--name may not contain spaces")
    token = new_token()
    print(f"token (give it to the caller; it is not stored): {token}")
    print(f"token-file line: {hash_token(token)} {args.role} {args.name}")


def _client(args: argparse.Namespace, root: argparse.ArgumentParser) -> int:
    """A client verb's exit code; Ctrl-C is 130 and a closed pipe ends it, both quietly."""
    try:
        return verbs.run(args, root)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug of the client: one line, no traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> None:
    root = parser()
    args = root.parse_args(argv)
    if args.command == "token":
        _print_token(args)
        return
    if args.command != "serve":
        sys.exit(_client(args, root))
    try:
        settings = settings_from(args, os.environ)
    except ValueError as exc:
        root.exit(2, f"mcp-integrations: {exc}\n")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    from mcp_integrations import serving
    from mcp_integrations.app import create_app

    app = create_app(args.data_dir.expanduser().resolve(), settings=settings)
    sys.exit(serving.run(app, args.host, args.port, args.log_level, settings))
