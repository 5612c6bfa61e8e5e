"""The path every pip-installable connector takes: build a third-party distribution, pip
install it into a venv beside mcp-integrations, and install and start it by name there."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.helpers import pid_alive
from tests.serve import serve

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_connector"


@pytest.fixture
def connector_venv(tmp_path: Path) -> Path:
    """A venv that sees this interpreter's packages (mcp-integrations among them) through a
    .pth file, with the tiny connector pip-installed into it from its source folder."""
    root = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "_host_packages.pth").write_text("\n".join(p for p in sys.path if p) + "\n")
    build = tmp_path / "src"
    subprocess.run(["cp", "-r", str(FIXTURE), str(build)], check=True)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(build),
        ],
        check=True,
        capture_output=True,
    )
    return python


@pytest.mark.slow
def test_pip_installed_connector_installs_and_starts_by_name(
    connector_venv: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with serve(str(connector_venv), tmp_path / "data", env=env) as hub:
        body = {"source": "tiny-connector", "env": {"TINY_GREETING": "Ahoy"}}
        assert hub.http.post("/integrations/install", json=body).json() == {
            "id": "tiny-connector",
            "installed": True,
        }
        started = hub.http.post("/integrations/tiny-connector/start").json()
        assert started["status"] == "running" and started["tools_count"] == 1
        assert started["server_info"]["name"] == "tiny-connector"
        tools = hub.http.get("/integrations/tiny-connector/tools").json()["tools"]
        assert [t["name"] for t in tools] == ["hello"]
        cmdline = Path(f"/proc/{started['pid']}/cmdline").read_bytes().split(b"\0")
        assert cmdline[:3] == [str(connector_venv).encode(), b"-m", b"tiny_connector"]
        hub.http.post("/integrations/tiny-connector/stop")
        assert not pid_alive(started["pid"])
