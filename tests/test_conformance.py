"""The official MCP conformance suite's server scenarios, run once against our fixture
server served directly over streamable HTTP, and once against the same server behind the
hub's ``/integrations/{id}/mcp``: the hub must pass every scenario the server passes alone.

Needs Node 22+ and the suite, pinned in ``.ci/conformance`` (``.ci/run`` installs them);
skipped with the reason printed when they are missing.
"""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from mcp_integrations.app import create_app
from mcp_integrations.settings import Settings
from tests import conformance
from tests.helpers import free_port, serve_asgi, wait_until

FIXTURE = Path(__file__).parent / "servers" / "conformance_server.py"

#: The active server scenarios of the pinned suite (0.1.16): a new suite version that
#: adds or drops one fails ``test_direct`` until this list is brought up to date.
SCENARIOS = (
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-with-logging",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
    "elicitation-sep1034-defaults",
    "server-sse-multiple-streams",
    "elicitation-sep1330-enums",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
    "dns-rebinding-protection",
)

#: Scenarios the fixture, served by the SDK alone, is known to fail, with why. None: the
#: SDK's streamable-HTTP server and the fixture cover every active scenario.
EXPECTED_FAILURES: dict[str, str] = {}

HUB_MISSING = "the hub's /integrations/{id}/mcp endpoint is not there yet"


def _skip(reason: str, *, module: bool = False) -> NoReturn:
    print(f"SKIPPED: {reason}", file=sys.stderr)
    pytest.skip(reason, allow_module_level=module)


if (_why := conformance.unavailable()) is not None:
    _skip(_why, module=True)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[conformance.SuiteRun]:
    """The suite against the fixture on its own streamable-HTTP port: run once."""
    port = free_port()
    log = tmp_path_factory.mktemp("conformance") / "fixture.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, str(FIXTURE), "--http", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        ) as server,
    ):
        try:
            wait_until(
                lambda: server.poll() is not None or _listening(port),
                timeout=30,
                what="the conformance fixture to listen",
            )
            if server.poll() is not None:
                pytest.fail(f"the fixture exited with {server.returncode}: {log.read_text()}")
            yield conformance.run_server_suite(f"http://127.0.0.1:{port}/mcp", timeout=60)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.fixture(scope="module")
def through_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[conformance.SuiteRun]:
    """The suite against the fixture installed in a hub, at the hub's MCP endpoint."""
    try:
        importlib.import_module("mcp_integrations.gateway")
    except ImportError:
        _skip(HUB_MISSING)

    app = create_app(tmp_path_factory.mktemp("hub") / "data", settings=Settings())
    with serve_asgi(app, lifespan=True) as base, httpx.Client(base_url=base, timeout=30) as http:
        install = {
            "source": "command",
            "id": "conformance",
            "command": [sys.executable, str(FIXTURE)],
        }
        response = http.post("/integrations/install", json=install)
        assert response.status_code == 201, response.text
        response = http.post("/integrations/conformance/start")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "running", response.text
        yield conformance.run_server_suite(f"{base}/integrations/conformance/mcp", timeout=60)


def _report(target: str, run: conformance.SuiteRun) -> None:
    """What ran and how it went, for ``pytest -s`` and for the output of a failure."""
    counts = f"{len(run.passed)}/{len(run.scenarios)} scenarios passed in {run.seconds:.1f}s"
    print(f"\nconformance, {target}: {counts}\n{run.describe(set(run.scenarios))}")


def test_direct(direct: conformance.SuiteRun) -> None:
    """Every active scenario runs, and passes unless it is an expected failure."""
    _report("direct", direct)
    assert sorted(direct.scenarios) == sorted(SCENARIOS), direct.output[-4000:]
    unexpected = direct.failed - EXPECTED_FAILURES.keys()
    assert not unexpected, direct.describe(unexpected)
    stale = EXPECTED_FAILURES.keys() & direct.passed
    assert not stale, f"these pass now, drop them from EXPECTED_FAILURES: {sorted(stale)}"


def test_through_hub(through_hub: conformance.SuiteRun, direct: conformance.SuiteRun) -> None:
    """The hub's endpoint loses nothing: whatever passes directly passes through it."""
    _report("through the hub", through_hub)
    lost = direct.passed - through_hub.passed
    ran = lost & set(through_hub.scenarios)
    assert not lost, f"lost through the hub: {sorted(lost)}\n{through_hub.describe(ran)}"
