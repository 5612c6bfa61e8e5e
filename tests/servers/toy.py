"""A real MCP server for tests, whose misbehaviour is chosen by environment variables.

Beyond a few tools it has what a client of the hub must reach through it: a titled tool
with annotations and structured output, progress, log messages, sampling, elicitation,
roots, a slow tool (for deadlines and cancellation), a tool that adds a tool (for
``tools/list_changed``), resources, a resource template and a prompt.

TOY_EXIT_AT_START=N  exit with code N before the MCP handshake (after writing to stderr)
TOY_IGNORE_TERM=1    ignore SIGTERM, so only SIGKILL stops it
TOY_CHILD_PIDFILE=F  start a grandchild (``sleep``) in the same process group, pid written to F
TOY_SECRET           printed to stderr at startup, to check that logs scrub it
TOY_SECRET_FORMS=1   also print it URL-encoded, in Basic auth, JSON-escaped, upper-cased
                     and split across two lines
TOY_CANCEL_MARKER=F  written when a call of ``slow`` is cancelled
TOY_OUTLIVE_STDIN=1  keep running after stdin closes (as a server of a killed hub may)
TOY_DAEMON_PIDFILE=F start a grandchild in a session of its own (it leaves the process
                     group, as a daemon does), pid written to F
TOY_HANG_AT_START=1  never answer the MCP handshake
TOY_EXIT_IF=F:N      exit with code N before the handshake when the file F exists
TOY_BIND_PORT=N      hold a listening socket on loopback port N (exit 1 if it is taken)
TOY_STDERR_FLOOD=N   write N bytes to stderr in one line before serving
TOY_STDERR_EVERY=S   write a line to stderr every S seconds while it runs
TOY_STDOUT_FLOOD=N:S write one line of N bytes to stdout S seconds after starting
TOY_CLOSE_STDIO_AFTER=S  swap stdin and stdout for /dev/null after S seconds: the
                     session ends while the process may live on (with TOY_OUTLIVE_STDIN)
TOY_EXTRA_TOOLS=N    also list N generated tools, ``tool_0000`` on, each with a short
                     description and three typed arguments (about 400 bytes each as listed)
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import SamplingMessage, TextContent, ToolAnnotations
from pydantic import BaseModel

server = MCPServer("toy", version="1.2.3")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def crash(code: int = 3) -> str:
    """Exit the server process at once with the given code."""
    os._exit(code)


@server.tool()
async def freeze(seconds: float) -> str:
    """Block the server's event loop: it answers nothing, pings included, meanwhile."""
    time.sleep(seconds)  # noqa: ASYNC251
    return "thawed"


@server.tool()
def pid() -> int:
    """The server's own process id."""
    return os.getpid()


@server.tool(title="Add two numbers", annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def slow(seconds: float, ctx: Context) -> str:
    """Sleep, reporting progress each tenth of the way; cancellable."""
    try:
        for step in range(10):
            await ctx.report_progress(step, 10, f"step {step}")
            await anyio.sleep(seconds / 10)
    except anyio.get_cancelled_exc_class():
        if marker := os.environ.get("TOY_CANCEL_MARKER"):
            # Synchronously: any await in a cancelled scope is cancelled at once.
            Path(marker).write_text("cancelled")  # noqa: ASYNC240
        raise
    return "done"


@server.tool()
async def chatty(ctx: Context) -> str:
    """Send two log messages, then answer."""
    await ctx.request_context.session.send_log_message("info", "first note", logger="toy")
    await ctx.request_context.session.send_log_message("warning", "second note", logger="toy")
    return "said"


@server.tool()
async def sample(prompt: str, ctx: Context) -> str:
    """Ask the client's model and return its text."""
    result = await ctx.request_context.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        max_tokens=50,
    )
    content = result.content
    return content.text if isinstance(content, TextContent) else repr(content)


class Name(BaseModel):
    name: str


@server.tool()
async def ask_name(ctx: Context) -> str:
    """Ask the user for a name by elicitation."""
    answer = await ctx.elicit("What is your name?", Name)
    return (
        f"hello {answer.data.name}" if answer.action == "accept" and answer.data else answer.action
    )


@server.tool()
async def roots(ctx: Context) -> list[str]:
    """The client's roots."""
    listed = await ctx.request_context.session.list_roots()
    return [str(root.uri) for root in listed.roots]


@server.tool()
async def grow(ctx: Context) -> str:
    """Add a tool named ``grown`` and announce that the tool list changed."""

    def grown() -> str:
        """A tool that was not there at start."""
        return "grown"

    server.add_tool(grown)
    await ctx.request_context.session.send_tool_list_changed()
    return "added"


@server.resource("toy://greeting", mime_type="text/plain")
def greeting() -> str:
    """A fixed greeting."""
    return "hello from toy"


@server.resource("toy://items/{number}")
def item(number: str) -> str:
    """Item by number."""
    return f"item {number}"


@server.prompt()
def greet(name: str) -> str:
    """Greet someone by name."""
    return f"Please greet {name} warmly."


def lookup(query: str, limit: int = 10, exact: bool = False) -> str:
    """Stands for each generated tool of ``TOY_EXTRA_TOOLS``: the query back."""
    return query


def _add_extra_tools(count: int) -> None:
    for number in range(count):
        server.add_tool(
            lookup,
            name=f"tool_{number:04d}",
            description=f"Generated tool {number}: find the records of collection "
            f"{number % 37} that match a query, at most limit of them.",
            structured_output=False,
        )


def _flood_stdout(wire: str, size: int) -> None:
    """One line of ``size`` bytes on the wire (the SDK serves it from a duplicate of fd 1,
    which it points at stderr)."""
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") == wire:
                os.write(int(fd), b"x" * size + b"\n")
                print("toy: flood written", file=sys.stderr, flush=True)
                return


def _chatter(every: float) -> None:
    for number in itertools.count():
        print(f"toy: still here ({number})", file=sys.stderr, flush=True)
        time.sleep(every)


def _close_stdio(wires: set[str]) -> None:
    """Point every descriptor of the stdin and stdout pipes (the SDK keeps duplicates) at
    /dev/null: the hub sees the end of the session, the process lives on."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") in wires:
                os.dup2(devnull, int(fd))


def main() -> None:
    if secret := os.environ.get("TOY_SECRET"):
        print(f"toy starting with secret {secret}", file=sys.stderr, flush=True)
        if os.environ.get("TOY_SECRET_FORMS"):
            basic = base64.b64encode(f"user:{secret}".encode()).decode()
            half = len(secret) // 2
            for line in (
                f"url {quote(secret, safe='')}",
                f"Authorization: Basic {basic}",
                f"json {json.dumps({'token': secret})}",
                f"upper {secret.upper()}",
                f"split {secret[:half]}",
                f"{secret[half:]} end",
            ):
                print(line, file=sys.stderr, flush=True)
    if code := os.environ.get("TOY_EXIT_AT_START"):
        print("toy: refusing to start", file=sys.stderr, flush=True)
        sys.exit(int(code))
    if exit_if := os.environ.get("TOY_EXIT_IF"):
        flag, _, exit_code = exit_if.rpartition(":")
        if Path(flag).exists():
            print(f"toy: {flag} exists", file=sys.stderr, flush=True)
            sys.exit(int(exit_code))
    if os.environ.get("TOY_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if pidfile := os.environ.get("TOY_CHILD_PIDFILE"):
        child = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)
        Path(pidfile).write_text(str(child.pid))
    if pidfile := os.environ.get("TOY_DAEMON_PIDFILE"):
        daemon = subprocess.Popen(
            ["sleep", "300"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        Path(pidfile).write_text(str(daemon.pid))
    if port := os.environ.get("TOY_BIND_PORT"):
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", int(port)))
        except OSError as exc:
            print(f"toy: cannot listen on port {port}: {exc.strerror}", file=sys.stderr, flush=True)
            sys.exit(1)
        listener.listen()
    if stderr_flood := os.environ.get("TOY_STDERR_FLOOD"):
        sys.stderr.write("e" * int(stderr_flood) + "\n")
        sys.stderr.flush()
    if every := os.environ.get("TOY_STDERR_EVERY"):
        threading.Thread(target=_chatter, args=[float(every)], daemon=True).start()
    if stdout_flood := os.environ.get("TOY_STDOUT_FLOOD"):
        size, _, after = stdout_flood.partition(":")
        wire = os.readlink("/proc/self/fd/1")
        threading.Timer(float(after or 0), _flood_stdout, [wire, int(size)]).start()
    if close_after := os.environ.get("TOY_CLOSE_STDIO_AFTER"):
        wires = {os.readlink("/proc/self/fd/0"), os.readlink("/proc/self/fd/1")}
        threading.Timer(float(close_after), _close_stdio, [wires]).start()
    if extra := os.environ.get("TOY_EXTRA_TOOLS"):
        _add_extra_tools(int(extra))
    if os.environ.get("TOY_HANG_AT_START"):
        while True:
            signal.pause()
    server.run()
    if os.environ.get("TOY_OUTLIVE_STDIN"):
        while True:
            signal.pause()


if __name__ == "__main__":
    main()
