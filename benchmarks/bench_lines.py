"""What reading one long line off a child's stream costs, against the previous reader.

One line of 6, 12, 24 and 48 MiB arrives in 64 KiB chunks through an anyio byte stream
serving them from memory, and is read by:
- the previous implementation (stdio.py's ``_lines`` before ``read_lines``, copied here
  as it was), which rebuilds its buffer on every chunk: quadratic, so it stops at 12 MiB;
- ``read_lines`` in strict mode with a limit above the line (the whole line is kept);
- ``read_lines`` in split mode with a 1 MiB limit (the line comes out in pieces).
CPU time is the best of a few rounds (two for the previous one); each size's time is
also shown over the first size's, so a linear reader roughly doubles per row. On glibc
every large buffer is made to come fresh from the system: by default glibc reuses freed
memory for blocks up to 32 MiB but maps new pages for larger ones, a cliff that is the
allocator's, not the reader's. Run: ``nox -s bench``, or
``python benchmarks/bench_lines.py --help``.
"""

from __future__ import annotations

import argparse
import ctypes
import platform
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

import anyio
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6,12,24,48", help="line sizes in MiB")
    parser.add_argument("--old-max", type=int, default=12, help="largest MiB for the old one")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(mib) * MIB for mib in args.sizes.split(",")]
    fresh = fresh_memory()
    results = measure(sizes, args.old_max * MIB, args.rounds)
    print(f"One line in {CHUNK // 1024} KiB chunks: CPU ms, best of {args.rounds}.")
    if fresh:
        print(f"Blocks from {FRESH_FROM // 1024} KiB on are fresh pages (glibc mallopt).")
    print(f"The previous implementation (quadratic) stops at {args.old_max} MiB.\n")
    print(table(results, sizes))


if __name__ == "__main__":
    main()
