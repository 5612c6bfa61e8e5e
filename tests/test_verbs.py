"""The client verbs of ``mcp-integrations``, run as the installed console script against a
real hub process with real toy servers behind it: output, ``--json``, exit codes."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import TOY_SERVER, free_port, wait_until
from tests.serve import serve

CLI = shutil.which("mcp-integrations", path=str(Path(sys.executable).parent)) or shutil.which(
    "mcp-integrations"
)
TOY = [sys.executable, str(TOY_SERVER)]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07")


def _clean_env() -> dict[str, str]:
    """This process's environment without the hub's and the client's own variables."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MCP_INTEGRATIONS_") and k not in ("FORCE_COLOR", "COLUMNS")
    }


@dataclass
class Hub:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_hub(data_dir: Path, log: Path, args: Sequence[str] = ()) -> Iterator[Hub]:
    """``mcp-integrations serve`` on a free port, ready once ``/health`` answers; stopped
    (TERM, then KILL) on exit."""
    with serve(sys.executable, data_dir, env=_clean_env(), args=args, log=log) as served:
        yield Hub(str(served.http.base_url).rstrip("/"), served.process)


class Streamed:
    """A verb that keeps printing (``logs -f``, ``events``), its lines read in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, wanted: Callable[[str], bool], timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"no such line within {timeout}s; seen: {self.seen[-10:]}")


class Cli:
    """The console script with its URL set, its config dir a temporary one."""

    def __init__(self, url: str, config: Path) -> None:
        self.url, self.config = url, config

    def env(self, **extra: str) -> dict[str, str]:
        env = _clean_env() | {"MCP_INTEGRATIONS_URL": self.url, "XDG_CONFIG_HOME": str(self.config)}
        return env | extra

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        assert CLI, "the mcp-integrations console script is not installed"
        ran = subprocess.run(
            [CLI, *args],
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in ran.stderr, ran.stderr
        return ran

    @contextmanager
    def streaming(self, *args: str) -> Iterator[Streamed]:
        assert CLI
        process = subprocess.Popen(
            [CLI, *args],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield Streamed(process)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
            assert process.stderr is not None
            process.stderr.close()


def _one_error(ran: subprocess.CompletedProcess[str]) -> str:
    lines = ran.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), ran.stderr
    return lines[0]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("hub")
    with running_hub(folder / "data", folder / "hub.log") as running:
        yield running


@pytest.fixture
def cli(hub: Hub, tmp_path: Path) -> Cli:
    return Cli(hub.url, tmp_path / "config")


def _install_toy(cli: Cli, integration_id: str, *more: str) -> None:
    command = f"command={json.dumps(TOY)}"
    ran = cli("install", "command", "--id", integration_id, "--option", command, *more)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{integration_id}: installed")


def test_usage_errors_exit_2_without_asking_the_hub(tmp_path: Path) -> None:
    cli = Cli(f"http://127.0.0.1:{free_port()}", tmp_path)
    for args in (
        ["frobnicate"],
        ["call", "toy", "echo", "--arg", "novalue"],
        ["call", "toy", "echo", "--json", "[1, 2]"],
        ["logs", "toy", "--tail", "many"],
        ["install", "command", "--env", "9bad=x"],
        ["completion", "fish"],
    ):
        ran = cli(*args)
        assert ran.returncode == 2, (args, ran.stderr)
        assert "usage:" in ran.stderr
    ran = cli("install", "command", "--option", "id=x")
    assert ran.returncode == 2
    assert "use --id" in _one_error(ran)
    assert cli("status", "x", "--url", "ftp://somewhere").returncode == 2


def test_an_unreachable_hub_is_exit_3_on_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["ls"], ["status", "toy", "--json"], ["events"]):
        ran = Cli(url, tmp_path)(*args)
        assert ran.returncode == 3
        assert _one_error(ran) == (
            f"error: cannot reach the hub at {url}: connection refused; is it running? "
            'start it with "mcp-integrations serve"'
        )


def test_install_start_call_stop_remove(cli: Cli) -> None:
    _install_toy(cli, "life")
    listed = cli("ls")
    assert listed.returncode == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "PID", "UPTIME", "RESTARTS", "TOOLS", "LAST", "ERROR"]
    assert ["life", "stopped", "-", "-", "0", "0", "-"] in [row.split() for row in rows]
    as_json = json.loads(cli("ls", "--json").stdout)
    assert "life" in {i["id"] for i in as_json["integrations"]}

    started = re.fullmatch(r"life: running \(pid (\d+)\)\n", cli("start", "life").stdout)
    assert started
    pid = int(started[1])
    status = cli("status", "life")
    fields = dict(line.strip().split(None, 1) for line in status.stdout.splitlines())
    assert (fields["status"], fields["pid"], fields["server_info"]) == (
        "running",
        str(pid),
        "toy 1.2.3",
    )
    assert json.loads(cli("status", "life", "--json").stdout)["pid"] == pid

    tools = cli("tools", "life").stdout
    assert re.search(r"^echo +Return the text unchanged\. +text *$", tools, re.M), tools
    assert re.search(r"^add .* a b *$", tools, re.M), tools
    assert {t["name"] for t in json.loads(cli("tools", "life", "--json").stdout)["tools"]} >= {
        "echo",
        "add",
    }

    assert cli("call", "life", "echo", "--arg", "text=hello there").stdout == "hello there\n"
    assert cli("call", "life", "add", "--arg", "a=2", "--arg", "b=3").stdout == "5\n"
    result = json.loads(cli("call", "life", "add", "--json", '{"a": 1, "b": 2}', "--json").stdout)
    assert result["content"][0]["text"] == "3"
    bad = cli("call", "life", "add", "--arg", "a=x", "--arg", "b=1")
    assert bad.returncode == 1
    assert "(invalid_arguments, HTTP 422)" in _one_error(bad)
    late = cli("call", "life", "slow", "--arg", "seconds=5", "--timeout", "0.3")
    assert late.returncode == 1
    assert "(call_timeout, HTTP 504)" in _one_error(late)

    restarted = cli("restart", "life")
    assert restarted.stdout.startswith("life: running (pid ")
    stopped = cli("stop", "life", "nosuch")
    assert stopped.returncode == 1
    assert stopped.stdout == "life: stopped\n"
    assert _one_error(stopped) == "error: no integration with id 'nosuch' (not_found, HTTP 404)"
    not_running = cli("call", "life", "echo", "--arg", "text=x")
    assert not_running.returncode == 1
    assert "hint: start it first: mcp-integrations start life" in not_running.stderr

    removed = cli("rm", "life", "--json")
    assert json.loads(removed.stdout) == {"id": "life", "removed": True}
    gone = cli("status", "life")
    assert gone.returncode == 1
    assert _one_error(gone) == "error: no integration with id 'life' (not_found, HTTP 404)"


def test_install_env_file_env_and_options_keep_secrets_out_of_output(
    cli: Cli, tmp_path: Path
) -> None:
    env_file = tmp_path / "toy.env"
    env_file.write_text(
        "# the toy's settings\n\nexport TOY_SECRET='s3cr3t-from-file'\n"
        'TOY_STDERR_EVERY="0.1"  # chatty\n'
    )
    _install_toy(
        cli,
        "envy",
        "--env-file",
        str(env_file),
        "--env",
        "OTHER=plain=value",
        "--option",
        "autostart=true",
        "--option",
        "call_timeout=30",
    )
    status = json.loads(cli("status", "envy", "--json").stdout)
    assert status["status"] == "running"
    logs = wait_until(
        lambda: (
            (ran := cli("logs", "envy", "--tail", "50")).stdout.count("still here") >= 2 and ran
        ),
        what="the toy's chatter",
    )
    assert "toy starting with secret ***" in logs.stdout
    assert "s3cr3t" not in logs.stdout + logs.stderr
    lines = json.loads(cli("logs", "envy", "--tail", "1", "--json").stdout)["lines"]
    assert len(lines) == 1

    with cli.streaming("logs", "envy", "-f", "--tail", "1") as followed:
        first = re.search(r"still here \((\d+)\)", followed.until(lambda x: "still here" in x))
        assert first
        followed.until(lambda line: f"still here ({int(first[1]) + 3})" in line)
    bad = cli("install", "command", "--env-file", str(tmp_path / "missing.env"))
    assert bad.returncode == 2
    assert "cannot read" in _one_error(bad)
    env_file.write_text("TOY_SECRET s3cr3t-no-equals\n")
    bad = cli("install", "command", "--env-file", str(env_file))
    assert bad.returncode == 2
    assert "line 1: expected KEY=VALUE" in _one_error(bad)
    assert "s3cr3t" not in bad.stderr
    assert cli("rm", "envy").returncode == 0


def test_events_follow_installs_and_status_changes(cli: Cli, hub: Hub) -> None:
    with cli.streaming("events") as events:
        for attempt in range(40):
            httpx.post(
                f"{hub.url}/integrations/install",
                json={"source": "command", "id": f"probe{attempt}", "command": TOY},
            )
            try:
                events.until(lambda line: " probe" in line and "installed command" in line, 0.5)
                break
            except AssertionError:
                continue
        _install_toy(cli, "watched")
        events.until(lambda line: line.endswith(" watched installing command"))
        events.until(lambda line: line.endswith(" watched installed command"))
        assert cli("start", "watched").returncode == 0
        events.until(lambda line: " watched stopped -> starting" in line)
        events.until(lambda line: bool(re.search(r" watched starting -> running pid \d+", line)))
        events.process.send_signal(signal.SIGINT)
        assert events.process.wait(10) == 130
        assert events.process.stderr is not None
        assert events.process.stderr.read() == ""
    with cli.streaming("events", "--json") as events:
        for _ in range(40):
            httpx.post(f"{hub.url}/integrations/watched/restart")
            try:
                line = events.until(lambda line: '"to": "running"' in line, 1)
                break
            except AssertionError:
                continue
        event = json.loads(line)
        assert event["event"] == "status"
        assert event["data"]["id"] == "watched"
    assert cli("rm", "watched", *(f"probe{n}" for n in range(attempt + 1))).returncode == 0


def test_import_reports_each_entry(cli: Cli, tmp_path: Path) -> None:
    document = tmp_path / "claude_desktop_config.json"
    servers = {"imported": {"command": TOY[0], "args": TOY[1:]}, "broken": {"args": ["x"]}}
    document.write_text(json.dumps({"mcpServers": servers}))
    ran = cli("import", str(document))
    assert ran.returncode == 1
    assert ran.stdout == "imported: installed\n"
    assert _one_error(ran).startswith("error: broken: ")
    again = cli("import", str(document), "--json")
    assert again.returncode == 1
    results = {r["id"]: r for r in json.loads(again.stdout)["results"]}
    assert results["imported"]["error"]["code"] == "already_installed"
    not_json = tmp_path / "not.json"
    not_json.write_text("{mcpServers")
    assert cli("import", str(not_json)).returncode == 2
    assert cli("rm", "imported").returncode == 0


def test_a_missing_secret_without_a_terminal_is_the_hubs_to_refuse(cli: Cli) -> None:
    ran = cli("install", "postgresql-connector", "--id", "pg-plain")
    assert ran.returncode == 0
    assert "DATABASE_URL" not in ran.stdout + ran.stderr
    start = cli("start", "pg-plain")
    assert start.returncode == 1
    error, advice = start.stderr.splitlines()
    assert error.startswith("error: integration 'pg-plain' cannot start: missing required")
    assert error.endswith("(missing_env, HTTP 422)")
    assert advice.startswith("hint: mcp-integrations rm pg-plain, then install it again")
    assert cli("rm", "pg-plain").returncode == 0


def _become_terminal_owner() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_pty(fd: int, done: Callable[[str], bool], timeout: float = 20) -> str:
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(output.decode(errors="replace")):
        if select.select([fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    return _ANSI.sub("", output.decode(errors="replace"))


def test_a_missing_secret_is_asked_for_without_echo_on_a_terminal(cli: Cli, hub: Hub) -> None:
    assert CLI
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [CLI, "install", "postgresql-connector", "--id", "pg-tty"],
        env=cli.env(),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        preexec_fn=_become_terminal_owner,
    )
    os.close(secondary)
    try:
        asked = _read_pty(primary, lambda text: "DATABASE_URL" in text and text.endswith(": "))
        assert "DATABASE_URL (libpq connection URI" in asked
        os.write(primary, b"postgresql://u:tty-secret-42@localhost/db\n")
        rest = _read_pty(primary, lambda text: "pg-tty: installed" in text)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(primary)
    assert "pg-tty: installed" in rest
    assert "tty-secret-42" not in asked + rest
    exported = httpx.get(f"{hub.url}/integrations/export").json()["mcpServers"]["pg-tty"]
    assert exported["env"]["DATABASE_URL"] == "${DATABASE_URL}"
    assert cli("rm", "pg-tty").returncode == 0


def test_completion_scripts_come_from_the_parser(cli: Cli) -> None:
    bash = cli("completion", "bash")
    assert bash.returncode == 0
    for word in ("install", "--env-file", "completion", "restart", "--tail"):
        assert word in bash.stdout
    for shell in ("zsh", "tcsh"):
        ran = cli("completion", shell)
        assert ran.returncode == 0 and "mcp-integrations" in ran.stdout


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An admin's and a reader's token, made by ``mcp-integrations token``."""
    assert CLI
    made = {}
    for role in ("admin", "reader"):
        printed = subprocess.run(
            [CLI, "token", "--role", role, "--name", role],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        token = re.search(r"not stored\): (\S+)", printed)
        line = re.search(r"token-file line: (.+)", printed)
        assert token and line
        made[role], made[f"{role}-line"] = token[1], line[1]
    return made


@pytest.fixture(scope="module")
def guarded_hub(tmp_path_factory: pytest.TempPathFactory, tokens: dict[str, str]) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("guarded")
    token_file = folder / "tokens"
    token_file.write_text(f"{tokens['admin-line']}\n{tokens['reader-line']}\n")
    args = ["--token-file", str(token_file)]
    with running_hub(folder / "data", folder / "hub.log", args) as running:
        yield running


def test_tokens_come_from_the_environment_or_a_file(
    guarded_hub: Hub, tokens: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli(guarded_hub.url, tmp_path / "config")
    refused = cli("ls")
    assert refused.returncode == 1
    error, advice = refused.stderr.splitlines()
    assert error.endswith("(unauthorized, HTTP 401)")
    assert advice.startswith("hint: set MCP_INTEGRATIONS_TOKEN to a token the hub accepts")
    assert cli("ls", MCP_INTEGRATIONS_TOKEN=tokens["admin"]).returncode == 0

    token_file = tmp_path / "token"
    token_file.write_text(f"{tokens['admin']}\n")
    assert cli("ls", "--json", MCP_INTEGRATIONS_TOKEN_FILE=str(token_file)).returncode == 0
    default = tmp_path / "config" / "mcp-integrations" / "token"
    default.parent.mkdir(parents=True)
    default.write_text(tokens["reader"])
    assert cli("ls").returncode == 0
    forbidden = cli("install", "command", "--option", f"command={json.dumps(TOY)}")
    assert forbidden.returncode == 1
    error, advice = forbidden.stderr.splitlines()
    assert error.endswith("(forbidden, HTTP 403)")
    assert advice.startswith("hint: this needs a token with a higher role")

    token_file.write_text(tokens["admin-line"])
    wrong = cli("ls", MCP_INTEGRATIONS_TOKEN_FILE=str(token_file))
    assert wrong.returncode == 2
    assert "holds a hash" in _one_error(wrong)
