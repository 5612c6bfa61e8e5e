"""Environment that changes which code runs: refused for connectors, an admin's for code;
``${VAR}`` references resolved from the hub's environment only at start, and masked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mcp_integrations.envpolicy import controls_interpreter, resolve_references
from mcp_integrations.errors import UnresolvedReference
from mcp_integrations.models import Integration, LaunchSpec
from mcp_integrations.store import SQLiteStore
from tests.conftest import MakeClient
from tests.helpers import toy_install, wait_until


def browser_payload(marker: Path) -> dict[str, str]:
    """Importing ``antigravity`` opens a web browser, which runs ``$BROWSER``."""
    return {"PYTHONWARNINGS": "ignore::antigravity.X", "BROWSER": f"touch {marker} #%s"}


def test_the_payload_is_real(tmp_path: Path) -> None:
    """Control: the variables alone make a bare Python run a command."""
    marker = tmp_path / "ran"
    env = {"PATH": os.environ["PATH"], **browser_payload(marker)}
    subprocess.run([sys.executable, "-c", "pass"], env=env, timeout=60, check=False)
    wait_until(marker.exists, what="the BROWSER command to run")


@pytest.mark.parametrize(
    "name",
    [
        "PYTHONWARNINGS",
        "PYTHONPATH",
        "LD_PRELOAD",
        "NODE_OPTIONS",
        "BROWSER",
        "PERL5OPT",
        "RUBYOPT",
        "GIT_SSH_COMMAND",
        "BASH_ENV",
        "JAVA_TOOL_OPTIONS",
        "pythonstartup",
        "PATH",
    ],
)
def test_interpreter_control_names(name: str) -> None:
    assert controls_interpreter(name)


@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "DATABASE_URL", "PGHOST", "LANG", "MY_PATH"])
def test_ordinary_names(name: str) -> None:
    assert not controls_interpreter(name)


def test_a_connector_may_not_get_interpreter_variables(client: TestClient, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    body = {
        "source": "github-connector",
        "env": {"GITHUB_TOKEN": "t" * 20, **browser_payload(marker)},
    }
    response = client.post("/integrations/install", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "env_not_allowed"
    assert "BROWSER" in error["message"] and "PYTHONWARNINGS" in error["message"]
    assert client.get("/integrations").json() == {"integrations": []}
    assert not marker.exists()


def test_an_admin_may_set_them_for_a_command(client: TestClient) -> None:
    body = toy_install(PYTHONDONTWRITEBYTECODE="1")
    assert client.post("/integrations/install", json=body).status_code == 201


def test_a_stored_connector_with_them_never_starts(
    data_dir: Path, make_client: MakeClient, tmp_path: Path
) -> None:
    """Data written before this check (or by hand) is checked again at every start."""
    marker = tmp_path / "ran"
    env = {"GITHUB_TOKEN": "t" * 20, **browser_payload(marker)}
    spec = LaunchSpec(
        runtime="subprocess",
        command=(sys.executable, "-m", "mcp_integrations_connectors.github"),
        env=env,
        secret_env=("GITHUB_TOKEN",),
        arbitrary_code=False,
        declared_env=("GITHUB_TOKEN",),
    )
    store = SQLiteStore(data_dir / "integrations.sqlite3")
    store.add(Integration("gh", "github-connector", spec))
    store.close()
    client = make_client()
    response = client.post("/integrations/gh/start")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "env_not_allowed")
    assert client.get("/integrations/gh/status").json()["pid"] is None
    assert not marker.exists()


def test_references_resolve_at_start_and_count_as_secrets() -> None:
    spec = LaunchSpec(runtime="subprocess", env={"URL": "postgresql://u:${PW}@h/db", "X": "plain"})
    resolved = resolve_references(spec, {"PW": "s3cret-pw"})
    assert resolved.env == {"URL": "postgresql://u:s3cret-pw@h/db", "X": "plain"}
    assert resolved.secret_env == ("URL",)
    assert resolve_references(resolved, {}) is resolved
    with pytest.raises(UnresolvedReference, match=r"\$\{PW\}"):
        resolve_references(spec, {})
    hub_own = LaunchSpec(runtime="subprocess", env={"T": "${MCP_INTEGRATIONS_TOKEN}"})
    with pytest.raises(UnresolvedReference):
        resolve_references(hub_own, {"MCP_INTEGRATIONS_TOKEN": "x" * 20})


def test_a_reference_reaches_the_server_masked_and_never_the_disk(
    client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "hub-side-secret-4711"
    body = toy_install("ref", TOY_SECRET="${TEST_REFERENCED_SECRET}")
    assert client.post("/integrations/install", json=body).status_code == 201
    response = client.post("/integrations/ref/start")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unresolved_reference"

    monkeypatch.setenv("TEST_REFERENCED_SECRET", value)
    assert client.post("/integrations/ref/start").json()["status"] == "running"
    log = data_dir / "integrations" / "ref" / "server.log"
    wait_until(lambda: "toy starting with secret" in log.read_text(), what="the toy's stderr")
    assert "toy starting with secret ***" in log.read_text()
    on_disk = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert value.encode() not in on_disk
    client.post("/integrations/ref/stop")


def test_references_to_the_hubs_own_settings_are_refused(client: TestClient) -> None:
    body = toy_install("ref", TOY_SECRET="${MCP_INTEGRATIONS_TOKEN}")
    response = client.post("/integrations/install", json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
