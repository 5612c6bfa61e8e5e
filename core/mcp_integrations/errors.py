"""Typed errors; ``app.py`` maps each to its HTTP status and code in one place."""

from __future__ import annotations


class IntegrationsError(Exception):
    """Base of every error the API reports to its caller."""

    status: int = 500
    code: str = "internal_error"
    headers: dict[str, str] | None = None
    #: The JSON-RPC error code a server answered with, when the error is the server's.
    mcp_code: int | None = None
    #: The error's ``data`` where the spec gives it a meaning a client acts on
    #: (``requiredCapabilities``), passed on to MCP clients.
    mcp_data: dict[str, object] | None = None

    def __init__(
        self,
        message: str,
        *,
        mcp_code: int | None = None,
        mcp_data: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.mcp_code = mcp_code
        self.mcp_data = mcp_data


class BadRequest(IntegrationsError):
    """The request body or a parameter is malformed."""

    status = 400
    code = "bad_request"


class InvalidId(BadRequest):
    code = "invalid_id"


class Unauthorized(IntegrationsError):
    """No credentials, or credentials that no plugin accepts."""

    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="mcp-integrations"'}


class Forbidden(IntegrationsError):
    """The caller is known but its role does not allow this action."""

    status = 403
    code = "forbidden"


class ForbiddenOrigin(Forbidden):
    """A browser page from a foreign origin made this request."""

    code = "forbidden_origin"


class NotFound(IntegrationsError):
    status = 404
    code = "not_found"

    @classmethod
    def integration(cls, integration_id: str) -> NotFound:
        return cls(f"no integration with id {integration_id[:64]!r}")


class PayloadTooLarge(IntegrationsError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(IntegrationsError):
    """A body that is not JSON: browsers send those cross-origin without asking first."""

    status = 415
    code = "unsupported_media_type"


class MisdirectedRequest(IntegrationsError):
    """A ``Host`` the hub does not answer to: the mark of DNS rebinding."""

    status = 421
    code = "misdirected_request"


class AlreadyInstalled(IntegrationsError):
    status = 409
    code = "already_installed"


class UnknownSource(IntegrationsError):
    """No plugin knows how to install this source."""

    status = 422
    code = "unknown_source"


class MissingEnv(IntegrationsError):
    """A start that cannot succeed: required environment variables are not set."""

    status = 422
    code = "missing_env"

    def __init__(self, integration_id: str, missing: tuple[str, ...]) -> None:
        names = ", ".join(missing)
        super().__init__(
            f"integration {integration_id!r} cannot start: missing required environment "
            f"variable(s) {names}; reinstall it with them in 'env'"
        )
        self.missing = missing


class UnresolvedReference(IntegrationsError):
    """An ``env`` value names ``${VAR}`` of the hub's environment, and the hub has no VAR."""

    status = 422
    code = "unresolved_reference"


class EnvNotAllowed(IntegrationsError):
    """An ``env`` name that changes how an interpreter loads code, for a server that does
    not declare it."""

    status = 422
    code = "env_not_allowed"


class SecretsUnreadable(IntegrationsError):
    """Stored secrets cannot be decrypted: the key is not the one they were sealed with."""

    code = "secrets_unreadable"


class UnreadableIntegration(IntegrationsError):
    """A stored record that no longer decodes; its row is kept, so removing it is the fix."""

    status = 409
    code = "unreadable_integration"

    def __init__(self, integration_id: str, reason: str) -> None:
        super().__init__(
            f"integration {integration_id[:64]!r} cannot be read ({reason}); remove it and "
            "install it again"
        )
        self.integration_id = integration_id
        self.reason = reason


class StorageFull(IntegrationsError):
    """The disk holding the data dir is full: the change was not recorded."""

    status = 507
    code = "storage_full"


class StorageUnavailable(IntegrationsError):
    """The database cannot be read or written: read-only, an I/O error, locked, damaged."""

    status = 503
    code = "storage_unavailable"


class UnsupportedRuntime(IntegrationsError):
    status = 422
    code = "unsupported_runtime"


class InstallFailed(IntegrationsError):
    """The slow part of an install (a venv, a download) did not work."""

    status = 502
    code = "install_failed"


class StartFailed(IntegrationsError):
    """The server did not come up: it exited (``exit_code``), timed out, or its MCP
    handshake failed."""

    status = 502
    code = "start_failed"
    exit_code: int | None = None

    @classmethod
    def exited(cls, exit_code: int | None, message: str) -> StartFailed:
        error = cls(message)
        error.exit_code = exit_code
        return error


class StartCancelled(IntegrationsError):
    """A stop, a removal or the hub's shutdown cancelled the start before it finished."""

    status = 409
    code = "start_cancelled"


class NotRunning(IntegrationsError):
    """A call to an integration that is not running (and does not start on demand)."""

    status = 409
    code = "not_running"


class UnknownTool(NotFound):
    code = "unknown_tool"


class UnknownPrompt(NotFound):
    code = "unknown_prompt"


class UnknownResource(NotFound):
    code = "unknown_resource"


class InvalidArguments(IntegrationsError):
    """Arguments that the tool's input schema refuses; the message names the field."""

    status = 422
    code = "invalid_arguments"


class UpstreamError(IntegrationsError):
    """The server answered a call with an error, or went away during it."""

    status = 502
    code = "upstream_error"


class CallTimeout(IntegrationsError):
    """The server did not answer in time; the call was cancelled on the server."""

    status = 504
    code = "call_timeout"


class InvalidConnector(IntegrationsError):
    """A connector entry point is broken; a packaging bug, not the caller's."""

    code = "invalid_connector"


class DuplicateConnector(InvalidConnector):
    def __init__(self, name: str) -> None:
        super().__init__(f"two connectors are installed under the name {name!r}")
        self.name = name
