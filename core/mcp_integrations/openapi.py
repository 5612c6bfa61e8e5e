"""The API's OpenAPI 3.1 document, written by hand to say exactly what the app answers.

It is the contract the fuzz test (``tests/test_openapi.py``) holds the app to: every status
code an operation can return is listed, and every body matches its schema. Built by a
function so that each caller gets its own copy to change.
"""

from __future__ import annotations

from typing import Any

from mcp_integrations import __version__
from mcp_integrations.bodies import (
    MAX_ENV_ENTRIES,
    MAX_ENV_VALUE_BYTES,
    MAX_IDLE_TIMEOUT,
    MAX_SOURCE_CHARS,
    OUTPUT_LIMITS,
    PREVIEW_CHARS,
)
from mcp_integrations.runtime import PROTOCOLS

JSON = "application/json"
ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ENV_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,127}$"
STATUSES = ["stopped", "starting", "running", "unhealthy", "stopping", "crashed", "failed"]

#: Error responses by status: (component name, description).
ERRORS: dict[str, tuple[str, str]] = {
    "400": (
        "BadRequest",
        "Malformed input: a body that is not a JSON object, a field that breaks its rule "
        "(the message names it), or an id outside the id pattern. Messages quote at most "
        f"{PREVIEW_CHARS} characters of a bad value.",
    ),
    "401": (
        "Unauthorized",
        "The hub has tokens and the request has no valid 'Authorization: Bearer' token.",
    ),
    "403": (
        "Forbidden",
        "The caller's role does not allow this action, 'env' references the hub's own "
        "settings, or the request comes from a browser page at a foreign Origin.",
    ),
    "404": ("NotFound", "No integration has this id, or it has no such tool or resource."),
    "409": (
        "Conflict",
        "An integration with this id is already installed, or a call went to an "
        "integration that is not running and does not start on demand.",
    ),
    "413": ("PayloadTooLarge", "The request body is larger than the limit (1 MiB by default)."),
    "415": ("UnsupportedMediaType", "The request has a body that is not application/json."),
    "421": (
        "MisdirectedRequest",
        "The Host header names a host this hub does not answer to (DNS rebinding guard).",
    ),
    "422": (
        "Unprocessable",
        "Well-formed but cannot succeed: an unknown source, a start without a required "
        "environment variable, an 'env' name the server may not receive, a ${VAR} "
        "reference the hub cannot resolve, a runtime no plugin provides.",
    ),
    "502": (
        "BadGateway",
        "The server itself failed: its install step failed, it did not start (it "
        "exited, timed out or failed its MCP handshake), or it answered a call with an "
        "error or went away during it.",
    ),
    "504": (
        "GatewayTimeout",
        "The server did not answer the call in time; the hub cancelled it on the server.",
    ),
}
#: What every request can meet before it reaches a route: the guard and authentication.
COMMON = ("401", "403", "421")
#: What a request that may carry a body can meet besides.
WITH_BODY = ("413", "415")


def _nullable(type_name: str, **extra: Any) -> dict[str, Any]:
    return {"type": [type_name, "null"], **extra}


def _json(schema_name: str) -> dict[str, Any]:
    return {JSON: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


_LIMIT_TEXTS = {
    "max_message_bytes": "The largest message a stdio server may send (default 4 MiB); "
    "past it the session is closed and the status says why.",
    "log_max_bytes": "The size at which the server's log is rotated (default 10 MiB).",
    "log_backups": "How many rotated logs are kept (default 2).",
}


def _output_limits() -> dict[str, Any]:
    return {
        name: {
            "type": "integer",
            "minimum": low,
            "maximum": high,
            "description": _LIMIT_TEXTS[name],
        }
        for name, (low, high) in OUTPUT_LIMITS.items()
    }


def _timeout(what: str) -> dict[str, Any]:
    return {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 3600,
        "description": f"Seconds {what} may take (default: the integration's call_timeout, "
        "else 60).",
    }


def _schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "Stable, machine-readable: e.g. not_found, "
                            "bad_request, invalid_id, already_installed, missing_env.",
                            "examples": ["not_found"],
                        },
                        "message": {"type": "string", "description": "For people."},
                    },
                }
            },
        },
        "IntegrationStatus": {
            "type": "object",
            "description": "One integration's state; fields may be added, never removed.",
            "required": [
                "id",
                "status",
                "pid",
                "uptime_secs",
                "tools_count",
                "runtime",
                "source",
                "started_at",
                "restarts",
                "last_exit_code",
                "last_error",
                "server_info",
            ],
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": STATUSES},
                "pid": _nullable("integer", description="The server's process id while it runs."),
                "container_id": _nullable(
                    "string", description="The container's id, for the docker runtime."
                ),
                "uptime_secs": _nullable("integer", minimum=0),
                "tools_count": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Tools seen last, kept while the server is stopped.",
                },
                "runtime": {"type": "string", "examples": ["subprocess"]},
                "source": {"type": "string", "description": "The install source."},
                "started_at": _nullable(
                    "number", description="Unix time of the last start, while running."
                ),
                "next_retry_at": _nullable(
                    "number", description="Unix time of the next restart, while waiting."
                ),
                "restarts": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Restarts after crashes in a row.",
                },
                "last_exit_code": _nullable("integer"),
                "last_error": _nullable(
                    "string", description="Why it last failed; secrets are masked."
                ),
                "protocol_version": _nullable(
                    "string",
                    description="The MCP revision the hub speaks with the server while it runs.",
                ),
                "log_dropped": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Lines of the server's log dropped since it started, "
                    "because they could not be written (a full disk).",
                },
                "server_info": _nullable(
                    "object",
                    description="The server's MCP implementation info (name, version).",
                ),
                "start_on_demand": {
                    "type": "boolean",
                    "description": "Whether a call while it is stopped starts it.",
                },
                "idle_timeout": _nullable(
                    "number", description="Seconds without a call before it is stopped."
                ),
                "stop_reason": _nullable(
                    "string",
                    enum=["requested", "idle", "on_demand", None],
                    description="Why it is stopped: a stop was asked for, nobody called it "
                    "for idle_timeout, or it waits for its first call.",
                ),
                "last_used_at": _nullable("number", description="Unix time of the last call."),
            },
            "examples": [
                {
                    "id": "postgresql-connector",
                    "status": "running",
                    "pid": 12345,
                    "uptime_secs": 8100,
                    "tools_count": 4,
                    "runtime": "subprocess",
                    "source": "postgresql-connector",
                    "started_at": 1795480000.0,
                    "restarts": 0,
                    "last_exit_code": None,
                    "last_error": None,
                    "server_info": {"name": "postgresql-connector", "version": "0.1.0"},
                }
            ],
        },
        "IntegrationList": {
            "type": "object",
            "required": ["integrations"],
            "properties": {
                "integrations": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/IntegrationStatus"},
                }
            },
        },
        "Tool": {
            "type": "object",
            "required": ["name", "description", "input_schema"],
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "input_schema": {
                    "type": "object",
                    "description": "The tool's JSON Schema for its arguments.",
                },
            },
        },
        "ToolList": {
            "type": "object",
            "required": ["tools"],
            "properties": {
                "tools": {"type": "array", "items": {"$ref": "#/components/schemas/Tool"}}
            },
        },
        "CallRequest": {
            "type": "object",
            "properties": {
                "arguments": {
                    "type": "object",
                    "description": "Checked against the tool's input schema first (422 "
                    "naming the field).",
                },
                "timeout": _timeout("this call"),
            },
        },
        "PromptRequest": {
            "type": "object",
            "properties": {
                "arguments": {"type": "object", "additionalProperties": {"type": "string"}},
                "timeout": _timeout("this request"),
            },
        },
        "FormField": {
            "type": "object",
            "required": ["name", "kind", "required", "secret", "env", "description", "choices"],
            "properties": {
                "name": {"type": "string"},
                "kind": {
                    "type": "string",
                    "enum": ["string", "number", "boolean", "list", "map", "choice"],
                },
                "required": {"type": "boolean"},
                "secret": {"type": "boolean", "description": "Typed masked, never shown back."},
                "env": {"type": "boolean", "description": "Goes in the body's env."},
                "description": {"type": "string"},
                "choices": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Sources": {
            "type": "object",
            "required": ["sources"],
            "description": "Every install source as a form: the body's source is prefix "
            "followed by what is typed in source_field, when there is one.",
            "properties": {
                "sources": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["prefix", "title", "description", "fields", "admin"],
                        "properties": {
                            "prefix": {"type": "string"},
                            "title": {"type": "string"},
                            "description": {"type": "string"},
                            "source_field": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/FormField"},
                                    {"type": "null"},
                                ]
                            },
                            "fields": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/FormField"},
                            },
                            "admin": {"type": "boolean"},
                        },
                    },
                }
            },
        },
        "McpServers": {
            "type": "object",
            "required": ["mcpServers"],
            "description": "Claude Desktop, Cursor and VS Code's form: entries with command, "
            "args, env, cwd, or url, type and headers.",
            "properties": {
                "mcpServers": {"type": "object", "additionalProperties": {"type": "object"}},
                "autostart": {"type": "boolean"},
            },
        },
        "ImportResults": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "installed"],
                        "properties": {
                            "id": {"type": "string"},
                            "installed": {"type": "boolean"},
                            "status": {"type": "string", "enum": STATUSES},
                            "error": {"type": "object"},
                        },
                    },
                }
            },
        },
        "McpResult": {
            "type": "object",
            "description": "The MCP result as the server sent it (camelCase): for a tool, "
            "content, structuredContent and isError; for a resource, contents; for a "
            "prompt, description and messages. Secrets are masked.",
        },
        "ResourceList": {
            "type": "object",
            "required": ["resources", "resource_templates"],
            "properties": {
                "resources": {"type": "array", "items": {"type": "object"}},
                "resource_templates": {"type": "array", "items": {"type": "object"}},
            },
        },
        "PromptList": {
            "type": "object",
            "required": ["prompts"],
            "properties": {"prompts": {"type": "array", "items": {"type": "object"}}},
        },
        "InstallRequest": {
            "type": "object",
            "required": ["source"],
            "description": "Keys besides source, id and env are options for the plugin "
            "that resolves the source (command and required_env for 'command'); sources "
            "that read none ignore them.",
            "properties": {
                "source": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SOURCE_CHARS,
                    "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
                    "description": "A connector's name (e.g. postgresql-connector), "
                    "'command', 'pypi:REQUIREMENT', 'npm:PACKAGE[@VERSION]', 'docker:IMAGE', "
                    "or an http(s) URL of a running MCP server. Surrounding spaces are "
                    "dropped; no control characters.",
                    "examples": ["github-connector"],
                },
                "id": {
                    "type": ["string", "null"],
                    "description": "Defaults to the source. 1-64 letters, digits, '.', '_' "
                    "or '-', starting with a letter or digit, without '..'; any other "
                    "string is answered with 400 invalid_id.",
                    "examples": ["my-server"],
                },
                "headers": {
                    "type": "object",
                    "description": "URL sources only: HTTP headers for every request to the "
                    "server (e.g. Authorization); sealed and masked like env.",
                    "additionalProperties": {"type": "string"},
                },
                "transport": {
                    "type": "string",
                    "enum": ["streamable-http", "sse"],
                    "description": "URL sources only; default: sse for a path ending in "
                    "/sse, else streamable-http.",
                },
                "cpus": {"type": "number", "description": "docker: sources only: CPU limit."},
                "memory": {
                    "type": ["string", "integer"],
                    "description": "docker: sources only: memory limit, e.g. 256m.",
                },
                "network": {
                    "type": "string",
                    "description": "docker: sources only: the container's network, e.g. none.",
                },
                "autostart": {"type": "boolean", "description": "Start it once installed."},
                "restart": {
                    "type": "string",
                    "enum": ["on-failure", "always", "never"],
                    "description": "When a server that exits by itself is started again "
                    "(default on-failure: unless it exited with 0).",
                },
                "call_timeout": _timeout("a call to this integration"),
                **_output_limits(),
                "protocol": {
                    "type": "string",
                    "enum": list(PROTOCOLS),
                    "description": "The MCP revision the hub speaks with the server "
                    "(default 2025-11-25; auto: the newest the server offers).",
                },
                "start_on_demand": {
                    "type": "boolean",
                    "description": "A call to the integration while it is stopped starts "
                    "it (else 409); its tools are listed at install and shown on /mcp "
                    "while it is stopped (default: the hub's --start-on-demand).",
                },
                "idle_timeout": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": MAX_IDLE_TIMEOUT,
                    "description": "Stop the server after this many seconds without a call "
                    "(0: never; default: the hub's --idle-timeout).",
                },
                "env": {
                    "type": "object",
                    "description": "Passed to the server; kept secret, never returned. Values "
                    f"up to {MAX_ENV_VALUE_BYTES} bytes of UTF-8, without NUL.",
                    "maxProperties": MAX_ENV_ENTRIES,
                    "propertyNames": {"pattern": ENV_NAME_PATTERN},
                    "additionalProperties": {"type": "string"},
                },
                "command": {
                    "description": "Source 'command' only: the program and its arguments, "
                    "or one command line split as a POSIX shell would (no shell runs it). "
                    "At most 256 arguments of 4096 characters, without NUL.",
                    "oneOf": [
                        {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 256,
                            "items": {"type": "string", "maxLength": 4096},
                        },
                        {"type": "string", "minLength": 1},
                    ],
                },
                "required_env": {
                    "description": "Source 'command' only: variables the server cannot "
                    "start without (a start without them is a 422).",
                    "type": "array",
                    "maxItems": MAX_ENV_ENTRIES,
                    "items": {"type": "string", "pattern": ENV_NAME_PATTERN},
                },
            },
            "additionalProperties": True,
            "examples": [
                {
                    "source": "postgresql-connector",
                    "env": {"DATABASE_URL": "postgresql://user:pw@localhost/db"},
                },
                {"source": "command", "id": "my-server", "command": ["python", "server.py"]},
            ],
        },
        "Installed": {
            "type": "object",
            "required": ["id", "installed"],
            "properties": {
                "id": {"type": "string"},
                "installed": {"const": True},
                "status": {"type": "string", "enum": STATUSES},
            },
        },
        "Removed": {
            "type": "object",
            "required": ["id", "removed"],
            "properties": {"id": {"type": "string"}, "removed": {"const": True}},
        },
    }


def _responses() -> dict[str, Any]:
    responses: dict[str, Any] = {
        name: {"description": description, "content": _json("Error")}
        for name, description in ERRORS.values()
    }
    responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."}
    }
    return responses


def _operation(
    operation_id: str,
    summary: str,
    ok: tuple[str, str, str],
    errors: tuple[str, ...],
    *,
    body: bool = False,
    with_id: bool = False,
    parameters: tuple[dict[str, Any], ...] = (),
    request: str | None = None,
) -> dict[str, Any]:
    status, schema, description = ok
    codes = sorted({*COMMON, *errors, *(WITH_BODY if body else ())})
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["integrations"],
        "responses": {
            status: {"description": description, "content": _json(schema)},
            **{code: {"$ref": f"#/components/responses/{ERRORS[code][0]}"} for code in codes},
        },
    }
    if with_id:
        operation["parameters"] = [{"$ref": "#/components/parameters/IntegrationId"}]
    if parameters:
        operation["parameters"] = [*operation.get("parameters", []), *parameters]
    if request:
        operation["requestBody"] = {"required": False, "content": _json(request)}
    return operation


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at ``GET /openapi.json``."""
    by_id = ("400", "404")
    calls = (*by_id, "409", "422", "502", "504")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Integrations API",
            "version": __version__,
            "description": "Manage MCP-compatible integration servers: install them from a "
            "source, start, stop and restart them, report their status and tools. Every "
            'error is {"error": {"code", "message"}}.',
        },
        "servers": [{"url": "http://127.0.0.1:4200"}],
        "tags": [{"name": "integrations"}],
        # open on loopback without tokens; with tokens, every request needs one
        "security": [{}, {"bearerAuth": []}],
        "paths": {
            "/integrations": {
                "get": _operation(
                    "listIntegrations",
                    "List integrations",
                    ("200", "IntegrationList", "Every installed integration's status."),
                    (),
                )
            },
            "/integrations/install": {
                "post": {
                    **_operation(
                        "installIntegration",
                        "Install an integration",
                        ("201", "Installed", "Installed; not started."),
                        ("400", "409", "422", "502"),
                        body=True,
                    ),
                    "requestBody": {
                        "required": True,
                        "content": _json("InstallRequest"),
                    },
                }
            },
            "/integrations/import": {
                "post": _operation(
                    "importServers",
                    "Install every entry of an mcpServers document",
                    (
                        "200",
                        "ImportResults",
                        "Each entry's result, in order; one bad entry does not stop the others.",
                    ),
                    ("400",),
                    body=True,
                    request="McpServers",
                )
            },
            "/sources": {
                "get": _operation(
                    "listSources",
                    "Every install source, as a form to build an install body from",
                    ("200", "Sources", "Connectors and kinds of source, with their fields."),
                    (),
                )
            },
            "/integrations/export": {
                "get": _operation(
                    "exportServers",
                    "Every integration as an mcpServers document",
                    ("200", "McpServers", "Secrets left as ${NAME} references."),
                    (),
                )
            },
            "/integrations/{id}": {
                "delete": _operation(
                    "removeIntegration",
                    "Remove an integration (stops it first)",
                    ("200", "Removed", "Removed."),
                    by_id,
                    body=True,
                    with_id=True,
                )
            },
            "/integrations/{id}/start": {
                "post": _operation(
                    "startIntegration",
                    "Start server",
                    ("200", "IntegrationStatus", "Its status once started."),
                    (*by_id, "422", "502"),
                    body=True,
                    with_id=True,
                )
            },
            "/integrations/{id}/stop": {
                "post": _operation(
                    "stopIntegration",
                    "Stop server",
                    ("200", "IntegrationStatus", "Its status once stopped."),
                    by_id,
                    body=True,
                    with_id=True,
                )
            },
            "/integrations/{id}/restart": {
                "post": _operation(
                    "restartIntegration",
                    "Restart server",
                    ("200", "IntegrationStatus", "Its status once started again."),
                    (*by_id, "422", "502"),
                    body=True,
                    with_id=True,
                )
            },
            "/integrations/{id}/status": {
                "get": _operation(
                    "getIntegrationStatus",
                    "Get runtime status",
                    ("200", "IntegrationStatus", "Its status."),
                    by_id,
                    with_id=True,
                )
            },
            "/integrations/{id}/tools": {
                "get": _operation(
                    "listIntegrationTools",
                    "List exposed tools",
                    ("200", "ToolList", "Live while it runs; the last ones seen otherwise."),
                    by_id,
                    with_id=True,
                )
            },
            "/integrations/{id}/tools/{name}/call": {
                "post": _operation(
                    "callTool",
                    "Call a tool",
                    ("200", "McpResult", "The tool's result (isError: the tool failed)."),
                    calls,
                    body=True,
                    with_id=True,
                    parameters=(_path("name", "The tool's name, as the server lists it."),),
                    request="CallRequest",
                )
            },
            "/integrations/{id}/resources": {
                "get": _operation(
                    "listResources",
                    "List resources and resource templates",
                    ("200", "ResourceList", "Everything the server lists, every page."),
                    calls,
                    with_id=True,
                )
            },
            "/integrations/{id}/resources/read": {
                "get": _operation(
                    "readResource",
                    "Read a resource",
                    ("200", "McpResult", "The resource's contents."),
                    calls,
                    with_id=True,
                    parameters=(
                        {
                            "name": "uri",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ),
                )
            },
            "/integrations/{id}/prompts": {
                "get": _operation(
                    "listPrompts",
                    "List prompts",
                    ("200", "PromptList", "Everything the server lists, every page."),
                    calls,
                    with_id=True,
                )
            },
            "/integrations/{id}/prompts/{name}/get": {
                "post": _operation(
                    "getPrompt",
                    "Get a prompt",
                    ("200", "McpResult", "The prompt's messages."),
                    calls,
                    body=True,
                    with_id=True,
                    parameters=(_path("name", "The prompt's name."),),
                    request="PromptRequest",
                )
            },
        },
        "components": {
            "schemas": _schemas(),
            "responses": _responses(),
            "parameters": {
                "IntegrationId": {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": f"An integration id, {ID_PATTERN} without '..'. Any "
                    "other string is answered with 400 invalid_id.",
                    "schema": {"type": "string"},
                    "example": "postgresql-connector",
                }
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Needed when the hub is started with tokens; a token's "
                    "role (reader, operator, admin) limits what it may do (else 403).",
                }
            },
        },
    }
