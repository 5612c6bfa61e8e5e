"""Lines out of a child's byte stream, and a log file for them that cannot fill the disk.

A server's stdout carries one JSON-RPC message a line and its stderr whatever it likes;
neither may cost the hub more than linear time or more memory than a set bound, however
long a line is. ``read_lines`` splits a stream in linear time, holding at most about
``max_bytes`` plus one read chunk; ``RotatingLog`` keeps a bounded set of files and never
lets a full or vanished disk take the server's session down with it.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from io import FileIO
from pathlib import Path
from types import TracebackType
from typing import Literal

from anyio.abc import ByteReceiveStream

from mcp_integrations.private import touch_private

#: ``strict``: a line longer than the limit is an error (the JSON-RPC wire);
#: ``split``: it is handed on in pieces of at most the limit (stderr).
Mode = Literal["strict", "split"]

LOG_MAX_BYTES = 10 << 20
LOG_BACKUPS = 2
#: How often the log checks that its path still names the file it writes to.
LOG_CHECK_SECS = 1.0
#: Failures that leave the open file usable once space frees up: keep it and retry.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class LineTooLong(Exception):
    """A line went past the limit in ``strict`` mode; ``seen`` bytes of it had arrived."""

    def __init__(self, limit: int, seen: int) -> None:
        super().__init__(f"a line longer than {limit} bytes ({seen} bytes of it received)")
        self.limit = limit
        self.seen = seen


class LineBuffer:
    """Splits bytes fed in chunks into lines, without I/O (``read_lines`` drives it).

    Only new data is searched for b"\\n"; a line that spans chunks is joined once, when it
    ends. Lines come without their b"\\n" or a b"\\r" before it, and the limit counts the
    line so: ``max_bytes`` of text then b"\\r\\n" fits. At most ``max_bytes + 1`` bytes are
    held between chunks. Consume each ``feed`` and ``finish`` to the end.
    """

    def __init__(self, max_bytes: int, mode: Mode = "strict") -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        if mode not in ("strict", "split"):
            raise ValueError(f"mode must be 'strict' or 'split', not {mode!r}")
        self.max_bytes = max_bytes
        self.mode = mode
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def buffered(self) -> int:
        """Bytes of the unfinished line held now."""
        return self._size

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The lines (or pieces) that ``chunk`` completes; raises ``LineTooLong`` in strict
        mode once the line being read cannot fit, after the lines before it."""
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:end]
            if self._parts:
                self._parts.append(piece)
                piece = self._take()
            yield from self._emit(piece)
            start = end + 1
        if start < len(chunk):
            yield from self._hold(chunk[start:] if start else chunk)

    def finish(self) -> Iterator[bytes]:
        """The unterminated last line, if any: call at the end of the stream."""
        if self._parts:
            yield from self._emit(self._take())

    def _take(self) -> bytes:
        line = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return line

    def _fits(self, size: int, last: bytes) -> bool:
        """Whether a held part of ``size`` bytes ending in ``last`` may still end a line
        that fits (a trailing b"\\r" is not counted)."""
        return size <= self.max_bytes or (size == self.max_bytes + 1 and last == b"\r")

    def _hold(self, data: bytes) -> Iterator[bytes]:
        size = self._size + len(data)
        if self._fits(size, data[-1:]):
            self._parts.append(data)
            self._size = size
        elif self.mode == "strict":
            self._parts.clear()
            self._size = 0
            raise LineTooLong(self.max_bytes, size)
        else:
            self._parts.append(data)
            held = self._take()
            start = 0
            while len(held) - start > self.max_bytes + 1:
                cut = _cut(held, start, self.max_bytes)
                yield held[start:cut]
                start = cut
            self._parts.append(held[start:])
            self._size = len(held) - start

    def _emit(self, line: bytes) -> Iterator[bytes]:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) <= self.max_bytes:
            yield line
        elif self.mode == "strict":
            raise LineTooLong(self.max_bytes, len(line))
        else:
            start = 0
            while len(line) - start > self.max_bytes:
                cut = _cut(line, start, self.max_bytes)
                yield line[start:cut]
                start = cut
            yield line[start:]


def _cut(data: bytes, start: int, size: int) -> int:
    """Where a piece of at most ``size`` bytes from ``start`` ends: not inside a UTF-8
    sequence when one can be avoided, so each piece of text decodes on its own."""
    at = start + size
    for end in range(at, max(start, at - 4), -1):
        if data[end] & 0xC0 != 0x80:
            return end
    return at


async def read_lines(
    stream: ByteReceiveStream, max_bytes: int, mode: Mode = "strict"
) -> AsyncIterator[bytes]:
    """The lines of ``stream`` as they arrive, then its unterminated last one; see
    ``LineBuffer`` for what a line is and what ``mode`` does with one past ``max_bytes``.

    Memory: at most ``max_bytes + 1`` held between reads, besides the chunk just read and,
    while a long line or piece is put together, that line. The stream's own errors (closed,
    broken) come through as they are."""
    lines = LineBuffer(max_bytes, mode)
    async for chunk in stream:
        for line in lines.feed(chunk):
            yield line
            del line  # not held while the next piece of a long line is cut
    for line in lines.finish():
        yield line


class RotatingLog:
    """Appends lines to ``path`` (0600), which past ``max_bytes`` becomes ``path.1`` (the
    older ones shift up to ``path.{backups}``, the oldest is dropped) and a new file starts.

    ``write`` never raises for the file system: a line that cannot be written (disk full,
    I/O error, the folder gone) is counted in ``dropped`` and the next line tries again.
    While the disk is full a line costs one failed write; after other errors the file is
    reopened first. Every line reaches the file before ``write`` returns, for readers
    tailing it. A file passes ``max_bytes`` only by holding one line longer than that.
    A file moved or removed behind the log's back is noticed within ``check_secs``.
    """

    def __init__(
        self,
        path: Path,
        max_bytes: int = LOG_MAX_BYTES,
        backups: int = LOG_BACKUPS,
        *,
        check_secs: float = LOG_CHECK_SECS,
    ) -> None:
        if max_bytes < 1 or backups < 0:
            raise ValueError("max_bytes must be at least 1 and backups not negative")
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.check_secs = check_secs
        self.dropped = 0
        #: The last failure, for a caller that wants to say why lines were dropped.
        self.error: OSError | None = None
        self._file: FileIO | None = None
        self._size = 0
        self._identity = (0, 0)
        self._check_at = 0.0

    def backup(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def write(self, line: str) -> None:
        """Append ``line`` and a newline, or count it as dropped."""
        data = (line + "\n").encode("utf-8", "replace")
        try:
            self._append(self._ready(len(data)), data)
        except OSError as exc:
            self.dropped += 1
            self.error = exc

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with suppress(OSError):
                file.close()

    def __enter__(self) -> RotatingLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _ready(self, incoming: int) -> FileIO:
        """The file to write ``incoming`` bytes to: opened, checked, rotated as needed."""
        if self._file is not None and time.monotonic() >= self._check_at and not self._ours():
            self.close()
        file = self._file if self._file is not None else self._open()
        if self._size and self._size + incoming > self.max_bytes:
            self.close()
            self._rotate()
            file = self._open()
        return file

    def _ours(self) -> bool:
        """Whether ``path`` still names the open file."""
        self._check_at = time.monotonic() + self.check_secs
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self._identity

    def _open(self) -> FileIO:
        file = open(touch_private(self.path), "ab", buffering=0)  # noqa: SIM115 (kept open)
        try:
            stat = os.fstat(file.fileno())
        except OSError:
            file.close()
            raise
        self._file = file
        self._size = stat.st_size
        self._identity = (stat.st_dev, stat.st_ino)
        self._check_at = time.monotonic() + self.check_secs
        return file

    def _rotate(self) -> None:
        """Shift ``path`` to ``path.1`` and so on; a missing one is a gap, not an error
        (if the folder is gone, the reopen that follows fails)."""
        if self.backups == 0:
            with suppress(FileNotFoundError):
                self.path.unlink()
            return
        for number in range(self.backups, 0, -1):
            older = self.backup(number - 1) if number > 1 else self.path
            with suppress(FileNotFoundError):
                older.replace(self.backup(number))

    def _append(self, file: FileIO, data: bytes) -> None:
        """Write all of ``data``; on failure take back a torn part so the file holds whole
        lines, and give up the file unless the disk is merely full."""
        view = memoryview(data)
        done = 0
        try:
            while done < len(data):
                wrote = file.write(view[done:])
                if not wrote:
                    raise OSError(errno.EIO, "the file took no bytes")
                done += wrote
        except OSError as exc:
            if done:
                try:
                    os.ftruncate(file.fileno(), self._size)
                except OSError:
                    self.close()
            if exc.errno not in _FULL:
                self.close()
            raise
        self._size += done
