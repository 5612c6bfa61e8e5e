"""Who may call the hub: bearer tokens with roles, a third-party auth plugin by entry point,
and a hub that will not serve the network without a token."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_integrations.cli import parser, settings_from
from mcp_integrations.models import Role
from mcp_integrations.plugins import make_plugin_manager
from mcp_integrations.settings import Settings
from mcp_integrations.tokens import TokenTable, hash_token
from tests.conftest import MakeClient
from tests.helpers import toy_install

ADMIN, OPERATOR, READER = (
    "admin-token-0123456789",
    "operator-token-0123456",
    "reader-token-01234567",
)
TOKEN_FILE = f"""
# the hub's callers
{hash_token(OPERATOR)} operator ci
{hash_token(READER)}   reader            # a dashboard
"""


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def locked(make_client: MakeClient) -> TestClient:
    tokens = TokenTable.plain(ADMIN) + TokenTable.parse(TOKEN_FILE.splitlines())
    return make_client(Settings(allowed_hosts=("testserver",), tokens=tokens))


def code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_token_files_keep_hashes_roles_and_names() -> None:
    table = TokenTable.parse(TOKEN_FILE.splitlines())
    operator, reader = table.lookup(OPERATOR), table.lookup(READER)
    assert operator is not None and (operator.name, operator.role) == ("ci", Role.OPERATOR)
    assert reader is not None and (reader.name, reader.role) == ("#4", Role.READER)
    assert table.lookup(ADMIN) is None and table.lookup("") is None
    assert OPERATOR not in TOKEN_FILE


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("sha256:abcd reader", "64 hexadecimal"),
        (f"{hash_token('x')} superuser", "unknown role"),
        ("md5:0123 admin", "expected"),
        (f"{hash_token('x')} admin name extra", "expected"),
    ],
)
def test_a_bad_token_file_line_is_named(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        TokenTable.parse(["# fine", line], "tokens.txt")
    assert "tokens.txt, line 2" in str(caught.value)


def test_short_tokens_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        TokenTable.plain("hunter2")


def test_without_a_token_the_answer_is_401_with_a_challenge(locked: TestClient) -> None:
    for headers in ({}, bearer("wrong-token-0123456789"), {"authorization": "Basic YTpi"}):
        response = locked.get("/integrations", headers=headers)
        assert code(response) == (401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert locked.post("/integrations/install", json=toy_install()).status_code == 401
    assert locked.get("/integrations", headers=bearer(ADMIN)).json() == {"integrations": []}


def test_readers_read_operators_run_admins_install_code(locked: TestClient) -> None:
    connector = {"source": "github-connector"}
    assert code(locked.post("/integrations/install", json=connector, headers=bearer(READER))) == (
        403,
        "forbidden",
    )
    assert (
        locked.post("/integrations/install", json=connector, headers=bearer(OPERATOR)).status_code
        == 201
    )
    assert (
        locked.get("/integrations/github-connector/status", headers=bearer(READER)).status_code
        == 200
    )
    assert code(locked.post("/integrations/github-connector/stop", headers=bearer(READER))) == (
        403,
        "forbidden",
    )
    assert (
        locked.post("/integrations/github-connector/stop", headers=bearer(OPERATOR)).status_code
        == 200
    )

    response = locked.post("/integrations/install", json=toy_install(), headers=bearer(OPERATOR))
    assert code(response) == (403, "forbidden")
    assert "arbitrary code" in response.json()["error"]["message"]
    assert (
        locked.post("/integrations/install", json=toy_install(), headers=bearer(ADMIN)).status_code
        == 201
    )
    assert code(locked.delete("/integrations/toy", headers=bearer(READER))) == (403, "forbidden")
    assert locked.delete("/integrations/toy", headers=bearer(OPERATOR)).status_code == 200


def test_an_open_hub_ignores_tokens(client: TestClient) -> None:
    assert client.get("/integrations", headers=bearer("anything-at-all-0123")).status_code == 200


HEADER_PLUGIN = '''
from mcp_integrations import hookimpl
from mcp_integrations.errors import Unauthorized
from mcp_integrations.models import Principal, Role


@hookimpl
def authenticate(request, settings):
    """Trust the identity a front proxy put in X-Remote-User (name:role)."""
    value = request.headers.get("x-remote-user")
    if value is None:
        return None
    name, _, role = value.partition(":")
    if not name:
        raise Unauthorized("X-Remote-User names nobody")
    return Principal(name, Role.parse(role or "reader"))
'''


@pytest.fixture
def header_auth_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A distribution on sys.path that announces an auth plugin in the ``mcp_integrations``
    entry-point group, as ``pip install`` would lay it out."""
    site = tmp_path / "site"
    dist_info = site / "header_auth-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (site / "header_auth_plugin.py").write_text(HEADER_PLUGIN)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: header-auth\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[mcp_integrations]\nheader = header_auth_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return "header"


def test_a_third_party_auth_plugin_by_entry_point(
    header_auth_distribution: str, make_client: MakeClient
) -> None:
    pm = make_plugin_manager()
    try:
        assert pm.get_plugin(header_auth_distribution) is not None
        client = make_client(
            Settings(allowed_hosts=("testserver",), tokens=TokenTable.plain(ADMIN)), pm
        )
        as_alice = {"x-remote-user": "alice:operator"}
        assert (
            client.post(
                "/integrations/install", json={"source": "github-connector"}, headers=as_alice
            ).status_code
            == 201
        )
        response = client.post("/integrations/install", json=toy_install(), headers=as_alice)
        assert code(response) == (403, "forbidden")
        assert "'alice' has the operator role" in response.json()["error"]["message"]
        assert code(client.get("/integrations", headers={"x-remote-user": ":admin"})) == (
            401,
            "unauthorized",
        )
        assert client.get("/integrations", headers=bearer(ADMIN)).status_code == 200
        assert client.get("/integrations").status_code == 401
    finally:
        pm.unregister(name=header_auth_distribution)
        sys.modules.pop("header_auth_plugin", None)


def _settings(*argv: str, environ: dict[str, str] | None = None) -> Settings:
    return settings_from(parser().parse_args(["serve", *argv]), environ or {})


def test_the_network_needs_a_token_or_insecure(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"refusing to serve 0\.0\.0\.0 without a token"):
        _settings("--host", "0.0.0.0")
    assert _settings("--host", "0.0.0.0", "--insecure").open_access
    assert not _settings("--host", "0.0.0.0", "--token", ADMIN).open_access
    from_env = _settings("--host", "::", environ={"MCP_INTEGRATIONS_TOKEN": ADMIN})
    assert from_env.tokens.lookup(ADMIN) is not None
    token_file = tmp_path / "tokens"
    token_file.write_text(TOKEN_FILE)
    from_file = _settings("--host", "192.0.2.1", "--token-file", str(token_file))
    assert from_file.tokens.lookup(READER) is not None
    with pytest.raises(ValueError, match="cannot read the token file"):
        _settings("--token-file", str(tmp_path / "missing"))
    assert _settings().open_access and _settings("--host", "localhost").open_access


def test_serve_refuses_to_start_open_on_the_network(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcp_integrations",
            "serve",
            "--host",
            "0.0.0.0",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to serve 0.0.0.0 without a token" in result.stderr
    assert not (tmp_path / "integrations.sqlite3").exists()


def test_token_command_prints_a_token_and_its_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_integrations", "token", "--role", "operator", "--name", "ci"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = result.stdout.split("not stored): ")[1].split()[0]
    line = result.stdout.split("token-file line: ")[1]
    principal = TokenTable.parse([line]).lookup(token)
    assert principal is not None and (principal.name, principal.role) == ("ci", Role.OPERATOR)
