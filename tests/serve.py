"""``mcp-integrations serve`` as a real process, for tests that need signals or a restart."""

from __future__ import annotations

import resource
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import free_port, wait_until


@dataclass
class Served:
    http: httpx.Client
    process: subprocess.Popen[bytes]

    @property
    def port(self) -> int:
        return int(self.http.base_url.port or 80)


@contextmanager
def serve(
    python: str,
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    log: Path | None = None,
    nofile: tuple[int, int] | None = None,
    port: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Served]:
    """Run the server with ``python`` and extra CLI ``args`` on ``port`` (else a free one),
    its output added to ``log`` if given, its open-files limit ``nofile`` (soft, hard) if
    given; yields a client for it (sending ``headers``) once ``/health`` answers, and ends
    it (SIGTERM) on exit."""
    port = port or free_port()

    def limit_files() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    command: Sequence[str] = [python, "-m", "mcp_integrations", "serve", "--port", str(port)]
    with ExitStack() as stack:
        out = stack.enter_context(log.open("ab")) if log else None
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            preexec_fn=limit_files if nofile else None,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)

    def up() -> bool:
        if process.poll() is not None:
            output = log.read_text(errors="replace")[-2000:] if log else ""
            raise AssertionError(f"the server exited with code {process.returncode}\n{output}")
        try:
            return client.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, timeout=30, what="the server to listen")
        yield Served(client, process)
    finally:
        client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
