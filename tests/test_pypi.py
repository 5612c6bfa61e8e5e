"""The ``pypi:`` source through the hub's API, with a real MCP server from PyPI.

``mcp-server-time`` is a small, current MCP server of the MCP project, published as a
pure-Python wheel; it brings its own ``mcp`` into its venv. Tests that reach PyPI skip,
saying why, where it cannot be reached. The installers' own failures are checked against
a local index that the tests control: one that holds a request until released (an install
in flight, for as long as the test wants), or answers 500 (an index that is down).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mcp_integrations.errors import InstallFailed
from mcp_integrations.models import InstallRequest
from mcp_integrations_plugins.sources import pypi
from tests.helpers import pid_alive, wait_until

PACKAGE = "mcp-server-time"
VERSION = "2026.10.19"
TOOLS = {"get_current_time", "convert_time"}


@pytest.fixture(scope="module")
def pypi_reachable() -> None:
    """Skip, saying why, when PyPI does not answer from here."""
    try:
        httpx.get(f"https://pypi.org/simple/{PACKAGE}/", timeout=15).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.skip(f"PyPI cannot be reached: {exc}")


def _use(monkeypatch: pytest.MonkeyPatch, installer: str) -> None:
    """Make the hub (in this process) install with ``installer``: ``uv``, the hub's own
    ``pip`` aimed at the venv, or the ``venv-pip`` that a plain venv brings."""
    if installer == "uv":
        if pypi.find_uv() is None:
            pytest.skip("uv is not installed here (neither on PATH nor beside Python)")
        return
    monkeypatch.setattr(pypi, "find_uv", lambda: None)
    if installer == "venv-pip":
        monkeypatch.setattr(pypi, "hub_pip", lambda: False)
    else:
        assert pypi.hub_pip(), "the test environment's pip should support --python"


def workdir(data_dir: Path, integration_id: str) -> Path:
    return data_dir / "integrations" / integration_id


def nothing_left(client: TestClient, data_dir: Path, integration_id: str) -> None:
    assert client.get(f"/integrations/{integration_id}/status").status_code == 404
    assert client.get("/integrations").json()["integrations"] == []
    assert not workdir(data_dir, integration_id).exists()


def error(response: Any, status: int) -> tuple[str, str]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    return body["code"], body["message"]


@pytest.mark.slow
@pytest.mark.usefixtures("pypi_reachable")
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_real_server_installs_runs_and_goes(
    client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    _use(monkeypatch, installer)
    body = {
        "source": f"pypi:{PACKAGE}=={VERSION}",
        "args": ["--local-timezone", "Europe/Paris"],
    }
    installed = client.post("/integrations/install", json=body)
    assert installed.status_code == 201, installed.text
    assert installed.json() == {"id": PACKAGE, "installed": True}
    home = workdir(data_dir, PACKAGE)
    log = (home / "server.log").read_text()
    assert (
        f"installing PyPI package {PACKAGE}=={VERSION} with {installer.removeprefix('venv-')}"
        in log
    )
    assert "--only-binary" in log and f"{PACKAGE}=={VERSION}" in log
    assert f"installed {PACKAGE} {VERSION}" in log
    again = client.post("/integrations/install", json=body)
    assert error(again, 409)[0] == "already_installed"

    started = client.post(f"/integrations/{PACKAGE}/start")
    assert started.status_code == 200, started.text
    status = started.json()
    assert status["status"] == "running" and status["tools_count"] == len(TOOLS)
    assert status["source"] == f"pypi:{PACKAGE}=={VERSION}"
    cmdline = Path(f"/proc/{status['pid']}/cmdline").read_bytes().decode().split("\0")
    assert cmdline[1:4] == [str(home / "venv/bin" / PACKAGE), "--local-timezone", "Europe/Paris"]
    tools = {t["name"]: t for t in client.get(f"/integrations/{PACKAGE}/tools").json()["tools"]}
    assert set(tools) == TOOLS
    described = tools["get_current_time"]["input_schema"]["properties"]["timezone"]
    assert "Europe/Paris" in described["description"], "the 'args' reach the server"

    call = client.post(
        f"/integrations/{PACKAGE}/tools/get_current_time/call",
        json={"arguments": {"timezone": "Asia/Tokyo"}},
    )
    assert call.status_code == 200, call.text
    assert call.json().get("isError", False) is False
    assert call.json()["structuredContent"]["timezone"] == "Asia/Tokyo"
    converted = client.post(
        f"/integrations/{PACKAGE}/tools/convert_time/call",
        json={"arguments": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "UTC"}},
    )
    assert converted.status_code == 200, converted.text
    assert converted.json()["structuredContent"]["time_difference"] == "+0.0h"

    stopped = client.post(f"/integrations/{PACKAGE}/stop").json()
    assert stopped["status"] == "stopped" and not pid_alive(status["pid"])
    assert client.delete(f"/integrations/{PACKAGE}").json() == {"id": PACKAGE, "removed": True}
    nothing_left(client, data_dir, PACKAGE)


@pytest.mark.slow
@pytest.mark.usefixtures("pypi_reachable")
def test_a_command_that_is_not_a_script_of_the_package_is_refused(
    client: TestClient, data_dir: Path
) -> None:
    body = {"source": f"pypi:{PACKAGE}=={VERSION}", "id": "time", "command": "mcp-time"}
    code, message = error(client.post("/integrations/install", json=body), 502)
    assert code == "install_failed"
    assert "no console script 'mcp-time'" in message and f"its scripts are: {PACKAGE}" in message
    nothing_left(client, data_dir, "time")


@pytest.mark.slow
@pytest.mark.usefixtures("pypi_reachable")
@pytest.mark.parametrize("installer", ["uv", "pip", "venv-pip"])
def test_a_package_that_does_not_exist_is_a_4xx_naming_it(
    client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    _use(monkeypatch, installer)
    name = f"mcp-integrations-no-such-package-{secrets.token_hex(4)}"
    response = client.post("/integrations/install", json={"source": f"pypi:{name}"})
    code, message = error(response, 422)
    assert code == "unknown_source" and f"no package {name!r}" in message
    nothing_left(client, data_dir, name)


@pytest.mark.slow
@pytest.mark.usefixtures("pypi_reachable")
def test_a_version_that_does_not_exist_is_a_4xx_naming_it(
    client: TestClient, data_dir: Path
) -> None:
    body = {"source": f"pypi:{PACKAGE}==1999.1.1", "id": "time"}
    code, message = error(client.post("/integrations/install", json=body), 422)
    assert code == "unknown_source" and f"no version matching '{PACKAGE}==1999.1.1'" in message
    nothing_left(client, data_dir, "time")


BAD_REQUIREMENTS = [
    ("--index-url=http://x", "pip option"),
    ("-e .", "pip option"),
    ("pkg @ https://evil/x.whl", "URL"),
    ("pkg@https://evil/x.whl", "URL"),
    ('pkg; python_version>"3"', "marker"),
    ("pkg;python_version>'3'", "marker"),
    ("pkg && rm -rf /", "spaces"),
    ("pkg$(id)", "not a requirement"),
    ("pkg`id`", "not a requirement"),
    ("pkg|id", "not a requirement"),
    ("../../x", "path"),
    ("/tmp/x.whl", "path"),
    ("pkg x", "spaces"),
    ("--index-url=https://evil.example/simple/" + "x" * 120, "pip option"),
    ("pkg[", "not a valid requirement"),
    ("pkg==1.0==", "not a valid requirement"),
    ("", "names no package"),
]


@pytest.mark.parametrize(("requirement", "why"), BAD_REQUIREMENTS)
def test_what_is_not_a_plain_requirement_is_a_400(
    client: TestClient, data_dir: Path, requirement: str, why: str
) -> None:
    source = f"pypi:{requirement}"
    code, message = error(client.post("/integrations/install", json={"source": source}), 400)
    assert code == "bad_request" and message.startswith("'source' ")
    assert why in message and repr(source[:40])[1:-1] in message
    assert source[41:] not in message or len(source) <= 41, "at most a short prefix is echoed"
    assert not (data_dir / "integrations").exists() or not any(
        (data_dir / "integrations").iterdir()
    )
    assert client.get("/integrations").json()["integrations"] == []


def test_a_shell_in_the_requirement_never_runs(
    client: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    canary = tmp_path / "ran"
    for source in (f"pypi:pkg;touch {canary}", f"pypi:pkg&&touch${{IFS}}{canary}"):
        assert client.post("/integrations/install", json={"source": source}).status_code == 400
    assert not canary.exists()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"command": "../bin/sh"}, "'command'"),
        ({"command": ["x"]}, "'command'"),
        ({"args": "--flag"}, "'args'"),
        ({"args": [1]}, "'args' argument 0"),
        ({"arg": ["x"]}, "unknown option 'arg'"),
    ],
)
def test_bad_options_are_a_400_naming_them(
    client: TestClient, body: dict[str, Any], named: str
) -> None:
    response = client.post("/integrations/install", json={"source": "pypi:pkg", **body})
    assert named in error(response, 400)[1]


def test_the_requirement_is_normalised_and_names_the_id() -> None:
    source = "pypi:Mcp_Server.Time[B,a]>=1,<3"
    spec = pypi.resolve_source(source, InstallRequest(source))
    assert spec is not None
    assert spec.package == "pypi:mcp-server-time[a,b]<3,>=1"
    assert spec.default_id == "mcp-server-time" and spec.arbitrary_code
    assert spec.command == ("mcp-server-time",)


@pytest.mark.parametrize(
    ("scripts", "wanted", "picked"),
    [
        (["mcp-server-time"], "mcp-server-time", "mcp-server-time"),
        (["mcp_server_time", "other"], "mcp-server-time", "mcp_server_time"),
        (["serve"], "mcp-server-time", "serve"),
        (["serve", "other"], "other", "other"),
        (["serve", "other"], "mcp-server-time", "several console scripts; give the one"),
        (["serve"], "nope", "no console script 'nope'; its scripts are: serve"),
        ([], "mcp-server-time", "declares no console script"),
    ],
)
def test_which_console_script_runs(scripts: list[str], wanted: str, picked: str) -> None:
    """Without 'command', ``wanted`` is the project's name (what ``resolve_source`` puts)."""
    found = {name: Path("/venv/bin", name) for name in scripts}
    if picked in scripts:
        assert pypi._pick_script(found, wanted, "mcp-server-time") == picked
    else:
        with pytest.raises(InstallFailed, match=re.escape(picked)):
            pypi._pick_script(found, wanted, "mcp-server-time")


class _Index(BaseHTTPRequestHandler):
    """A package index that has nothing: ``stall-*`` projects are answered (404) only when
    the test releases them, ``broken-*`` ones with 500, everything else with 404."""

    arrived: threading.Event
    release: threading.Event

    def do_GET(self) -> None:
        if "/stall-" in self.path:
            self.arrived.set()
            self.release.wait(60)
        self.send_response(500 if "/broken-" in self.path else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def local_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Index]]:
    """The local index as the only one both installers know, through their own settings
    in the hub's environment (which the hub passes on to them)."""

    class Index(_Index):
        arrived = threading.Event()
        release = threading.Event()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", url)
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "120")
    monkeypatch.setenv("UV_HTTP_TIMEOUT", "120")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_DEFAULT_INDEX", url)
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    try:
        yield Index
    finally:
        Index.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_other_calls_answer_while_an_install_runs(
    client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    _use(monkeypatch, installer)
    with local_index(monkeypatch) as index, ThreadPoolExecutor(1) as pool:
        install = pool.submit(client.post, "/integrations/install", json={"source": "pypi:stall-x"})
        try:
            assert index.arrived.wait(60), "the installer should ask the index"
            assert workdir(data_dir, "stall-x").is_dir()
            listed = client.get("/integrations")
            assert listed.status_code == 200 and listed.json() == {"integrations": []}
            assert client.get("/integrations/stall-x/status").status_code == 404
            assert not install.done(), "the install waits on the index until released"
        finally:
            index.release.set()
        code, message = error(install.result(timeout=120), 422)
    assert code == "unknown_source" and "no package 'stall-x'" in message
    nothing_left(client, data_dir, "stall-x")


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_an_index_that_fails_is_a_502_not_a_missing_package(
    client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    _use(monkeypatch, installer)
    with local_index(monkeypatch):
        response = client.post("/integrations/install", json={"source": "pypi:broken-x"})
    code, message = error(response, 502)
    assert code == "install_failed" and "broken-x" in message
    nothing_left(client, data_dir, "broken-x")


def test_an_install_that_takes_too_long_is_stopped(
    client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, "pip")
    monkeypatch.setattr(pypi, "INSTALL_TIMEOUT_SECS", 3.0)
    with local_index(monkeypatch) as index:
        response = client.post("/integrations/install", json={"source": "pypi:stall-y"})
        assert index.arrived.is_set()
    code, message = error(response, 502)
    assert code == "install_failed" and "took over 3s" in message
    nothing_left(client, data_dir, "stall-y")
    wait_until(lambda: not _installers_left(), what="the installer to be gone")


def _installers_left() -> list[str]:
    """Live processes that run pip for a ``stall-y`` install."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and b"stall-y" in cmdline and pid_alive(int(proc.name)):
            found.append(proc.name)
    return found
