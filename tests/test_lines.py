"""Lines out of a byte stream in linear time and bounded memory, and a log that survives
its disk: rotation, modes, a full tmpfs, a folder removed under it."""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import stat
import sys
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, SupportsIndex

import anyio
import pytest
from anyio.abc import ByteReceiveStream
from hypothesis import given
from hypothesis import strategies as st

from mcp_integrations import private
from mcp_integrations.lines import LineBuffer, LineTooLong, Mode, RotatingLog, read_lines
from tests.conftest import MakeTmpfs

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

CHUNK = 64 << 10


class ChunkStream(ByteReceiveStream):
    """A byte stream serving the given chunks, then its end; counts reads."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.reads = 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        self.reads += 1
        for chunk in self._chunks:
            return chunk
        raise anyio.EndOfStream

    async def aclose(self) -> None:
        pass


async def collect(chunks: Iterable[bytes], max_bytes: int, mode: Mode = "strict") -> list[bytes]:
    return [line async for line in read_lines(ChunkStream(chunks), max_bytes, mode)]


async def collect_from(stream: ByteReceiveStream, limit: int) -> list[bytes]:
    return [line async for line in read_lines(stream, limit)]


def split(chunks: Iterable[bytes], max_bytes: int = 1 << 20, mode: Mode = "strict") -> list[bytes]:
    """The same through the buffer alone, for tests that need no event loop."""
    buffer = LineBuffer(max_bytes, mode)
    found = [line for chunk in chunks for line in buffer.feed(chunk)]
    return [*found, *buffer.finish()]


# -- lines -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_lines_split_across_chunks_are_joined() -> None:
    chunks = [b"ab", b"c\nde", b"f", b"", b"g\nh", b"\n"]
    assert await collect(chunks, 100) == [b"abc", b"defg", b"h"]


@pytest.mark.anyio
async def test_many_lines_in_one_chunk() -> None:
    many = [f"message {i}".encode() for i in range(5000)]
    assert await collect([b"\n".join(many) + b"\n"], 100) == many


def test_every_way_of_cutting_a_payload_gives_the_same_lines() -> None:
    payload = b'{"id":1}\r\n\n{"id":22}\nx\r\r\n\xc3\xa9t\xc3\xa9\ntail'
    expected = [b'{"id":1}', b"", b'{"id":22}', b"x\r", "été".encode(), b"tail"]
    for i in range(len(payload) + 1):
        for j in range(i, len(payload) + 1):
            cuts = [payload[:i], payload[i:j], payload[j:]]
            assert split(cuts) == expected, cuts
            assert split(cuts, 9, "split") == expected, cuts


def test_crlf_loses_only_the_carriage_return_before_the_newline() -> None:
    assert split([b"a\r\nb\r", b"\nc\rd\r\n"]) == [b"a", b"b", b"c\rd"]


def test_empty_lines_are_kept() -> None:
    assert split([b"\n\n", b"\r\n", b"a\n\n"]) == [b"", b"", b"", b"a", b""]


def test_the_unterminated_last_line_comes_at_the_end() -> None:
    assert split([b"one\ntw", b"o"]) == [b"one", b"two"]
    assert split([b"one\n"]) == [b"one"]
    assert split([]) == []


@pytest.mark.anyio
async def test_a_real_pipe() -> None:
    code = "import sys; sys.stdout.write('a\\n' + 'x' * 300000 + '\\r\\nlast')"
    async with await anyio.open_process([sys.executable, "-c", code]) as process:
        assert process.stdout is not None
        got = [line async for line in read_lines(process.stdout, 300000)]
    assert got == [b"a", b"x" * 300000, b"last"]


# -- strict limit ----------------------------------------------------------------------


def test_strict_takes_a_line_of_exactly_the_limit() -> None:
    assert split([b"x" * 10, b"\ny" * 5, b"\n"], 10) == [b"x" * 10, *[b"y"] * 5]
    assert split([b"x" * 10, b"\r", b"\n"], 10) == [b"x" * 10]
    assert split([b"x" * 10], 10) == [b"x" * 10]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"x" * 11 + b"\n"],
        [b"x" * 5, b"x" * 6, b"\n"],
        [b"x" * 10 + b"\r", b"x\n"],
        [b"x" * 11],
        [b"x" * 10, b"\r\r\n"],
    ],
)
def test_strict_refuses_a_line_one_byte_over(chunks: list[bytes]) -> None:
    with pytest.raises(LineTooLong) as caught:
        split(chunks, 10)
    assert caught.value.limit == 10
    assert caught.value.seen >= 11
    assert "longer than 10 bytes" in str(caught.value)


@pytest.mark.anyio
async def test_strict_raises_as_soon_as_the_limit_is_passed() -> None:
    """The lines before come out; the stream is not read past the chunk that overflows."""

    def chunks() -> Iterator[bytes]:
        yield b"ok\n" + b"x" * 60
        yield b"x" * 41
        raise AssertionError("read past the limit")

    stream = ChunkStream(chunks())
    got: list[bytes] = []

    async def read() -> None:
        async for line in read_lines(stream, 100):
            got.append(line)

    with pytest.raises(LineTooLong) as caught:
        await read()
    assert got == [b"ok"]
    assert (caught.value.limit, caught.value.seen) == (100, 101)
    assert stream.reads == 2


def test_strict_holds_no_more_than_the_limit() -> None:
    buffer = LineBuffer(1000)
    for _ in range(999):
        list(buffer.feed(b"x"))
        assert buffer.buffered <= 1000
    with pytest.raises(LineTooLong):
        list(buffer.feed(b"x" * CHUNK))
    assert buffer.buffered == 0


# -- split mode ------------------------------------------------------------------------


def test_split_cuts_a_long_line_into_pieces_of_the_limit() -> None:
    data = b"a" * 25 + b"\n" + b"b" * 10 + b"\r\nc\n"
    expected = [b"a" * 10, b"a" * 10, b"a" * 5, b"b" * 10, b"c"]
    assert split([data], 10, "split") == expected
    assert split([bytes([byte]) for byte in data], 10, "split") == expected
    assert split([b"z" * 21], 10, "split") == [b"z" * 10, b"z" * 10, b"z"]


def test_split_does_not_cut_a_character_in_two() -> None:
    text = "é" * 20 + "€" * 20 + "𝄞" * 20
    pieces = split([text.encode()[:50], text.encode()[50:]], 7, "split")
    assert all(len(piece) <= 7 for piece in pieces)
    assert "".join(piece.decode() for piece in pieces) == text


def test_split_holds_no_more_than_the_limit_and_a_byte() -> None:
    buffer = LineBuffer(1000, "split")
    out = 0
    for _ in range(200):
        out += sum(len(piece) for piece in buffer.feed(b"x" * 777))
        assert buffer.buffered <= 1001
    assert out + sum(len(piece) for piece in buffer.finish()) == 200 * 777


@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=12),
    terminated=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    limit=st.integers(min_value=1, max_value=50),
)
def test_any_chunking_gives_the_lines_of_the_whole(
    lines: list[bytes], terminated: bool, cuts: list[int], limit: int
) -> None:
    payload = b"\n".join(lines) + (b"\n" if terminated and lines else b"")
    bounds = [0, *sorted(c % (len(payload) + 1) for c in cuts), len(payload)]
    chunks = [payload[a:b] for a, b in itertools.pairwise(bounds)]
    whole = [line.removesuffix(b"\r") for line in payload.split(b"\n")]
    if payload.endswith(b"\n") or not payload:
        whole.pop()
    if all(len(line) <= limit for line in whole):
        assert split(chunks, limit) == whole
    else:
        with pytest.raises(LineTooLong):
            split(chunks, limit)
    pieces = split(chunks, limit, "split")
    assert all(len(piece) <= limit for piece in pieces)
    assert b"".join(pieces) == b"".join(whole)


# -- linear work -----------------------------------------------------------------------


class CountedChunk(bytes):
    """A received chunk that counts the bytes searched in it for b"\\n"."""

    scanned = 0

    def find(
        self,
        sub: ReadableBuffer | SupportsIndex,
        start: SupportsIndex | None = None,
        end: SupportsIndex | None = None,
        /,
    ) -> int:
        found = super().find(sub, start, end)
        begin = 0 if start is None else int(start)
        stop = found + 1 if found >= 0 else len(self) if end is None else int(end)
        CountedChunk.scanned += stop - begin
        return found


class MeteredStream(ChunkStream):
    """Serves chunks and sums, at each read, how far traced memory rose over what was held
    at the read before: the bytes the reader allocated (copied) while working on a chunk.
    Also the peak over what was held before the first read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__(chunks)
        self.allocated = 0
        self.peak = 0
        self._base = self._held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()

    def reading(self) -> None:
        held, peak = tracemalloc.get_traced_memory()
        self.allocated += max(0, peak - self._held)
        self.peak = max(self.peak, peak - self._base)
        self._held = held
        tracemalloc.reset_peak()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        self.reading()
        return await super().receive(max_bytes)


Reader = Callable[[ByteReceiveStream], AsyncIterator[bytes]]


@dataclass
class Metered:
    stream: MeteredStream
    total: int
    error: LineTooLong | None


async def metered(reader: Reader, chunks: Iterable[bytes]) -> Metered:
    """Run ``reader`` over ``chunks`` under tracemalloc, as a consumer that keeps no line
    (so only the reader's memory counts): the meter, the bytes of lines, a limit error."""
    tracemalloc.start()
    try:
        stream = MeteredStream(chunks)
        total, error = 0, None
        try:
            async for line in reader(stream):
                total += len(line)
                del line
        except LineTooLong as exc:
            error = exc
        stream.reading()
    finally:
        tracemalloc.stop()
    return Metered(stream, total, error)


async def quadratic_lines(stream: ByteReceiveStream) -> AsyncIterator[bytes]:
    """The previous reader's way (the buffer rebuilt on every chunk), as the meter's control."""
    buffer = b""
    async for chunk in stream:
        *done, buffer = (buffer + chunk).split(b"\n")
        for line in done:
            yield line
    if buffer:
        yield buffer


def one_line(size: int) -> list[bytes]:
    """A line of ``size`` bytes in chunks: one chunk object over and over, so that only
    what the reader allocates shows in the meter."""
    chunk: bytes = CountedChunk(b"x" * CHUNK)
    return [chunk] * (size // CHUNK) + [CountedChunk(b"x" * (size % CHUNK) + b"\n")]


def fresh_line(size: int) -> Iterator[bytes]:
    """The same with a new chunk object at each read, as from a pipe, so that the chunks
    the reader holds on to count too."""
    for _ in range(size // CHUNK):
        yield b"x" * CHUNK
    yield b"x" * (size % CHUNK) + b"\n"


@pytest.mark.anyio
async def test_the_meter_catches_a_quadratic_reader() -> None:
    size = 4 << 20
    run = await metered(quadratic_lines, one_line(size))
    assert run.total == size
    assert run.stream.allocated > 20 * size


@pytest.mark.anyio
async def test_a_24_mb_line_costs_one_scan_and_one_copy() -> None:
    """Not timed: the bytes searched are counted and the bytes allocated are metered."""
    size = 24 << 20
    CountedChunk.scanned = 0
    run = await metered(lambda stream: read_lines(stream, size), one_line(size))
    assert run.total == size and run.error is None
    assert CountedChunk.scanned == size + 1
    assert size <= run.stream.allocated < size + (1 << 20)


@pytest.mark.anyio
async def test_strict_memory_is_the_limit_and_a_chunk() -> None:
    limit = 1 << 20
    run = await metered(lambda stream: read_lines(stream, limit), fresh_line(24 << 20))
    assert run.error is not None and run.total == 0
    assert run.stream.peak < limit + 3 * CHUNK
    # a line that fits is joined once it ends: the chunks, and the line made of them
    run = await metered(lambda stream: read_lines(stream, limit), fresh_line(limit))
    assert run.error is None and run.total == limit
    assert run.stream.peak < 2 * limit + 3 * CHUNK


@pytest.mark.anyio
async def test_split_memory_is_the_limit_a_chunk_and_the_piece_handed_over() -> None:
    size, limit = 24 << 20, 1 << 20
    run = await metered(lambda stream: read_lines(stream, limit, "split"), fresh_line(size))
    assert run.error is None and run.total == size
    assert run.stream.peak < 2 * limit + 3 * CHUNK
    assert run.stream.allocated < 3 * size


@pytest.mark.anyio
async def test_strict_overflow_is_found_within_a_chunk_of_the_limit() -> None:
    limit = 1 << 20
    stream = ChunkStream(one_line(24 << 20))
    with pytest.raises(LineTooLong) as caught:
        await collect_from(stream, limit)
    assert limit < caught.value.seen <= limit + CHUNK
    assert stream.reads == limit // CHUNK + 1


# -- the log ---------------------------------------------------------------------------


def written(log: RotatingLog) -> list[str]:
    """The lines of every file of ``log``, oldest first."""
    files = [log.backup(n) for n in range(log.backups, 0, -1)] + [log.path]
    return [line for f in files if f.exists() for line in f.read_text().splitlines()]


@pytest.mark.parametrize("backups", [0, 1, 2, 3])
def test_rotation_keeps_the_backups_asked_for(tmp_path: Path, backups: int) -> None:
    path = tmp_path / "server.log"
    lines = [f"line {i:04}" for i in range(100)]  # 10 bytes each with the newline
    with RotatingLog(path, max_bytes=100, backups=backups) as log:
        for line in lines:
            log.write(line)
            assert path.read_text().endswith(line + "\n")  # there already, for a tail
        assert log.dropped == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["server.log", *[f"server.log.{n}" for n in range(1, backups + 1)]]
    for n in range(1, backups + 1):
        assert log.backup(n).stat().st_size == 100
    assert path.stat().st_size == 100
    assert written(log) == lines[-10 * (backups + 1) :]


def test_a_line_never_pushes_a_file_past_the_limit_unless_it_is_longer(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    with RotatingLog(path, max_bytes=100, backups=5) as log:
        for size in (30, 60, 20, 150, 5, 99, 1):
            log.write("x" * size)
    sizes = [log.backup(n).stat().st_size for n in range(5, 0, -1)] + [path.stat().st_size]
    assert sizes == [31 + 61, 21, 151, 6, 100, 2]
    assert written(log) == ["x" * n for n in (30, 60, 20, 150, 5, 99, 1)]


def test_the_log_takes_up_where_a_previous_one_stopped(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    with RotatingLog(path, max_bytes=100) as log:
        log.write("a" * 59)
    with RotatingLog(path, max_bytes=100) as log:
        log.write("b" * 39)
        log.write("c" * 9)
    assert log.backup(1).read_text() == "a" * 59 + "\n" + "b" * 39 + "\n"
    assert path.read_text() == "c" * 9 + "\n"


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("old\n")
    path.chmod(0o644)
    old_umask = os.umask(0o022)
    try:
        with RotatingLog(path, max_bytes=10, backups=2) as log:
            for i in range(5):
                log.write(f"line {i}")
    finally:
        os.umask(old_umask)
    for file in (path, log.backup(1), log.backup(2)):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_text_that_is_not_utf_8_is_replaced_not_refused(tmp_path: Path) -> None:
    with RotatingLog(tmp_path / "server.log") as log:
        log.write("bad \udcff surrogate")
    assert (tmp_path / "server.log").read_text() == "bad ? surrogate\n"
    assert log.dropped == 0


@pytest.fixture
def tiny_disk(make_tmpfs: MakeTmpfs) -> Path:
    return make_tmpfs("64k")


def test_a_full_disk_drops_and_counts_lines_then_recovers(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    real_touch = private.touch_private

    def touch(path: Path) -> Path:
        opened.append(path)
        return real_touch(path)

    monkeypatch.setattr("mcp_integrations.lines.touch_private", touch)
    filler = tiny_disk / "filler"
    with filler.open("wb") as f:
        f.write(b"f" * (40 << 10))
    path = tiny_disk / "server.log"
    lines = [f"{i:05} " + "y" * 94 for i in range(400)]  # 101 bytes: never page-aligned
    with RotatingLog(path, max_bytes=1 << 20) as log:
        for line in lines:
            log.write(line)
        assert log.dropped > 100
        assert log.error is not None and log.error.errno == errno.ENOSPC
        kept = path.read_text().splitlines()
        assert kept == lines[: len(kept)]  # whole lines only: a torn one was taken back
        assert len(kept) + log.dropped == len(lines)
        assert opened == [path]  # a full disk costs a write per line, no reopening

        filler.unlink()
        log.write("after the space came back")
        assert log.dropped == len(lines) - len(kept)
    assert path.read_text().splitlines() == [*kept, "after the space came back"]


def test_a_log_that_fills_the_disk_with_its_own_files(tiny_disk: Path) -> None:
    filler = tiny_disk / "filler"
    filler.write_bytes(b"f" * (44 << 10))  # leaves 5 pages: less than three files of 8 KiB
    path = tiny_disk / "server.log"
    lines = [f"{i:05} " + "z" * 94 for i in range(1000)]
    with RotatingLog(path, max_bytes=8 << 10, backups=2) as log:
        for line in lines[:500]:
            log.write(line)
        dropped = log.dropped
        assert dropped > 0
        files = (log.backup(2), log.backup(1), path)
        assert all(f.stat().st_size <= 8 << 10 for f in files)
        assert all(line in lines for f in files for line in f.read_text().splitlines())

        filler.unlink()
        for line in lines[500:]:
            log.write(line)
        assert log.dropped == dropped
    assert written(log) == lines[-len(written(log)) :]
    assert len(written(log)) > 200


def test_the_folder_removed_under_the_log(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    folder.mkdir()
    path = folder / "server.log"
    with RotatingLog(path, max_bytes=1000, check_secs=0) as log:
        log.write("before")
        shutil.rmtree(folder)
        log.write("while it is gone")
        log.write("still gone")
        assert log.dropped == 2
        assert log.error is not None and log.error.errno == errno.ENOENT
        folder.mkdir()
        log.write("after")
        assert log.dropped == 2
    assert path.read_text() == "after\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_folder_removed_is_noticed_at_rotation_at_the_latest(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    folder.mkdir()
    path = folder / "server.log"
    with RotatingLog(path, max_bytes=100, check_secs=3600) as log:
        log.write("before")
        shutil.rmtree(folder)
        for i in range(30):
            log.write(f"gone {i:03}")
        assert log.dropped > 0
        folder.mkdir()
        log.write("after")
    assert path.read_text() == "after\n"


def test_a_file_removed_under_the_log_is_started_again(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    with RotatingLog(path, check_secs=0) as log:
        log.write("one")
        path.unlink()
        log.write("two")
    assert path.read_text() == "two\n"
    assert log.dropped == 0


def test_an_io_error_reopens_the_file(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    with RotatingLog(path) as log:
        log.write("one")
        assert log._file is not None
        read_only = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(read_only, log._file.fileno())  # its writes now fail with EBADF
        finally:
            os.close(read_only)
        log.write("lost")
        assert log.dropped == 1 and log.error is not None
        assert log.error.errno == errno.EBADF
        log.write("two")
    assert path.read_text() == "one\ntwo\n"
    assert log.dropped == 1
