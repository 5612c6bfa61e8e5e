"""The ``npm:`` source through the hub's API, with a real MCP server from the npm registry:
installed once for the module (npm's cache makes the second install of it quick), run with
the machine's node, called, stopped and removed; and the specs and failures it refuses."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.errors import BadRequest
from mcp_integrations.models import InstallRequest
from mcp_integrations.plugins import make_plugin_manager
from mcp_integrations_plugins.sources import npm
from tests.conftest import FAST_RESTARTS, TEST_SETTINGS
from tests.helpers import pid_alive

PACKAGE = "@modelcontextprotocol/server-everything"
#: Pinned: the tool count below is this version's; it runs on node 20.
VERSION = "2026.8.31"
SOURCE = f"npm:{PACKAGE}@{VERSION}"
BIN = "mcp-server-everything"
#: What this version lists for a client that declares sampling, elicitation and roots.
TOOLS_COUNT = 17


@dataclass
class Hub:
    http: TestClient
    data_dir: Path

    def workdir(self, integration_id: str) -> Path:
        return self.data_dir / "integrations" / integration_id

    def ids(self) -> list[str]:
        return [i["id"] for i in self.http.get("/integrations").json()["integrations"]]


@pytest.fixture(scope="module")
def registry() -> None:
    """Skip, saying why, where node, npm or the registry is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("npm tests need node and npm on PATH")
    try:
        found = subprocess.run(
            ["npm", "view", f"{PACKAGE}@{VERSION}", "version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("the npm registry did not answer in 60s")
    if found.returncode != 0 or found.stdout.strip() != VERSION:
        pytest.skip(f"the npm registry does not serve {PACKAGE}@{VERSION}: {found.stderr[-300:]}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One in-process hub for the module, with its own data dir."""
    data_dir = tmp_path_factory.mktemp("npm") / "data"
    app = create_app(
        data_dir, settings=TEST_SETTINGS, plugin_manager=make_plugin_manager(), policy=FAST_RESTARTS
    )
    with TestClient(app) as http:
        yield Hub(http, data_dir)


def _error(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.mark.usefixtures("registry")
def test_installs_starts_calls_stops_and_removes_a_real_npm_server(hub: Hub) -> None:
    began = time.monotonic()
    installed = hub.http.post("/integrations/install", json={"source": SOURCE, "args": ["stdio"]})
    assert installed.status_code == 201, installed.text
    assert installed.json() == {"id": "server-everything", "installed": True}
    install_secs = time.monotonic() - began
    workdir = hub.workdir("server-everything")
    log = (workdir / "server.log").read_text()
    assert f"installing npm package {PACKAGE}@{VERSION}" in log
    assert "--ignore-scripts" in log and "npm install exited with code 0" in log

    started = hub.http.post("/integrations/server-everything/start")
    assert started.status_code == 200, started.text
    status = started.json()
    assert status["status"] == "running"
    assert status["source"] == SOURCE
    # node on the hub's PATH runs the bin's file inside the workdir: no npm, no network
    cmdline = Path(f"/proc/{status['pid']}/cmdline").read_bytes().decode().split("\0")[:-1]
    entry = workdir / "npm" / "node_modules" / PACKAGE / "dist" / "index.js"
    assert cmdline == [shutil.which("node"), str(entry.resolve()), "stdio"]

    deadline = time.monotonic() + 10
    while True:  # the server lists more tools once it has seen the client's capabilities
        tools = hub.http.get("/integrations/server-everything/tools").json()["tools"]
        if len(tools) >= TOOLS_COUNT or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    names = {tool["name"] for tool in tools}
    assert len(tools) == TOOLS_COUNT, sorted(names)
    assert {"echo", "get-sum", "get-env"} <= names
    status = hub.http.get("/integrations/server-everything/status").json()
    assert status["status"] == "running" and status["tools_count"] == TOOLS_COUNT

    called = hub.http.post(
        "/integrations/server-everything/tools/echo/call", json={"arguments": {"message": "hi"}}
    )
    assert called.status_code == 200, called.text
    result = called.json()
    assert result["content"] == [{"type": "text", "text": "Echo: hi"}]
    assert result.get("isError", False) is False

    stopped = hub.http.post("/integrations/server-everything/stop")
    assert stopped.json()["status"] == "stopped"
    assert not pid_alive(status["pid"])
    removed = hub.http.delete("/integrations/server-everything")
    assert removed.json() == {"id": "server-everything", "removed": True}
    assert not workdir.exists()
    assert "server-everything" not in hub.ids()
    print(f"npm install of {SOURCE}: {install_secs:.1f}s")


@pytest.mark.usefixtures("registry")
def test_a_package_the_registry_does_not_have_is_a_quick_422_naming_it(hub: Hub) -> None:
    name = f"mcp-integrations-missing-{uuid.uuid4().hex[:12]}"
    began = time.monotonic()
    response = hub.http.post("/integrations/install", json={"source": f"npm:{name}"})
    assert time.monotonic() - began < 30
    assert response.status_code == 422, response.text
    assert _error(response)["code"] == "unknown_source"
    assert name in _error(response)["message"]
    assert name not in hub.ids()
    assert not hub.workdir(name).exists()


@pytest.mark.usefixtures("registry")
def test_a_version_the_package_does_not_have_is_a_422(hub: Hub) -> None:
    response = hub.http.post(
        "/integrations/install", json={"source": f"npm:{PACKAGE}@^999", "id": "nine"}
    )
    assert response.status_code == 422, response.text
    assert "no version matching" in _error(response)["message"]
    assert not hub.workdir("nine").exists()


@pytest.mark.usefixtures("registry")
def test_a_command_that_is_not_a_bin_is_a_502_listing_the_bins(hub: Hub) -> None:
    body = {"source": SOURCE, "id": "wrong-bin", "command": "nope"}
    response = hub.http.post("/integrations/install", json=body)
    assert response.status_code == 502, response.text
    assert _error(response)["code"] == "install_failed"
    assert "'nope'" in _error(response)["message"] and BIN in _error(response)["message"]
    assert "wrong-bin" not in hub.ids()
    assert not hub.workdir("wrong-bin").exists()


BAD_SOURCES = [
    "npm:--prefix=/tmp/x",
    "npm:-g",
    "npm:git+https://evil/x.git",
    "npm:github:user/repo",
    "npm:user/repo",
    "npm:https://evil.example/x.tgz",
    "npm:../x",
    "npm:/etc/passwd",
    "npm:x; rm -rf /",
    "npm:x@1 || rm",
    "npm:$(id)",
    "npm:file:/etc",
    "npm:x@file:../y",
    "npm:x@npm:y",
    "npm:Upper",
    "npm:.hidden",
    "npm:_private",
    "npm:@scope",
    "npm:@scope/",
    "npm:@a/b/c",
    "npm:x@",
    "npm:x@1.2.3.4",
    "npm:node_modules",
    "npm:",
    "npm:x\\y",
    "npm:x @1",
]


@pytest.mark.parametrize("source", BAD_SOURCES)
def test_a_spec_npm_would_read_as_anything_but_a_package_is_a_400(
    hub: Hub, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[object, ...]] = []

    def run_npm(*args: object) -> list[str]:
        ran.append(args)
        return []

    monkeypatch.setattr(npm, "_run_npm", run_npm)
    response = hub.http.post("/integrations/install", json={"source": source, "id": "bad"})
    assert response.status_code == 400, response.text
    message = _error(response)["message"]
    assert message.startswith("'source'") and len(message) < 400
    assert ran == [] and "bad" not in hub.ids() and not hub.workdir("bad").exists()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"command": ["x"]}, "'command'"),
        ({"command": "--inspect"}, "'command'"),
        ({"command": "../x"}, "'command'"),
        ({"args": "stdio"}, "'args'"),
        ({"args": [1]}, "'args'"),
        ({"args": ["a\u0000b"]}, "'args'"),
        ({"arg": ["stdio"]}, "'arg'"),
    ],
)
def test_bad_options_are_a_400_naming_the_field(
    hub: Hub, options: dict[str, Any], field: str
) -> None:
    body = {"source": SOURCE, "id": "bad", **options}
    response = hub.http.post("/integrations/install", json=body)
    assert response.status_code == 400, response.text
    assert field in _error(response)["message"]
    assert not hub.workdir("bad").exists()


@pytest.mark.parametrize(
    ("source", "name", "version"),
    [
        ("npm:@modelcontextprotocol/server-everything", PACKAGE, None),
        ("npm:@scope/name@1.2.3", "@scope/name", "1.2.3"),
        ("npm:name@^1", "name", "^1"),
        ("npm:name@~1.2.3-beta.1", "name", "~1.2.3-beta.1"),
        ("npm:name@>=1.2", "name", ">=1.2"),
        ("npm:name@1.x||2", "name", "1.x||2"),
        ("npm:name@latest", "name", "latest"),
        ("npm:a.b_c-d~e", "a.b_c-d~e", None),
    ],
)
def test_specs_npm_names_packages_with(source: str, name: str, version: str | None) -> None:
    spec = npm.parse_spec(source)
    assert (spec.name, spec.version) == (name, version)


def test_the_spec_resolves_without_network_to_a_placeholder_prepare_completes() -> None:
    request = InstallRequest(
        "npm:@scope/some-server@1", env={"TOKEN": "t"}, options={"args": ["--x"]}
    )
    spec = npm.resolve_source(source=request.source, request=request)
    assert spec is not None
    assert spec.command == ("some-server", "--x")
    assert spec.package == "npm:@scope/some-server@1" and spec.default_id == "some-server"
    assert spec.arbitrary_code and spec.secret_env == ("TOKEN",) and spec.runtime == "subprocess"
    with pytest.raises(BadRequest, match="'source'"):
        npm.resolve_source(source="npm:x y", request=InstallRequest("npm:x y"))
    assert npm.resolve_source(source="npmx", request=InstallRequest("npmx")) is None
