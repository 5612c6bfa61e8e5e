"""The call benchmark runs: a tiny run of the hub's paths gives sane rows and leaves nothing.

No timing is asserted: the numbers depend on the machine; ``nox -s bench`` is for those.
Peers (mcpo, mcp-proxy) are not installed here; a missing one must only say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
BENCH = ROOT / "benchmarks" / "bench_calls.py"
#: The hub's paths, its MCP endpoints with a 2025-11-25 session and a 2026-07-28 client.
HUB_PATHS = ("rest", "rest-raw", "mcp", "mcp-2026", "mcp-one", "mcp-one-2026")
MEASURED = ("direct", *HUB_PATHS)
LABELS = {
    "direct": "direct stdio session",
    "rest": "hub REST (httpx)",
    "rest-raw": "hub REST (raw HTTP/1.1)",
    "mcp": "hub /mcp (2025-11-25)",
    "mcp-2026": "hub /mcp (2026-07-28)",
    "mcp-one": "hub /integrations/toy/mcp (2025-11-25)",
    "mcp-one-2026": "hub /integrations/toy/mcp (2026-07-28)",
    "mcpo": "mcpo (httpx)",
}


def run_benchmark(
    script: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script>`` with ``args``; it must succeed within ``timeout``."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_tiny_run_of_the_call_benchmark(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "BENCH_PEERS"}
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            *("--calls", "20", "--rounds", "2", "--warmup", "5", "--concurrency", "1,2"),
            *("--paths", ",".join((*MEASURED, "mcpo")), "--peers", str(tmp_path / "none")),
            *("--json", str(report_file)),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(report_file.read_text())
    assert report["strays"] == []
    assert report["processes"] == 1  # the hub; the toy servers are its children or ours
    rows = {(row["path"], row["concurrency"]): row for row in report["rows"]}
    assert set(rows) == {(path, c) for path in (*MEASURED, "mcpo") for c in (1, 2)}
    for path in MEASURED:
        for concurrency in (1, 2):
            row = rows[path, concurrency]
            assert row["calls"] == 20
            assert 0 < row["p50_ms"] <= row["p99_ms"] < 30_000, row
            assert row["calls_per_s"] > 0, row
            assert row["client_cpu_ms"] >= 0 and row["server_cpu_ms"] >= 0, row
            assert f"| {LABELS[path]} | {concurrency} | {row['p50_ms']:.2f} |" in done.stdout
    for concurrency in (1, 2):
        missing = rows["mcpo", concurrency]
        assert missing["p50_ms"] is None and "not installed" in missing["note"]
        assert f"| {LABELS['mcpo']} | {concurrency} | — |" in done.stdout
    assert set(report["checks"]) == set(HUB_PATHS)
    for check in report["checks"].values():
        assert set(check["throughput_pct"]) == {"1", "2"}
        assert check["peers_ran"] is False
    assert "Targets:" in done.stdout and "no stray process" in done.stdout


def test_tiny_run_of_the_lines_benchmark() -> None:
    """The line-reading benchmark runs and fills its tables: in memory, where the previous
    reader stops at the size asked, and through a real hub, which leaves no process."""
    done = run_benchmark(
        "bench_lines.py", "--sizes", "1,2", "--old-max", "1", "--rounds", "1", "--quick"
    )
    in_memory, _, hub = done.stdout.partition("Through the hub:")
    assert hub, done.stdout
    rows = [line.strip("| ").split(" | ") for line in in_memory.splitlines()]
    rows = [row for row in rows if row[0] in ("1 MiB", "2 MiB")]
    assert len(rows) == 2 and all(len(row) == 7 for row in rows), done.stdout
    assert all(float(cell) > 0 for cell in rows[0][1:]), rows
    assert rows[1][1:3] == ["—", "—"]
    assert all(float(cell) > 0 for cell in rows[1][3:]), rows
    # hub CPU comes in clock ticks, so a 1 MiB line may cost "nothing": only the form counts
    rows = [line.strip("| ").split(" | ") for line in hub.splitlines()]
    rows = [row for row in rows if row[0] in ("1 MiB", "2 MiB")]
    assert [row[0] for row in rows] == ["1 MiB", "2 MiB"], done.stdout
    assert all(len(row) == 4 for row in rows), rows
    assert all(abs(float(cell)) < 10_000 for row in rows for cell in row[1:3]), rows
    assert "Growth " in hub
    assert "No process left: the hub and its " in hub


def test_tiny_run_of_the_scale_benchmark(tmp_path: Path) -> None:
    """The scale benchmark runs every section on a few servers, fills its tables with sane
    numbers, writes its report and leaves no process behind."""
    report_file = tmp_path / "report.json"
    done = run_benchmark(
        "bench_scale.py",
        *("--installed", "6", "--running", "3", "--tools", "200", "--requests", "50"),
        *("--concurrency", "1,4", "--idle-secs", "2", "--lazy-rounds", "2"),
        *("--json", str(report_file)),
        timeout=180,
    )
    report = json.loads(report_file.read_text())
    sections = ("setup", "idle", "reads", "big", "lazy", "targets", "environment")
    assert set(sections) <= set(report)
    assert report["strays"] == []
    assert report["processes"] == 2  # the hub and the bare server; the toys are the hub's
    setup = report["setup"]
    assert setup["installed"] == 6 and setup["failed"] == {}
    assert setup["running"] == min(3, setup["room"]) >= 1
    assert setup["probe_rss_kib"] > 0 and setup["big_tools"] >= 200
    idle = report["idle"]
    assert idle["none"]["running"] == 0 and idle["running"]["running"] == setup["running"]
    for state in ("none", "running"):
        assert idle[state]["hub_cpu_pct"] >= 0 and idle[state]["secs"] >= 1.5
        assert idle[state]["threads"] > 0 and idle[state]["fds"] > 0 and idle[state]["rss_kib"] > 0
    reads = {(row["path"], row["concurrency"]): row for row in report["reads"]["rows"]}
    labels = [f"{t} GET /integrations{p}" for t in ("hub", "bare") for p in ("", "/{id}/status")]
    assert set(reads) == {(label, c) for label in labels for c in (1, 4)}
    big_rows = report["big"]["rows"]
    assert len(big_rows) == 6
    for row in [*reads.values(), *big_rows]:
        assert row["calls"] >= 48, row
        assert 0 < row["p50_ms"] <= row["p99_ms"] < 30_000, row
        assert row["calls_per_s"] > 0 and row["server_cpu_ms"] >= 0, row
        assert "errors" not in row["note"], row
        assert f"| {row['path']} | {row['concurrency']} | {row['calls']} |" in done.stdout
    assert len(report["reads"]["compared"]) == 4 and len(report["big"]["compared"]) == 3
    for compared in (*report["reads"]["compared"], *report["big"]["compared"]):
        assert all(compared[k] > 0 for k in ("p50", "p99", "throughput")), compared
    lazy = report["lazy"]
    assert lazy["note"] == "", lazy["note"]
    assert len(lazy["hub_ms"]) == len(lazy["direct_ms"]) == 2
    assert lazy["hub_median_ms"] > 0 and lazy["direct_median_ms"] > 0
    assert len(report["targets"]) == 9
    assert all(check["met"] in (True, False) for check in report["targets"]), report["targets"]
    for heading in ("1. Scale setup", "2. Idle cost", "3. Reads", "4. Big tool list", "5. Lazy"):
        assert f"### {heading}" in done.stdout
    assert "### Targets" in done.stdout and "no stray process" in done.stdout
