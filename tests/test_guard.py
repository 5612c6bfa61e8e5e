"""The guard: foreign hosts (DNS rebinding), foreign origins, non-JSON bodies, body size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_integrations.guard import hostname
from mcp_integrations.settings import Settings
from tests.conftest import TEST_SETTINGS, MakeClient
from tests.helpers import toy_install

INSTALL = "/integrations/install"
JSON_HEADERS = {"content-type": "application/json"}


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def nothing_installed(client: TestClient) -> bool:
    return bool(client.get("/integrations").json() == {"integrations": []})


@pytest.mark.parametrize(
    ("header", "name"),
    [("localhost:4200", "localhost"), ("[::1]:4200", "::1"), ("::1", "::1"), ("a.b", "a.b")],
)
def test_hostname_drops_the_port(header: str, name: str) -> None:
    assert hostname(header) == name


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:4200", "127.0.0.1.nip.io", "", "10.0.0.8"]
)
def test_a_foreign_host_is_misdirected(client: TestClient, host: str) -> None:
    headers = {"host": host, **JSON_HEADERS}
    refused(client.get("/integrations", headers=headers), 421, "misdirected_request")
    refused(client.post(INSTALL, json=toy_install(), headers=headers), 421, "misdirected_request")
    assert nothing_installed(client)


@pytest.mark.parametrize(
    "host", ["localhost:4200", "LOCALHOST.", "127.0.0.1:4200", "[::1]:4200", "testserver"]
)
def test_loopback_names_are_served(client: TestClient, host: str) -> None:
    assert client.get("/integrations", headers={"host": host}).status_code == 200


def test_allowed_hosts_extend_the_list(make_client: MakeClient) -> None:
    client = make_client(Settings(allowed_hosts=("testserver", "hub.internal")))
    assert client.get("/integrations", headers={"host": "hub.internal:80"}).status_code == 200
    refused(
        client.get("/integrations", headers={"host": "other.internal"}), 421, "misdirected_request"
    )
    anything = make_client(Settings(allowed_hosts=("*",)))
    assert anything.get("/integrations", headers={"host": "other.internal"}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://testserver:81"])
def test_a_foreign_origin_is_refused(client: TestClient, origin: str) -> None:
    response = client.post(INSTALL, json=toy_install(), headers={"origin": origin})
    refused(response, 403, "forbidden_origin")
    refused(client.get("/integrations", headers={"origin": origin}), 403, "forbidden_origin")
    assert nothing_installed(client)


def test_the_hubs_own_origin_is_served_without_cors_headers(client: TestClient) -> None:
    response = client.post(INSTALL, json=toy_install(), headers={"origin": "http://testserver"})
    assert response.status_code == 201
    assert not any(h.startswith("access-control-") for h in response.headers)


def test_allowed_origins_get_cors(make_client: MakeClient) -> None:
    app_origin = "http://127.0.0.1:5173"
    client = make_client(Settings(allowed_hosts=("testserver",), allowed_origins=(app_origin,)))
    preflight = client.options(
        INSTALL,
        headers={
            "origin": app_origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == app_origin
    assert (
        client.post(INSTALL, json=toy_install(), headers={"origin": app_origin}).status_code == 201
    )
    refused(
        client.options(INSTALL, headers={"origin": "http://evil.example"}), 403, "forbidden_origin"
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_a_body_that_is_not_json_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = b'{"source": "command", "id": "x", "command": ["true"]}'
    response = client.post(INSTALL, content=body, headers=headers)
    refused(response, 415, "unsupported_media_type")
    assert nothing_installed(client)


def test_json_with_a_charset_and_bodyless_posts_are_served(client: TestClient) -> None:
    body = b'{"source": "github-connector"}'
    headers = {"content-type": "application/json; charset=utf-8"}
    assert client.post(INSTALL, content=body, headers=headers).status_code == 201
    # The seed's curl examples POST without a body or a Content-Type.
    response = client.post("/integrations/github-connector/stop")
    assert (response.status_code, response.json()["status"]) == (200, "stopped")


@pytest.fixture
def small_limit(make_client: MakeClient) -> TestClient:
    return make_client(Settings(allowed_hosts=("testserver",), max_body_bytes=2048))


def test_a_declared_oversized_body_is_413(small_limit: TestClient) -> None:
    body = {"source": "github-connector", "env": {"GITHUB_TOKEN": "x" * 4000}}
    refused(small_limit.post(INSTALL, json=body), 413, "payload_too_large")
    assert nothing_installed(small_limit)


def test_a_streamed_body_is_counted_as_it_arrives(small_limit: TestClient) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        yield b'{"source": "github-connector", "env": {"GITHUB_TOKEN": "'
        for _ in range(1000):
            sent.append(1)
            yield b"x" * 1024
        yield b'"}}'

    response = small_limit.post(INSTALL, content=chunks(), headers=JSON_HEADERS)
    refused(response, 413, "payload_too_large")
    assert nothing_installed(small_limit)


def test_the_default_limit_is_one_mebibyte(client: TestClient) -> None:
    assert TEST_SETTINGS.max_body_bytes == 1 << 20
    body = {"source": "github-connector", "env": {"GITHUB_TOKEN": "x" * (1 << 20)}}
    refused(client.post(INSTALL, json=body), 413, "payload_too_large")
    body = {"source": "github-connector", "env": {"GITHUB_TOKEN": "x" * 60_000}}
    assert client.post(INSTALL, json=body).status_code == 201
