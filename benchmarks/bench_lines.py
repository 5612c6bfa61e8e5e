"""What reading one long line off a child's stream costs, alone and through the real hub.

In memory: one line of 6, 12, 24 and 48 MiB arrives in 64 KiB chunks through an anyio byte stream
serving them from memory, and is read by:
- the previous implementation (stdio.py's ``_lines`` before ``read_lines``, copied here
  as it was), which rebuilds its buffer on every chunk: quadratic, so it stops at 12 MiB;
- ``read_lines`` in strict mode with a limit above the line (the whole line is kept);
- ``read_lines`` in split mode with a 1 MiB limit (the line comes out in pieces).
CPU time is the best of a few rounds (two for the previous one); each size's time is
also shown over the first size's, so a linear reader roughly doubles per row. On glibc
every large buffer is made to come fresh from the system: by default glibc reuses freed
memory for blocks up to 32 MiB but maps new pages for larger ones, a cliff that is the
allocator's, not the reader's.

Through the hub: ``mcp-integrations serve`` runs as a real process (one for all sizes) and,
for each size, a fresh toy server (tests/servers/toy.py) installed with the largest
``max_message_bytes`` (256 MiB, so the line is read, not refused) writes one line of that
many b"x" on its JSON-RPC stdout (``TOY_STDOUT_FLOOD``). The line is not JSON: the hub
hands a parse error to the session and carries on. The hub's own CPU time (utime + stime
from /proc/<pid>/stat, in clock ticks) is read just before the line comes and again once
the toy has said the line is written and a tool call behind it (``echo``) has been
answered; the same sequence with a 1 KiB line is the baseline taken off, so each row is
the cost of the line itself. The hub runs with the allocator's defaults. Mean of a few
rounds, each size and the baseline in turn; ``--quick`` is a tiny run (1 and 2 MiB, one
round). Run: ``nox -s bench``, or ``python benchmarks/bench_lines.py --help``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import ByteReceiveStream
from anyio.streams.text import TextReceiveStream

from mcp_integrations.lines import read_lines

CHUNK = 64 << 10
MIB = 1 << 20
SPLIT_LIMIT = 1 * MIB
Reader = Callable[[ByteReceiveStream, int], AsyncIterator[bytes | str]]
#: glibc's ``mallopt`` parameter, and the size from which blocks are mapped afresh.
M_MMAP_THRESHOLD = -3
FRESH_FROM = 128 << 10


async def previous_lines(stream: ByteReceiveStream) -> AsyncIterator[str]:
    """The previous implementation, stdio.py's ``_lines``, kept only to compare with."""
    buffer = ""
    async for chunk in TextReceiveStream(stream, errors="replace"):
        *lines, buffer = (buffer + chunk).split("\n")
        for line in lines:
            yield line
    if buffer:
        yield buffer


class MemoryStream(ByteReceiveStream):
    """A byte stream serving chunks already in memory, then its end."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        for chunk in self._chunks:
            return chunk
        raise anyio.EndOfStream

    async def aclose(self) -> None:
        pass


def one_line(size: int) -> Iterator[bytes]:
    chunk = b"x" * CHUNK
    for _ in range(size // CHUNK):
        yield chunk
    yield b"x" * (size % CHUNK) + b"\n"


PREVIOUS = "previous _lines"
READERS: dict[str, Reader] = {
    PREVIOUS: lambda stream, size: previous_lines(stream),
    "read_lines strict": lambda stream, size: read_lines(stream, size),
    "read_lines split 1 MiB": lambda stream, size: read_lines(stream, SPLIT_LIMIT, "split"),
}


async def cpu_ms(reader: Reader, size: int) -> float:
    """CPU milliseconds ``reader`` takes over one line of ``size`` bytes (checked whole)."""
    got = 0
    began = time.process_time()
    async for line in reader(MemoryStream(one_line(size)), size):
        got += len(line)
    spent = time.process_time() - began
    if got != size:
        raise AssertionError(f"the reader gave {got} bytes of a {size}-byte line")
    return spent * 1000


def fresh_memory() -> bool:
    """Make glibc map every large block afresh, for all sizes alike (see the top)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, FRESH_FROM))
    except (OSError, AttributeError):
        return False


def measure(sizes: list[int], old_max: int, rounds: int) -> dict[str, dict[int, float]]:
    """Each reader over every size in turn, the previous one last so that its garbage does
    not weigh on the others, and in at most two rounds: its times are long and steady."""
    results: dict[str, dict[int, float]] = {name: {} for name in READERS}
    for name in (*list(READERS)[1:], PREVIOUS):
        for size in sizes:
            if name == PREVIOUS and size > old_max:
                continue
            runs = min(rounds, 2) if name == PREVIOUS else rounds
            results[name][size] = min(anyio.run(cpu_ms, READERS[name], size) for _ in range(runs))
    return results


def table(results: dict[str, dict[int, float]], sizes: list[int]) -> str:
    first = sizes[0]
    head = "| line | " + " | ".join(f"{name} ms | / {first // MIB} MiB" for name in READERS) + " |"
    rows = [head, "|" + "---|" * (1 + 2 * len(READERS))]
    for size in sizes:
        cells = [f"{size // MIB} MiB"]
        for times in results.values():
            if size in times:
                ratio = times[size] / times[first] if times.get(first) else float("nan")
                cells += [f"{times[size]:.1f}", f"{ratio:.1f}"]
            else:
                cells += ["—", "—"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


ROOT = Path(__file__).resolve().parent.parent
HUB_SIZES, QUICK_HUB_SIZES = "6,12,24,48", "1,2"
HUB_ROUNDS, QUICK_HUB_ROUNDS = 4, 1
#: The largest ``max_message_bytes`` an install may ask for: the line is read, not refused.
MAX_MESSAGE_BYTES = 256 << 20
#: The baseline's line: the same sequence, a line too short to cost anything measurable.
BASE_LINE = 1 << 10
#: Seconds from the toy's start to its line; the hub's CPU is read before that, once the
#: handshake is done (a run whose line came too soon is done again with twice the delay).
FLOOD_DELAY = 0.5
#: What the toy writes to its stderr (so to its log) once the whole line is written.
FLOOD_WRITTEN = "toy: flood written"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
#: How much more per MiB the largest line may cost than the smallest and still be linear.
LINEAR_WITHIN = 2.0


def process_cpu(pid: int) -> float:
    """CPU seconds the process ``pid`` itself has used: utime + stime, not its children's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def answer(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of ``response``, which must have ``status``."""
    if response.status_code != status:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url.path}: {response.status_code} {response.text[:500]}"
        )
    return response.json()


@dataclass
class Hub:
    """A running hub, its data folder, and the toy servers it has run for us."""

    http: httpx.Client
    pid: int
    data_dir: Path
    toys: list[int] = field(default_factory=list)

    def line_cpu(self, size: int, delay: float = FLOOD_DELAY) -> float:
        """Hub CPU seconds from just before a line of ``size`` bytes comes on a fresh toy
        server's stdout until a tool call behind it is answered."""
        for attempt in range(3):
            spent = self._run(size, delay * 2**attempt)
            if spent is not None:
                return spent
        raise RuntimeError(
            f"the line came before the hub's CPU was read, even {delay * 4:g}s after the start"
        )

    def _run(self, size: int, delay: float) -> float | None:
        from tests.helpers import pid_alive, toy_install, wait_until

        integration = f"line-{len(self.toys) + 1}"
        body = toy_install(integration, TOY_STDOUT_FLOOD=f"{size}:{delay}")
        body["max_message_bytes"] = MAX_MESSAGE_BYTES
        answer(self.http.post("/integrations/install", json=body), 201)
        log = self.data_dir / "integrations" / integration / "server.log"

        def written() -> bool:
            return log.exists() and FLOOD_WRITTEN in log.read_text(errors="replace")

        path = f"/integrations/{integration}"
        toy: int | None = None
        try:
            started = answer(self.http.post(f"{path}/start"))
            toy = started["pid"]
            self.toys.append(toy)
            if started["status"] != "running":
                raise RuntimeError(f"the toy did not start: {started}")
            before = process_cpu(self.pid)
            if written():
                return None
            wait_until(written, timeout=delay + 60, what=f"the toy to write its {size}-byte line")
            call = self.http.post(f"{path}/tools/echo/call", json={"arguments": {"text": "hi"}})
            after = process_cpu(self.pid)
            result = answer(call)
            if result.get("isError") or result.get("structuredContent") != {"result": "hi"}:
                raise RuntimeError(f"the call behind the line went wrong: {result}")
            status = answer(self.http.get(f"{path}/status"))["status"]
            if status != "running":
                raise RuntimeError(f"the toy is {status} after its line, not running")
            return after - before
        finally:
            answer(self.http.post(f"{path}/stop"))
            answer(self.http.delete(path))
            if toy is not None:
                wait_until(lambda: not pid_alive(toy), what=f"the toy {toy} to end")


@dataclass
class HubResults:
    baseline: list[float]
    lines: dict[int, list[float]]
    toys: list[int]
    left: list[int]

    def cost_ms(self, size: int) -> float:
        """Mean hub CPU ms for a line of ``size`` bytes, less the baseline's mean."""
        return (statistics.fmean(self.lines[size]) - statistics.fmean(self.baseline)) * 1000


def measure_hub(sizes: list[int], rounds: int) -> HubResults:
    """Each size and the baseline in turn, ``rounds`` times, after one unmeasured run (the
    hub's first server and first call load code that later ones do not)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.helpers import pid_alive
    from tests.serve import serve

    results = HubResults([], {size: [] for size in sizes}, [], [])
    with tempfile.TemporaryDirectory(prefix="bench-lines-") as folder:
        data_dir, log = Path(folder) / "data", Path(folder) / "hub.log"
        try:
            with serve(sys.executable, data_dir, log=log) as served:
                hub = Hub(served.http, served.process.pid, data_dir)
                results.toys = hub.toys
                hub.line_cpu(BASE_LINE)
                for _ in range(rounds):
                    results.baseline.append(hub.line_cpu(BASE_LINE))
                    for size in sizes:
                        results.lines[size].append(hub.line_cpu(size))
        except BaseException:
            print(f"The hub's log ends with:\n{log.read_text(errors='replace')[-3000:]}")
            raise
        results.left = [pid for pid in (served.process.pid, *hub.toys) if pid_alive(pid)]
    return results


def hub_table(results: HubResults, sizes: list[int]) -> str:
    first = sizes[0]
    first_ms = results.cost_ms(first)
    rows = [
        f"| line | hub CPU ms | ms per MiB | / {first // MIB} MiB |",
        "|---|---|---|---|",
    ]
    for size in sizes:
        ms = results.cost_ms(size)
        ratio = f"{ms / first_ms:.1f}" if first_ms > 0 else "—"
        rows.append(f"| {size // MIB} MiB | {ms:.1f} | {ms / (size / MIB):.2f} | {ratio} |")
    return "\n".join(rows)


def linearity(results: HubResults, sizes: list[int]) -> str:
    """Whether the cost per MiB of the largest line is within ``LINEAR_WITHIN`` times that
    of the smallest (a quadratic reader's would grow as the size does)."""
    small, large = min(sizes), max(sizes)
    if small == large:
        return "One size only: growth not assessed."
    small_ms, large_ms = results.cost_ms(small), results.cost_ms(large)
    if small_ms <= 0 or large_ms <= 0:
        return (
            f"Growth not assessed: a line cost no more than the baseline, within the clock's "
            f"{1000 / CLOCK_TICK:.0f} ms tick."
        )
    ratio = (large_ms / large) / (small_ms / small)
    verdict = "linear" if 1 / LINEAR_WITHIN <= ratio <= LINEAR_WITHIN else "NOT linear"
    return (
        f"Growth is {verdict}: a {large // MIB} MiB line costs the hub {ratio:.2f}x the ms per "
        f"MiB of a {small // MIB} MiB one (linear: within {LINEAR_WITHIN:g}x; quadratic: "
        f"{large / small:g}x)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6,12,24,48", help="line sizes in MiB")
    parser.add_argument("--old-max", type=int, default=12, help="largest MiB for the old one")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--hub-sizes", help=f"line sizes in MiB through the hub (default {HUB_SIZES})"
    )
    parser.add_argument(
        "--hub-rounds", type=int, help=f"rounds through the hub (default {HUB_ROUNDS})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"through the hub, sizes {QUICK_HUB_SIZES} and {QUICK_HUB_ROUNDS} round by default",
    )
    args = parser.parse_args()
    sizes = [int(mib) * MIB for mib in args.sizes.split(",")]
    hub_sizes_mib = args.hub_sizes or (QUICK_HUB_SIZES if args.quick else HUB_SIZES)
    hub_sizes = [int(mib) * MIB for mib in hub_sizes_mib.split(",")]
    hub_rounds = args.hub_rounds or (QUICK_HUB_ROUNDS if args.quick else HUB_ROUNDS)
    fresh = fresh_memory()
    results = measure(sizes, args.old_max * MIB, args.rounds)
    print(f"One line in {CHUNK // 1024} KiB chunks: CPU ms, best of {args.rounds}.")
    if fresh:
        print(f"Blocks from {FRESH_FROM // 1024} KiB on are fresh pages (glibc mallopt).")
    print(f"The previous implementation (quadratic) stops at {args.old_max} MiB.\n")
    print(table(results, sizes), flush=True)

    began = time.monotonic()
    hub = measure_hub(hub_sizes, hub_rounds)
    print(
        f"\nThrough the hub: one line on a toy server's stdout (max_message_bytes "
        f"{MAX_MESSAGE_BYTES // MIB} MiB, then a parse error). Hub CPU (utime + stime, "
        f"{1000 / CLOCK_TICK:.0f} ms ticks) from just before the line to a call answered "
        f"behind it, mean of {hub_rounds}, less the same with a {BASE_LINE // 1024} KiB line "
        f"({statistics.fmean(hub.baseline) * 1000:.1f} ms); "
        f"{time.monotonic() - began:.0f} s.\n"
    )
    print(hub_table(hub, hub_sizes))
    print(f"\n{linearity(hub, hub_sizes)}")
    if hub.left:
        raise SystemExit(f"Processes left running: {hub.left}")
    print(f"No process left: the hub and its {len(hub.toys)} toy servers have ended.")


if __name__ == "__main__":
    main()
