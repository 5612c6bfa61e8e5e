"""What of the hub's own environment a server gets: the basics, TLS and proxy settings,
and what ``--pass-env`` names; never the hub's own settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mcp_integrations.app import create_app
from mcp_integrations.processes import base_env
from mcp_integrations.settings import Settings
from tests.conftest import FAST_RESTARTS
from tests.helpers import toy_install, wait_until


def test_tls_and_proxy_variables_are_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/corp.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("MCP_INTEGRATIONS_TOKEN", "hub-token-0123456789")
    monkeypatch.setenv("SOMETHING_ELSE", "x")
    env = base_env()
    assert env["SSL_CERT_FILE"] == "/etc/ssl/corp.pem"
    assert env["HTTPS_PROXY"] == "http://proxy.internal:3128"
    assert "MCP_INTEGRATIONS_TOKEN" not in env and "SOMETHING_ELSE" not in env
    assert base_env(["SOMETHING_ELSE"])["SOMETHING_ELSE"] == "x"


def test_pass_env_reaches_the_server(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_SECRET", "from-the-hubs-environment")
    settings = Settings(allowed_hosts=("testserver",), pass_env=("TOY_SECRET",))
    app = create_app(data_dir, settings=settings, policy=FAST_RESTARTS)
    with TestClient(app) as client:
        client.post("/integrations/install", json=toy_install())
        assert client.post("/integrations/toy/start").status_code == 200
        log = data_dir / "integrations" / "toy" / "server.log"
        wait_until(lambda: log.exists() and "starting with secret" in log.read_text())
        assert "from-the-hubs-environment" in log.read_text()


def test_the_hubs_own_settings_cannot_be_passed() -> None:
    problem = Settings(pass_env=("MCP_INTEGRATIONS_SECRET_KEY",)).problem()
    assert problem is not None and "--pass-env" in problem
