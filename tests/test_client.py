"""The client's pieces that need no hub: where the URL and token come from, server-sent
events, env files, install forms and what is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_integrations import envfile
from mcp_integrations.client import (
    ConfigError,
    HubRefused,
    ServerEvent,
    hub_token,
    hub_url,
    server_events,
)
from mcp_integrations.handlers import form_for, hint
from mcp_integrations.tables import duration, one_line


def test_the_url_comes_from_the_flag_then_the_environment_then_loopback() -> None:
    env = {"MCP_INTEGRATIONS_URL": "http://hub.example:9000/"}
    assert hub_url("http://10.0.0.2:4200", env) == "http://10.0.0.2:4200"
    assert hub_url(None, env) == "http://hub.example:9000"
    assert hub_url(None, {}) == "http://127.0.0.1:4200"
    assert hub_url("localhost:4300", {}) == "http://localhost:4300"
    for bad in ("ftp://x", "http://", "http://host:port"):
        with pytest.raises(ConfigError, match="must look like"):
            hub_url(bad, {})


def test_the_token_comes_from_the_environment_then_a_file(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text("  from-the-file  \nsecond line\n")
    named = {"MCP_INTEGRATIONS_TOKEN_FILE": str(file)}
    assert hub_token({"MCP_INTEGRATIONS_TOKEN": "from-env", **named}) == "from-env"
    assert hub_token(named) == "from-the-file"
    with pytest.raises(ConfigError, match="cannot read the token file"):
        hub_token({"MCP_INTEGRATIONS_TOKEN_FILE": str(tmp_path / "none")})
    file.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        hub_token(named)
    file.write_text("sha256:" + "0" * 64 + " admin me\n")
    with pytest.raises(ConfigError, match="holds a hash"):
        hub_token(named)


def test_the_default_token_file_is_in_the_user_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert hub_token({}) is None
    (tmp_path / "mcp-integrations").mkdir()
    (tmp_path / "mcp-integrations" / "token").write_text("kept-token\n")
    assert hub_token({}) == "kept-token"


def test_server_sent_events_skip_pings_and_join_data_lines() -> None:
    lines = [
        ": ping - 2026-01-01",
        "",
        "event: status",
        'data: {"id": "toy"}',
        "",
        "event: line",
        "data: one",
        "data:two",
        "id: 7",
        "",
        "data: plain",
        "",
        "event: dangling",
    ]
    assert list(server_events(lines)) == [
        ServerEvent("status", '{"id": "toy"}'),
        ServerEvent("line", "one\ntwo"),
        ServerEvent("message", "plain"),
    ]


def test_env_files_take_comments_quotes_and_export() -> None:
    text = """
# a comment
export A=1
B = two words  # trailing comment
C='single # kept'
D="double \\"quoted\\"\\nnext"
E=
F=a=b
"""
    assert envfile.parse(text.splitlines()) == {
        "A": "1",
        "B": "two words",
        "C": "single # kept",
        "D": 'double "quoted"\nnext',
        "E": "",
        "F": "a=b",
    }


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("NOEQUALS secret-value", "expected KEY=VALUE"),
        ("9X=secret-value", "expected KEY=VALUE"),
        ("K='secret-value", "quote is not closed"),
        ("K='secret-value' more", "unexpected text"),
    ],
)
def test_a_bad_env_line_is_named_but_not_shown(line: str, why: str) -> None:
    with pytest.raises(envfile.EnvFileError, match=why) as caught:
        envfile.parse(["", line], "my.env")
    assert "my.env, line 2" in str(caught.value)
    assert "secret-value" not in str(caught.value)


def test_an_env_word_alone_takes_the_shells_value() -> None:
    assert envfile.pair("K=v=w", {}) == ("K", "v=w")
    assert envfile.pair("TOKEN", {"TOKEN": "abc"}) == ("TOKEN", "abc")
    with pytest.raises(ValueError, match="not set in this shell"):
        envfile.pair("TOKEN", {})


def test_a_source_finds_its_form() -> None:
    forms: list[dict[str, Any]] = [
        {"prefix": "", "source_field": {"name": "url"}},
        {"prefix": "pypi:", "source_field": {"name": "package"}},
        {"prefix": "github-connector", "source_field": None},
    ]
    assert form_for(forms, "github-connector") == forms[2]
    assert form_for(forms, "github-connector-2") is None
    assert form_for(forms, "pypi:mcp-server-time") == forms[1]


def test_hints_where_the_fix_is_obvious() -> None:
    assert "MCP_INTEGRATIONS_TOKEN" in (hint(HubRefused(401, "unauthorized", "no")) or "")
    assert hint(HubRefused(404, "not_found", "no"), "toy") is None
    assert hint(HubRefused(409, "not_running", "no"), "toy") == (
        "start it first: mcp-integrations start toy"
    )


def test_what_people_see() -> None:
    assert [duration(s) for s in (None, 5, 65, 3700, 90000)] == [
        "-",
        "5s",
        "1m 05s",
        "1h 01m",
        "1d 01h",
    ]
    assert one_line("a\n  b\tc", 4) == "a b…"
