"""``mcp-integrations serve``: the API on loopback port 4200 by default."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import platformdirs
import uvicorn

from mcp_integrations import __version__
from mcp_integrations.app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("mcp-integrations"))


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
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app = create_app(args.data_dir.expanduser().resolve())
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
