"""What a tool call costs through the hub, against the floor and against its peers.

One trivial tool (``echo`` of tests/servers/toy.py, run by this interpreter) is called
through each path at 1, 10 and 100 concurrent callers:
- direct:   an MCP session over stdio to the server, concurrent calls on that one session
            (the floor: whatever sits in front of the server adds to it);
- hub REST: ``mcp-integrations serve`` as a real process, POST .../tools/echo/call with one
            keep-alive httpx client, and with a raw HTTP/1.1 client (prebuilt request, one
            connection per caller) since httpx alone costs more CPU per call than the hub;
- hub /mcp: one MCP session (revision 2025-11-25: initialize, Mcp-Session-Id) over
            streamable HTTP to the hub's aggregate endpoint (``toy__echo``), and one to the
            one-integration endpoint ``/integrations/toy/mcp``; and the same two with a
            stateless 2026-07-28 client (``server/discover`` once, then every request a
            POST of its own that carries its envelope, no session);
- peers:    mcpo (MCP to OpenAPI, POST /echo; both clients) and mcp-proxy (stdio to
            streamable HTTP), from their own virtualenvs (``--peers DIR``: DIR/mcpo,
            DIR/mcp-proxy; ``nox -s bench`` installs them). One that cannot run says why.
Latency is measured per call on the client side; throughput is calls over wall time. The
paths are measured in interleaved rounds, and the CPU each call cost is shown for the
client and for everything behind it (server, hub or peer), since on a small machine they
share the cores. Run: ``nox -s bench``, or ``python benchmarks/bench_calls.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    suppress,
)
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import httpx2
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

ROOT = Path(__file__).resolve().parent.parent
TOY = ROOT / "tests" / "servers" / "toy.py"
TEXT = "hello"
#: The stateless revision the ``-2026`` paths speak.
STATELESS = "2026-07-28"
PATHS = {
    "direct": "direct stdio session",
    "rest": "hub REST (httpx)",
    "rest-raw": "hub REST (raw HTTP/1.1)",
    "mcp": "hub /mcp (2025-11-25)",
    "mcp-2026": "hub /mcp (2026-07-28)",
    "mcp-one": "hub /integrations/toy/mcp (2025-11-25)",
    "mcp-one-2026": "hub /integrations/toy/mcp (2026-07-28)",
    "mcpo": "mcpo (httpx)",
    "mcpo-raw": "mcpo (raw HTTP/1.1)",
    "mcp-proxy": "mcp-proxy (MCP)",
}
HUB_PATHS = ("rest", "rest-raw", "mcp", "mcp-2026", "mcp-one", "mcp-one-2026")
PEERS = ("mcpo", "mcpo-raw", "mcp-proxy")
#: The peers each hub path is held against: the same protocol through the same client.
LIKE_PEERS = {
    "rest": ("mcpo",),
    "rest-raw": ("mcpo-raw",),
    "mcp": ("mcp-proxy",),
    "mcp-2026": ("mcp-proxy",),
    "mcp-one": ("mcp-proxy",),
    "mcp-one-2026": ("mcp-proxy",),
}
#: The issue's targets for the hub's paths.
MAX_ADDED_P50_MS = 1.0
MIN_THROUGHPUT_PCT = 80.0
READY_SECS = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
Call = Callable[[], Awaitable[None]]


class Unavailable(Exception):
    """A path that cannot run here; its message stands in the table instead of numbers."""


@dataclass
class Row:
    path: str
    concurrency: int
    calls: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    calls_per_s: float | None = None
    client_cpu_ms: float | None = None
    server_cpu_ms: float | None = None
    note: str = ""


# -- processes ---------------------------------------------------------------------------


def _fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (none when it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _stat(pid: int) -> tuple[str, int, int] | None:
    """State, parent pid and start time of ``pid`` (None when it is gone)."""
    fields = _fields(pid)
    return (fields[0], int(fields[1]), int(fields[19])) if fields else None


def _descendants(root: int) -> set[tuple[int, int]]:
    """Live descendants of ``root`` as (pid, start time), so a reused pid is never taken
    for one of them."""
    parents: dict[int, list[tuple[int, int]]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return set()
    for entry in proc.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] != "Z":
            parents.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found: set[tuple[int, int]] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


def _cpu_secs(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (0 when it is gone)."""
    fields = _fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if fields else 0.0


def _alive(ident: tuple[int, int]) -> bool:
    stat = _stat(ident[0])
    return stat is not None and stat[0] != "Z" and stat[2] == ident[1]


class Processes:
    """Every process the benchmark starts, each in a session (process group) of its own,
    and every descendant seen, so that all of them end whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []
        self.seen: set[tuple[int, int]] = set()

    def spawn(self, name: str, command: Sequence[str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def log_tail(self, name: str) -> str:
        text = (self.logs / f"{name}.log").read_text(errors="replace").strip()
        return " / ".join(text.splitlines()[-3:])[-300:]

    def note_descendants(self) -> None:
        for process in self.started:
            self.seen |= _descendants(process.pid)

    def stop_all(self) -> list[int]:
        """TERM each started process group, then KILL what is left; returns the pids of
        strays (descendants still alive after that), which are killed too."""
        self.note_descendants()
        for process in self.started:
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        deadline = time.monotonic() + 5
        while any(_alive(i) for i in self.seen) and time.monotonic() < deadline:
            time.sleep(0.05)  # children stopping on their own once their parent is gone
        strays = {i for i in self.seen if _alive(i)} | _descendants(os.getpid())
        for pid, _ in strays:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return sorted(pid for pid, _ in strays)


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(
    process: subprocess.Popen[bytes], ready: Callable[[], Awaitable[bool]], what: str
) -> None:
    deadline = time.monotonic() + READY_SECS
    while True:
        if process.poll() is not None:
            raise Unavailable(f"{what} exited with code {process.returncode}")
        try:
            if await ready():
                return
        except (httpx.TransportError, OSError):
            pass
        if time.monotonic() > deadline:
            raise Unavailable(f"{what} not ready after {READY_SECS:.0f}s")
        await anyio.sleep(0.1)


# -- the paths ---------------------------------------------------------------------------


def _check(result: CallToolResult) -> None:
    content = result.content
    if result.is_error or not (isinstance(content[0], TextContent) and content[0].text == TEXT):
        raise RuntimeError(f"unexpected result: {result!r}"[:300])


def _session_call(session: ClientSession, tool: str) -> Call:
    async def call() -> None:
        _check(await session.call_tool(tool, {"text": TEXT}))

    return call


def _http() -> httpx.AsyncClient:
    """One keep-alive client with room for every concurrent caller."""
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    return httpx.AsyncClient(limits=limits, timeout=60)


@asynccontextmanager
async def direct() -> AsyncIterator[Call]:
    params = StdioServerParameters(command=sys.executable, args=[str(TOY)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield _session_call(session, "echo")


@asynccontextmanager
async def mcp_session(url: str, tool: str, *, stateless: bool = False) -> AsyncIterator[Call]:
    """The SDK's client over streamable HTTP: a 2025-11-25 session (initialize), or with
    ``stateless`` the 2026-07-28 revision (``server/discover`` once; no session after)."""
    limits = httpx2.Limits(max_connections=256, max_keepalive_connections=256)
    async with (
        httpx2.AsyncClient(limits=limits, timeout=httpx2.Timeout(60, read=300)) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        if stateless:
            await session.discover()
            if session.protocol_version != STATELESS:
                raise RuntimeError(f"{url} speaks {session.protocol_version}, not {STATELESS}")
        else:
            await session.initialize()
        yield _session_call(session, tool)


@asynccontextmanager
async def rest(url: str, body: dict[str, Any], check: Callable[[Any], bool]) -> AsyncIterator[Call]:
    async with _http() as http:

        async def call() -> None:
            response = await http.post(url, json=body)
            if response.status_code != 200 or not check(response.json()):
                raise RuntimeError(f"{response.status_code} {response.text[:300]}")

        yield call


@asynccontextmanager
async def raw_rest(
    url: str, body: dict[str, Any], check: Callable[[Any], bool]
) -> AsyncIterator[Call]:
    """The same POST, prebuilt, on keep-alive HTTP/1.1 connections (one per caller): on two
    shared cores httpx's own CPU per call exceeds the hub's, and would hide it."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    Connection = tuple[SocketStream, BufferedByteReceiveStream]
    idle: list[Connection] = []
    opened: list[SocketStream] = []

    async def connect() -> Connection:
        stream = await anyio.connect_tcp(parts.hostname or "127.0.0.1", parts.port or 80)
        opened.append(stream)
        return stream, BufferedByteReceiveStream(stream)

    async def exchange(
        stream: SocketStream, reader: BufferedByteReceiveStream
    ) -> tuple[str, bytes]:
        await stream.send(request)
        head = (await reader.receive_until(b"\r\n\r\n", 65536)).decode("latin-1")
        status, *fields = head.split("\r\n")
        headers = dict(f.lower().split(": ", 1) for f in fields if ": " in f)
        data = await reader.receive_exactly(int(headers["content-length"]))
        return status, data

    async def call() -> None:
        while True:
            reused = bool(idle)
            connection = idle.pop() if reused else await connect()
            try:
                status, data = await exchange(*connection)
                break
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
                await connection[0].aclose()
                if not reused:  # else the server closed it while idle (keep-alive timeout)
                    raise
        idle.append(connection)
        if status.split()[1] != "200" or not check(json.loads(data)):
            raise RuntimeError(f"{status} {data[:300]!r}")

    try:
        yield call
    finally:
        for stream in opened:
            await stream.aclose()


def _rest_ok(data: Any) -> bool:
    return not data.get("isError") and data["content"][0]["text"] == TEXT


def _mcpo_ok(data: Any) -> bool:
    return bool(data == TEXT)


async def start_hub(processes: Processes, data_dir: Path) -> str:
    """The hub as a real process with the toy installed and running; returns its URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mcp_integrations", "serve", "--port", str(port)]
    hub = processes.spawn("hub", [*command, "--data-dir", str(data_dir), "--log-level", "warning"])
    async with _http() as http:

        async def ready() -> bool:
            return (await http.get(f"{base}/integrations")).status_code == 200

        try:
            await wait_ready(hub, ready, "the hub")
        except Unavailable as exc:
            raise RuntimeError(f"{exc}: {processes.log_tail('hub')}") from None
        install = {"source": "command", "id": "toy", "command": [sys.executable, str(TOY)]}
        for url, body in (
            (f"{base}/integrations/install", install),
            (f"{base}/integrations/toy/start", None),
        ):
            response = await http.post(url, json=body)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"POST {url}: {response.status_code} {response.text}")
    processes.note_descendants()
    return base


async def start_peer(processes: Processes, peers: Path | None, name: str) -> str:
    """Peer ``name`` (mcpo or mcp-proxy, from DIR/name) in front of the toy; its URL."""
    if peers is None:
        raise Unavailable("not installed (nox -s bench installs it; or pass --peers DIR)")
    executable = peers / name / "bin" / name
    if not executable.exists():
        why = peers / name / "unavailable.txt"
        if why.exists():
            raise Unavailable(f"could not be installed: {why.read_text().strip()[-300:]}")
        raise Unavailable(f"not installed: no {executable} (nox -s bench installs it)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    listen = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"]
    process = processes.spawn(name, [str(executable), *listen, "--", sys.executable, str(TOY)])

    async def ready() -> bool:
        if name == "mcpo":  # ready once a call goes through
            async with rest(f"{base}/echo", {"text": TEXT}, _mcpo_ok) as call:
                await call()
                return True
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    try:
        await wait_ready(process, ready, name)
    except Unavailable as exc:
        raise Unavailable(f"{exc}: {processes.log_tail(name)}") from None
    processes.note_descendants()
    return base


def client(key: str, base: str) -> AbstractAsyncContextManager[Call]:
    """The client side of path ``key`` against the service at ``base``."""
    hub_call = f"{base}/integrations/toy/tools/echo/call"
    arguments = {"arguments": {"text": TEXT}}
    clients: dict[str, Callable[[], AbstractAsyncContextManager[Call]]] = {
        "rest": lambda: rest(hub_call, arguments, _rest_ok),
        "rest-raw": lambda: raw_rest(hub_call, arguments, _rest_ok),
        "mcp": lambda: mcp_session(f"{base}/mcp", "toy__echo"),
        "mcp-2026": lambda: mcp_session(f"{base}/mcp", "toy__echo", stateless=True),
        "mcp-one": lambda: mcp_session(f"{base}/integrations/toy/mcp", "echo"),
        "mcp-one-2026": lambda: mcp_session(f"{base}/integrations/toy/mcp", "echo", stateless=True),
        "mcpo": lambda: rest(f"{base}/echo", {"text": TEXT}, _mcpo_ok),
        "mcpo-raw": lambda: raw_rest(f"{base}/echo", {"text": TEXT}, _mcpo_ok),
        "mcp-proxy": lambda: mcp_session(f"{base}/mcp", "echo"),
    }
    return clients[key]()


# -- measuring ---------------------------------------------------------------------------


async def measure(call: Call, calls: int, concurrency: int) -> tuple[list[float], float]:
    """Latencies (s) of ``calls`` calls by ``concurrency`` callers, and the wall time (s)."""
    latencies: list[float] = []
    remaining = calls

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(caller)
    return latencies, time.perf_counter() - began


def _behind_cpu() -> float:
    """CPU seconds used so far by every live descendant: the servers, hub and peers."""
    return sum(_cpu_secs(pid) for pid, _ in _descendants(os.getpid()))


@dataclass
class Tally:
    """What one (path, concurrency) measured over all rounds."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    client_cpu: float = 0.0
    behind_cpu: float = 0.0

    def row(self, key: str, concurrency: int) -> Row:
        calls = len(self.latencies)
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        row = Row(key, concurrency, calls, cuts[49] * 1000, cuts[98] * 1000, calls / self.wall)
        row.client_cpu_ms = self.client_cpu / calls * 1000
        row.server_cpu_ms = self.behind_cpu / calls * 1000
        return row


async def open_path(
    key: str,
    stack: AsyncExitStack,
    services: dict[str, str | Unavailable],
    processes: Processes,
    args: argparse.Namespace,
) -> Call:
    """The client of path ``key``, open until ``stack`` closes; the hub and each peer start
    on first use and run to the end."""
    if key == "direct":
        return await stack.enter_async_context(direct())
    service = "hub" if key in HUB_PATHS else key.removesuffix("-raw")
    if service not in services:
        try:
            services[service] = await (
                start_hub(processes, args.tmp / "hub-data")
                if service == "hub"
                else start_peer(processes, args.peers, service)
            )
        except Unavailable as exc:
            services[service] = exc
    base = services[service]
    if isinstance(base, Unavailable):
        raise base
    return await stack.enter_async_context(client(key, base))


async def run_all(args: argparse.Namespace, processes: Processes) -> list[Row]:
    """Every path open at once, then measured in interleaved rounds: this machine's drift
    and its scheduler's moods fall on every path alike rather than on whichever ran then."""
    notes: dict[str, str] = {}
    calls: dict[str, Call] = {}
    tallies = {(k, c): Tally() for k in args.paths for c in args.concurrency}
    services: dict[str, str | Unavailable] = {}
    per_round = max(1, args.calls // args.rounds)
    async with AsyncExitStack() as stack:
        for key in args.paths:
            try:
                calls[key] = await open_path(key, stack, services, processes, args)
            except Unavailable as exc:
                notes[key] = str(exc)
            except Exception as exc:
                if key not in PEERS:
                    raise
                notes[key] = f"failed: {type(exc).__name__}: {exc}"[:300]
        for round_ in range(args.rounds):
            for key in [k for k in args.paths if k in calls and k not in notes]:
                try:
                    for concurrency in args.concurrency:
                        warmup = max(args.warmup, 2 * concurrency) if round_ == 0 else concurrency
                        await measure(calls[key], warmup, concurrency)
                        tally = tallies[key, concurrency]
                        client_cpu, behind_cpu = time.process_time(), _behind_cpu()
                        latencies, wall = await measure(calls[key], per_round, concurrency)
                        tally.client_cpu += time.process_time() - client_cpu
                        tally.behind_cpu += _behind_cpu() - behind_cpu
                        tally.latencies += latencies
                        tally.wall += wall
                except Exception as exc:
                    if key not in PEERS:
                        raise
                    notes[key] = f"failed: {type(exc).__name__}: {exc}"[:300]
            print(f"  round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    return [
        Row(key, c, note=notes[key]) if key in notes else tallies[key, c].row(key, c)
        for key in args.paths
        for c in args.concurrency
    ]


# -- reporting ---------------------------------------------------------------------------


def _find(rows: list[Row], key: str, concurrency: int) -> Row | None:
    return next((r for r in rows if r.path == key and r.concurrency == concurrency), None)


@dataclass
class Measured:
    p50_ms: float
    calls_per_s: float


def _measured(rows: list[Row], key: str, concurrency: int) -> Measured | None:
    row = _find(rows, key, concurrency)
    if row is None or row.p50_ms is None or row.calls_per_s is None:
        return None
    return Measured(row.p50_ms, row.calls_per_s)


def versus_direct(rows: list[Row], row: Row) -> tuple[str, str]:
    """p50 added over direct, and throughput as a share of direct's, at the same concurrency."""
    floor = _measured(rows, "direct", row.concurrency)
    mine = _measured(rows, row.path, row.concurrency)
    if row.path == "direct" or floor is None or mine is None:
        return "", ""
    added = mine.p50_ms - floor.p50_ms
    return f"{added:+.2f}", f"{mine.calls_per_s / floor.calls_per_s * 100:.0f}%"


def table(rows: list[Row]) -> str:
    lines = [
        "| path | concurrency | p50 ms | p99 ms | calls/s | p50 added ms | throughput vs direct "
        "| CPU ms/call: client + servers |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        if row.p50_ms is None or row.p99_ms is None or row.calls_per_s is None:
            lines.append(
                f"| {PATHS[row.path]} | {row.concurrency} | — | — | — | — | — | {row.note} |"
            )
            continue
        added, share = versus_direct(rows, row)
        cpu = f"{row.client_cpu_ms or 0:.2f} + {row.server_cpu_ms or 0:.2f}"
        lines.append(
            f"| {PATHS[row.path]} | {row.concurrency} | {row.p50_ms:.2f} | {row.p99_ms:.2f} "
            f"| {row.calls_per_s:.0f} | {added} | {share} | {cpu} |"
        )
    return "\n".join(lines)


def targets(rows: list[Row], concurrencies: Sequence[int]) -> dict[str, dict[str, Any]]:
    """Per hub path: p50 added over direct with the fewest callers (with more, the median is
    mostly queueing, which throughput measures), throughput against direct at every
    concurrency, and whether each like-for-like peer (same protocol, same client) that ran
    was slower everywhere: a higher p50 and fewer calls/s."""
    checks: dict[str, dict[str, Any]] = {}
    first = min(concurrencies)
    for key in HUB_PATHS:
        mine = {c: _measured(rows, key, c) for c in concurrencies}
        floor = {c: _measured(rows, "direct", c) for c in concurrencies}
        if None in mine.values() or None in floor.values():
            continue
        shares, added = {}, 0.0
        for c in concurrencies:
            own, base = mine[c], floor[c]
            assert own is not None and base is not None
            shares[c] = own.calls_per_s / base.calls_per_s * 100
            if c == first:
                added = own.p50_ms - base.p50_ms
        not_slower, ran = [], False
        for name in LIKE_PEERS[key]:
            for c in concurrencies:
                other, own = _measured(rows, name, c), mine[c]
                if other is None or own is None:
                    continue
                ran = True
                if not (other.p50_ms > own.p50_ms and other.calls_per_s < own.calls_per_s):
                    not_slower.append(f"{PATHS[name]} c={c}")
        checks[key] = {
            "p50_added_ms": added,
            "p50_met": added < MAX_ADDED_P50_MS,
            "throughput_pct": shares,
            "throughput_met": all(s >= MIN_THROUGHPUT_PCT for s in shares.values()),
            "peers": [PATHS[n] for n in LIKE_PEERS[key]],
            "peers_ran": ran,
            "peers_not_slower": not_slower,
            "peers_met": ran and not not_slower,
        }
    return checks


def _met(flag: bool) -> str:
    return "met" if flag else "NOT met"


def target_lines(checks: dict[str, dict[str, Any]], first: int) -> list[str]:
    lines = [
        f"Targets: p50 added < {MAX_ADDED_P50_MS:g} ms (at c={first}); throughput >= "
        f"{MIN_THROUGHPUT_PCT:g}% of direct (every c); the like-for-like peer slower (every c)"
    ]
    for key, check in checks.items():
        shares = ", ".join(f"c={c} {s:.0f}%" for c, s in check["throughput_pct"].items())
        peers = " and ".join(check["peers"])
        if not check["peers_ran"]:
            verdict = f"{peers} did not run"
        elif check["peers_not_slower"]:
            verdict = f"{peers} slower NOT met (not slower: {', '.join(check['peers_not_slower'])})"
        else:
            verdict = f"{peers} slower met"
        lines.append(
            f"- {PATHS[key]}: p50 added {check['p50_added_ms']:+.2f} ms "
            f"{_met(check['p50_met'])}; throughput {shares} {_met(check['throughput_met'])}; "
            f"{verdict}"
        )
    return lines


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def peer_versions(peers: Path | None) -> dict[str, str]:
    """Versions of each peer and of the mcp SDK in its own virtualenv."""
    found = {}
    for name in PEERS:
        python = peers / name / "bin" / "python" if peers else None
        if python is None or not python.exists():
            continue
        code = f"from importlib.metadata import version as v; print(v({name!r}), v('mcp'))"
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            own, sdk = done.stdout.split()
            found[name] = f"{own} (mcp {sdk})"
    return found


def environment(peers: Path | None) -> dict[str, str]:
    packages = ("mcp-integrations", "mcp", "httpx", "httpx2", "starlette", "uvicorn", "anyio")
    versions = ", ".join(f"{p} {_version(p)}" for p in packages)
    found = peer_versions(peers)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "packages": versions,
        "peers": ", ".join(f"{n} {v}" for n, v in found.items()) or "none",
    }


# -- main --------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _paths(text: str) -> list[str]:
    keys = [part for part in text.split(",") if part]
    if unknown := set(keys) - PATHS.keys():
        raise argparse.ArgumentTypeError(f"unknown paths: {sorted(unknown)}")
    return keys


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    cli.add_argument("--calls", type=int, default=1200, help="measured calls per configuration")
    cli.add_argument("--warmup", type=int, default=100, help="calls before measuring")
    cli.add_argument("--rounds", type=int, default=3, help="interleaved rounds the calls split in")
    cli.add_argument("--concurrency", type=_ints, default=[1, 10, 100], help="e.g. 1,10,100")
    cli.add_argument("--paths", type=_paths, default=list(PATHS), help=",".join(PATHS))
    env_peers = os.environ.get("BENCH_PEERS")
    cli.add_argument(
        "--peers",
        type=Path,
        default=Path(env_peers) if env_peers else None,
        help="folder of the peers' virtualenvs: DIR/mcpo, DIR/mcp-proxy (env BENCH_PEERS)",
    )
    cli.add_argument("--json", type=Path, help="also write the rows and checks here")
    return cli.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as tmp:
        processes = Processes(Path(tmp))
        try:
            args.tmp = Path(tmp)
            rows = anyio.run(run_all, args, processes)
        finally:
            strays = processes.stop_all()
    checks = targets(rows, args.concurrency)
    env = environment(args.peers)
    per_row = max(1, args.calls // args.rounds) * args.rounds
    print(f"\nTool calls: echo of 5 bytes, {per_row} a row in {args.rounds} interleaved rounds")
    print(f"{env['date']}; {env['platform']}; {env['cpus']} CPUs; Python {env['python']}")
    print(f"{env['packages']}; peers: {env['peers']}\n")
    print(table(rows))
    print()
    print("\n".join(target_lines(checks, min(args.concurrency))))
    stray_note = f"strays killed: {strays}" if strays else "no stray process"
    print(f"\n{len(processes.started)} processes started and stopped, {stray_note}; ", end="")
    print(f"{time.monotonic() - began:.0f}s in all")
    if args.json:
        report: dict[str, Any] = {"rows": [asdict(r) for r in rows], "checks": checks}
        report |= {"environment": env, "strays": strays, "processes": len(processes.started)}
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if strays else 0


if __name__ == "__main__":
    sys.exit(main())
