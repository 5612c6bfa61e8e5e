"""What users already have: ``mcpServers`` documents in and out, and the registry's
``server.json``; one bad entry never stops the others."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_integrations.errors import BadRequest
from mcp_integrations.mcpservers import MAX_ENTRIES, entry_request, export_entry
from mcp_integrations.models import Integration, LaunchSpec
from tests.docker_image import server_image
from tests.helpers import TOY_SERVER, free_port
from tests.test_remote import remote_server

TOKEN = "Bearer import-secret-0123456"
CLAUDE_DESKTOP = {
    "mcpServers": {
        "toy": {
            "command": sys.executable,
            "args": [str(TOY_SERVER)],
            "env": {"TOY_SECRET": "toy-secret-value-77"},
        },
        "far": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": TOKEN}},
        "far-sse": {"url": "http://127.0.0.1:9/sse", "type": "sse"},
        "broken": {"args": ["no command"]},
        "../escape": {"command": "true"},
    }
}


@pytest.mark.parametrize(
    ("entry", "source", "options"),
    [
        (
            {"command": "npx", "args": ["-y", "@scope/server", "--flag"]},
            "npm:@scope/server",
            {"args": ["--flag"]},
        ),
        ({"command": "uvx", "args": ["mcp-server-time"]}, "pypi:mcp-server-time", {}),
        ({"command": "uvx", "args": ["mcp-server-time@1.2"]}, "pypi:mcp-server-time==1.2", {}),
        ({"command": "uvx", "args": ["x@latest"]}, "pypi:x", {}),
        ({"command": "docker", "args": ["run", "-i", "--rm", "mcp/time"]}, "docker:mcp/time", {}),
        (
            {"command": "uvx", "args": ["--from", "x", "y"]},
            "command",
            {"command": "uvx", "args": ["--from", "x", "y"]},
        ),
        (
            {"command": "node", "args": ["s.js"], "cwd": "/srv"},
            "command",
            {"command": "node", "args": ["s.js"], "cwd": "/srv"},
        ),
        (
            {"url": "https://h/mcp", "type": "http"},
            "https://h/mcp",
            {"transport": "streamable-http", "headers": None},
        ),
    ],
)
def test_entries_become_installs(
    entry: dict[str, Any], source: str, options: dict[str, Any]
) -> None:
    request = entry_request("x", entry)
    assert (request.source, request.id, dict(request.options)) == (source, "x", options)


def test_a_bad_entry_is_named() -> None:
    with pytest.raises(BadRequest, match="'broken'"):
        entry_request("broken", {"args": []})


def test_import_installs_each_entry_on_its_own(client: TestClient) -> None:
    response = client.post("/integrations/import", json=CLAUDE_DESKTOP)
    assert response.status_code == 200, response.text
    results = {r["id"]: r for r in response.json()["results"]}
    assert {k for k, r in results.items() if r["installed"]} == {"toy", "far", "far-sse"}
    assert results["broken"]["error"]["code"] == "bad_request"
    assert results["../escape"]["error"]["code"] == "invalid_id"
    listed = {i["id"] for i in client.get("/integrations").json()["integrations"]}
    assert listed == {"toy", "far", "far-sse"}
    assert client.post("/integrations/toy/start").json()["status"] == "running"
    assert "import-secret" not in response.text and "toy-secret" not in response.text

    again = client.post(
        "/integrations/import", json={"mcpServers": {"toy": CLAUDE_DESKTOP["mcpServers"]["toy"]}}
    )
    assert again.json()["results"][0]["error"]["code"] == "already_installed"
    assert client.get("/integrations/toy/status").json()["status"] == "running"


def test_too_many_entries_are_refused_whole(client: TestClient) -> None:
    many = {"mcpServers": {f"s{i}": {"command": "true"} for i in range(MAX_ENTRIES + 1)}}
    response = client.post("/integrations/import", json=many)
    assert response.status_code == 400 and str(MAX_ENTRIES) in response.json()["error"]["message"]
    assert client.get("/integrations").json() == {"integrations": []}


def test_export_leaves_secrets_as_references(client: TestClient) -> None:
    client.post("/integrations/import", json=CLAUDE_DESKTOP)
    exported = client.get("/integrations/export").json()["mcpServers"]
    assert exported["toy"] == {
        "command": sys.executable,
        "args": [str(TOY_SERVER)],
        "env": {"TOY_SECRET": "${TOY_SECRET}"},
    }
    assert exported["far"] == {
        "url": "http://127.0.0.1:9/mcp",
        "type": "http",
        "headers": {"Authorization": "${AUTHORIZATION}"},
    }
    assert exported["far-sse"]["type"] == "sse"


def test_export_of_packages_and_images() -> None:
    def spec(**fields: Any) -> Integration:
        return Integration("x", "src", LaunchSpec(**fields))

    pypi = spec(
        runtime="subprocess",
        command=("/d/venv/bin/mcp-server-time", "--tz=UTC"),
        package="pypi:mcp-server-time==1",
    )
    assert export_entry(pypi) == {
        "command": "uvx",
        "args": ["--from", "mcp-server-time==1", "mcp-server-time", "--tz=UTC"],
    }
    npm = spec(
        runtime="subprocess", command=("/usr/bin/node", "/d/npm/x.js", "a"), package="npm:@s/x@1"
    )
    assert export_entry(npm) == {"command": "npx", "args": ["-y", "@s/x@1", "a"]}
    docker = spec(runtime="docker", image="mcp/time", env={"TZ": "UTC"}, secret_env=("TZ",))
    assert export_entry(docker) == {
        "command": "docker",
        "args": ["run", "-i", "--rm", "-e", "TZ", "mcp/time"],
        "env": {"TZ": "${TZ}"},
    }
    connector = spec(
        runtime="subprocess", command=("py", "-m", "m"), env={"A": "1", "S": "s"}, secret_env=("S",)
    )
    assert export_entry(connector)["env"] == {"A": "1", "S": "${S}"}


def test_autostart(client: TestClient) -> None:
    body = {
        "source": "command",
        "id": "toy",
        "command": [sys.executable, str(TOY_SERVER)],
        "autostart": True,
    }
    response = client.post("/integrations/install", json=body)
    assert (response.status_code, response.json()) == (
        201,
        {"id": "toy", "installed": True, "status": "running"},
    )


def test_a_registry_server_json_installs(client: TestClient) -> None:
    server_json = {
        "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
        "name": "io.example/weather",
        "version": "1.0.0",
        "remotes": [{"type": "sse", "url": "http://127.0.0.1:9/sse"}],
        "headers": {"Authorization": TOKEN},
    }
    response = client.post("/integrations/install", json=server_json)
    assert (response.status_code, response.json()["id"]) == (201, "weather")
    assert client.get("/integrations/export").json()["mcpServers"]["weather"]["type"] == "sse"
    nothing = {
        "$schema": server_json["$schema"],
        "name": "io.example/none",
        "packages": [{"registryType": "mcpb"}],
    }
    assert client.post("/integrations/install", json=nothing).status_code == 400


def _docker_image() -> str | None:
    """The docker test image's tag, or None where no daemon answers (that entry is left
    out, as it would be from a machine without docker)."""
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return server_image().tag if info.returncode == 0 else None


def test_a_real_claude_desktop_config_moves_over_whole(client: TestClient) -> None:
    """npx, uvx, docker, a URL with a token, a script with env, a module with env: every
    entry is listed and starts (packages from the real npm and PyPI registries)."""
    port = free_port()
    servers: dict[str, Any] = {
        "everything": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-everything@2026.8.31"],
        },
        "time": {"command": "uvx", "args": ["mcp-server-time@2026.10.19"]},
        "remote": {"url": f"http://127.0.0.1:{port}/mcp", "headers": {"Authorization": TOKEN}},
        "script": {
            "command": sys.executable,
            "args": [str(TOY_SERVER)],
            "env": {"TOY_SECRET": "script-secret-0042"},
        },
        "github": {
            "command": sys.executable,
            "args": ["-m", "mcp_integrations_connectors.github"],
            "env": {"GITHUB_TOKEN": "ghp_imported-token-0042"},
        },
    }
    image = _docker_image()
    if image is not None:
        servers["container"] = {"command": "docker", "args": ["run", "-i", "--rm", image]}
    with remote_server("streamable-http", port):
        response = client.post("/integrations/import", json={"mcpServers": servers})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["id"] for r in results if r["installed"]] == list(servers), results
        listed = {i["id"] for i in client.get("/integrations").json()["integrations"]}
        assert listed == set(servers)
        for integration_id in servers:
            started = client.post(f"/integrations/{integration_id}/start").json()
            assert started["status"] == "running", started
            assert started["tools_count"] > 0, started
            client.post(f"/integrations/{integration_id}/stop")
    exported = client.get("/integrations/export").json()["mcpServers"]
    assert exported["time"]["command"] == "uvx" and exported["everything"]["command"] == "npx"
    assert "ghp_imported" not in json.dumps(exported)
