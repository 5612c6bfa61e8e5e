"""The salesforce connector, run as a real child process and driven through a real MCP client
session against a fake Salesforce org (tests/fakes/salesforce_api.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from mcp_integrations_connectors.salesforce.client import Settings
from tests.fakes.salesforce_api import FakeSalesforce
from tests.helpers import connector_session, free_port, live_children, serve_asgi

MODULE = "mcp_integrations_connectors.salesforce"
CLIENT_ID = "3MVG9fakeConsumerKeyForTests"
CLIENT_SECRET = "client-secret-8d1f0c2e9a"
USERNAME = "integration@example.test"
PASSWORD = "hunter2-password-ZqT5securitytoken"
STATIC_TOKEN = "00D5g000004FAKE!AQstatic-token-7f3a9b"
WRONG_TOKEN = "00D5g000004FAKE!AQwrong-token-c41d2e"
WRONG_PASSWORD = "not-the-password-Xy81"
GOOD_ID = "001000000000001AAA"
KNOWN_SECRETS = (CLIENT_SECRET, PASSWORD, STATIC_TOKEN, WRONG_TOKEN, WRONG_PASSWORD)

TOOLS = {
    "query",
    "search",
    "list_objects",
    "describe_object",
    "get_record",
    "create_record",
    "update_record",
    "delete_record",
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeSalesforce, str]]:
    fake = FakeSalesforce(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD,
        static_tokens=(STATIC_TOKEN,),
    )
    with serve_asgi(fake.app) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeSalesforce, str]) -> FakeSalesforce:
    """The shared fake org, back to its seed data with nothing recorded."""
    served[0].reset()
    return served[0]


@pytest.fixture
def url(served: tuple[FakeSalesforce, str]) -> str:
    return served[1]


@pytest.fixture(scope="module")
async def shared(
    served: tuple[FakeSalesforce, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Connector]:
    """One connector in access-token mode for the tests that need no special environment."""
    fake, url = served
    async with running(fake, token_env(url), tmp_path_factory.mktemp("salesforce")) as sf:
        yield sf
    assert live_children(MODULE) == []


@pytest.fixture
def sf(shared: Connector, fake: FakeSalesforce) -> Connector:
    """The shared connector, handed out only after the fake has been reset for this test."""
    return shared


def token_env(url: str, **extra: str) -> dict[str, str]:
    return {"SALESFORCE_INSTANCE_URL": url, "SALESFORCE_ACCESS_TOKEN": STATIC_TOKEN, **extra}


def client_credentials_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "SALESFORCE_LOGIN_URL": url,
        "SALESFORCE_CLIENT_ID": CLIENT_ID,
        "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
        **extra,
    }


def password_env(url: str, **extra: str) -> dict[str, str]:
    login = {"SALESFORCE_USERNAME": USERNAME, "SALESFORCE_PASSWORD": PASSWORD}
    return client_credentials_env(url, **(login | extra))


def secrets_of(fake: FakeSalesforce) -> list[str]:
    return [*KNOWN_SECRETS, *fake.issued_tokens]


def assert_no_secret(text: str, fake: FakeSalesforce) -> None:
    squeezed = re.sub(r"\s+", "", text)
    for secret in secrets_of(fake):
        assert secret not in text
        assert secret not in squeezed


@dataclass
class Connector:
    """A running connector; every call checks that no secret reaches the result."""

    session: ClientSession
    fake: FakeSalesforce

    async def call(self, tool: str, **arguments: Any) -> tuple[bool, str]:
        result: CallToolResult = await self.session.call_tool(tool, arguments)
        text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
        assert_no_secret(text, self.fake)
        if result.structured_content is not None:
            assert_no_secret(json.dumps(result.structured_content), self.fake)
        return result.is_error, text

    async def ok(self, tool: str, **arguments: Any) -> Any:
        is_error, text = await self.call(tool, **arguments)
        assert not is_error, text
        return json.loads(text)

    async def error(self, tool: str, **arguments: Any) -> str:
        is_error, text = await self.call(tool, **arguments)
        assert is_error, text
        return text


@asynccontextmanager
async def running(
    fake: FakeSalesforce, env: dict[str, str], tmp_path: Path
) -> AsyncIterator[Connector]:
    """The connector as a child process; its stderr must not hold a secret either."""
    before = set(live_children(MODULE))
    log = tmp_path / "connector-stderr.log"
    with log.open("w") as errlog:
        async with connector_session(MODULE, env, errlog=errlog) as session:
            yield Connector(session, fake)
    assert_no_secret(log.read_text(), fake)
    assert set(live_children(MODULE)) <= before


def first_account_id(fake: FakeSalesforce) -> str:
    return next(iter(fake.records["Account"]))


def has_attributes(value: Any) -> bool:
    if isinstance(value, dict):
        return "attributes" in value or any(has_attributes(v) for v in value.values())
    if isinstance(value, list):
        return any(has_attributes(v) for v in value)
    return False


@pytest.mark.anyio
async def test_tools_search_list_and_describe(sf: Connector, fake: FakeSalesforce) -> None:
    tools = (await sf.session.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    assert len(tools) == len(TOOLS)
    for tool in tools:
        assert tool.description
        assert tool.input_schema["type"] == "object"
        assert "properties" in tool.input_schema

    found = await sf.ok("search", sosl="FIND {acme*} IN NAME FIELDS RETURNING Account(Id, Name)")
    assert sorted(r["Name"] for r in found["records"]) == ["Acme", "Acme Labs"]
    assert {r["sobject"] for r in found["records"]} == {"Account"}
    assert not has_attributes(found)

    listed = await sf.ok("list_objects")
    assert [o["name"] for o in listed["objects"]] == ["Account", "Contact", "Invoice__c"]
    assert listed["objects"][0] == {
        "name": "Account",
        "label": "Account",
        "labelPlural": "Accounts",
        "keyPrefix": "001",
        "custom": False,
        "queryable": True,
        "searchable": True,
        "createable": True,
        "updateable": True,
        "deletable": True,
    }
    custom = await sf.ok("list_objects", custom_only=True)
    assert [o["name"] for o in custom["objects"]] == ["Invoice__c"]
    by_label = await sf.ok("list_objects", name_contains="invoice")
    assert by_label["count"] == 1

    described = await sf.ok("describe_object", object_name="Account")
    fields = {f["name"]: f for f in described["fields"]}
    assert set(fields) == {"Id", "Name", "Industry", "Phone", "NumberOfEmployees"}
    assert fields["Name"]["nillable"] is False
    assert fields["Industry"]["picklistValues"] == ["Banking", "Energy"]
    assert described["childRelationships"] == [
        {"relationshipName": "Contacts", "childSObject": "Contact", "field": "AccountId"}
    ]
    contact = await sf.ok("describe_object", object_name="Contact")
    account_id = next(f for f in contact["fields"] if f["name"] == "AccountId")
    assert account_id["referenceTo"] == ["Account"]
    assert account_id["relationshipName"] == "Account"

    sent = fake.data_requests
    assert [(r.method, r.path) for r in sent] == [
        ("GET", "/services/data/v62.0/search"),
        ("GET", "/services/data/v62.0/sobjects"),
        ("GET", "/services/data/v62.0/sobjects"),
        ("GET", "/services/data/v62.0/sobjects"),
        ("GET", "/services/data/v62.0/sobjects/Account/describe"),
        ("GET", "/services/data/v62.0/sobjects/Contact/describe"),
    ]
    assert sent[0].params == {"q": "FIND {acme*} IN NAME FIELDS RETURNING Account(Id, Name)"}
    assert all(r.bearer == STATIC_TOKEN for r in sent)
    assert all(r.status == 200 for r in sent)
    assert fake.token_requests == []


@pytest.mark.anyio
async def test_query_follows_next_records_url_up_to_the_row_cap(
    sf: Connector, fake: FakeSalesforce
) -> None:
    fake.page_size = 2
    soql = "SELECT Id, Name FROM Account"
    everything = await sf.ok("query", soql=soql)
    assert everything["totalSize"] == 5
    assert everything["returned"] == 5
    assert everything["truncated"] is False
    assert [r["Name"] for r in everything["records"]] == [
        "Acme",
        "Globex",
        "Initech",
        "Umbrella",
        "Acme Labs",
    ]
    assert not has_attributes(everything)
    full_run = list(fake.data_requests)

    fake.requests.clear()
    capped = await sf.ok("query", soql=soql, max_rows=3)
    assert capped["returned"] == 3
    assert capped["truncated"] is True
    assert capped["totalSize"] == 5
    assert "max_rows" in capped["note"]
    assert len(fake.data_requests) == 2

    fake.requests.clear()
    nested = await sf.ok(
        "query", soql="SELECT LastName, Account.Name FROM Contact WHERE LastName = 'Lovelace'"
    )
    assert nested["records"] == [{"LastName": "Lovelace", "Account": {"Name": "Acme"}}]

    too_many = await sf.error("query", soql=soql, max_rows=100_000)
    assert "max_rows" in too_many

    assert len(full_run) == 3
    assert full_run[0].path == "/services/data/v62.0/query"
    assert full_run[0].params == {"q": soql}
    for page, offset in zip(full_run[1:], (2, 4), strict=True):
        assert re.fullmatch(rf"/services/data/v62\.0/query/01g\w+-{offset}", page.path)
        assert page.params == {}
    assert all(r.bearer == STATIC_TOKEN for r in full_run)


@pytest.mark.anyio
async def test_record_lifecycle(sf: Connector, fake: FakeSalesforce) -> None:
    created = await sf.ok(
        "create_record", object_name="Account", fields={"Name": "Wayne", "Industry": "Energy"}
    )
    record_id = created["id"]
    assert re.fullmatch(r"001[A-Za-z0-9]{15}", record_id)
    assert created["success"] is True

    got = await sf.ok(
        "get_record", object_name="Account", record_id=record_id, fields=["Name", "Industry"]
    )
    assert got == {"Name": "Wayne", "Industry": "Energy"}

    updated = await sf.ok(
        "update_record",
        object_name="Account",
        record_id=record_id,
        fields={"Industry": "Banking", "Phone": "555-0199"},
    )
    assert updated == {"id": record_id, "updated": True}
    whole = await sf.ok("get_record", object_name="Account", record_id=record_id)
    assert whole["Industry"] == "Banking"
    assert whole["Phone"] == "555-0199"
    assert whole["Id"] == record_id
    assert "attributes" not in whole

    assert await sf.ok("delete_record", object_name="Account", record_id=record_id) == {
        "id": record_id,
        "deleted": True,
    }
    gone = await sf.error("get_record", object_name="Account", record_id=record_id)
    assert "ENTITY_IS_DELETED" in gone

    sent = fake.data_requests
    base = "/services/data/v62.0/sobjects/Account"
    assert [(r.method, r.path, r.status) for r in sent] == [
        ("POST", base, 201),
        ("GET", f"{base}/{record_id}", 200),
        ("PATCH", f"{base}/{record_id}", 204),
        ("GET", f"{base}/{record_id}", 200),
        ("DELETE", f"{base}/{record_id}", 204),
        ("GET", f"{base}/{record_id}", 404),
    ]
    assert sent[0].json == {"Name": "Wayne", "Industry": "Energy"}
    assert sent[0].headers["content-type"] == "application/json"
    assert sent[1].params == {"fields": "Name,Industry"}
    assert sent[2].json == {"Industry": "Banking", "Phone": "555-0199"}
    assert sent[3].params == {}
    assert all(r.bearer == STATIC_TOKEN for r in sent)


@pytest.mark.anyio
async def test_username_password_flow(fake: FakeSalesforce, url: str, tmp_path: Path) -> None:
    port = url.rsplit(":", 1)[1]
    fake.instance_url = url
    login_url = f"http://localhost:{port}"
    async with running(fake, password_env(login_url), tmp_path) as sf:
        first = await sf.ok("query", soql="SELECT Name FROM Account LIMIT 1")
        assert first["records"] == [{"Name": "Acme"}]
        await sf.ok("get_record", object_name="Account", record_id=first_account_id(fake))

    [login] = fake.token_requests
    assert login.method == "POST"
    assert login.headers["host"] == f"localhost:{port}"
    assert login.headers["content-type"] == "application/x-www-form-urlencoded"
    assert login.form == {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": USERNAME,
        "password": PASSWORD,
    }
    assert login.status == 200
    [token] = fake.issued_tokens
    assert [(r.headers["host"], r.bearer, r.status) for r in fake.data_requests] == [
        (f"127.0.0.1:{port}", token, 200),
        (f"127.0.0.1:{port}", token, 200),
    ]


@pytest.mark.anyio
async def test_client_credentials_flow_replaces_an_expired_access_token(
    fake: FakeSalesforce, url: str, tmp_path: Path
) -> None:
    fake.expire_tokens()
    env = client_credentials_env(url, **token_env(url), SALESFORCE_API_VERSION="v59.0")
    async with running(fake, env, tmp_path) as sf:
        assert (await sf.ok("query", soql="SELECT Id FROM Contact"))["returned"] == 2
        fake.expire_tokens()
        assert (await sf.ok("query", soql="SELECT Id FROM Contact"))["returned"] == 2

    assert [r.form for r in fake.token_requests] == [
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ] * 2
    first, second = fake.issued_tokens
    assert [(r.bearer, r.status) for r in fake.data_requests] == [
        (STATIC_TOKEN, 401),
        (first, 200),
        (first, 401),
        (second, 200),
    ]
    assert {r.path for r in fake.data_requests} == {"/services/data/v59.0/query"}


@pytest.mark.anyio
async def test_relogin_is_tried_once_per_call(
    fake: FakeSalesforce, url: str, tmp_path: Path
) -> None:
    fake.reject_all_tokens = True
    async with running(fake, password_env(url), tmp_path) as sf:
        message = await sf.error("query", soql="SELECT Id FROM Account")
        assert "INVALID_SESSION_ID" in message
        assert "Session expired or invalid" in message
        assert len(fake.token_requests) == 2
        assert len(fake.data_requests) == 2

        await sf.error("describe_object", object_name="Account")
        assert len(fake.token_requests) == 3
        assert len(fake.data_requests) == 4
    assert all(r.status == 401 for r in fake.data_requests)


@pytest.mark.anyio
async def test_login_errors_are_reported_without_the_password(
    fake: FakeSalesforce, url: str, tmp_path: Path
) -> None:
    async with running(fake, password_env(url, SALESFORCE_PASSWORD=WRONG_PASSWORD), tmp_path) as sf:
        message = await sf.error("list_objects")
        assert "invalid_grant: authentication failure" in message
        assert "HTTP 400" in message
    assert fake.token_requests[0].form is not None
    assert fake.token_requests[0].form["password"] == WRONG_PASSWORD
    assert fake.data_requests == []


@pytest.mark.anyio
async def test_bad_names_and_ids_never_reach_salesforce(
    sf: Connector, fake: FakeSalesforce
) -> None:
    for object_name in ("Account/describe", "../sobjects", "Acc ount", "1Account", ""):
        await sf.error("describe_object", object_name=object_name)
        await sf.error("create_record", object_name=object_name, fields={"Name": "x"})
    for record_id in ("001", "001000000000001AA", "001000000000001AAA/..", "00100000000000?"):
        await sf.error("get_record", object_name="Account", record_id=record_id)
        await sf.error("delete_record", object_name="Account", record_id=record_id)
        await sf.error("update_record", object_name="Account", record_id=record_id, fields={})
    message = await sf.error(
        "get_record", object_name="Account", record_id=GOOD_ID, fields=["Name&q=1"]
    )
    assert "Invalid field name" in message
    assert fake.requests == []


@pytest.mark.anyio
async def test_stale_access_token_without_oauth_credentials(
    fake: FakeSalesforce, url: str, tmp_path: Path
) -> None:
    env = token_env(url, SALESFORCE_ACCESS_TOKEN=WRONG_TOKEN)
    async with running(fake, env, tmp_path) as sf:
        stale = await sf.error("get_record", object_name="Account", record_id=GOOD_ID)
        assert "INVALID_SESSION_ID: Session expired or invalid" in stale
        assert "SALESFORCE_ACCESS_TOKEN" in stale
    assert [(r.bearer, r.status) for r in fake.requests] == [(WRONG_TOKEN, 401)]


@pytest.mark.anyio
async def test_salesforce_error_arrays_become_tool_errors(
    sf: Connector, fake: FakeSalesforce
) -> None:
    malformed = await sf.error("query", soql="SELECT FROM Account")
    assert "HTTP 400" in malformed
    assert "MALFORMED_QUERY" in malformed
    assert "unexpected token: FROM" in malformed

    assert "INVALID_TYPE" in await sf.error("query", soql="SELECT Id FROM Nope__c")
    assert "MALFORMED_SEARCH" in await sf.error("search", sosl="Acme")

    missing = await sf.error("describe_object", object_name="Nope__c")
    assert "HTTP 404" in missing
    assert "NOT_FOUND: The requested resource does not exist" in missing
    assert "NOT_FOUND" in await sf.error(
        "get_record", object_name="Account", record_id="001000000000999AAA"
    )

    required = await sf.error("create_record", object_name="Account", fields={"Industry": "Energy"})
    assert "REQUIRED_FIELD_MISSING: Required fields are missing: [Name]" in required
    assert "(fields: Name)" in required
    invalid = await sf.error(
        "update_record",
        object_name="Account",
        record_id=first_account_id(fake),
        fields={"Bogus__c": 1},
    )
    assert "INVALID_FIELD" in invalid
    assert "Bogus__c" in invalid
    assert [r.status for r in fake.data_requests] == [400, 400, 400, 404, 404, 400, 400]


@pytest.mark.anyio
async def test_network_errors_and_timeouts(fake: FakeSalesforce, url: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    async with running(fake, token_env(closed), tmp_path) as sf:
        message = await sf.error("list_objects")
        assert "Could not reach Salesforce at 127.0.0.1" in message

    fake.delay_seconds = 1.0
    async with running(fake, token_env(url, SALESFORCE_TIMEOUT="0.2"), tmp_path) as sf:
        message = await sf.error("query", soql="SELECT Id FROM Account")
        assert "did not answer within 0.2 s" in message


@pytest.mark.anyio
async def test_unconfigured_server_starts_and_names_what_is_missing(
    fake: FakeSalesforce, tmp_path: Path
) -> None:
    async with running(fake, {}, tmp_path) as sf:
        assert {t.name for t in (await sf.session.list_tools()).tools} == TOOLS
        message = await sf.error("query", soql="SELECT Id FROM Account")
        for variable in (
            "SALESFORCE_INSTANCE_URL",
            "SALESFORCE_ACCESS_TOKEN",
            "SALESFORCE_CLIENT_ID",
            "SALESFORCE_CLIENT_SECRET",
        ):
            assert variable in message
    assert fake.requests == []


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"SALESFORCE_CLIENT_ID": CLIENT_ID}, "needs SALESFORCE_CLIENT_SECRET"),
        ({"SALESFORCE_CLIENT_SECRET": CLIENT_SECRET}, "needs SALESFORCE_CLIENT_ID"),
        ({"SALESFORCE_ACCESS_TOKEN": STATIC_TOKEN}, "SALESFORCE_INSTANCE_URL is missing"),
        (
            client_credentials_env("https://login.salesforce.com", SALESFORCE_USERNAME=USERNAME),
            "needs SALESFORCE_PASSWORD",
        ),
        (token_env("https://x.my.salesforce.com", SALESFORCE_API_VERSION="latest"), "API_VERSION"),
        (token_env("https://x.my.salesforce.com", SALESFORCE_TIMEOUT="soon"), "TIMEOUT"),
        (token_env("ftp://x.my.salesforce.com"), "SALESFORCE_INSTANCE_URL must be an http(s)"),
        (password_env("x.my.salesforce.com"), "SALESFORCE_LOGIN_URL must be an http(s)"),
    ],
)
def test_configuration_problems_name_the_variable(env: dict[str, str], problem: str) -> None:
    settings = Settings.from_env(env)
    assert settings.problem is not None
    assert problem in settings.problem
    assert all(secret not in settings.problem for secret in KNOWN_SECRETS)


@pytest.mark.parametrize(
    ("env", "flow", "version"),
    [
        (token_env("https://x.my.salesforce.com/"), None, "62.0"),
        (
            client_credentials_env("https://x.my.salesforce.com", SALESFORCE_API_VERSION="v60"),
            "client_credentials",
            "60.0",
        ),
        (
            password_env("https://test.salesforce.com", SALESFORCE_API_VERSION="58.0"),
            "password",
            "58.0",
        ),
    ],
)
def test_configurations_that_work(env: dict[str, str], flow: str | None, version: str) -> None:
    settings = Settings.from_env(env)
    assert settings.problem is None
    assert settings.flow == flow
    assert settings.api_version == version
    assert not settings.instance_url.endswith("/")


def test_descriptor_is_light_and_marks_secrets() -> None:
    """The hub imports the descriptor at install time: it must not pull in the server."""
    probe = (
        "import sys, mcp_integrations_connectors.salesforce as sf;"
        "heavy = [m for m in ('mcp', 'httpx', 'mcp_integrations_connectors.salesforce.server')"
        " if m in sys.modules];"
        "print(sf.connector.module, sorted(sf.connector.secret_env), sf.connector.required_env,"
        " heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == (
        "mcp_integrations_connectors.salesforce "
        "['SALESFORCE_ACCESS_TOKEN', 'SALESFORCE_CLIENT_SECRET', 'SALESFORCE_PASSWORD'] () []"
    )
