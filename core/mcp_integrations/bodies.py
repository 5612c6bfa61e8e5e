"""Request bodies: decode, bound and validate them before anything acts on them.

Every rule raises ``BadRequest`` (400) naming the field, so malformed input never reaches
the manager or a plugin as a 500. A caller's value is quoted only through ``preview``: a
short prefix, escaped, so a megabyte of garbage is not sent back (or logged) in full, and
values of ``env`` are never quoted at all, since they are secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from mcp_integrations.errors import BadRequest, InvalidId
from mcp_integrations.models import InstallRequest, IntegrationOptions
from mcp_integrations.runtime import LEGACY, PROTOCOLS

#: How much of a bad value an error message may quote.
PREVIEW_CHARS = 40
#: Nesting of the body's arrays and objects; the install body needs two or three levels.
MAX_DEPTH = 32
MAX_SOURCE_CHARS = 200
#: The manager's id pattern allows 64; anything longer is refused before it is quoted.
MAX_ID_CHARS = 64
MAX_ENV_ENTRIES = 200
MAX_ENV_VALUE_BYTES = 64 * 1024
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
TOP_LEVEL_FIELDS = (
    "source",
    "id",
    "env",
    "call_timeout",
    "start_on_demand",
    "autostart",
    "restart",
    "max_message_bytes",
    "log_max_bytes",
    "log_backups",
    "protocol",
    "idle_timeout",
)
#: The bounds of the output limits an install may set: (least, most).
OUTPUT_LIMITS = {
    "max_message_bytes": (1 << 10, 256 << 20),
    "log_max_bytes": (4 << 10, 1 << 30),
    "log_backups": (0, 20),
}
RESTART_MODES = ("on-failure", "always", "never")
#: The longest a caller may let one call run, in seconds.
MAX_TIMEOUT = 3600.0
#: The longest ``idle_timeout``: a week.
MAX_IDLE_TIMEOUT = 7 * 24 * 3600.0

#: C0 and C1 control characters (Unicode category Cc) and lone surrogates
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def kind(value: object) -> str:
    """The JSON type of ``value`` with an article, for messages that must not quote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def preview(value: object, limit: int = PREVIEW_CHARS) -> str:
    """A bad value as an error message may show it: a string's first ``limit`` characters,
    escaped (control characters and lone surrogates included), else only its type."""
    if not isinstance(value, str):
        return kind(value)
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object: strict UTF-8, no NaN, bounded nesting, valid Unicode."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the request body is not valid UTF-8 (at byte {exc.start})") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest(
            f"the request body is nested too deeply: at most {MAX_DEPTH} levels"
        ) from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError:
        # NaN / Infinity, or an integer longer than Python converts (4300 digits)
        raise BadRequest(
            "the request body is not valid JSON: it has a number that is not finite "
            "or has too many digits"
        ) from None
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object, not {kind(body)}")
    _check_tree(body)
    return body


def _check_tree(body: dict[str, Any]) -> None:
    """Bound the nesting and refuse lone surrogates (``"\\ud800"``), which no UTF-8
    encoder accepts: they would fail later, when a value is stored, logged or executed."""
    stack: list[tuple[object, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                raise BadRequest(
                    "a string in the request body has a lone surrogate (a \\ud800-\\udfff "
                    "escape without its pair); send valid Unicode"
                )
            continue
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BadRequest(
                    f"the request body is nested too deeply: at most {MAX_DEPTH} levels"
                )
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def check_env_name(name: object, field: str) -> str:
    """An environment variable name as POSIX shells accept it, at most 128 characters."""
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        raise BadRequest(
            f"{field!r} has an invalid variable name {preview(name)}: use 1-128 letters, "
            "digits or '_', not starting with a digit"
        )
    return name


def _source(body: Mapping[str, Any]) -> str:
    if "source" not in body or body["source"] is None:
        raise BadRequest("'source' is required")
    source = body["source"]
    if not isinstance(source, str):
        raise BadRequest(f"'source' must be a string, not {kind(source)}")
    if _CONTROL.search(source):
        raise BadRequest(
            f"'source' must not contain control characters or lone surrogates: {preview(source)}"
        )
    source = source.strip()
    if not source:
        raise BadRequest("'source' must not be empty")
    if len(source) > MAX_SOURCE_CHARS:
        raise BadRequest(
            f"'source' must be at most {MAX_SOURCE_CHARS} characters, not {len(source)}: "
            f"{preview(source)}"
        )
    return source


def _id(body: Mapping[str, Any]) -> str | None:
    integration_id = body.get("id")
    if integration_id is None:
        return None
    if not isinstance(integration_id, str):
        raise BadRequest(f"'id' must be a string, not {kind(integration_id)}")
    if len(integration_id) > MAX_ID_CHARS:
        raise InvalidId(
            f"'id' must be at most {MAX_ID_CHARS} characters, not {len(integration_id)}: "
            f"{preview(integration_id)}"
        )
    return integration_id


def _env(body: Mapping[str, Any]) -> dict[str, str]:
    env = body.get("env", {})
    if not isinstance(env, Mapping):
        raise BadRequest(
            f"'env' must be an object mapping variable names to strings, not {kind(env)}"
        )
    if len(env) > MAX_ENV_ENTRIES:
        raise BadRequest(f"'env' has {len(env)} entries; at most {MAX_ENV_ENTRIES} are allowed")
    checked: dict[str, str] = {}
    for name, value in env.items():
        check_env_name(name, "env")
        # values are secrets: messages name the variable, never quote the value
        if not isinstance(value, str):
            raise BadRequest(f"'env' value of {name} must be a string, not {kind(value)}")
        if "\0" in value:
            raise BadRequest(f"'env' value of {name} must not contain a NUL character")
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > MAX_ENV_VALUE_BYTES:
            raise BadRequest(
                f"'env' value of {name} is {size} bytes; at most {MAX_ENV_VALUE_BYTES} are allowed"
            )
        if not value.isascii() and _SURROGATE.search(value):
            raise BadRequest(f"'env' value of {name} has a lone surrogate; send valid Unicode")
        checked[name] = value
    return checked


def timeout(body: Mapping[str, Any], field: str) -> float | None:
    """A number of seconds in (0, 3600], or None when the field is absent."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{field!r} must be a number of seconds, not {kind(value)}")
    if not 0 < value <= MAX_TIMEOUT:
        raise BadRequest(f"{field!r} must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return float(value)


def _count(body: Mapping[str, Any], field: str, low: int, high: int) -> int | None:
    """A whole number in [low, high], or None when the field is absent."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field!r} must be a whole number from {low} to {high}")
    return value


def idle_timeout(value: Any, field: str = "idle_timeout") -> float | None:
    """Seconds without a call before a server is stopped: 0 for never, None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{field!r} must be a number of seconds (0: never), not {kind(value)}")
    if not 0 <= value <= MAX_IDLE_TIMEOUT:
        raise BadRequest(f"{field!r} must be from 0 (never) to {MAX_IDLE_TIMEOUT:g} seconds")
    return float(value)


def _maybe_flag(body: Mapping[str, Any], field: str) -> bool | None:
    """A flag the caller may leave to the hub's default (None)."""
    return None if body.get(field) is None else _flag(body, field)


def _flag(body: Mapping[str, Any], field: str) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{field!r} must be true or false, not {kind(value)}")
    return value


def parse_install(body: Mapping[str, Any]) -> InstallRequest:
    """``POST /integrations/install``: ``source``, ``id``, ``env``, the hub's options for
    calls (``call_timeout``, ``start_on_demand``, ``idle_timeout``), restarts, output limits and
    ``autostart``; other keys are options for the plugin that resolves the source, which
    validates them itself."""
    source, integration_id, env = _source(body), _id(body), _env(body)
    restart = body.get("restart", "on-failure")
    if restart not in RESTART_MODES:
        raise BadRequest(f"'restart' must be one of {', '.join(RESTART_MODES)}")
    protocol = body.get("protocol", LEGACY)
    if protocol not in PROTOCOLS:
        raise BadRequest(f"'protocol' must be one of {', '.join(PROTOCOLS)}")
    calls = IntegrationOptions(
        timeout(body, "call_timeout"),
        _maybe_flag(body, "start_on_demand"),
        restart,
        **{name: _count(body, name, *bounds) for name, bounds in OUTPUT_LIMITS.items()},
        protocol=protocol,
        idle_timeout=idle_timeout(body.get("idle_timeout")),
    )
    options = {k: v for k, v in body.items() if k not in TOP_LEVEL_FIELDS}
    return InstallRequest(source, integration_id, env, options, calls, _flag(body, "autostart"))


#: Arguments of a program a source runs: as many and as long as a sane command line.
MAX_ARGS = 256
MAX_ARG_CHARS = 4096
_UNENCODABLE = re.compile(r"[\x00\ud800-\udfff]")


def string_list(raw: Any, field: str) -> tuple[str, ...]:
    """Program arguments from the caller: a bounded list of strings the OS can take (no
    NUL, no lone surrogates), none when absent, or a 400 naming the field and the argument."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadRequest(f"{field!r} must be a list of strings, not {kind(raw)}")
    if len(raw) > MAX_ARGS:
        raise BadRequest(f"{field!r} has {len(raw)} arguments; at most {MAX_ARGS} are allowed")
    for index, arg in enumerate(raw):
        if not isinstance(arg, str):
            raise BadRequest(f"{field!r} argument {index} must be a string, not {kind(arg)}")
        if len(arg) > MAX_ARG_CHARS:
            raise BadRequest(
                f"{field!r} argument {index} must be at most {MAX_ARG_CHARS} characters, "
                f"not {len(arg)}: {preview(arg)}"
            )
        if _UNENCODABLE.search(arg):
            raise BadRequest(
                f"{field!r} argument {index} must not contain NUL or lone surrogates: "
                f"{preview(arg)}"
            )
    return tuple(raw)


def only_options(options: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    """Refuse an option a source does not know: a misspelt one silently left out would run
    something else than asked (another script, an unlimited container)."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise BadRequest(
            f"unknown option {preview(unknown[0])} for {what}; the options are {', '.join(allowed)}"
        )


def bounded_int(raw: str, field: str, low: int, high: int) -> int:
    """A query parameter that must be a whole number in [low, high]."""
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(
            f"{field!r} must be a whole number from {low} to {high}, not {preview(raw)}"
        )
    return int(raw)


def json_object_or_empty(raw: bytes) -> dict[str, Any]:
    """A body that may be left out altogether (``curl -X POST`` with no ``-d``)."""
    return json_object(raw) if raw.strip() else {}


def _arguments(body: Mapping[str, Any], *, strings: bool) -> dict[str, Any]:
    arguments = body.get("arguments", {})
    if arguments is None:
        return {}
    if not isinstance(arguments, dict):
        raise BadRequest(f"'arguments' must be an object, not {kind(arguments)}")
    if strings:
        for name, value in arguments.items():
            if not isinstance(value, str):
                raise BadRequest(
                    f"prompt argument {preview(name)} must be a string, not {kind(value)}"
                )
    return arguments


def parse_call(body: Mapping[str, Any]) -> tuple[dict[str, Any], float | None]:
    """A tool call: ``arguments`` (an object, checked later against the tool's schema)
    and an optional ``timeout`` in seconds."""
    return _arguments(body, strings=False), timeout(body, "timeout")


def parse_prompt(body: Mapping[str, Any]) -> tuple[dict[str, str], float | None]:
    """A prompt: ``arguments`` mapping names to strings, as MCP has them, and ``timeout``."""
    return _arguments(body, strings=True), timeout(body, "timeout")
