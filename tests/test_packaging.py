"""The wheel: three prefixed import packages (no top-level ``core`` or ``plugins``), the
dashboard's static files, the console script, and the connector entry points."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_wheel_holds_the_three_packages_and_entry_points(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mcp_integrations-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith("entry_points.txt")
        )
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"mcp_integrations", "mcp_integrations_plugins", "mcp_integrations_connectors"}
    assert "mcp_integrations_connectors/postgresql/server.py" in names
    # The dashboard's static files, every one of them.
    static = ROOT / "core" / "mcp_integrations" / "static"
    shipped = sorted(f"mcp_integrations/static/{p.name}" for p in static.iterdir() if p.is_file())
    assert {"index.html", "app.js", "style.css"} <= {name.rsplit("/", 1)[1] for name in shipped}
    assert [name for name in shipped if name not in names] == []
    assert "mcp-integrations = mcp_integrations.cli:main" in entry_points
    for name in ("postgresql", "github", "salesforce"):
        assert f"{name}-connector = mcp_integrations_connectors.{name}:connector" in entry_points
