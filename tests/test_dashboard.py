"""The dashboard at ``/ui/``: its login, cookie and headers in-process; then a real hub
process and a real headless Chromium (Playwright driving the system's Chromium) doing what
a person does with it, what a page elsewhere cannot make it do, what it shows when the
hub goes away, and what axe-core finds in each of its views."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.testclient import TestClient

from mcp_integrations.settings import Settings
from mcp_integrations.tokens import SESSION_COOKIE, TokenTable, hash_token, new_token
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, Attacker, attacker_site, browser_processes
from tests.conftest import TEST_SETTINGS, MakeClient
from tests.helpers import TOY_SERVER, pid_alive, toy_install, wait_until
from tests.serve import serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).parent.parent
AXE = ROOT / ".ci" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TOKEN = "dashboard-admin-token-0123456789"
UI_HEADERS = {
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
#: How long the page may take to show what the hub did (a server's start included).
UI_TIMEOUT_MS = 30_000


# -- In-process: login, logout, the cookie, the headers ----------------------------------


@pytest.fixture
def locked(make_client: MakeClient) -> TestClient:
    tokens = TokenTable.plain(TOKEN, name="web")
    return make_client(Settings(allowed_hosts=("testserver",), tokens=tokens))


def error_code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_the_dashboard_is_served_without_a_token_with_its_headers(locked: TestClient) -> None:
    home = locked.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (307, "/ui/")
    assert locked.get("/ui", follow_redirects=False).headers["location"].endswith("/ui/")
    page = locked.get("/ui/")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    for name in ("app.js", "api.js", "style.css"):
        asset = locked.get(f"/ui/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
            "text/css",
        )
    for response in (home, page, asset):
        assert {k: response.headers.get(k) for k in UI_HEADERS} == UI_HEADERS
    assert error_code(locked.get("/ui/nothing.js")) == (404, "not_found")
    # Public means the dashboard's own files: the API still wants a token.
    assert error_code(locked.get("/integrations")) == (401, "unauthorized")


def test_a_bad_token_is_refused_and_sets_no_cookie(locked: TestClient) -> None:
    wrong = locked.post("/ui/login", json={"token": "not-the-token-0123456789"})
    assert error_code(wrong) == (401, "unauthorized")
    assert "set-cookie" not in wrong.headers
    assert wrong.headers["x-frame-options"] == "DENY"
    assert error_code(locked.post("/ui/login", json={"token": ""})) == (400, "bad_request")
    assert error_code(locked.post("/ui/login", json=["x"])) == (400, "bad_request")


def test_login_sets_an_httponly_strict_cookie_that_the_api_accepts(locked: TestClient) -> None:
    assert error_code(locked.get("/ui/session")) == (401, "unauthorized")
    response = locked.post("/ui/login", json={"token": TOKEN})
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "web", "role": "admin"}
    cookie = response.headers["set-cookie"]
    session = locked.cookies.get(SESSION_COOKIE)
    # a session id, not the token: other ports of this host are sent the cookie too
    assert session and TOKEN not in cookie and len(session) >= 40
    assert cookie == f"{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/"
    assert locked.get("/integrations").json() == {"integrations": []}
    assert locked.get("/ui/session").json() == {"name": "web", "role": "admin"}
    assert locked.post("/integrations/install", json=toy_install("toy")).status_code == 201
    locked.cookies.clear()
    assert error_code(locked.get("/integrations")) == (401, "unauthorized")
    for forged in ("an-old-session-0123456789", TOKEN):
        stale = {"cookie": f"{SESSION_COOKIE}={forged}"}
        assert error_code(locked.get("/integrations", headers=stale)) == (401, "unauthorized")
    # Only for the browser's requests from the hub's own pages (or a typed address).
    sent = {"cookie": f"{SESSION_COOKIE}={session}"}
    for site, status in [("same-origin", 200), ("none", 200), ("same-site", 401)]:
        seen = locked.get("/integrations", headers=sent | {"sec-fetch-site": site})
        assert seen.status_code == status, site
    cross = locked.get("/integrations", headers=sent | {"sec-fetch-site": "cross-site"})
    assert cross.status_code == 401
    # The header, when there is one, is what counts.
    both = {"cookie": f"{SESSION_COOKIE}={session}", "authorization": "Bearer wrong-0123456789"}
    assert error_code(locked.get("/integrations", headers=both)) == (401, "unauthorized")


def test_logout_expires_the_cookie(locked: TestClient) -> None:
    assert locked.post("/ui/login", json={"token": TOKEN}).status_code == 200
    session = locked.cookies.get(SESSION_COOKIE)
    response = locked.post("/ui/logout")
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/")
    assert "Max-Age=0" in cookie
    assert SESSION_COOKIE not in locked.cookies
    assert error_code(locked.get("/integrations")) == (401, "unauthorized")
    # the session ended on the hub too: a copy of the cookie kept elsewhere is worth nothing
    replayed = {"cookie": f"{SESSION_COOKIE}={session}"}
    assert error_code(locked.get("/integrations", headers=replayed)) == (401, "unauthorized")


def test_over_https_the_cookie_is_secure(locked: TestClient) -> None:
    response = locked.post("https://testserver/ui/login", json={"token": TOKEN})
    assert response.status_code == 200, response.text
    assert response.headers["set-cookie"].endswith("; Secure")


def test_another_origin_cannot_log_in(locked: TestClient) -> None:
    foreign = {"origin": "http://evil.example"}
    response = locked.post("/ui/login", json={"token": TOKEN}, headers=foreign)
    assert error_code(response) == (403, "forbidden_origin")
    assert "set-cookie" not in response.headers
    form = locked.post(
        "/ui/login", content=b"token=" + TOKEN.encode(), headers={"content-type": "text/plain"}
    )
    assert error_code(form) == (415, "unsupported_media_type")
    own = locked.post("/ui/login", json={"token": TOKEN}, headers={"origin": "http://testserver"})
    assert own.status_code == 200, own.text


def test_an_open_hub_logs_everyone_in_as_the_local_admin(make_client: MakeClient) -> None:
    client = make_client(TEST_SETTINGS)
    response = client.post("/ui/login", json={})
    assert response.json() == {"name": "local", "role": "admin", "open": True}
    assert "set-cookie" not in response.headers
    assert client.get("/ui/session").json() == {"name": "local", "role": "admin", "open": True}


# -- A real hub and a real browser ------------------------------------------------------


@dataclass
class Hub:
    url: str
    token: str
    http: httpx.Client
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.http.base_url.port or 80)

    def installed(self) -> list[str]:
        response = self.http.get("/integrations")
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["integrations"]]

    def stop(self) -> None:
        """SIGTERM, as a person stopping it would; KILL if it does not end in 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("the hub did not stop on SIGTERM within 30 s") from None


@contextmanager
def running_hub(tmp_path: Path, *, port: int = 0, token: str = "") -> Iterator[Hub]:
    """``mcp-integrations serve`` with one admin token (named ``web``) in a token file,
    data in ``tmp_path``; stopped on exit."""
    token = token or new_token()
    token_file = tmp_path / "tokens.txt"
    token_file.write_text(f"{hash_token(token)} admin web\n")
    log = tmp_path / "hub.log"
    args = ["--token-file", str(token_file)]
    auth = {"authorization": f"Bearer {token}"}
    with serve(
        sys.executable, tmp_path / "data", args=args, log=log, port=port or None, headers=auth
    ) as served:
        url = str(served.http.base_url).rstrip("/")
        hub = Hub(url, token, served.http, served.process, log)
        try:
            yield hub
        finally:
            hub.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium (the system's) for the module, its HOME in a temporary folder;
    every process of it ends with the module."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install '.[test]')"
    )
    home = tmp_path_factory.mktemp("chromium-home")
    flags = [flag for flag in CHROMIUM_FLAGS if flag != "--headless"]
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=flags,
            env={**os.environ, "HOME": str(home)},
            headless=True,
            timeout=60_000,
        )
        try:
            yield launched
        finally:
            launched.close()

    def ended() -> bool:
        left = set(browser_processes(-1, home)) | set(started_with_home(home))
        for pid in left:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return not left

    wait_until(ended, what="every Chromium process to end")


def started_with_home(home: Path) -> list[int]:
    """Live processes whose environment has ``HOME=home``: Chromium's, all of them (its
    crash handler included, which leaves its process group)."""
    marker = b"HOME=" + bytes(home)
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


@dataclass
class Tab:
    page: Page
    errors: list[str] = field(default_factory=list)


#: Every EventSource the page makes, kept in ``window.streams``, to see which are open.
KEEP_STREAMS = """
window.streams = [];
window.EventSource = class extends window.EventSource {
  constructor(...args) {
    super(...args);
    window.streams.push(this);
  }
};
"""


@contextmanager
def tab(browser: Browser, **options: Any) -> Iterator[Tab]:
    """A page in a fresh context (its own cookies), 1280x800; uncaught script errors are
    collected in ``errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, **options)
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.add_init_script(KEEP_STREAMS)
    try:
        page = context.new_page()
        opened = Tab(page)
        page.on("pageerror", lambda error: opened.errors.append(str(error)))
        yield opened
    finally:
        context.close()


def log_in(page: Page, hub: Hub) -> None:
    """Open the dashboard and log in through its form."""
    from playwright.sync_api import expect

    page.goto(f"{hub.url}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    token = page.get_by_label("Access token")
    expect(token).to_have_attribute("type", "password")
    token.fill("wrong-token-0123456789")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator("#login-error")).to_have_text("That token is not valid.")
    token.fill(hub.token)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator("#user-name")).to_have_text("Logged in as web (admin)")
    expect(page.get_by_role("heading", name="Integrations")).to_be_visible()


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_streams(page: Page, path: str) -> int:
    """How many of the page's EventSources on ``path`` are open or connecting."""
    script = "p => window.streams.filter(s => new URL(s.url).pathname === p && s.readyState !== 2)"
    return int(page.evaluate(f"{script}.length", path))


def log_count(page: Page, text: str) -> int:
    content = page.locator("#log-lines").text_content() or ""
    return content.count(text)


def test_install_start_call_read_stop_and_remove_from_the_browser(
    browser: Browser, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = screenshots(tmp_path)
    secret = f"toy-secret-{uuid.uuid4().hex[:12]}"
    with running_hub(tmp_path) as hub, tab(browser) as opened:
        page = opened.page
        log_in(page, hub)
        page.evaluate("window.sameDocument = true")  # gone if anything reloads the page
        expect(page.locator("#empty")).to_be_visible()

        # Install the toy server through the command source's form.
        page.get_by_role("link", name="Install", exact=True).click()
        page.get_by_label("Source").select_option("command")
        page.locator('textarea[data-field="command"]').fill(f"{sys.executable}\n{TOY_SERVER}")
        page.get_by_label("Value 1").fill(secret)
        expect(page.get_by_label("Value 1")).to_have_attribute("type", "password")
        page.locator('input[data-field="id"]').fill("toy")
        # a value without a name is named in the form, focused, and nothing is sent
        page.get_by_role("button", name="Install", exact=True).click()
        expect(page.locator("#install-error")).to_contain_text("a value has no name")
        expect(page.get_by_label("Name 1")).to_be_focused()
        assert hub.installed() == []
        page.get_by_label("Name 1").fill("TOY_SECRET")
        page.screenshot(path=shots / "install.png")
        page.get_by_role("button", name="Install", exact=True).click()
        expect(page.locator("#install-result")).to_contain_text("Installed toy.")
        expect(page.locator("#install-progress")).to_contain_text("toy is installed.")
        expect(page.get_by_label("Value 1")).to_have_value("")
        assert secret not in page.content()
        assert hub.installed() == ["toy"]

        # Start it; its status turns running on the page, which is never reloaded.
        page.get_by_role("link", name="See it in the list of integrations").click()
        row = page.locator('tr[data-id="toy"]')
        status = row.locator(".col-status")
        expect(status).to_have_text("stopped")
        row.get_by_role("button", name="Start toy", exact=True).click()
        expect(status).to_have_text("running")
        # A change made by another client shows too: the events stream.
        assert hub.http.post("/integrations/toy/stop").status_code == 200
        expect(status).to_have_text("stopped")
        expect(row.locator(".col-details")).to_contain_text("Stopped: requested")
        row.get_by_role("button", name="Start toy", exact=True).click()
        expect(status).to_have_text("running")
        expect(row.locator(".col-tools")).not_to_have_text("0")
        expect(row.locator(".col-uptime")).to_contain_text(" s")
        assert page.evaluate("window.sameDocument") is True
        page.mouse.move(1200, 700)
        page.screenshot(path=shots / "list.png")

        # Its tools, and a call of echo from the form made of its input schema.
        row.get_by_role("link", name="Tools toy", exact=True).click()
        expect(page.get_by_role("heading", name="Tools of toy")).to_be_visible()
        page.locator('details[data-tool="echo"] > summary').click()
        form = page.locator('form[data-tool="echo"]')
        expect(form.get_by_label("text")).to_have_attribute("required", "")
        form.get_by_label("text").fill("hello from the dashboard")
        form.get_by_role("button", name="Call echo").click()
        expect(form.locator(".result-text")).to_have_text("hello from the dashboard")
        expect(form.locator(".result-structured")).to_contain_text('"result"')
        page.screenshot(path=shots / "tool-call.png")

        # Its log: the tail, then new lines as the server writes them (a restart).
        page.get_by_role("link", name="Log of toy", exact=True).click()
        expect(page.locator("#log-lines")).to_contain_text("toy starting with secret ***")
        expect(page.locator("#log-state")).to_contain_text("new lines appear")
        before = log_count(page, "toy starting with secret")
        assert hub.http.post("/integrations/toy/restart").status_code == 200
        wait_until(
            lambda: log_count(page, "toy starting with secret") > before,
            timeout=UI_TIMEOUT_MS / 1000,
            what="the restart's log line on the page",
        )
        assert secret not in (page.locator("#log-lines").text_content() or "")
        page.screenshot(path=shots / "logs.png")
        assert open_streams(page, "/integrations/toy/logs") == 1

        # Back to the list (the log's stream closed): stop it and remove it (confirmed).
        page.get_by_role("link", name="Integrations", exact=True).click()
        expect(status).to_have_text("running")
        assert open_streams(page, "/integrations/toy/logs") == 0
        assert open_streams(page, "/events") == 1
        row.get_by_role("button", name="Stop toy", exact=True).click()
        expect(status).to_have_text("stopped")
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Remove toy", exact=True).click()
        expect(row).to_have_count(0)
        expect(page.locator("#empty")).to_be_visible()
        assert page.evaluate("window.sameDocument") is True

        # Logging out ends the session: the login shows, and the API refuses the page.
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        assert page.evaluate("async () => (await fetch('/integrations')).status") == 401
        assert page.context.cookies() == []
        assert opened.errors == []
        assert hub.installed() == []


HOSTILE_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>cute cats</title>
<body>
<script>
const cfg = __CONFIG__;
window.report = {};

async function outcome(request) {
  try {
    const response = await request;
    return {status: response.status, body: await response.text()};
  } catch (e) {
    return {error: String(e)};
  }
}

// A text/plain form whose body reads as JSON; its answer loads in a hidden frame.
function submitForm(action, body) {
  return new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.name = "sink";
    document.body.appendChild(frame);
    const form = document.createElement("form");
    Object.assign(form, {method: "POST", enctype: "text/plain", action, target: "sink"});
    const input = document.createElement("input");
    const text = JSON.stringify({...body, pad: ""});
    Object.assign(input, {type: "hidden", name: text.slice(0, -2), value: '"}'});
    form.appendChild(input);
    document.body.appendChild(form);
    frame.addEventListener("load", () => resolve({loaded: true}), {once: true});
    form.submit();
  });
}

function frameDashboard() {
  return new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.name = "dashboard";
    frame.addEventListener("load", () => resolve(true), {once: true});
    frame.src = cfg.hub + "/ui/";
    document.body.appendChild(frame);
  });
}

(async () => {
  const json = {"Content-Type": "application/json"};
  report.read = await outcome(fetch(cfg.hub + "/integrations", {credentials: "include"}));
  // No Origin on this one (as for an <img>): the guard lets it by, the cookie does not count.
  report.nocors_read = await outcome(
    fetch(cfg.hub + "/integrations", {mode: "no-cors", credentials: "include"}));
  report.install = await outcome(fetch(cfg.hub + "/integrations/install", {
    method: "POST", credentials: "include", headers: json,
    body: JSON.stringify(cfg.installs.fetch)}));
  report.form = await submitForm(cfg.hub + "/integrations/install", cfg.installs.form);
  report.framed = await frameDashboard();
  window.done = true;
})();
</script>
"""

ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def answers(hub: Hub, method: str, path: str) -> list[int]:
    """The statuses the hub answered ``method path`` with, from its access log."""
    return [
        int(m["status"])
        for m in ACCESS_LINE.finditer(hub.log.read_text(errors="replace"))
        if (m["method"], m["path"]) == (method, path)
    ]


def test_a_page_elsewhere_cannot_act_through_the_logged_in_browser(
    browser: Browser, tmp_path: Path
) -> None:
    """The page is on another port of the same host: same site, so the browser does send
    the session cookie with its requests; the hub's Origin rule refuses them all."""
    from playwright.sync_api import expect

    touch = shutil.which("touch") or "/usr/bin/touch"
    markers = {name: tmp_path / f"pwned-{name}-{uuid.uuid4().hex}" for name in ("fetch", "form")}
    with ExitStack() as stack:
        hub = stack.enter_context(running_hub(tmp_path))
        page = stack.enter_context(tab(browser)).page
        log_in(page, hub)
        own = page.evaluate("async () => (await fetch('/integrations')).status")
        assert own == 200  # the cookie works, for the dashboard's own origin

        installs = {
            name: {"source": "command", "id": name, "command": [touch, str(marker)]}
            | {"autostart": True}
            for name, marker in markers.items()
        }
        config = {"hub": hub.url, "installs": installs}
        attacker = Attacker(HOSTILE_PAGE.replace("__CONFIG__", json.dumps(config)))
        port = stack.enter_context(attacker_site(attacker))
        hostile = page.context.new_page()
        hostile.goto(f"http://127.0.0.1:{port}/")
        hostile.wait_for_function("window.done === true", timeout=UI_TIMEOUT_MS)
        report = hostile.evaluate("window.report")

        assert "error" in report["read"], report
        assert report["nocors_read"] == {"status": 0, "body": ""}, report  # opaque
        assert "error" in report["install"], report
        assert report["form"] == {"loaded": True}, report
        # Each attempt reached the hub, with the cookie, and was refused: by the guard
        # (403) or, for the one without an Origin, by the cookie's Sec-Fetch-Site rule (401).
        wait_until(
            lambda: (
                answers(hub, "POST", "/integrations/install") == [403]
                and answers(hub, "OPTIONS", "/integrations/install") == [403]
                and answers(hub, "GET", "/integrations").count(403) == 1
                and answers(hub, "GET", "/integrations").count(401) == 1
            ),
            what="the hub's refusals in its access log",
        )
        assert hub.installed() == []
        assert not [marker for marker in markers.values() if marker.exists()]
        # The dashboard in the hostile page's frame is blocked (frame-ancestors 'none').
        frame = hostile.frame(name="dashboard")
        assert frame is not None
        assert not frame.url.startswith(hub.url), frame.url
        expect(frame.locator("#main")).to_have_count(0)
        headers = hub.http.get("/ui/").headers
        assert {k: headers.get(k) for k in UI_HEADERS} == UI_HEADERS


def test_the_page_says_when_the_hub_is_unreachable_and_recovers(
    browser: Browser, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with ExitStack() as stack:
        hub = stack.enter_context(running_hub(tmp_path))
        opened = stack.enter_context(tab(browser))
        page = opened.page
        log_in(page, hub)
        banner = page.locator("#unreachable")
        expect(banner).to_be_hidden()
        hub.stop()
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("The hub is unreachable")
        expect(banner.get_by_role("button", name="Try again now")).to_be_visible()
        # The same hub again (same port, data and token): the page recovers by itself, and
        # asks for the token again, since logins end with the hub that gave them.
        stack.enter_context(running_hub(tmp_path, port=hub.port, token=hub.token))
        expect(banner).to_be_hidden(timeout=45_000)
        expect(page.get_by_text("the session has ended: log in again")).to_be_visible()
        page.get_by_label("Access token").fill(hub.token)
        page.get_by_role("button", name="Log in", exact=True).click()
        expect(page.locator("#empty")).to_be_visible()
        expect(page.locator("#user-name")).to_have_text("Logged in as web (admin)")
        assert opened.errors == []


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def axe(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(AXE_RUN)
    return violations


def test_every_view_passes_axe(browser: Browser, tmp_path: Path) -> None:
    """No serious or critical axe-core violation in the login, the list (with a running
    integration), the install form, a tool's call and its result, and the log."""
    if not AXE.exists():
        pytest.skip(f"no axe-core at {AXE} (npm ci --prefix .ci/axe)")
    from playwright.sync_api import expect

    found: dict[str, list[dict[str, Any]]] = {}
    # axe is injected as an inline script, which the dashboard's CSP would refuse.
    with running_hub(tmp_path) as hub, tab(browser, bypass_csp=True) as opened:
        page = opened.page
        body = toy_install("toy") | {"autostart": True}
        assert hub.http.post("/integrations/install", json=body).status_code == 201
        page.goto(f"{hub.url}/ui/")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        found["login"] = axe(page)
        page.get_by_label("Access token").fill(hub.token)
        page.get_by_role("button", name="Log in", exact=True).click()
        expect(page.locator('tr[data-id="toy"] .col-status')).to_have_text("running")
        found["list"] = axe(page)
        page.get_by_role("link", name="Install", exact=True).click()
        source = page.get_by_label("Source")
        source.wait_for()  # the form is built once the sources have come
        for prefix in source.locator("option").evaluate_all("all => all.map(o => o.value)"):
            source.select_option(prefix)
            found[f"install {prefix or 'remote'}"] = axe(page)
        source.select_option("command")
        expect(page.locator('textarea[data-field="command"]')).to_be_visible()
        found["install"] = axe(page)
        page.goto(f"{hub.url}/ui/#/integrations/toy/tools")
        page.locator('details[data-tool="echo"] > summary').click()
        form = page.locator('form[data-tool="echo"]')
        form.get_by_label("text").fill("accessible")
        form.get_by_role("button", name="Call echo").click()
        expect(form.locator(".result-text")).to_have_text("accessible")
        page.locator('details[data-tool="add"] > summary').click()
        expect(page.locator('form[data-tool="add"]')).to_be_visible()
        found["tools"] = axe(page)
        page.get_by_role("link", name="Log of toy", exact=True).click()
        expect(page.locator("#log-state")).to_contain_text("new lines appear")
        found["logs"] = axe(page)
        assert opened.errors == []

    views = ", ".join(found)
    print(f"axe-core: {len(found)} views ({views}), {sum(map(len, found.values()))} violations")
    for view, violations in found.items():
        for v in violations:
            print(f"axe, {view}: {v['impact']} {v['id']}: {v['help']} at {v['nodes'][:3]}")
    serious = {
        view: [v for v in violations if v["impact"] in ("serious", "critical")]
        for view, violations in found.items()
    }
    assert serious == {view: [] for view in found}, json.dumps(serious, indent=2)
