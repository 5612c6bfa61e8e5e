"""Typed errors; ``app.py`` maps each to its HTTP status and code in one place."""

from __future__ import annotations


class IntegrationsError(Exception):
    """Base of every error the API reports to its caller."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(IntegrationsError):
    """The request body or a parameter is malformed."""

    status = 400
    code = "bad_request"


class InvalidId(BadRequest):
    code = "invalid_id"


class Unauthorized(IntegrationsError):
    status = 401
    code = "unauthorized"


class NotFound(IntegrationsError):
    status = 404
    code = "not_found"

    @classmethod
    def integration(cls, integration_id: str) -> NotFound:
        return cls(f"no integration with id {integration_id!r}")


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


class UnsupportedRuntime(IntegrationsError):
    status = 422
    code = "unsupported_runtime"


class InstallFailed(IntegrationsError):
    """The slow part of an install (a venv, a download) did not work."""

    status = 502
    code = "install_failed"


class StartFailed(IntegrationsError):
    """The server did not come up: it exited, timed out, or its MCP handshake failed."""

    status = 502
    code = "start_failed"


class InvalidConnector(IntegrationsError):
    """A connector entry point is broken; a packaging bug, not the caller's."""

    code = "invalid_connector"


class DuplicateConnector(InvalidConnector):
    def __init__(self, name: str) -> None:
        super().__init__(f"two connectors are installed under the name {name!r}")
        self.name = name
