"""The Salesforce MCP server: eight tools over the REST API of one org."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_integrations_connectors.salesforce.client import (
    OBJECT_NAME_RE,
    RECORD_ID_RE,
    SalesforceClient,
    Settings,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 200
MAX_ROWS = 2000

ObjectName = Annotated[
    str,
    Field(
        description="API name of the sObject, e.g. Account, Contact or My_Object__c.",
        pattern=OBJECT_NAME_RE.pattern,
    ),
]
RecordId = Annotated[
    str,
    Field(
        description="The record's Salesforce id (15 or 18 letters and digits).",
        pattern=RECORD_ID_RE.pattern,
    ),
]
FieldValues = Annotated[
    dict[str, Any],
    Field(description='Field API names to values, e.g. {"Name": "Acme", "Industry": "Energy"}.'),
]

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=True)
_ADDITIVE = ToolAnnotations(destructive_hint=False, open_world_hint=True)
_DESTRUCTIVE = ToolAnnotations(destructive_hint=True, idempotent_hint=True, open_world_hint=True)
_FIELD_KEYS = (
    "name",
    "label",
    "type",
    "length",
    "precision",
    "scale",
    "nillable",
    "createable",
    "updateable",
    "unique",
    "externalId",
    "defaultedOnCreate",
    "calculated",
    "referenceTo",
    "relationshipName",
)
_OBJECT_KEYS = (
    "name",
    "label",
    "labelPlural",
    "keyPrefix",
    "custom",
    "queryable",
    "searchable",
    "createable",
    "updateable",
    "deletable",
)


def _summarize_field(field: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what helps write SOQL and records; drop the dozens of rarely useful flags."""
    summary = {key: field[key] for key in _FIELD_KEYS if field.get(key) not in (None, [], "")}
    if field.get("type") not in ("string", "textarea", "url", "email", "phone", "picklist"):
        summary.pop("length", None)
    if field.get("type") not in ("double", "currency", "percent"):
        summary.pop("precision", None)
        summary.pop("scale", None)
    picklist = [p.get("value") for p in field.get("picklistValues") or [] if p.get("active")]
    if picklist:
        summary["picklistValues"] = picklist
    return summary


def _summarize_describe(body: Mapping[str, Any]) -> dict[str, Any]:
    summary = {key: body[key] for key in _OBJECT_KEYS if key in body}
    summary["fields"] = [_summarize_field(f) for f in body.get("fields") or []]
    summary["childRelationships"] = [
        {
            "relationshipName": rel["relationshipName"],
            "childSObject": rel.get("childSObject"),
            "field": rel.get("field"),
        }
        for rel in body.get("childRelationships") or []
        if rel.get("relationshipName")
    ]
    record_types = [
        rt.get("developerName") or rt.get("name")
        for rt in body.get("recordTypeInfos") or []
        if rt.get("available", True) and not rt.get("master", False)
    ]
    if record_types:
        summary["recordTypes"] = record_types
    return summary


def build_server(settings: Settings) -> MCPServer[Any]:
    """An MCP server whose tools share one :class:`SalesforceClient` (and one HTTP pool)."""
    client = SalesforceClient(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            await client.aclose()

    server: MCPServer[Any] = MCPServer(
        "salesforce",
        instructions=(
            "Read and change data in a Salesforce org: SOQL queries, SOSL searches, object "
            "metadata, and single-record create, read, update and delete. Use list_objects and "
            "describe_object to learn object and field API names before querying."
        ),
        lifespan=lifespan,
    )

    @server.tool(annotations=_READ_ONLY)
    async def query(
        soql: Annotated[
            str,
            Field(
                min_length=1,
                description="A SOQL statement, e.g. SELECT Id, Name FROM Account WHERE "
                "Industry = 'Energy' ORDER BY Name",
            ),
        ],
        max_rows: Annotated[
            int,
            Field(
                ge=1,
                le=MAX_ROWS,
                description=f"Stop after this many rows (at most {MAX_ROWS}).",
            ),
        ] = DEFAULT_MAX_ROWS,
    ) -> dict[str, Any]:
        """Run a SOQL query and return its rows, fetching further result pages as needed.

        The result has totalSize (rows matching), returned, truncated (true when rows were
        left out because of max_rows) and records (field values, without Salesforce's
        per-record attributes)."""
        return await client.query(soql, max_rows)

    @server.tool(annotations=_READ_ONLY)
    async def search(
        sosl: Annotated[
            str,
            Field(
                min_length=1,
                description="A SOSL statement, e.g. FIND {Acme*} IN NAME FIELDS RETURNING "
                "Account(Id, Name), Contact(Id, Name)",
            ),
        ],
    ) -> dict[str, Any]:
        """Run a SOSL full-text search across objects; each hit names its object in sobject."""
        return await client.search(sosl)

    @server.tool(annotations=_READ_ONLY)
    async def list_objects(
        name_contains: Annotated[
            str | None,
            Field(description="Only objects whose API name or label contains this text."),
        ] = None,
        custom_only: Annotated[bool, Field(description="Only custom objects (__c).")] = False,
    ) -> dict[str, Any]:
        """List the org's sObjects with their API name, label and what they allow
        (queryable, createable, updateable, deletable)."""
        needle = (name_contains or "").lower()
        objects = [
            {key: obj[key] for key in _OBJECT_KEYS if key in obj}
            for obj in await client.list_objects()
            if (not custom_only or obj.get("custom"))
            and (
                needle in str(obj.get("name", "")).lower()
                or needle in str(obj.get("label", "")).lower()
            )
        ]
        return {"count": len(objects), "objects": objects}

    @server.tool(annotations=_READ_ONLY)
    async def describe_object(object_name: ObjectName) -> dict[str, Any]:
        """Describe an sObject: its fields (API name, type, whether required or editable,
        references, active picklist values), child relationships and record types."""
        return _summarize_describe(await client.describe(object_name))

    @server.tool(annotations=_READ_ONLY)
    async def get_record(
        object_name: ObjectName,
        record_id: RecordId,
        fields: Annotated[
            list[str] | None,
            Field(description="Field API names to return; all readable fields when omitted."),
        ] = None,
    ) -> dict[str, Any]:
        """Fetch one record by id."""
        return await client.get_record(object_name, record_id, fields)

    @server.tool(annotations=_ADDITIVE)
    async def create_record(object_name: ObjectName, fields: FieldValues) -> dict[str, Any]:
        """Create a record and return its new id."""
        return await client.create_record(object_name, fields)

    @server.tool(annotations=_DESTRUCTIVE)
    async def update_record(
        object_name: ObjectName, record_id: RecordId, fields: FieldValues
    ) -> dict[str, Any]:
        """Change the given fields of a record; fields left out keep their values."""
        if not fields:
            raise ToolError("Give at least one field to update.")
        await client.update_record(object_name, record_id, fields)
        return {"id": record_id, "updated": True}

    @server.tool(annotations=_DESTRUCTIVE)
    async def delete_record(object_name: ObjectName, record_id: RecordId) -> dict[str, Any]:
        """Delete a record (it goes to the org's Recycle Bin)."""
        await client.delete_record(object_name, record_id)
        return {"id": record_id, "deleted": True}

    return server


def main() -> None:
    """Run the server over stdio, configured from the environment."""
    settings = Settings.from_env(os.environ)
    server = build_server(settings)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if settings.problem:
        logger.warning("Salesforce connector is not ready: %s", settings.problem)
    server.run()
