"""The ``docker`` source and runtime on a real docker daemon, through the hub's API.

The image is built here without a registry (tests/docker_image.py), once per session.
Every test's integration ids share a random prefix; when its hub is gone, the test fails
if a container labelled with one of them, or a docker CLI child naming one, is left.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy
import pytest
from starlette.testclient import TestClient

from mcp_integrations import hookimpl
from mcp_integrations.models import IntegrationEvent, LaunchSpec, Status
from mcp_integrations_plugins.runtimes.docker import LABEL_ID, LABEL_WORKDIR
from mcp_integrations_plugins.sources import docker as docker_source
from tests.conftest import MakeClient
from tests.docker_image import ServerImage, server_image
from tests.helpers import live_children, wait_until

#: docker commands of the tests themselves; the daemon may be slow on a busy machine.
DOCKER_TIMEOUT = 60


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=DOCKER_TIMEOUT, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def inspect(container: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(docker("inspect", container))
    return found[0]


@pytest.fixture(scope="session")
def docker_image() -> ServerImage:
    """The test image, built unless a previous session built the same one; skips, saying
    why, when no docker daemon answers."""
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no docker daemon can be reached: {exc}")
    if info.returncode != 0:
        pytest.skip(f"no docker daemon can be reached: {info.stderr.strip()[:300]}")
    return server_image()


@dataclass
class Ids:
    """Integration ids for one test, and what the daemon holds for them."""

    prefix: str
    image: ServerImage
    data_dir: Path

    def new(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def workdir(self, integration_id: str) -> Path:
        return Path(os.path.abspath(self.data_dir / "integrations" / integration_id))

    def containers(self, integration_id: str | None = None) -> list[str]:
        """Ids of containers (running or not) labelled with one of this test's ids."""
        listed = docker(
            "ps", "--all", "--no-trunc", "--filter", f"label={LABEL_ID}",
            "--format", '{{.ID}} {{.Label "' + LABEL_ID + '"}}',
        )  # fmt: skip
        wanted = integration_id or self.prefix + "-"
        return [
            line.split()[0]
            for line in listed.splitlines()
            if (line.split()[1] == wanted if integration_id else line.split()[1].startswith(wanted))
        ]

    def install(self, client: TestClient, integration_id: str, **body: Any) -> None:
        body = {"source": f"docker:{self.image.tag}", "id": integration_id, **body}
        response = client.post("/integrations/install", json=body)
        assert response.status_code == 201, response.text

    def stale(self, integration_id: str, workdir: Path | None = None) -> str:
        """A container labelled as the hub labels them, as a crashed hub would leave it."""
        workdir = workdir or self.workdir(integration_id)
        return docker(
            "run", "--detach", "--init",
            f"--label={LABEL_ID}={integration_id}", f"--label={LABEL_WORKDIR}={workdir}",
            self.image.tag, self.image.python, "-c", "import time; time.sleep(600)",
        ).strip()  # fmt: skip


@pytest.fixture
def docker_ids(docker_image: ServerImage, data_dir: Path) -> Iterator[Ids]:
    ids = Ids(f"dk{secrets.token_hex(3)}", docker_image, data_dir)
    yield ids
    left = ids.containers()
    if left:
        docker("rm", "--force", *left, check=False)
    children = live_children(f"mcp-integrations-{ids.prefix}-")
    assert not left, f"containers outlived the hub: {left}"
    assert not children, f"docker CLI children outlived the hub: {children}"


@pytest.fixture
def client(docker_ids: Ids, client: TestClient) -> TestClient:
    """The shared in-process hub, set up after (so torn down before) ``docker_ids``."""
    return client


def status(client: TestClient, integration_id: str) -> dict[str, Any]:
    response = client.get(f"/integrations/{integration_id}/status")
    assert response.status_code == 200, response.text
    return dict(response.json())


def start(client: TestClient, integration_id: str, path: str = "start") -> dict[str, Any]:
    response = client.post(f"/integrations/{integration_id}/{path}")
    assert response.status_code == 200, response.text
    started = dict(response.json())
    assert started["status"] == "running"
    return started


def call(client: TestClient, integration_id: str, tool: str, **arguments: Any) -> Any:
    response = client.post(
        f"/integrations/{integration_id}/tools/{tool}/call", json={"arguments": arguments}
    )
    return response


def text(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["content"][0]["text"])


def test_lifecycle_through_the_api(client: TestClient, docker_ids: Ids) -> None:
    iid = docker_ids.new("life")
    docker_ids.install(client, iid)
    log = docker_ids.workdir(iid) / "server.log"
    assert not log.exists() or "pulling" not in log.read_text(), "a present image was pulled"

    started = start(client, iid)
    container = started["container_id"]
    assert started["runtime"] == "docker" and len(container) == 64
    assert docker_ids.containers(iid) == [container]
    details = inspect(container)
    assert started["pid"] == details["State"]["Pid"] > 0
    assert container in Path(f"/proc/{started['pid']}/cgroup").read_text()
    assert details["HostConfig"]["AutoRemove"] and details["HostConfig"]["Init"]
    assert details["HostConfig"]["LogConfig"]["Type"] == "none"
    assert details["Config"]["Labels"][LABEL_WORKDIR] == str(docker_ids.workdir(iid))

    tools = client.get(f"/integrations/{iid}/tools").json()["tools"]
    assert sorted(t["name"] for t in tools) == ["crash", "echo", "env_digest"]
    assert status(client, iid)["server_info"]["name"] == "container"
    assert text(call(client, iid, "echo", text="through a container")) == "through a container"

    stopped = client.post(f"/integrations/{iid}/stop").json()
    assert (stopped["status"], stopped["pid"], stopped["container_id"]) == ("stopped", None, None)
    assert docker_ids.containers(iid) == []
    assert live_children(f"mcp-integrations-{iid}-") == []

    again = start(client, iid, "restart")
    assert again["container_id"] not in (None, container)
    assert docker_ids.containers(iid) == [again["container_id"]]
    assert text(call(client, iid, "echo", text="again")) == "again"

    assert client.delete(f"/integrations/{iid}").json() == {"id": iid, "removed": True}
    assert docker_ids.containers(iid) == []


def test_env_reaches_the_container_and_no_command_line(
    client: TestClient, docker_ids: Ids, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hub's own variables go to the docker CLI, never into the container.
    monkeypatch.setenv("TZ", "Hub/Only")
    monkeypatch.setenv("LANG", "C.hub-only")
    iid = docker_ids.new("env")
    secret = f"s3cret-{secrets.token_hex(8)}"
    env = {"CONTAINER_SECRET": secret, "PLAIN": "plain", "LANG": "C.UTF-8"}
    docker_ids.install(client, iid, env=env)
    container = start(client, iid)["container_id"]

    for name, value in env.items():
        digest = text(call(client, iid, "env_digest", name=name))
        assert digest == hashlib.sha256(value.encode()).hexdigest(), name
    assert text(call(client, iid, "env_digest", name="TZ")) == "unset"

    details = inspect(container)
    env = details["Config"].pop("Env")
    assert f"CONTAINER_SECRET={secret}" in env and "PLAIN=plain" in env
    assert secret not in json.dumps(details), "the secret is outside Config.Env"
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        assert secret.encode() not in cmdline, f"the secret is on the command line of {proc}"
    log = (docker_ids.workdir(iid) / "server.log").read_text()
    assert "container starting with secret" in log and secret not in log
    # left running: the hub's shutdown must stop and remove it (checked by docker_ids)


def test_resource_options_reach_host_config(client: TestClient, docker_ids: Ids) -> None:
    iid = docker_ids.new("limits")
    docker_ids.install(client, iid, cpus=0.5, memory="256MiB", network="none")
    host = inspect(start(client, iid)["container_id"])["HostConfig"]
    assert (host["NanoCpus"], host["Memory"], host["NetworkMode"]) == (
        500_000_000,
        256 * 1024**2,
        "none",
    )
    assert text(call(client, iid, "echo", text="limited")) == "limited"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"cpus": "many"}, "'cpus'"),
        ({"cpus": 0}, "'cpus'"),
        ({"cpus": True}, "'cpus'"),
        ({"memory": "lots"}, "'memory'"),
        ({"memory": "1k"}, "'memory'"),
        ({"memory": 1.5}, "'memory'"),
        ({"memory": "256mm"}, "'memory'"),
        ({"memroy": "256m"}, "'memroy'"),
        ({"network": "container:other"}, "'network'"),
        ({"network": "--privileged"}, "'network'"),
        ({"env": {"DOCKER_HOST": "tcp://elsewhere:2375"}}, "DOCKER_HOST"),
        ({"source": "docker:--privileged"}, "'source'"),
        ({"source": "docker:Upper/Case"}, "'source'"),
        ({"source": "docker:"}, "'source'"),
    ],
)
def test_bad_options_are_400_naming_the_field(
    make_client: MakeClient, options: dict[str, Any], field: str
) -> None:
    body = {"source": "docker:mcp/time:latest", "id": "bad", **options}
    response = make_client().post("/integrations/install", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


def test_missing_image_is_502_install_failed(client: TestClient, docker_ids: Ids) -> None:
    iid = docker_ids.new("missing")
    image = f"mcp-integrations-test:absent-{secrets.token_hex(4)}"
    response = client.post("/integrations/install", json={"source": f"docker:{image}", "id": iid})
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "install_failed"
    assert f"cannot pull docker image {image!r}" in error["message"]
    assert client.get(f"/integrations/{iid}/status").status_code == 404


def test_start_never_pulls(client: TestClient, docker_ids: Ids) -> None:
    iid = docker_ids.new("gone")
    alias = f"mcp-integrations-test:alias-{docker_ids.prefix}"
    docker("tag", docker_ids.image.tag, alias)
    try:
        docker_ids.install(client, iid, source=f"docker:{alias}")
    finally:
        docker("rmi", alias)
    response = client.post(f"/integrations/{iid}/start")
    assert response.status_code == 502, response.text
    assert "No such image" in response.json()["error"]["message"]
    assert docker("images", "--quiet", alias).strip() == ""


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[Status] = []

    @hookimpl
    def integration_event(self, event: IntegrationEvent) -> None:
        self.statuses.append(event.status)


def test_crash_in_the_container_restarts_it(
    client: TestClient, docker_ids: Ids, plugin_manager: pluggy.PluginManager
) -> None:
    iid = docker_ids.new("crash")
    docker_ids.install(client, iid)
    first = start(client, iid)["container_id"]
    recorder = Recorder()
    plugin_manager.register(recorder)
    try:
        assert call(client, iid, "crash", code=7).status_code == 502

        def restarted() -> dict[str, Any] | None:
            now = status(client, iid)
            return now if now["status"] == "running" and now["container_id"] != first else None

        now = wait_until(restarted, timeout=60, what="the restart")
    finally:
        plugin_manager.unregister(recorder)
    assert (now["restarts"], now["last_exit_code"]) == (1, 7)
    assert recorder.statuses[:3] == [Status.CRASHED, Status.STARTING, Status.RUNNING]
    assert docker_ids.containers(iid) == [now["container_id"]]


def test_killed_docker_cli_leaves_no_container(client: TestClient, docker_ids: Ids) -> None:
    iid = docker_ids.new("cli")
    docker_ids.install(client, iid)
    first = start(client, iid)["container_id"]
    (cli,) = live_children(f"mcp-integrations-{iid}-")
    os.kill(cli, signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        now = status(client, iid)
        return now if now["status"] == "running" and now["container_id"] != first else None

    now = wait_until(restarted, timeout=60, what="the restart")
    assert now["last_exit_code"] == -signal.SIGKILL
    assert docker_ids.containers(iid) == [now["container_id"]]


def test_leftover_container_is_removed_at_start(client: TestClient, docker_ids: Ids) -> None:
    iid = docker_ids.new("stale")
    docker_ids.install(client, iid)
    stale = docker_ids.stale(iid)
    other_hub = docker_ids.stale(iid, Path("/elsewhere/integrations") / iid)
    try:
        container = start(client, iid)["container_id"]
        assert sorted(docker_ids.containers(iid)) == sorted([container, other_hub])
        assert stale not in docker_ids.containers(iid)
    finally:
        docker("rm", "--force", other_hub)


def test_delete_removes_labelled_containers(client: TestClient, docker_ids: Ids) -> None:
    iid = docker_ids.new("delete")
    docker_ids.install(client, iid)
    docker_ids.stale(iid)
    assert len(docker_ids.containers(iid)) == 1
    assert client.delete(f"/integrations/{iid}").status_code == 200
    assert docker_ids.containers(iid) == []


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock", "Cannot connect to the Docker daemon"),
        ("PATH", "/nonexistent", "the docker CLI is not installed"),
    ],
)
def test_install_without_docker_is_502_saying_why(
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    said: str,
) -> None:
    if variable == "DOCKER_HOST" and shutil.which("docker") is None:
        pytest.skip("no docker CLI here to fail to reach a daemon")
    monkeypatch.setenv(variable, value)
    body = {"source": "docker:mcp/time:latest", "id": "nodocker"}
    response = make_client().post("/integrations/install", json=body)
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "install_failed" and said in error["message"]


def test_start_without_daemon_is_502_saying_why(
    client: TestClient, docker_ids: Ids, monkeypatch: pytest.MonkeyPatch
) -> None:
    iid = docker_ids.new("nodaemon")
    docker_ids.install(client, iid)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    response = client.post(f"/integrations/{iid}/start")
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "start_failed"
    assert "Cannot connect to the Docker daemon" in error["message"]
    monkeypatch.undo()
    assert client.delete(f"/integrations/{iid}").status_code == 200


FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$DOCKER_FAKE_CALLS"
case "$1" in
    image) echo "Error: No such image: $4" >&2; exit 1 ;;
    pull) echo "latest: Pulling from $2"; echo "0123abcd: Pull complete"; exit 0 ;;
esac
exit 2
"""


def test_prepare_pulls_a_missing_image_into_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No registry answers here, so a fake docker CLI stands in for a successful pull."""
    bin_dir, workdir, calls = tmp_path / "bin", tmp_path / "work", tmp_path / "calls"
    bin_dir.mkdir()
    workdir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("DOCKER_FAKE_CALLS", str(calls))
    spec = LaunchSpec(runtime="docker", image="mcp/time:latest")
    assert docker_source.prepare(spec, workdir) is None
    assert calls.read_text().splitlines() == [
        "image inspect --format={{.Id}} mcp/time:latest",
        "pull mcp/time:latest",
    ]
    log = workdir / "server.log"
    assert log.read_text().splitlines() == [
        "pulling docker image mcp/time:latest",
        "latest: Pulling from mcp/time:latest",
        "0123abcd: Pull complete",
    ]
    assert log.stat().st_mode & 0o777 == 0o600
