"""Tools, resources and prompts of a running server over REST: results as the server sent
them, arguments checked first, deadlines that cancel on the server, calls side by side."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers import TOY_TOOLS, toy_install, wait_until


def error(response: Any, status: int) -> tuple[str, str]:
    assert response.status_code == status, response.text
    return response.json()["error"]["code"], response.json()["error"]["message"]


@pytest.fixture
def toy(client: TestClient, tmp_path: Path) -> TestClient:
    body = toy_install(
        TOY_SECRET="tok-calls-0123456", TOY_CANCEL_MARKER=str(tmp_path / "cancelled")
    )
    assert client.post("/integrations/install", json=body).status_code == 201
    assert client.post("/integrations/toy/start").status_code == 200
    return client


def call(client: TestClient, tool: str, integration: str = "toy", **body: Any) -> Any:
    return client.post(f"/integrations/{integration}/tools/{tool}/call", json=body)


def test_tools_carry_everything_the_server_sent(toy: TestClient) -> None:
    tools = {t["name"]: t for t in toy.get("/integrations/toy/tools").json()["tools"]}
    assert set(tools) == set(TOY_TOOLS)
    add = tools["add"]
    assert add["title"] == "Add two numbers"
    assert add["annotations"]["readOnlyHint"] is True
    assert add["outputSchema"]["properties"]["result"]["type"] == "integer"
    assert add["input_schema"] == add["inputSchema"] and add["input_schema"]["required"] == [
        "a",
        "b",
    ]


def test_a_call_returns_the_mcp_result(toy: TestClient) -> None:
    response = call(toy, "add", arguments={"a": 2, "b": 3})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["structuredContent"] == {"result": 5}
    assert result["content"][0] == {"type": "text", "text": "5"}
    assert result.get("isError", False) is False


@pytest.mark.parametrize(
    ("arguments", "named"),
    [({"a": "two", "b": 3}, "'a'"), ({"a": 1}, "'b' is a required property"), ([1], "an object")],
)
def test_arguments_are_checked_against_the_schema(
    toy: TestClient, arguments: Any, named: str
) -> None:
    response = call(toy, "add", arguments=arguments)
    status = 400 if isinstance(arguments, list) else 422
    code, message = error(response, status)
    assert code == ("bad_request" if status == 400 else "invalid_arguments")
    assert named in message


def test_unknown_tools_and_stopped_integrations(toy: TestClient) -> None:
    assert error(call(toy, "nope"), 404)[0] == "unknown_tool"
    assert error(call(toy, "add", integration="ghost"), 404)[0] == "not_found"
    toy.post("/integrations/toy/stop")
    code, message = error(call(toy, "add", arguments={"a": 1, "b": 1}), 409)
    assert code == "not_running" and "start_on_demand" in message


def test_start_on_demand(client: TestClient) -> None:
    body = {**toy_install("lazy"), "start_on_demand": True, "call_timeout": 30}
    assert client.post("/integrations/install", json=body).status_code == 201
    assert client.get("/integrations/lazy/status").json()["status"] == "stopped"
    assert (
        call(client, "echo", "lazy", arguments={"text": "hi"}).json()["content"][0]["text"] == "hi"
    )
    assert client.get("/integrations/lazy/status").json()["status"] == "running"


def test_a_deadline_cancels_the_call_on_the_server(toy: TestClient, tmp_path: Path) -> None:
    code, message = error(call(toy, "slow", arguments={"seconds": 30}, timeout=0.5), 504)
    assert code == "call_timeout" and "cancelled" in message
    wait_until((tmp_path / "cancelled").exists, what="the server to see the cancellation")
    assert call(toy, "echo", arguments={"text": "still here"}).status_code == 200


def test_calls_run_side_by_side(toy: TestClient) -> None:
    """A slow call holds neither its own integration nor another one."""
    assert toy.post("/integrations/install", json=toy_install("other")).status_code == 201
    assert toy.post("/integrations/other/start").status_code == 200
    release = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(call, toy, "slow", arguments={"seconds": 20}, timeout=60)
        for integration in ("toy", "other"):
            answer = call(toy, "echo", integration, arguments={"text": integration})
            assert answer.json()["content"][0]["text"] == integration
            assert not slow.done()
        release.set()
        toy.post("/integrations/toy/restart")
        assert slow.result(timeout=30).status_code == 502


def test_a_changed_tool_list_is_seen_at_once(toy: TestClient) -> None:
    assert call(toy, "grow").status_code == 200
    wait_until(
        lambda: toy.get("/integrations/toy/status").json()["tools_count"] == len(TOY_TOOLS) + 1,
        what="tools/list_changed to be followed",
    )
    names = [t["name"] for t in toy.get("/integrations/toy/tools").json()["tools"]]
    assert "grown" in names
    assert call(toy, "grown").json()["content"][0]["text"] == "grown"


def test_server_requests_without_a_client_that_can_answer(toy: TestClient) -> None:
    code, message = error(call(toy, "sample", arguments={"prompt": "hi"}), 502)
    assert code == "upstream_error" and "supports sampling" in message
    assert call(toy, "roots").json()["structuredContent"] == {"result": []}


def test_secrets_are_masked_in_results(toy: TestClient) -> None:
    result = call(toy, "echo", arguments={"text": "the token is tok-calls-0123456"}).json()
    assert result["content"][0]["text"] == "the token is ***"


def test_resources_and_prompts(toy: TestClient) -> None:
    listed = toy.get("/integrations/toy/resources").json()
    assert [r["uri"] for r in listed["resources"]] == ["toy://greeting"]
    assert [t["uriTemplate"] for t in listed["resource_templates"]] == ["toy://items/{number}"]
    read = toy.get("/integrations/toy/resources/read", params={"uri": "toy://greeting"}).json()
    assert read["contents"][0]["text"] == "hello from toy"
    item = toy.get("/integrations/toy/resources/read", params={"uri": "toy://items/7"}).json()
    assert item["contents"][0]["text"] == "item 7"
    missing = toy.get("/integrations/toy/resources/read", params={"uri": "toy://nothing"})
    assert missing.status_code in (404, 422), missing.text
    assert error(toy.get("/integrations/toy/resources/read"), 400)[0] == "bad_request"

    prompts = toy.get("/integrations/toy/prompts").json()["prompts"]
    assert [(p["name"], p["arguments"][0]["name"]) for p in prompts] == [("greet", "name")]
    got = toy.post("/integrations/toy/prompts/greet/get", json={"arguments": {"name": "Ada"}})
    assert got.json()["messages"][0]["content"]["text"] == "Please greet Ada warmly."
    bad = toy.post("/integrations/toy/prompts/greet/get", json={"arguments": {"name": 3}})
    assert error(bad, 400)[0] == "bad_request"
