"""Request bodies and the ``command`` source: every rule is a 400 naming its field, any
input gives a typed error or a value (never another exception), and a bad value is quoted
by a short prefix at most (an ``env`` value not at all)."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mcp_integrations.bodies import (
    MAX_DEPTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_VALUE_BYTES,
    MAX_SOURCE_CHARS,
    PREVIEW_CHARS,
    json_object,
    parse_install,
    preview,
)
from mcp_integrations.errors import BadRequest, InvalidId
from mcp_integrations.models import InstallRequest, LaunchSpec
from mcp_integrations_plugins.sources import command as command_source

LONG = "Q" * 10_000  # a 10 KB value that no message may carry
FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None)


def bad_request(call: Any, *args: Any, **kwargs: Any) -> str:
    """The message of the ``BadRequest`` that ``call`` raises, which quotes no long value."""
    with pytest.raises(BadRequest) as raised:
        call(*args, **kwargs)
    message = raised.value.message
    assert LONG[: PREVIEW_CHARS + 1] not in message
    return message


def install(**body: Any) -> InstallRequest:
    return parse_install({"source": "some-connector", **body})


def resolve(**options: Any) -> LaunchSpec | None:
    request = InstallRequest("command", "x", {}, {"command": ["server"], **options})
    return command_source.resolve_source(source="command", request=request)


# --- preview -------------------------------------------------------------------------


def test_preview_quotes_a_short_string_whole_and_escaped() -> None:
    assert preview("abc") == "'abc'"
    assert preview("a\x00b\n") == "'a\\x00b\\n'"
    assert preview("\ud800") == "'\\ud800'"


def test_preview_quotes_only_a_prefix_of_a_long_string() -> None:
    shown = preview(LONG)
    assert shown.startswith("'" + "Q" * PREVIEW_CHARS + "'")
    assert "Q" * (PREVIEW_CHARS + 1) not in shown and "10000 characters" in shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "null"),
        (True, "a boolean"),
        (10**4000, "a number"),
        (1.5, "a number"),
        ([LONG], "an array"),
        ({LONG: LONG}, "an object"),
    ],
)
def test_preview_names_only_the_type_of_other_values(value: object, shown: str) -> None:
    assert preview(value) == shown


# --- json_object ---------------------------------------------------------------------


def test_a_json_object_is_parsed() -> None:
    assert json_object(b'{"source": "x", "env": {"A": "\\u00e9"}}') == {
        "source": "x",
        "env": {"A": "\u00e9"},
    }


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b'{"a": 1} x', "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not an array"),
        (b'"x"', "must be a JSON object, not a string"),
        (b"null", "must be a JSON object, not null"),
        (b'{"source": "\xff"}', "not valid UTF-8 (at byte 12)"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # a BOM
        ('{"a": "x"}'.encode("utf-16"), "not valid UTF-8"),
        (b'{"a": NaN}', "not finite"),
        (b'{"a": -Infinity}', "not finite"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "too many digits"),
        (b'{"source": "\\ud800"}', "lone surrogate"),
        (b'{"env": {"\\udfff": "x"}}', "lone surrogate"),
        (b'{"x": [[["a\\udc00b"]]]}', "lone surrogate"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(raw: bytes, says: str) -> None:
    assert says in bad_request(json_object, raw)


def test_nesting_is_bounded_below_the_interpreters_limit() -> None:
    def nested(depth: int) -> bytes:
        return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)

    assert json_object(nested(MAX_DEPTH))
    assert "nested too deeply" in bad_request(json_object, nested(MAX_DEPTH + 1))


def test_a_valid_surrogate_pair_is_a_character() -> None:
    assert json_object(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_give_an_object_or_a_400(raw: bytes) -> None:
    try:
        body = json_object(raw)
    except BadRequest:
        return
    assert isinstance(body, dict)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["source", "id", "env", "command", "x"]), JSON_VALUES))
def test_any_json_object_gives_a_request_or_a_400(body: dict[str, Any]) -> None:
    try:
        request = parse_install(json_object(json.dumps(body).encode()))
    except BadRequest:
        return
    assert isinstance(request, InstallRequest) and request.source


# --- parse_install -------------------------------------------------------------------


def test_an_install_body_splits_into_its_fields_and_options() -> None:
    request = parse_install(
        {"source": " pkg ", "id": "my-id", "env": {"A_1": "v"}, "command": ["x"], "y": {"z": 1}}
    )
    assert request == InstallRequest(
        "pkg", "my-id", {"A_1": "v"}, {"command": ["x"], "y": {"z": 1}}
    )
    assert parse_install({"source": "s", "id": None}) == InstallRequest("s")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "'source' is required"),
        ({"source": None}, "'source' is required"),
        ({"source": 5}, "'source' must be a string, not a number"),
        ({"source": ["x"]}, "'source' must be a string, not an array"),
        ({"source": "   "}, "'source' must not be empty"),
        ({"source": ""}, "'source' must not be empty"),
        ({"source": "a\nb"}, "'source' must not contain control characters"),
        ({"source": "a\x00"}, "'source' must not contain control characters"),
        ({"source": "a\x85"}, "'source' must not contain control characters"),
        ({"source": "a\ud800"}, "'source' must not contain control characters"),
        ({"source": "s" * (MAX_SOURCE_CHARS + 1)}, "'source' must be at most 200 characters"),
    ],
)
def test_source_rules(body: dict[str, Any], says: str) -> None:
    assert says in bad_request(parse_install, body)


def test_source_may_be_200_characters() -> None:
    assert install(source="s" * MAX_SOURCE_CHARS).source == "s" * MAX_SOURCE_CHARS


def test_id_must_be_a_string() -> None:
    assert "'id' must be a string, not a number" in bad_request(install, id=7)
    assert "'id' must be a string, not an object" in bad_request(install, id={"a": LONG})


def test_an_overlong_id_is_refused_before_it_is_quoted() -> None:
    with pytest.raises(InvalidId) as raised:
        install(id=LONG)
    assert "'id' must be at most 64 characters, not 10000" in raised.value.message
    assert LONG[: PREVIEW_CHARS + 1] not in raised.value.message
    # the pattern itself is the manager's to check
    assert install(id="a/b").id == "a/b"


def test_env_defaults_to_empty() -> None:
    assert install().env == {}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (None, "'env' must be an object mapping variable names to strings, not null"),
        ([], "'env' must be an object mapping variable names to strings, not an array"),
        ("A=b", "not a string"),
        ({f"V{i}": "x" for i in range(MAX_ENV_ENTRIES + 1)}, "'env' has 201 entries; at most 200"),
        ({"1A": "x"}, "'env' has an invalid variable name '1A'"),
        ({"A-B": "x"}, "invalid variable name 'A-B'"),
        ({"": "x"}, "invalid variable name ''"),
        ({"A B": "x"}, "invalid variable name"),
        ({"\u00c9": "x"}, "invalid variable name"),
        ({"A" * 129: "x"}, "invalid variable name"),
        ({LONG: "x"}, "invalid variable name"),
        ({"A": 1}, "'env' value of A must be a string, not a number"),
        ({"A": None}, "'env' value of A must be a string, not null"),
        ({"A": "x\x00y"}, "'env' value of A must not contain a NUL character"),
        ({"A": "x" * (MAX_ENV_VALUE_BYTES + 1)}, "'env' value of A is 65537 bytes; at most 65536"),
        # counted in UTF-8 bytes, as the server's environment holds them
        ({"A": "\u00e9" * (MAX_ENV_VALUE_BYTES // 2 + 1)}, "is 65538 bytes"),
        ({"A": "x\ud800"}, "'env' value of A has a lone surrogate"),
    ],
)
def test_env_rules(env: object, says: str) -> None:
    assert says in bad_request(install, env=env)


def test_env_names_and_values_at_their_limits_are_accepted() -> None:
    env = {f"V{i}": "x" for i in range(MAX_ENV_ENTRIES - 2)}
    env |= {"_" + "a" * 127: "", "Z": "x" * MAX_ENV_VALUE_BYTES}
    assert install(env=env).env == env


def test_env_values_are_secrets_never_quoted() -> None:
    for value in ("hunter2\x00", LONG + "\x00", "s3cret" * 20_000):
        message = bad_request(install, env={"TOKEN": value})
        assert "TOKEN" in message and value[:6] not in message


def test_a_long_bad_value_is_quoted_by_its_prefix_only() -> None:
    for body in (
        {"source": LONG + "\n"},
        {"source": LONG},
        {"source": "x", "env": {LONG: "v"}},
    ):
        message = bad_request(parse_install, body)
        assert "Q" * PREVIEW_CHARS in message
        assert len(message) < 300


# --- the command source --------------------------------------------------------------


def test_command_as_a_list_or_a_command_line() -> None:
    spec = resolve(command=["python", "-m", "srv", ""], required_env=["A", "B", "A"])
    assert spec is not None
    assert spec.command == ("python", "-m", "srv", "")
    assert spec.required_env == ("A", "B")
    spec = resolve(command="python 'my server.py' --flag \"a b\"")
    assert spec is not None and spec.command == ("python", "my server.py", "--flag", "a b")


def test_other_sources_are_not_the_command_sources() -> None:
    request = InstallRequest("pkg", "x", {}, {"command": 5})
    assert command_source.resolve_source(source="pkg", request=request) is None


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('a "b', "'command' is not a valid command line (No closing quotation)"),
        ("a 'b", "No closing quotation"),
        ("a b\\", "No escaped character"),
    ],
)
def test_a_command_line_shlex_cannot_split_is_a_400(line: str, says: str) -> None:
    message = bad_request(resolve, command=line)
    assert says in message and preview(line) in message


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (None, "source 'command' needs 'command'"),
        ([], "'command' must name a program to run"),
        ("", "'command' must name a program to run"),
        ("   ", "'command' must name a program to run"),
        (["", "x"], "its first argument is empty"),
        ({"a": 1}, "'command' must be a list of strings or one string, not an object"),
        (5, "not a number"),
        (["a", 5], "'command' argument 1 must be a string, not a number"),
        (["a", ["b"]], "'command' argument 1 must be a string, not an array"),
        (["a"] * 257, "'command' has 257 arguments; at most 256"),
        ("a " * 257, "'command' has 257 arguments"),
        (["a", "b" * 4097], "'command' argument 1 must be at most 4096 characters"),
        (["a", LONG], "'command' argument 1 must be at most 4096 characters, not 10000"),
        (["a\x00b"], "'command' argument 0 must not contain NUL"),
        (["a", "\ud800"], "'command' argument 1 must not contain NUL or lone surrogates"),
        ("a " + "b" * 70_000, "'command' must be at most 65536 characters"),
    ],
)
def test_command_rules(command: object, says: str) -> None:
    assert says in bad_request(resolve, command=command)


def test_command_at_its_limits_is_accepted() -> None:
    spec = resolve(command=["a" * 4096] * 256)
    assert spec is not None and len(spec.command) == 256


@pytest.mark.parametrize(
    ("required", "says"),
    [
        ("A", "'required_env' must be a list of variable names, not a string"),
        ({"A": 1}, "not an object"),
        (["A", 1], "'required_env' has an invalid variable name a number"),
        (["A", "1B"], "'required_env' has an invalid variable name '1B'"),
        ([LONG], "'required_env' has an invalid variable name"),
        ([f"V{i}" for i in range(MAX_ENV_ENTRIES + 1)], "'required_env' has 201 names"),
    ],
)
def test_required_env_rules(required: object, says: str) -> None:
    assert says in bad_request(resolve, required_env=required)


def test_the_command_source_takes_mcp_servers_entries() -> None:
    """``command`` + ``args`` + ``cwd`` as in an mcpServers entry; the program names the id."""
    options = {"command": "/usr/bin/uvx", "args": ["mcp-server-time", "--tz=UTC"], "cwd": "/srv"}
    spec = command_source.resolve_source(
        source="command", request=InstallRequest("command", None, {}, options)
    )
    assert spec is not None
    assert spec.command == ("/usr/bin/uvx", "mcp-server-time", "--tz=UTC")
    assert (spec.cwd, spec.default_id) == ("/srv", "uvx")
    for bad in ({"command": ["x"], "args": ["y"]}, {"command": "x", "cwd": "relative"}):
        request = InstallRequest("command", "x", {}, bad)
        bad_request(command_source.resolve_source, source="command", request=request)


COMMAND_TEXT = st.text(alphabet=string.printable + "\x00\ud800\u00e9\"'\\", max_size=60)


@FUZZ
@given(
    st.one_of(COMMAND_TEXT, st.lists(COMMAND_TEXT, max_size=5), JSON_VALUES),
    st.one_of(st.none(), st.lists(COMMAND_TEXT, max_size=3), JSON_VALUES),
)
def test_the_command_source_answers_any_input_with_a_spec_or_a_400(
    command: object, required: object
) -> None:
    try:
        spec = resolve(command=command, required_env=required)
    except BadRequest:
        return
    assert spec is not None and spec.command and spec.command[0]
    for arg in spec.command:
        arg.encode()  # the OS can take every argument: no NUL, no lone surrogate
        assert "\x00" not in arg


# --- through the API -----------------------------------------------------------------


def test_the_attackers_command_line_is_a_400_through_the_api(client: TestClient) -> None:
    body = {"source": "command", "id": "x", "command": 'a "b'}
    response = client.post("/integrations/install", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request" and "'command'" in error["message"]
    assert client.get("/integrations").json() == {"integrations": []}
