"""The values that cross the seams: what install resolved, what a server exposes, its state."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


def encoded(data: JSON) -> bytes:
    """JSON as the API sends it (as Starlette's ``JSONResponse`` encodes it), for answers
    made once and sent many times."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class Status(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    STOPPING = "stopping"
    CRASHED = "crashed"
    FAILED = "failed"


class Role(enum.IntEnum):
    """What a caller may do; each role may do everything the roles below it may."""

    READER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            roles = ", ".join(r.name.lower() for r in cls)
            raise ValueError(f"unknown role {name[:20]!r}; the roles are {roles}") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Principal:
    """Who makes a request, as an ``authenticate`` plugin established it."""

    name: str
    role: Role


@dataclass(frozen=True)
class OutputLimits:
    """What a server may write: one message on its stdio wire (past it the session is
    closed), one line of its stderr (longer ones are split), and its log (rotated past
    ``log_max_bytes``, ``log_backups`` older files kept)."""

    max_message_bytes: int = 4 << 20
    stderr_line_bytes: int = 64 << 10
    log_max_bytes: int = 10 << 20
    log_backups: int = 2


@dataclass(frozen=True)
class OnDemand:
    """Whether an integration starts on its first call while stopped, and after how many
    seconds without a call a running one is stopped (None: never); the hub has defaults,
    each integration may say otherwise."""

    start_on_demand: bool = False
    idle_timeout: float | None = None


@dataclass(frozen=True)
class IntegrationOptions:
    """How the hub treats an integration: ``call_timeout`` in seconds (None: the hub's
    default), whether a call to a stopped one starts it, when a server that exits by
    itself is started again (``on-failure``: unless it exited with 0; ``always``; ``never``),
    and its output limits (None: the defaults of ``OutputLimits``)."""

    call_timeout: float | None = None
    #: None: the hub's default (``OnDemand``).
    start_on_demand: bool | None = None
    restart: str = "on-failure"
    max_message_bytes: int | None = None
    log_max_bytes: int | None = None
    log_backups: int | None = None
    #: The MCP revision to speak with the server: ``2025-11-25`` (the default: SDK servers
    #: whose tools ask mid-call on their session fail under 2026-07-28), ``2026-07-28``,
    #: or ``auto`` (the newest the server offers).
    protocol: str = "2025-11-25"
    #: Seconds without a call before the server is stopped; 0: never; None: the hub's default.
    idle_timeout: float | None = None

    def on_demand(self, defaults: OnDemand) -> OnDemand:
        """What holds for this integration, given the hub's ``defaults``."""
        start = defaults.start_on_demand if self.start_on_demand is None else self.start_on_demand
        idle = defaults.idle_timeout if self.idle_timeout is None else self.idle_timeout
        return OnDemand(start, idle or None)

    def limits(self) -> OutputLimits:
        given = {
            "max_message_bytes": self.max_message_bytes,
            "log_max_bytes": self.log_max_bytes,
            "log_backups": self.log_backups,
        }
        return OutputLimits(**{k: v for k, v in given.items() if v is not None})

    def to_json(self) -> JSON:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IntegrationOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class InstallRequest:
    """A parsed ``POST /integrations/install`` body; ``options`` keeps the fields plugins read."""

    source: str
    id: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    integration_options: IntegrationOptions = field(default_factory=IntegrationOptions)
    autostart: bool = False


@dataclass(frozen=True)
class LaunchSpec:
    """What install resolved, enough to start the server again after a reboot.

    ``env`` is passed to the server and never shown by the API; ``secret_env`` names the
    variables whose values are scrubbed from logs and errors (all of ``env`` is hidden).
    ``arbitrary_code`` is False only for sources that run code the machine's owner installed
    (connectors); ``declared_env`` names the variables such a server says it reads.
    ``headers`` go with every request to a remote server, secret like ``env``;
    ``host_env`` is what the hub passes on of its own environment, set at each start and
    never stored. ``package`` names what ``prepare`` installs (``pypi:REQ``, ``npm:SPEC``);
    ``default_id`` is the id a source suggests when the caller gives none.
    """

    runtime: str
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    required_env: tuple[str, ...] = ()
    secret_env: tuple[str, ...] = ()
    image: str | None = None
    url: str | None = None
    transport: str = "stdio"
    description: str = ""
    arbitrary_code: bool = True
    declared_env: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    host_env: Mapping[str, str] = field(default_factory=dict)
    limits: OutputLimits = field(default_factory=OutputLimits)
    protocol: str = "2025-11-25"
    package: str | None = None
    default_id: str | None = None
    cwd: str | None = None

    def secret_values(self) -> list[str]:
        env = [self.env[name] for name in self.secret_env if self.env.get(name)]
        return env + [value for value in self.headers.values() if value]

    def sealed(self) -> JSON:
        """What the store encrypts: the values of ``env`` and ``headers``."""
        return {"v": 2, "env": dict(self.env), "headers": dict(self.headers)}

    def missing_env(self) -> tuple[str, ...]:
        return tuple(name for name in self.required_env if not self.env.get(name))

    def public(self) -> JSON:
        """The spec as stored beside the secrets, without ``sealed()``, and without what
        the hub sets at each start (``host_env``, ``limits``)."""
        data = dataclasses.asdict(self)
        for name in ("env", "headers", "host_env", "limits", "protocol"):
            data.pop(name)
        data["command"] = list(self.command)
        data["required_env"] = list(self.required_env)
        data["secret_env"] = list(self.secret_env)
        data["declared_env"] = list(self.declared_env)
        return data

    @classmethod
    def from_public(cls, data: Mapping[str, Any], sealed: Mapping[str, Any]) -> LaunchSpec:
        """From ``public()`` and ``sealed()`` (or, as older hubs sealed it, ``env`` alone)."""
        per_start = {"env", "headers", "host_env", "limits", "protocol"}
        known = {f.name for f in dataclasses.fields(cls)} - per_start
        fields = {k: v for k, v in data.items() if k in known}
        for name in ("command", "required_env", "secret_env", "declared_env"):
            fields[name] = tuple(fields.get(name, ()))
        if sealed.get("v") == 2:
            env, headers = sealed["env"], sealed["headers"]
        else:
            env, headers = sealed, {}
        return cls(env=dict(env), headers=dict(headers), **fields)


@dataclass(frozen=True)
class ToolInfo:
    """A tool as its server listed it. ``wire`` keeps every field the server sent (title,
    annotations, outputSchema, icons, ``_meta``), as it sent them."""

    name: str
    description: str = ""
    input_schema: JSON = field(default_factory=dict)
    wire: JSON = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {
            **self.wire,
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolInfo:
        wire = {k: v for k, v in data.items() if k != "input_schema"}
        schema = data.get("input_schema") or data.get("inputSchema") or {}
        return cls(data["name"], data.get("description") or "", dict(schema), wire)

    @classmethod
    def from_wire(cls, wire: JSON) -> ToolInfo:
        """From a ``tools/list`` entry, camelCase as on the wire (a missing description
        stored as ``""``, as the API shows it)."""
        schema = wire.get("inputSchema") or {}
        description = wire.get("description") or ""
        return cls(wire["name"], description, dict(schema), {**wire, "description": description})


@dataclass
class Integration:
    """An installed integration as the store keeps it."""

    id: str
    source: str
    spec: LaunchSpec
    desired: Status = Status.STOPPED
    tools: tuple[ToolInfo, ...] = ()
    server_info: JSON | None = None
    installed_at: float = 0.0
    options: IntegrationOptions = field(default_factory=IntegrationOptions)


@dataclass(frozen=True)
class IntegrationEvent:
    """A status change, for observers (logs, metrics, later a live event stream)."""

    id: str
    status: Status
    previous: Status
    pid: int | None = None
    exit_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class InstallEvent:
    """How an install goes (``installing``, ``installed``, ``failed``), for clients that
    show progress while a package is fetched or an image pulled."""

    id: str
    phase: str
    source: str
    error: str | None = None


@dataclass(frozen=True)
class FormField:
    """One field of an install body, as a source declares it for the forms that build one
    (the dashboard, the CLI's prompts). ``kind``: ``string``, ``number``, ``boolean``,
    ``list`` (of strings), ``map`` (of strings) or ``choice`` (one of ``choices``); an
    ``env`` field goes in the body's ``env``; a ``secret`` one is typed masked and never
    shown back."""

    name: str
    kind: str = "string"
    required: bool = False
    secret: bool = False
    env: bool = False
    description: str = ""
    choices: tuple[str, ...] = ()

    def to_json(self) -> JSON:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SourceForm:
    """An install source as a form: the body's ``source`` is ``prefix`` followed by what is
    typed in ``source_field`` when there is one (``pypi:`` and a requirement), else
    ``prefix`` alone (a connector's name); ``admin``: installing it needs the admin role."""

    prefix: str
    title: str
    description: str = ""
    source_field: FormField | None = None
    fields: tuple[FormField, ...] = ()
    admin: bool = False

    def to_json(self) -> JSON:
        return dataclasses.asdict(self)
