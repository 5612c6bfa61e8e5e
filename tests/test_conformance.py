"""The official MCP conformance suite's server scenarios, for each revision the hub speaks
(``--requirements 2025-11-25`` and ``--requirements 2026-07-28``), run once against our
fixture server served directly over streamable HTTP, and once against the same server
(on stdio) behind the hub's ``/integrations/{id}/mcp``: the hub must pass every scenario
the server passes alone, but for the gaps listed in ``HUB_GAPS``. And, without the suite,
how the fixture asks for input on stdio in each revision, which the hub relies on.

The suite needs Node 22+ and the suite, pinned in ``.ci/conformance`` (``.ci/run``
installs them); its tests are skipped with the reason printed when they are missing.
"""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import anyio
import httpx
import mcp_types as types
import pytest
import yaml  # type: ignore[import-untyped]
from mcp import ClientSession, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.client.stdio import stdio_client

from mcp_integrations.app import create_app
from mcp_integrations.settings import Settings
from tests import conformance
from tests.helpers import free_port, serve_asgi, wait_until

FIXTURE = Path(__file__).parent / "servers" / "conformance_server.py"
EXPECTED_FAILURES = Path(__file__).parent / "conformance-expected-failures.yaml"

#: The server scenarios the pinned suite (0.2.0-alpha.12) runs for each revision: those
#: the revision requires, then those it runs without scoring them (added after the
#: release, extensions, pending). A new suite version that adds or drops one fails
#: ``test_scenarios`` until this is brought up to date.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "2025-11-25": (
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
        # not scored
        "server-session-lifecycle",
        "json-schema-2020-12",
        "server-sse-polling",
    ),
    "2026-07-28": (
        "server-stateless",
        "completion-complete",
        "tools-list",
        "tools-call-simple-text",
        "tools-call-image",
        "tools-call-audio",
        "tools-call-embedded-resource",
        "tools-call-mixed-content",
        "tools-call-error",
        "tools-call-with-progress",
        "server-sse-multiple-streams",
        "resources-list",
        "resources-read-text",
        "resources-read-binary",
        "resources-templates-read",
        "sep-2164-resource-not-found",
        "prompts-list",
        "prompts-get-simple",
        "prompts-get-with-args",
        "prompts-get-embedded-resource",
        "prompts-get-with-image",
        "dns-rebinding-protection",
        "caching",
        "input-required-result-basic-elicitation",
        "input-required-result-basic-sampling",
        "input-required-result-basic-list-roots",
        "input-required-result-request-state",
        "input-required-result-multiple-input-requests",
        "input-required-result-multi-round",
        "input-required-result-missing-input-response",
        "input-required-result-non-tool-request",
        "input-required-result-result-type",
        "input-required-result-unsupported-methods",
        "input-required-result-tampered-state",
        "input-required-result-capability-check",
        "input-required-result-ignore-extra-params",
        "input-required-result-validate-input",
        # not scored
        "tasks-lifecycle",
        "tasks-capability-negotiation",
        "tasks-wire-fields",
        "tasks-request-state-removal",
        "tasks-mrtr-input",
        "tasks-request-headers",
        "tasks-dispatch-and-envelope",
        "tasks-status-notifications",
        "tasks-required-task-error",
        "tasks-mrtr-composition",
        "json-schema-2020-12",
        "http-header-validation",
        "http-custom-header-server-validation",
    ),
}
REVISIONS = tuple(SCENARIOS)

#: Scenarios the fixture passes directly but not through the hub, as ``revision/scenario``,
#: with why. Through the hub the fixture runs on stdio, spoken to in the revision of the
#: client that runs the suite (``"protocol"`` of its install: the default for 2025-11-25,
#: ``auto`` for 2026-07-28), so that what the server asks passes through as it asked it.
#: ``test_through_hub`` fails when the scenarios lost differ from these: a gap closed
#: (drop it here) as much as a new loss.
HUB_GAPS: dict[str, str] = {}

#: The same, for a 2026-07-28 client of the fixture spoken to at 2025-11-25, where the hub
#: turns the server's requests into input-required results itself (the bridge).
BRIDGED_GAPS: dict[str, str] = {
    "input-required-result-basic-elicitation": "the scenario wants the server's own key "
    "(user_name) for its question; a 2025-11-25 server's request has no key, so the hub "
    "makes one up",
    "input-required-result-multiple-input-requests": "a 2025-11-25 server asks one thing "
    "at a time, so the hub's client gets three rounds of one question, not one of three",
}

HUB_MISSING = "the hub's /integrations/{id}/mcp endpoint is not there yet"
#: A whole suite run's limit, in seconds (a scenario has 30 at most).
RUN_TIMEOUT = 300.0


def _skip(reason: str) -> NoReturn:
    print(f"SKIPPED: {reason}", file=sys.stderr)
    pytest.skip(reason)


def _need_suite() -> None:
    if (why := conformance.unavailable()) is not None:
        _skip(why)


def expected_failures() -> dict[str, dict[str, str]]:
    """The scenarios the fixture does not pass directly, by revision, with why."""
    loaded: Any = yaml.safe_load(EXPECTED_FAILURES.read_text())
    assert isinstance(loaded, dict) and set(loaded) == set(REVISIONS), (
        f"{EXPECTED_FAILURES.name} must map exactly the revisions {REVISIONS}"
    )
    for revision, entries in loaded.items():
        assert isinstance(entries, dict), f"{revision}: expected scenario: reason entries"
        for scenario, reason in entries.items():
            assert isinstance(reason, str) and reason.strip(), f"{revision} {scenario}: no reason"
    return loaded


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module", params=REVISIONS)
def revision(request: pytest.FixtureRequest) -> str:
    """The revision whose required scenarios run (``--requirements``)."""
    return str(request.param)


@pytest.fixture(scope="module")
def fixture_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fixture on its own streamable-HTTP port, for the runs of both revisions."""
    _need_suite()
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
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fixture installed in a hub and started there, at the hub's MCP endpoint."""
    _need_suite()
    try:
        importlib.import_module("mcp_integrations.gateway")
    except ImportError:
        _skip(HUB_MISSING)

    app = create_app(tmp_path_factory.mktemp("hub") / "data", settings=Settings())
    with serve_asgi(app, lifespan=True) as base, httpx.Client(base_url=base, timeout=30) as http:
        for integration_id, protocol in INSTALLS.items():
            install = {
                "source": "command",
                "id": integration_id,
                "command": [sys.executable, str(FIXTURE)],
                "protocol": protocol,
            }
            response = http.post("/integrations/install", json=install)
            assert response.status_code == 201, response.text
            response = http.post(f"/integrations/{integration_id}/start")
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "running", response.text
            assert response.json()["protocol_version"] == protocol.replace("auto", "2026-07-28")
        yield base


@pytest.fixture(scope="module")
def direct(fixture_url: str, revision: str) -> conformance.SuiteRun:
    """The suite against the fixture served directly: once per revision."""
    run = conformance.run_server_suite(fixture_url, requirements=revision, timeout=RUN_TIMEOUT)
    _report(f"direct, {revision}", run)
    return run


#: The fixture installed twice in the hub: spoken to at 2025-11-25, and at the newest
#: revision it offers.
INSTALLS = {"legacy": "2025-11-25", "modern": "auto"}


@pytest.fixture(scope="module")
def through_hub(hub_url: str, revision: str) -> conformance.SuiteRun:
    """The suite against the fixture behind the hub, spoken to in the suite's revision:
    once per revision."""
    integration_id = "legacy" if revision == "2025-11-25" else "modern"
    url = f"{hub_url}/integrations/{integration_id}/mcp"
    run = conformance.run_server_suite(url, requirements=revision, timeout=RUN_TIMEOUT)
    _report(f"through the hub, {revision}", run)
    return run


def _report(target: str, run: conformance.SuiteRun) -> None:
    """What ran and how it went, for ``pytest -s`` and for the output of a failure."""
    counts = f"{len(run.passed)}/{len(run.scenarios)} scenarios passed in {run.seconds:.1f}s"
    print(f"\nconformance, {target}: {counts}\n{run.describe()}")


def test_scenarios(direct: conformance.SuiteRun, revision: str) -> None:
    """The suite runs exactly the scenarios we know of for this revision."""
    ran, known = sorted(direct.scenarios), sorted(SCENARIOS[revision])
    assert ran == known, (
        f"new: {sorted(set(ran) - set(known))}, gone: {sorted(set(known) - set(ran))}\n"
        f"{direct.output[-4000:]}"
    )


def test_direct(direct: conformance.SuiteRun, revision: str) -> None:
    """Served directly, the fixture passes every scenario but its expected failures, and
    each of those still does not pass."""
    expected = expected_failures()[revision]
    unexpected = direct.not_passed - expected.keys()
    assert not unexpected, direct.describe(unexpected)
    stale = expected.keys() - direct.not_passed
    assert not stale, (
        f"not failing (any more) for {revision}, drop them from {EXPECTED_FAILURES.name}: "
        f"{sorted(stale)}"
    )


def test_through_hub(
    through_hub: conformance.SuiteRun, direct: conformance.SuiteRun, revision: str
) -> None:
    """Through the hub, whatever passes directly passes, but for the known HUB_GAPS."""
    lost = {f"{revision}/{name}" for name in direct.passed - through_hub.passed}
    gaps = {key for key in HUB_GAPS if key.startswith(f"{revision}/")}
    names = {key.split("/", 1)[1] for key in lost ^ gaps}
    assert lost == gaps, (
        f"lost through the hub but not in HUB_GAPS: {sorted(lost - gaps)}\n"
        f"in HUB_GAPS but passing through the hub now (drop them): {sorted(gaps - lost)}\n"
        f"{through_hub.describe(names)}"
    )


def test_bridged(hub_url: str) -> None:
    """A 2026-07-28 client of the fixture spoken to at 2025-11-25: the hub bridges the
    server's requests; all passes that the fixture passes directly, but the BRIDGED_GAPS."""
    url = f"{hub_url}/integrations/legacy/mcp"
    run = conformance.run_server_suite(url, requirements="2026-07-28", timeout=RUN_TIMEOUT)
    _report("bridged, 2026-07-28 client, 2025-11-25 server", run)
    expected = expected_failures()["2026-07-28"]
    lost = run.not_passed - expected.keys()
    assert lost == BRIDGED_GAPS.keys(), (
        f"lost but not in BRIDGED_GAPS: {sorted(lost - BRIDGED_GAPS.keys())}\n"
        f"in BRIDGED_GAPS but passing now (drop them): {sorted(BRIDGED_GAPS.keys() - lost)}\n"
        f"{run.describe(lost ^ BRIDGED_GAPS.keys())}"
    )


def test_hub_gaps_are_known_scenarios() -> None:
    """Each HUB_GAPS entry names a scenario of its revision, with a reason."""
    for key, reason in HUB_GAPS.items():
        revision, _, name = key.partition("/")
        assert name in SCENARIOS.get(revision, ()), f"{key}: no such revision/scenario"
        assert reason.strip(), f"{key}: no reason"


# --- the fixture on stdio, as the hub runs it ---------------------------------------

ASKED = "What is the capital of France?"


async def _paris(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    """A client's model, which knows one answer."""
    content = params.messages[0].content
    assert isinstance(content, types.TextContent) and content.text == ASKED, params
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(text="Paris"), model="test"
    )


def test_fixture_asks_a_2025_client_mid_call() -> None:
    """On a 2025-11-25 session, an interactive tool of the fixture asks the client as
    that revision does: a sampling request on the session, answered before the call is."""
    asked: list[str] = []

    async def sampling(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        asked.append(params.model_dump_json())
        return await _paris(context, params)

    async def call() -> tuple[str | None, types.CallToolResult]:
        server = StdioServerParameters(command=sys.executable, args=[str(FIXTURE)])
        async with (
            stdio_client(server) as (read, write),
            ClientSession(read, write, sampling_callback=sampling) as session,
        ):
            await session.initialize()
            result = await session.call_tool("test_input_required_result_sampling", {})
            return session.protocol_version, result

    version, result = anyio.run(call)
    assert version == "2025-11-25"
    assert len(asked) == 1
    assert result.content == [types.TextContent(text="The model answered: Paris")], result


def test_fixture_answers_a_2026_client_with_input_required() -> None:
    """On a 2026-07-28 connection (opened with server/discover) the same tool answers with
    an input_required result under its own key, and completes when the client retries
    with the answer and the (sealed) state."""

    async def call() -> tuple[str | None, types.InputRequiredResult, types.CallToolResult]:
        server = StdioServerParameters(command=sys.executable, args=[str(FIXTURE)])
        # The callback declares sampling (asked of nobody else: -32021); the client is
        # asked only in the result here, never with a request of its own.
        async with (
            stdio_client(server) as (read, write),
            ClientSession(read, write, sampling_callback=_paris) as session,
        ):
            await session.discover()
            name = "test_input_required_result_sampling"
            first = await session.call_tool(name, {}, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult), first
            answer = types.CreateMessageResult(
                role="assistant", content=types.TextContent(text="Paris"), model="test"
            )
            final = await session.call_tool(
                name,
                {},
                input_responses={"capital_question": answer},
                request_state=first.request_state,
            )
            return session.protocol_version, first, final

    version, first, final = anyio.run(call)
    assert version == "2026-07-28"
    assert first.input_requests is not None and list(first.input_requests) == ["capital_question"]
    request = first.input_requests["capital_question"]
    assert isinstance(request, types.CreateMessageRequest), request
    assert first.request_state, "no state to come back with"
    assert final.content == [types.TextContent(text="The model answered: Paris")], final
