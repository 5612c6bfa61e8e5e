"""The API against its own OpenAPI document: schemathesis fuzzes every operation and holds
each answer to the document (no 5xx, a documented status, JSON, a body matching its schema).

The app runs for real, lifespan included, under uvicorn on a loopback port, so requests
cross the guard and the routes as a client's would, and its servers stop with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
import pluggy
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mcp_integrations import openapi
from mcp_integrations.app import create_app
from mcp_integrations.models import Role
from mcp_integrations.plugins import make_plugin_manager
from mcp_integrations.settings import Settings
from mcp_integrations.tokens import TokenTable, new_token
from tests.conftest import FAST_RESTARTS
from tests.helpers import live_children, serve_asgi, wait_until

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 4200,
        "generation": {
            "mode": "all",
            "max-examples": 50,
            "deterministic": True,
        },
        "cache": {"enabled": False},
    }
)
SCHEMA = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG)
CONNECTORS = "mcp_integrations_connectors"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The document's example id: installed before the fuzzing, so examples reach past the 404.
EXAMPLE_ID = "postgresql-connector"
TestFunction = Callable[..., None]


#: Sources that run or fetch what the body names: a program, a package, an image, a URL.
UNSAFE_SOURCES = ("command", "pypi", "npm", "docker", "remote")


def fuzz_plugin_manager() -> pluggy.PluginManager:
    """The builtin plugins without the sources that run or fetch what a body names.

    SAFETY: random input must never run a random program, install a random package from
    PyPI or npm, pull an image or reach an address, so the fuzzed app does not know those
    sources at all (an install of one is a 422 like any unknown source).
    """
    pm = make_plugin_manager()
    for name in UNSAFE_SOURCES:
        module = f"mcp_integrations_plugins.sources.{name}"
        if pm.get_plugin(module) is not None:
            pm.unregister(name=module)
    return pm


@dataclass
class Api:
    base_url: str
    session: requests.Session

    def call(self, case: schemathesis.Case[Any]) -> schemathesis.Response:
        return case.call_and_validate(base_url=self.base_url, session=self.session, checks=CHECKS)

    def case(self, method: str, path: str, **kwargs: Any) -> schemathesis.Response:
        """An explicit request, held to the document like the generated ones."""
        operation = SCHEMA[path][method]
        if "body" in kwargs:
            kwargs.setdefault("media_type", "application/json")
        return self.call(operation.Case(**kwargs))


@contextmanager
def running_api(data_dir: Path, settings: Settings | None = None) -> Iterator[Api]:
    app = create_app(
        data_dir, settings=settings, plugin_manager=fuzz_plugin_manager(), policy=FAST_RESTARTS
    )
    try:
        with serve_asgi(app, timeout=20, lifespan=True) as base_url, requests.Session() as session:
            yield Api(base_url, session)
    finally:
        wait_until(lambda: not live_children(CONNECTORS), what="every server to stop")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """A fresh hub per operation, with the document's example id installed (not started)."""
    with running_api(tmp_path / "data") as running:
        installed = running.session.post(
            f"{running.base_url}/integrations/install", json={"source": EXAMPLE_ID}
        )
        assert installed.status_code == 201, installed.text
        yield running


fuzz_each_operation: Callable[[TestFunction], TestFunction] = SCHEMA.parametrize()


@fuzz_each_operation
# one hub per operation, shared by its examples, on purpose: state carries between requests
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(case: schemathesis.Case[Any], api: Api) -> None:
    api.call(case)


def test_a_running_integration_answers_as_documented(tmp_path: Path) -> None:
    """What random input rarely reaches: a real server through its whole life."""
    with running_api(tmp_path / "data") as api:
        sf = {"id": "sf"}
        body = {"source": "salesforce-connector", "id": "sf"}
        assert api.case("POST", "/integrations/install", body=body).status_code == 201
        assert api.case("POST", "/integrations/install", body=body).status_code == 409
        started = api.case("POST", "/integrations/{id}/start", path_parameters=sf)
        assert started.json()["status"] == "running"
        assert api.case("GET", "/integrations/{id}/status", path_parameters=sf).status_code == 200
        tools = api.case("GET", "/integrations/{id}/tools", path_parameters=sf).json()["tools"]
        assert len(tools) == 8
        listed = api.case("GET", "/integrations").json()["integrations"]
        assert [i["status"] for i in listed] == ["running"]
        restarted = api.case("POST", "/integrations/{id}/restart", path_parameters=sf)
        assert restarted.json()["status"] == "running"
        stopped = api.case("POST", "/integrations/{id}/stop", path_parameters=sf)
        assert stopped.json()["status"] == "stopped"
        assert api.case("POST", "/integrations/{id}/start", path_parameters=sf).status_code == 200
        # removing a running integration stops it first
        removed = api.case("DELETE", "/integrations/{id}", path_parameters=sf)
        assert removed.json() == {"id": "sf", "removed": True}
        assert api.case("GET", "/integrations/{id}/status", path_parameters=sf).status_code == 404


def test_the_errors_it_documents(tmp_path: Path) -> None:
    """Bodies an attacker sent: each is a documented 4xx, never a 500."""
    with running_api(tmp_path / "data") as api:
        install = f"{api.base_url}/integrations/install"
        json_type = {"Content-Type": "application/json"}
        bodies = [
            b"[" * 100_000,
            b'{"source": "\xff"}',
            b'{"source": "\\ud800"}',
            b'{"source": 1' + b"0" * 5000 + b"}",
            b'{"source": NaN}',
        ]
        for raw in bodies:
            response = api.session.post(install, data=raw, headers=json_type)
            assert response.status_code == 400, (raw[:40], response.text)
            assert response.json()["error"]["code"] == "bad_request"
        long_id = "x" * 10_000
        response = api.session.post(install, json={"source": EXAMPLE_ID, "id": long_id})
        assert response.status_code == 400
        assert long_id not in response.text
        too_large = api.session.post(install, data=b" " * (2 << 20), headers=json_type)
        assert too_large.status_code == 413
        not_json = api.session.post(
            install, data=b"source=x", headers={"Content-Type": "text/plain"}
        )
        assert not_json.status_code == 415
        misdirected = api.session.get(f"{api.base_url}/integrations", headers={"Host": "evil.test"})
        assert misdirected.status_code == 421
        for response in (too_large, not_json, misdirected):
            assert set(response.json()) == {"error"}


def test_an_id_outside_the_pattern_is_a_400_that_quotes_a_prefix(tmp_path: Path) -> None:
    with running_api(tmp_path / "data") as api:
        long_id = "i" * 10_000
        by_id = [
            (method.upper(), path)
            for path, item in openapi.document()["paths"].items()
            for method in item
            if "{id}" in path
        ]
        assert len(by_id) == 11
        for method, path in by_id:
            extra: dict[str, Any] = {"query": {"uri": "x"}} if path.endswith("/read") else {}
            response = api.case(method, path, path_parameters={"id": long_id, "name": "x"}, **extra)
            assert response.status_code == 400, (method, path, response.text)
            assert response.json()["error"]["code"] == "invalid_id"
            assert long_id[:100] not in response.text


def test_auth_errors_answer_as_documented(tmp_path: Path) -> None:
    """401 without a token, 403 for a reader's writes; reads pass with the reader's token."""
    reader = new_token()
    settings = Settings(tokens=TokenTable.plain(reader, Role.READER, "reader"))
    with running_api(tmp_path / "data", settings) as api:
        operations = [
            (method.upper(), path)
            for path, item in openapi.document()["paths"].items()
            for method in item
        ]
        for method, path in operations:
            kwargs: dict[str, Any] = {"path_parameters": {"id": EXAMPLE_ID, "name": "x"}}
            if path.endswith("/read"):
                kwargs["query"] = {"uri": "x"}
            if path == "/integrations/install":
                kwargs = {"body": {"source": EXAMPLE_ID}}
            anonymous = api.case(method, path, **kwargs)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.headers["www-authenticate"][0].startswith("Bearer")
            headers = {"Authorization": f"Bearer {reader}"}
            as_reader = api.case(method, path, headers=headers, **kwargs)
            expected = 404 if "{id}" in path else 200
            reads = method == "GET" or path.endswith("/prompts/{name}/get")
            assert as_reader.status_code == (expected if reads else 403), (
                method,
                path,
                as_reader.text,
            )


def test_the_served_document_is_this_one(tmp_path: Path) -> None:
    with running_api(tmp_path / "data") as api:
        response = api.session.get(f"{api.base_url}/openapi.json")
        if response.status_code == 404:
            pytest.skip("the app does not serve /openapi.json yet")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == openapi.document()


def test_the_document_is_valid_openapi_3_1() -> None:
    """Every schema in it is a valid JSON Schema (2020-12, OpenAPI 3.1's dialect), every
    operation loads, and every error response is the shared Error schema."""
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        jsonschema_rs.meta.validate({"$schema": DIALECT, **schema})
    loaded = list(SCHEMA.get_all_operations())
    assert all(isinstance(result, Ok) for result in loaded), loaded
    error_ref = {"$ref": "#/components/schemas/Error"}
    for name, response in document["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == error_ref, name
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) == 16
    for operation in operations:
        for status in operation["responses"]:
            assert status in ("200", "201") or status in openapi.ERRORS
