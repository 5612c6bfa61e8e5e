"""How the hub holds up with hundreds of integrations installed and running (issue 14).

One run; every number is held against a baseline measured in the same run:
1. setup: ``--installed`` toy servers (tests/servers/toy.py, run by this interpreter) are
   installed and ``--running`` of them started, 8 at a time; first one is started alone,
   and the count is capped at 70% of the memory available over its RSS (process tree).
2. idle: the hub process over ``--idle-secs`` with none running, then with them running
   and no traffic: CPU (utime + stime from /proc, % of one core), threads, open
   descriptors and RSS, and what each running server adds to them.
3. reads: GET /integrations and GET /integrations/{id}/status through the hub, against a
   bare Starlette route (uvicorn with httptools and uvloop, a process of its own) that
   serves the hub's own answers as bytes; at each of ``--concurrency`` clients, each on a
   keep-alive connection of its own, with a raw HTTP/1.1 client (httpx's own CPU per
   request would exceed a bare route's); hub and bare in interleaved rounds.
4. big list: GET /integrations/big/tools of a toy with ``--tools`` more tools against a
   bare route, one client; then status p99 of 10 clients while 2 more loop on that list,
   against the same without them.
5. lazy start: the first call of a stopped ``start_on_demand`` integration, from stopped
   to result, against the SDK's own stdio_client + initialize + call_tool.
Prints a table a section and the targets, met or not; ``--json`` writes it all. The hub,
the bare server and every server end whatever happens; strays are reported. Run:
``nox -s bench``, or ``python benchmarks/bench_scale.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from bench_calls import (
    CLOCK_TICKS,
    TEXT,
    TOY,
    Processes,
    Row,
    Tally,
    Unavailable,
    _cpu_secs,
    _descendants,
    direct,
    environment,
    free_port,
    measure,
    wait_ready,
)

from mcp_integrations.supervisor import RestartPolicy

#: Targets of issue 14.
MAX_IDLE_CPU_RATIO = 1.2
#: Below this share of one core, idle CPU is noise: the ratio is reported, but held
#: against the floor instead of a smaller baseline.
IDLE_FLOOR_PCT = 0.5
#: Threads the hub may gain with servers running and still count as independent of N.
THREAD_SLACK = 2
MAX_READ_P50_RATIO = 1.1
MIN_READ_THROUGHPUT_RATIO = 0.95
MAX_BIG_P50_RATIO = 1.5
MAX_LOADED_P99_RATIO = 1.2
MAX_LAZY_RATIO = 1.2
#: Share of the memory available that the running servers may take.
MEMORY_SHARE = 0.7
#: Installs and starts at once.
START_CONCURRENCY = 8
#: Clients asking for status while ``LOADERS`` more loop on the big tool list.
OTHERS_CLIENTS = 10
LOADERS = 2
#: Deadline of one request of the setup (a start of the big server included).
START_TIMEOUT = 120.0
READS = {"list": "GET /integrations", "status": "GET /integrations/{id}/status"}
TOOLS_PATH = "/integrations/big/tools"
#: How often the hub pings a running server (RestartPolicy.health_interval).
HEALTH_SECS = RestartPolicy().idle_health_interval
SCRIPT = Path(__file__).resolve()
TARGETS = ("hub", "bare")


# -- /proc ---------------------------------------------------------------------------------


def _status_field(pid: int, name: str) -> int:
    """A number of /proc/PID/status (``Threads``, ``VmRSS`` in KiB); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and all its descendants (shared pages counted in each)."""
    return sum(_status_field(p, "VmRSS") for p in {pid} | {p for p, _ in _descendants(pid)})


def meminfo_kib(name: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return 0


def machine() -> dict[str, str]:
    env = environment(None)
    del env["peers"]
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    env["cpu"] = model
    env["kernel"] = platform.release()
    total, available = meminfo_kib("MemTotal"), meminfo_kib("MemAvailable")
    env["memory"] = f"{total / 2**20:.1f} GiB, {available / 2**20:.1f} GiB available"
    return env


# -- the raw client --------------------------------------------------------------------------


class RawGet:
    """One keep-alive HTTP/1.1 connection that sends one prebuilt GET again and again and
    reads each answer whole (Content-Length or chunked)."""

    def __init__(self, stream: SocketStream, path: str, host: str) -> None:
        self.stream = stream
        self.reader = BufferedByteReceiveStream(stream)
        self.request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    async def get(self) -> tuple[int, int]:
        """Status and body size of one answer."""
        await self.stream.send(self.request)
        head = (await self.reader.receive_until(b"\r\n\r\n", 65536)).decode("latin-1")
        first, *lines = head.split("\r\n")
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
        if "content-length" in headers:
            size = int(headers["content-length"])
            await self.reader.receive_exactly(size)
        else:
            size = 0
            while chunk := int((await self.reader.receive_until(b"\r\n", 1024)).split(b";")[0], 16):
                await self.reader.receive_exactly(chunk + 2)
                size += chunk
            await self.reader.receive_until(b"\r\n", 65536)
        return int(first.split()[1]), size


@dataclass
class Pool:
    """Connections for concurrent clients: a call takes an idle one and puts it back, so
    each of at most ``len(idle)`` clients has a connection of its own at any time."""

    idle: list[RawGet]
    errors: dict[int, int] = field(default_factory=dict)
    answered: int = 0

    async def call(self) -> None:
        connection = self.idle.pop()
        status, _ = await connection.get()
        self.idle.append(connection)
        self.answered += 1
        if status != 200:
            self.errors[status] = self.errors.get(status, 0) + 1


@asynccontextmanager
async def pool(base: str, paths: Sequence[str], clients: int) -> AsyncIterator[Pool]:
    """``clients`` connections to ``base``, the i-th asking for ``paths[i % len(paths)]``;
    all closed on leaving, even those a cancelled call left half read."""
    parts = urlsplit(base)
    opened: list[SocketStream] = []
    try:
        for _ in range(clients):
            opened.append(await anyio.connect_tcp(parts.hostname or "", parts.port or 80))
        paths = [paths[n % len(paths)] for n in range(clients)]
        yield Pool([RawGet(s, p, parts.netloc) for s, p in zip(opened, paths, strict=True)])
    finally:
        for stream in opened:
            await stream.aclose()


# -- processes ------------------------------------------------------------------------------


async def until_ready(processes: Processes, name: str, url: str) -> None:
    """Wait (with a deadline) until GET ``url`` of the process just started answers 200."""
    process = processes.started[-1]
    async with httpx.AsyncClient(timeout=10) as http:

        async def ready() -> bool:
            return (await http.get(url)).status_code == 200

        try:
            await wait_ready(process, ready, name)
        except Unavailable as exc:
            raise RuntimeError(f"{exc}: {processes.log_tail(name)}") from None


async def launch_hub(processes: Processes, data_dir: Path) -> tuple[str, int]:
    """``mcp-integrations serve`` as a real process, nothing installed; its URL and pid."""
    port = free_port()
    command = [sys.executable, "-m", "mcp_integrations", "serve", "--port", str(port)]
    hub = processes.spawn("hub", [*command, "--data-dir", str(data_dir), "--log-level", "warning"])
    base = f"http://127.0.0.1:{port}"
    await until_ready(processes, "hub", f"{base}/integrations")
    return base, hub.pid


async def launch_bare(processes: Processes, bodies: dict[str, bytes], tmp: Path) -> tuple[str, int]:
    """The bare server (this script with ``--bare``) serving ``bodies``: path to bytes."""
    path = tmp / "bodies.json"
    path.write_text(json.dumps({p: b.decode() for p, b in bodies.items()}))
    port = str(free_port())
    bare = processes.spawn(
        "bare", [sys.executable, str(SCRIPT), "--bare", str(path), "--port", port]
    )
    base = f"http://127.0.0.1:{port}"
    await until_ready(processes, "bare", f"{base}/integrations")
    return base, bare.pid


def serve_bare(bodies_file: Path, port: int) -> None:
    """Run the bare server: each of the hub's read routes answers the bytes the hub gave for
    that path, under uvicorn with the hub's settings (httptools, uvloop, keep-alive)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from mcp_integrations.serving import KEEP_ALIVE_TIMEOUT

    bodies = {p: text.encode() for p, text in json.loads(bodies_file.read_text()).items()}

    async def answer(request: Request) -> Response:
        return Response(bodies[request.scope["path"]], media_type="application/json")

    paths = ("/integrations", "/integrations/{id}/status", "/integrations/{id}/tools")
    app = Starlette(routes=[Route(p, answer, methods=["GET"]) for p in paths])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
    )


@dataclass
class Hub:
    http: httpx.AsyncClient
    base: str

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(f"{self.base}{path}", json=body)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def body(self, path: str) -> bytes:
        response = await self.http.get(f"{self.base}{path}")
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        return response.content


def toy_install(ident: str, **options: Any) -> dict[str, Any]:
    return {"source": "command", "id": ident, "command": [sys.executable, str(TOY)], **options}


def progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# -- 1. setup ---------------------------------------------------------------------------------


@dataclass
class Setup:
    installed: int
    asked: int
    install_secs: float = 0.0
    running: int = 0
    probe_rss_kib: int = 0
    available_kib: int = 0
    room: int = 0
    capped: bool = False
    start_secs: float = 0.0
    start_p50_secs: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)
    big_tools: int = 0
    big_start_secs: float = 0.0


async def each(items: Sequence[str], limit: int, action: Callable[[str], Awaitable[Any]]) -> float:
    """``action`` on every item, ``limit`` at a time; the median seconds one took."""
    limiter = anyio.CapacityLimiter(limit)
    took: list[float] = []

    async def one(item: str) -> None:
        async with limiter:
            began = time.perf_counter()
            await action(item)
            took.append(time.perf_counter() - began)

    async with anyio.create_task_group() as group:
        for item in items:
            group.start_soon(one, item)
    return statistics.median(took) if took else 0.0


async def start_servers(hub: Hub, setup: Setup, ids: Sequence[str]) -> list[str]:
    """Start the first server alone to weigh it, then as many more as asked and as memory
    allows, ``START_CONCURRENCY`` at a time; the ids that run."""
    if not ids or setup.asked < 1:
        return []
    began = time.perf_counter()
    first = await hub.post(f"/integrations/{ids[0]}/start")
    setup.probe_rss_kib = tree_rss_kib(int(first["pid"]))
    setup.available_kib = meminfo_kib("MemAvailable")
    setup.room = 1 + int(MEMORY_SHARE * setup.available_kib / max(1, setup.probe_rss_kib))
    count = min(setup.asked, len(ids), setup.room)
    setup.capped = count < min(setup.asked, len(ids))
    progress(f"one server takes {setup.probe_rss_kib / 1024:.1f} MiB; starting {count}")

    async def start(ident: str) -> None:
        response = await hub.http.post(f"{hub.base}/integrations/{ident}/start")
        if response.status_code != 200:
            setup.failed[ident] = f"{response.status_code} {response.text[:200]}"

    setup.start_p50_secs = await each(ids[1:count], START_CONCURRENCY, start)
    setup.start_secs = time.perf_counter() - began
    running = [i for i in ids[:count] if i not in setup.failed]
    setup.running = len(running)
    return running


def setup_lines(setup: Setup) -> list[str]:
    lines = [
        "| what | measured |",
        "|---|---|",
        f"| installed | {setup.installed} in {setup.install_secs:.1f} s "
        f"({START_CONCURRENCY} at a time) |",
        f"| RSS of one toy server (process tree) | {setup.probe_rss_kib / 1024:.1f} MiB |",
        f"| memory available with it running | {setup.available_kib / 2**20:.1f} GiB: room for "
        f"{setup.room} at {MEMORY_SHARE:.0%} |",
        f"| running | {setup.running} of {setup.asked} asked, started in {setup.start_secs:.1f} s "
        f"(median {setup.start_p50_secs:.2f} s a start, {START_CONCURRENCY} at a time) |",
        f"| big (one more, for section 4) | {setup.big_tools} tools, started in "
        f"{setup.big_start_secs:.1f} s |",
    ]
    if setup.capped:
        lines.append(
            f"\nCapped: {setup.asked} were asked, but {MEMORY_SHARE:.0%} of the memory "
            f"available holds {setup.room} servers of {setup.probe_rss_kib / 1024:.1f} MiB."
        )
    if setup.failed:
        shown = "; ".join(f"{i}: {why}" for i, why in list(setup.failed.items())[:3])
        lines.append(f"\n{len(setup.failed)} failed to start: {shown}")
    return lines


# -- 2. idle ----------------------------------------------------------------------------------


@dataclass
class Idle:
    running: int
    secs: float
    hub_cpu_pct: float
    servers_cpu_pct: float
    threads_before: int
    threads: int
    fds: int
    rss_kib: int


async def measure_idle(pid: int, secs: float, running: int) -> Idle:
    """The hub over ``secs`` of no traffic: its CPU (all threads) and its servers', and its
    threads, descriptors and RSS at the end."""
    servers = [p for p, _ in _descendants(pid)]
    threads_before = _status_field(pid, "Threads")
    hub_cpu, servers_cpu = _cpu_secs(pid), sum(_cpu_secs(p) for p in servers)
    began = time.monotonic()
    await anyio.sleep(secs)
    wall = time.monotonic() - began
    return Idle(
        running,
        wall,
        (_cpu_secs(pid) - hub_cpu) / wall * 100,
        (sum(_cpu_secs(p) for p in servers) - servers_cpu) / wall * 100,
        threads_before,
        _status_field(pid, "Threads"),
        _open_fds(pid),
        _status_field(pid, "VmRSS"),
    )


def per_server(none: Idle, some: Idle) -> dict[str, float]:
    n = max(1, some.running)
    return {
        "threads": (some.threads - none.threads) / n,
        "fds": (some.fds - none.fds) / n,
        "rss_kib": (some.rss_kib - none.rss_kib) / n,
        "hub_cpu_pct": (some.hub_cpu_pct - none.hub_cpu_pct) / n,
    }


def idle_lines(none: Idle, some: Idle) -> list[str]:
    lines = [
        "| state | running | window s | hub CPU % of a core | servers' CPU % | hub threads "
        "(start → end) | hub open fds | hub RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, idle in (("none running", none), ("servers running", some)):
        lines.append(
            f"| {name} | {idle.running} | {idle.secs:.1f} | {idle.hub_cpu_pct:.2f} "
            f"| {idle.servers_cpu_pct:.2f} | {idle.threads_before} → {idle.threads} "
            f"| {idle.fds} | {idle.rss_kib / 1024:.1f} |"
        )
    each_one = per_server(none, some)
    lines.append(
        f"| each running server adds | | | {each_one['hub_cpu_pct']:+.4f} | | "
        f"{each_one['threads']:+.2f} | {each_one['fds']:+.2f} | "
        f"{each_one['rss_kib']:+.0f} KiB |"
    )
    lines.append(
        f"\nThe hub pings an idle server every {HEALTH_SECS:g} s (a busy one more often): a "
        "window shorter than that may hold none of those pings. CPU is counted in clock ticks "
        f"({1000 / CLOCK_TICKS:g} ms)."
    )
    return lines


# -- 3 and 4. reads ----------------------------------------------------------------------------


@dataclass
class Sampled(Tally):
    """A tally that also counts answers other than 200, the loaders' included."""

    errors: dict[int, int] = field(default_factory=dict)
    loaded: int = 0

    def done(self, key: str, clients: int) -> Row:
        row = self.row(key, clients)
        if self.errors:
            counts = ", ".join(f"{n}x HTTP {s}" for s, n in sorted(self.errors.items()))
            row.note = f"errors: {counts}"
        if self.loaded:
            row.note = f"{row.note}; " if row.note else ""
            row.note += f"{self.loaded} big lists read meanwhile"
        return row


@dataclass
class Config:
    """One row: ``clients`` clients on ``target`` asking for ``paths`` in turn, while
    ``loaders`` more loop on the big tool list of the same target."""

    key: str
    target: str
    paths: Sequence[str]
    clients: int
    loaders: int = 0
    tally: Sampled = field(default_factory=Sampled)


async def _forever(call: Callable[[], Awaitable[None]]) -> None:
    while True:
        await call()


async def sample(config: Config, base: str, pid: int, requests: int, warmup: int) -> None:
    """One round of ``config``: fresh connections, a warm-up, then ``requests`` timed ones
    with the CPU of the client (this process) and of the server (``pid``) they cost."""
    tally = config.tally
    async with (
        pool(base, config.paths, config.clients) as clients,
        pool(base, [TOOLS_PATH], config.loaders) as loaders,
        anyio.create_task_group() as group,
    ):
        for _ in range(config.loaders):
            group.start_soon(_forever, loaders.call)
        await measure(clients.call, warmup, config.clients)
        began = loaders.answered
        client_cpu, server_cpu = time.process_time(), _cpu_secs(pid)
        latencies, wall = await measure(clients.call, requests, config.clients)
        tally.client_cpu += time.process_time() - client_cpu
        tally.behind_cpu += _cpu_secs(pid) - server_cpu
        tally.latencies += latencies
        tally.wall += wall
        tally.loaded += loaders.answered - began
        group.cancel_scope.cancel()
    for status, count in (*clients.errors.items(), *loaders.errors.items()):
        tally.errors[status] = tally.errors.get(status, 0) + count


async def interleaved(
    configs: Sequence[Config],
    bases: dict[str, str],
    pids: dict[str, int],
    requests: int,
    rounds: int,
) -> list[Row]:
    """Every config ``rounds`` times in turn (hub, bare, hub, bare...), so that the machine's
    drift falls on all alike; ``requests`` in all for each."""
    per_round = max(2, requests // rounds)
    for number in range(rounds):
        for config in configs:
            warmup = max(20, 2 * config.clients) if number == 0 else config.clients
            await sample(config, bases[config.target], pids[config.target], per_round, warmup)
        progress(f"round {number + 1}/{rounds} of {len(configs)} rows done")
    return [c.tally.done(c.key, c.clients) for c in configs]


def read_configs(status_paths: Sequence[str], concurrency: Sequence[int]) -> list[Config]:
    paths = {"list": ["/integrations"], "status": status_paths}
    return [
        Config(f"{target} {READS[name]}", target, paths[name], clients)
        for name in READS
        for clients in concurrency
        for target in TARGETS
    ]


LOADED = f", {LOADERS} clients on the big list"


def big_configs(status_paths: Sequence[str]) -> tuple[list[Config], list[Config]]:
    """The big list at one client; then status of many while others load the big list."""
    tools = [Config(f"{t} GET {TOOLS_PATH}", t, [TOOLS_PATH], 1) for t in TARGETS]
    others = [
        Config(f"{t} {READS['status']}{how}", t, status_paths, OTHERS_CLIENTS, loaders)
        for t in TARGETS
        for how, loaders in (("", 0), (LOADED, LOADERS))
    ]
    return tools, others


def _ratio(mine: float | None, base: float | None) -> float | None:
    return mine / base if mine is not None and base else None


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def compare(rows: Sequence[Row], pairs: dict[str, str]) -> list[dict[str, Any]]:
    """For each row whose key is in ``pairs``: it against the row ``pairs[key]`` with the
    same clients (the bare route, or the same without the load)."""
    found = {(r.path, r.concurrency): r for r in rows}
    compared = []
    for row in rows:
        base = found.get((pairs.get(row.path, ""), row.concurrency))
        if base is None:
            continue
        compared.append(
            {
                "row": row.path,
                "against": base.path,
                "clients": row.concurrency,
                "p50": _ratio(row.p50_ms, base.p50_ms),
                "p99": _ratio(row.p99_ms, base.p99_ms),
                "throughput": _ratio(row.calls_per_s, base.calls_per_s),
            }
        )
    return compared


def rows_table(rows: Sequence[Row], compared: Sequence[dict[str, Any]]) -> list[str]:
    ratios = {(c["row"], c["clients"]): c for c in compared}
    lines = [
        "| row | clients | requests | p50 ms | p99 ms | req/s | p50 / p99 / req/s vs baseline "
        "| CPU ms/req: client + server | notes |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        against = ratios.get((row.path, row.concurrency))
        versus = (
            f"{_x(against['p50'])} / {_x(against['p99'])} / {_x(against['throughput'])}"
            if against
            else "(baseline)"
        )
        lines.append(
            f"| {row.path} | {row.concurrency} | {row.calls} | {row.p50_ms:.2f} "
            f"| {row.p99_ms:.2f} | {row.calls_per_s:.0f} | {versus} "
            f"| {row.client_cpu_ms:.2f} + {row.server_cpu_ms:.2f} | {row.note} |"
        )
    return lines


# -- 5. lazy start ----------------------------------------------------------------------------


@dataclass
class Lazy:
    rounds: int
    hub_ms: list[float] = field(default_factory=list)
    direct_ms: list[float] = field(default_factory=list)
    note: str = ""

    def medians(self) -> tuple[float | None, float | None]:
        hub = statistics.median(self.hub_ms) if self.hub_ms else None
        return hub, statistics.median(self.direct_ms) if self.direct_ms else None


async def lazy_via_hub(hub: Hub, lazy: Lazy) -> None:
    began = time.perf_counter()
    response = await hub.http.post(
        f"{hub.base}/integrations/lazy/tools/echo/call", json={"arguments": {"text": TEXT}}
    )
    took = time.perf_counter() - began
    data = response.json() if response.status_code == 200 else {}
    if data.get("isError") or not data.get("content") or data["content"][0].get("text") != TEXT:
        lazy.note = f"the hub's first call failed: {response.status_code} {response.text[:300]}"
        return
    lazy.hub_ms.append(took * 1000)
    await hub.post("/integrations/lazy/stop")


async def lazy_direct(lazy: Lazy) -> None:
    began = time.perf_counter()
    async with direct() as call:
        await call()
        lazy.direct_ms.append((time.perf_counter() - began) * 1000)


async def measure_lazy(hub: Hub, rounds: int) -> Lazy:
    """From stopped to the result of the first call, through the hub and directly, in turn
    (which goes first alternates); the hub's integration is stopped after each."""
    lazy = Lazy(rounds)
    for number in range(rounds):
        for path in ("hub", "direct") if number % 2 == 0 else ("direct", "hub"):
            if path == "direct":
                await lazy_direct(lazy)
            elif not lazy.note:
                await lazy_via_hub(hub, lazy)
    return lazy


def lazy_lines(lazy: Lazy) -> list[str]:
    lines = [
        "| path | rounds | median ms | min ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, samples in (("hub, start on demand", lazy.hub_ms), ("direct SDK", lazy.direct_ms)):
        if samples:
            lines.append(
                f"| {name} | {len(samples)} | {statistics.median(samples):.0f} "
                f"| {min(samples):.0f} | {max(samples):.0f} |"
            )
        else:
            lines.append(f"| {name} | 0 | — | — | — |")
    if lazy.note:
        lines.append(f"\n{lazy.note}")
    return lines


# -- targets ----------------------------------------------------------------------------------


def _met(flag: bool | None) -> str:
    return "not measured" if flag is None else "met" if flag else "NOT met"


def _found(compared: Sequence[dict[str, Any]], row: str, ratio: str) -> float | None:
    return next((c[ratio] for c in compared if c["row"] == row), None)


def targets(
    none: Idle, some: Idle, reads: list[dict[str, Any]], big: list[dict[str, Any]], lazy: Lazy
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    ratio = _ratio(some.hub_cpu_pct, none.hub_cpu_pct)
    floored = max(none.hub_cpu_pct, IDLE_FLOOR_PCT)
    checks.append(
        {
            "name": "idle CPU",
            "met": some.hub_cpu_pct <= MAX_IDLE_CPU_RATIO * floored,
            "text": f"hub {some.hub_cpu_pct:.2f}% of a core with {some.running} running, "
            f"{none.hub_cpu_pct:.2f}% with none: "
            f"{'no ratio (not a clock tick with none)' if ratio is None else _x(ratio)} (target <= "
            f"{MAX_IDLE_CPU_RATIO:g}x, against at least {IDLE_FLOOR_PCT:g}% of a core)",
        }
    )
    checks.append(
        {
            "name": "idle threads",
            "met": some.threads <= none.threads + THREAD_SLACK,
            "text": f"{none.threads} threads with none running, {some.threads} with "
            f"{some.running} (target: independent of N, at most {THREAD_SLACK} more)",
        }
    )
    for name, label in READS.items():
        mine = [c for c in reads if c["row"] == f"hub {label}"]
        p50 = ", ".join(f"c={c['clients']} {_x(c['p50'])}" for c in mine)
        share = ", ".join(f"c={c['clients']} {_x(c['throughput'])}" for c in mine)
        checks.append(
            {
                "name": f"{name} p50",
                "met": all((c["p50"] or 0) <= MAX_READ_P50_RATIO for c in mine),
                "text": f"{label} p50 vs bare: {p50} (target <= {MAX_READ_P50_RATIO:g}x)",
            }
        )
        checks.append(
            {
                "name": f"{name} throughput",
                "met": all((c["throughput"] or 0) >= MIN_READ_THROUGHPUT_RATIO for c in mine),
                "text": f"{label} throughput vs bare: {share} "
                f"(target >= {MIN_READ_THROUGHPUT_RATIO:g}x)",
            }
        )
    tools = _found(big, f"hub GET {TOOLS_PATH}", "p50")
    checks.append(
        {
            "name": "big list p50",
            "met": tools is not None and tools <= MAX_BIG_P50_RATIO,
            "text": f"GET {TOOLS_PATH} p50 vs bare: {_x(tools)} (target <= {MAX_BIG_P50_RATIO:g}x)",
        }
    )
    loaded = _found(big, f"hub {READS['status']}{LOADED}", "p99")
    checks.append(
        {
            "name": "others under big list",
            "met": loaded is not None and loaded <= MAX_LOADED_P99_RATIO,
            "text": f"status p99 of {OTHERS_CLIENTS} clients while {LOADERS} read the big list, "
            f"vs without: {_x(loaded)} (target <= {MAX_LOADED_P99_RATIO:g}x)",
        }
    )
    hub, floor = lazy.medians()
    lazy_ratio = _ratio(hub, floor)
    checks.append(
        {
            "name": "lazy start",
            "met": None if lazy_ratio is None else lazy_ratio <= MAX_LAZY_RATIO,
            "text": f"first call from stopped, median {hub or 0:.0f} ms vs direct SDK "
            f"{floor or 0:.0f} ms: {_x(lazy_ratio)} (target <= {MAX_LAZY_RATIO:g}x)"
            + (f"; {lazy.note}" if lazy.note else ""),
        }
    )
    return checks


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Results:
    setup: Setup
    none: Idle
    some: Idle
    sizes: dict[str, int]
    reads: list[Row]
    big: list[Row]
    lazy: Lazy

    def compared(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        status, tools = READS["status"], f"GET {TOOLS_PATH}"
        reads = {f"hub {label}": f"bare {label}" for label in READS.values()}
        big = {f"hub {tools}": f"bare {tools}"}
        big |= {f"{t} {status}{LOADED}": f"{t} {status}" for t in TARGETS}
        return compare(self.reads, reads), compare(self.big, big)

    def report(self) -> dict[str, Any]:
        reads, big = self.compared()
        hub, direct_ms = self.lazy.medians()
        return {
            "setup": asdict(self.setup),
            "sizes": self.sizes,
            "idle": {
                "none": asdict(self.none),
                "running": asdict(self.some),
                "per_server": per_server(self.none, self.some),
            },
            "reads": {"rows": [asdict(r) for r in self.reads], "compared": reads},
            "big": {"rows": [asdict(r) for r in self.big], "compared": big},
            "lazy": asdict(self.lazy) | {"hub_median_ms": hub, "direct_median_ms": direct_ms},
            "targets": targets(self.none, self.some, reads, big, self.lazy),
        }

    def lines(self, args: argparse.Namespace) -> list[str]:
        reads, big = self.compared()
        sizes = ", ".join(f"{path} {size / 1024:.1f} KiB" for path, size in self.sizes.items())
        per_row = max(2, args.requests // args.rounds) * args.rounds
        big_row = max(2, min(args.big_requests, args.requests) // args.rounds) * args.rounds
        return [
            "### 1. Scale setup",
            *setup_lines(self.setup),
            "",
            "### 2. Idle cost (no traffic)",
            *idle_lines(self.none, self.some),
            "",
            f"### 3. Reads under load ({per_row} requests a row, {args.rounds} interleaved rounds; "
            "baseline: the bare route)",
            f"Answers: {sizes}.",
            "",
            *rows_table(self.reads, reads),
            "",
            f"### 4. Big tool list ({big_row} lists, then {per_row} status requests a row; "
            "baselines: the bare route, and the same without the big-list load)",
            *rows_table(self.big, big),
            "",
            f"### 5. Lazy start ({self.lazy.rounds} rounds, from stopped to the first result)",
            *lazy_lines(self.lazy),
        ]


async def run(args: argparse.Namespace, processes: Processes) -> Results:
    base, hub_pid = await launch_hub(processes, args.tmp / "hub-data")
    async with httpx.AsyncClient(timeout=START_TIMEOUT) as http:
        hub = Hub(http, base)
        ids = [f"s{n:04d}" for n in range(args.installed)]
        setup = Setup(args.installed, args.running)
        began = time.perf_counter()
        await each(
            ids, START_CONCURRENCY, lambda i: hub.post("/integrations/install", toy_install(i))
        )
        setup.install_secs = time.perf_counter() - began
        progress(f"{len(ids)} installed; idle for {args.idle_secs:g} s with none running")
        none = await measure_idle(hub_pid, args.idle_secs, 0)
        running = await start_servers(hub, setup, ids)
        if not running:
            raise RuntimeError(f"no server started: {setup.failed}")
        processes.note_descendants()
        progress(f"{len(running)} running; idle for {args.idle_secs:g} s")
        some = await measure_idle(hub_pid, args.idle_secs, len(running))

        extra = {"env": {"TOY_EXTRA_TOOLS": str(args.tools)}}
        await hub.post("/integrations/install", toy_install("big", **extra))
        began = time.perf_counter()
        started = await hub.post("/integrations/big/start")
        setup.big_start_secs = time.perf_counter() - began
        setup.big_tools = int(started.get("tools_count") or 0)
        await hub.post("/integrations/install", toy_install("lazy", start_on_demand=True))
        processes.note_descendants()
        status_paths = [f"/integrations/{i}/status" for i in running]
        bodies = {p: await hub.body(p) for p in ("/integrations", *status_paths, TOOLS_PATH)}
        sizes = {p: len(bodies[p]) for p in ("/integrations", status_paths[0], TOOLS_PATH)}
        bare_base, bare_pid = await launch_bare(processes, bodies, args.tmp)
        bases, pids = {"hub": base, "bare": bare_base}, {"hub": hub_pid, "bare": bare_pid}

        progress("reads")
        reads_configs = read_configs(status_paths, args.concurrency)
        reads = await interleaved(reads_configs, bases, pids, args.requests, args.rounds)
        progress("the big tool list")
        tools, others = big_configs(status_paths)
        big_requests = min(args.big_requests, args.requests)
        big = await interleaved(tools, bases, pids, big_requests, args.rounds)
        big += await interleaved(others, bases, pids, args.requests, args.rounds)
        progress("lazy start")
        lazy = await measure_lazy(hub, args.lazy_rounds)
    return Results(setup, none, some, sizes, reads, big, lazy)


# -- main -------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    cli.add_argument("--installed", type=int, default=500, help="integrations installed")
    cli.add_argument("--running", type=int, default=200, help="of them running (memory allowing)")
    cli.add_argument("--tools", type=int, default=4000, help="tools of the big integration")
    cli.add_argument("--requests", type=int, default=2000, help="requests a row of reads")
    cli.add_argument("--big-requests", type=int, default=200, help="big lists a row")
    cli.add_argument("--concurrency", type=_ints, default=[1, 10, 100], help="e.g. 1,10,100")
    cli.add_argument("--rounds", type=int, default=4, help="interleaved rounds a row splits in")
    cli.add_argument("--idle-secs", type=float, default=30.0, help="each idle window")
    cli.add_argument("--lazy-rounds", type=int, default=5, help="first calls from stopped")
    cli.add_argument("--json", type=Path, help="also write everything here")
    cli.add_argument("--bare", type=Path, help=argparse.SUPPRESS)
    cli.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return cli.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.bare:
        serve_bare(args.bare, args.port)
        return 0
    began = time.monotonic()
    env = machine()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        processes = Processes(Path(tmp))
        strays: list[int] = []
        try:
            args.tmp = Path(tmp)
            results = anyio.run(run, args, processes, backend_options={"use_uvloop": True})
        except KeyboardInterrupt:
            print("interrupted: stopping all it started", file=sys.stderr)
            return 130
        finally:
            strays = processes.stop_all()
            if strays:
                print(f"strays killed: {strays}", file=sys.stderr)
    report = results.report()
    print(f"\n## Scale benchmark: {args.installed} installed, {args.running} asked to run")
    print(f"{env['date']}; {env['cpus']} CPUs ({env['cpu']}); Linux {env['kernel']}; ", end="")
    print(f"Python {env['python']}; memory {env['memory']}")
    print(f"{env['packages']}\n")
    print("\n".join(results.lines(args)))
    print("\n### Targets")
    for check in report["targets"]:
        print(f"- {check['name']}: {_met(check['met'])}: {check['text']}")
    stray_note = f"strays killed: {strays}" if strays else "no stray process"
    print(f"\n{len(processes.started)} processes started and stopped, {stray_note}; ", end="")
    print(f"{time.monotonic() - began:.0f}s in all")
    if args.json:
        report |= {"environment": env, "strays": strays, "processes": len(processes.started)}
        report |= {"seconds": time.monotonic() - began}
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if strays else 0


if __name__ == "__main__":
    sys.exit(main())
