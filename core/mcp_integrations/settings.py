"""How the hub faces the network: which names and origins it answers, who may call it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mcp_integrations.models import OnDemand
from mcp_integrations.tokens import Sessions, TokenTable

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY = "*"
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """``allowed_hosts`` and ``allowed_origins`` add to the hub's own names (``*``: any);
    with no ``tokens`` the API is open, which only loopback or ``insecure`` permits.
    ``header_timeout`` and ``body_timeout`` (seconds) close connections that send their
    request too slowly; ``max_connections`` of None fits the cap to the open-files limit.
    ``on_demand`` is what integrations that do not say get: start on first call, idle stop."""

    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    tokens: TokenTable = field(default_factory=TokenTable)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    insecure: bool = False
    pass_env: tuple[str, ...] = ()
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int | None = None
    on_demand: OnDemand = field(default_factory=OnDemand)
    #: The dashboard's logins (in memory; the same object for the app and its plugins).
    sessions: Sessions = field(default_factory=Sessions, compare=False, repr=False)
    _hosts: frozenset[str] = field(init=False, repr=False, compare=False)
    _origins: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = {h.lower().strip("[]").rstrip(".") for h in (*LOOPBACK_NAMES, *self.allowed_hosts)}
        if not _is_wildcard(self.host):
            hosts.add(self.host.lower().strip("[]"))
        object.__setattr__(self, "_hosts", frozenset(hosts))
        origins = {o.lower().rstrip("/") for o in self.allowed_origins}
        object.__setattr__(self, "_origins", frozenset(origins))

    @property
    def open_access(self) -> bool:
        """True when nobody has to present a token."""
        return not self.tokens

    def problem(self) -> str | None:
        """Why the hub must not start with these settings, or None."""
        own = [name for name in self.pass_env if name.upper().startswith("MCP_INTEGRATIONS_")]
        if own:
            return f"--pass-env may not hand the hub's own settings to servers ({own[0]})"
        if self.open_access and not is_loopback(self.host) and not self.insecure:
            return (
                f"refusing to serve {self.host} without a token: anyone who reaches it could "
                "run commands as this user. Give --token, --token-file or "
                "MCP_INTEGRATIONS_TOKEN, bind 127.0.0.1, or pass --insecure if something "
                "else guards the network"
            )
        return None

    def host_allowed(self, hostname: str) -> bool:
        return ANY in self._hosts or hostname.lower().strip("[]").rstrip(".") in self._hosts

    def origin_allowed(self, origin: str) -> bool:
        return ANY in self._origins or origin.lower().rstrip("/") in self._origins
