"""A fake of the slice of Salesforce the salesforce connector calls: the OAuth 2.0 token endpoint
and the REST API's query, search, sobjects, describe and record resources.

Paths, headers, status codes and JSON shapes follow Salesforce's REST API documentation. Every
request is recorded so tests can assert on what the connector sent; a missing or unknown bearer
token gets the real 401 ``INVALID_SESSION_ID`` answer.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

OLDEST_VERSION, NEWEST_VERSION = 31, 62
ORG_ID = "00D5g000004FAKEEAA"
USER_ID = "0055g000003FAKEAAA"

NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]

_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where_field>\w+)\s*=\s*'(?P<where_value>[^']*)')?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SOSL = re.compile(
    r"^\s*FIND\s+\{(?P<term>[^}]*)\}(?:\s+IN\s+\w+\s+FIELDS)?"
    r"(?:\s+RETURNING\s+(?P<returning>.+?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_RETURNING = re.compile(r"(\w+)\s*(?:\(([^)]*)\))?")


def _field(name: str, type_: str, label: str, **overrides: Any) -> dict[str, Any]:
    """One field describe, with the many flags Salesforce always sends."""
    described: dict[str, Any] = {
        "aggregatable": True,
        "autoNumber": False,
        "byteLength": 0,
        "calculated": False,
        "caseSensitive": False,
        "createable": True,
        "custom": name.endswith("__c"),
        "defaultValue": None,
        "defaultedOnCreate": False,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 0,
        "externalId": False,
        "filterable": True,
        "groupable": True,
        "idLookup": False,
        "inlineHelpText": None,
        "label": label,
        "length": 0,
        "name": name,
        "nameField": False,
        "nillable": True,
        "picklistValues": [],
        "precision": 0,
        "referenceTo": [],
        "relationshipName": None,
        "restrictedPicklist": False,
        "scale": 0,
        "soapType": "xsd:string",
        "sortable": True,
        "type": type_,
        "unique": False,
        "updateable": True,
    }
    described.update(overrides)
    return described


def _id_field() -> dict[str, Any]:
    return _field(
        "Id",
        "id",
        "Record ID",
        createable=False,
        updateable=False,
        nillable=False,
        defaultedOnCreate=True,
        idLookup=True,
        length=18,
        soapType="tns:ID",
    )


def _picklist(*values: str, inactive: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {
            "active": value not in inactive,
            "defaultValue": False,
            "label": value,
            "validFor": None,
            "value": value,
        }
        for value in (*values, *inactive)
    ]


SCHEMA: dict[str, dict[str, Any]] = {
    "Account": {
        "label": "Account",
        "labelPlural": "Accounts",
        "keyPrefix": "001",
        "custom": False,
        "fields": [
            _id_field(),
            _field("Name", "string", "Account Name", nillable=False, length=255, nameField=True),
            _field(
                "Industry",
                "picklist",
                "Industry",
                length=255,
                picklistValues=_picklist("Banking", "Energy", inactive=("Legacy",)),
            ),
            _field("Phone", "phone", "Account Phone", length=40),
            _field("NumberOfEmployees", "int", "Employees", digits=8, soapType="xsd:int"),
        ],
        "childRelationships": [
            {
                "cascadeDelete": False,
                "childSObject": "Contact",
                "deprecatedAndHidden": False,
                "field": "AccountId",
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": "Contacts",
                "restrictedDelete": False,
            },
            {
                "cascadeDelete": True,
                "childSObject": "AccountHistory",
                "deprecatedAndHidden": False,
                "field": "AccountId",
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": None,
                "restrictedDelete": False,
            },
        ],
    },
    "Contact": {
        "label": "Contact",
        "labelPlural": "Contacts",
        "keyPrefix": "003",
        "custom": False,
        "fields": [
            _id_field(),
            _field("FirstName", "string", "First Name", length=40),
            _field("LastName", "string", "Last Name", nillable=False, length=80),
            _field("Email", "email", "Email", length=80),
            _field(
                "AccountId",
                "reference",
                "Account ID",
                referenceTo=["Account"],
                relationshipName="Account",
                length=18,
                soapType="tns:ID",
            ),
        ],
        "childRelationships": [],
    },
    "Invoice__c": {
        "label": "Invoice",
        "labelPlural": "Invoices",
        "keyPrefix": "a01",
        "custom": True,
        "fields": [
            _id_field(),
            _field("Name", "string", "Invoice Name", nillable=False, length=80, nameField=True),
            _field("Amount__c", "currency", "Amount", precision=16, scale=2, soapType="xsd:double"),
        ],
        "childRelationships": [],
    },
}

SEED: dict[str, list[dict[str, Any]]] = {
    "Account": [
        {"Name": "Acme", "Industry": "Energy", "Phone": "555-0100", "NumberOfEmployees": 120},
        {"Name": "Globex", "Industry": "Banking", "Phone": None, "NumberOfEmployees": 40},
        {"Name": "Initech", "Industry": None, "Phone": "555-0102", "NumberOfEmployees": 9},
        {"Name": "Umbrella", "Industry": "Energy", "Phone": None, "NumberOfEmployees": 800},
        {"Name": "Acme Labs", "Industry": None, "Phone": None, "NumberOfEmployees": 3},
    ],
    "Contact": [
        {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@acme.test", "Account": 0},
        {"FirstName": "Alan", "LastName": "Turing", "Email": None, "Account": 1},
    ],
    "Invoice__c": [{"Name": "INV-0001", "Amount__c": 99.5}],
}


@dataclass
class RecordedRequest:
    """What the connector sent, as the fake saw it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] | None = None
    json: Any = None
    status: int = 0

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


@dataclass
class FakeSalesforce:
    """The fake org; ``app`` is the ASGI app to serve, the rest is state tests read and steer."""

    client_id: str
    client_secret: str
    username: str
    password: str
    static_tokens: tuple[str, ...] = ()
    page_size: int = 2000
    reject_all_tokens: bool = False
    delay_seconds: float = 0.0
    instance_url: str | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    _cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/services/oauth2/token", self._token, methods=["POST"]),
                Route("/services/data/{version}/query", self._query, methods=["GET"]),
                Route("/services/data/{version}/query/{locator}", self._query_more),
                Route("/services/data/{version}/search", self._search, methods=["GET"]),
                Route("/services/data/{version}/sobjects", self._sobjects, methods=["GET"]),
                Route("/services/data/{version}/sobjects/{sobject}/describe", self._describe),
                Route(
                    "/services/data/{version}/sobjects/{sobject}", self._create, methods=["POST"]
                ),
                Route(
                    "/services/data/{version}/sobjects/{sobject}/{record_id}",
                    self._record,
                    methods=["GET", "PATCH", "DELETE"],
                ),
            ]
        )
        self.reset()

    def reset(self) -> None:
        """Back to the seeded org, the static tokens valid, nothing recorded."""
        self.page_size = 2000
        self.reject_all_tokens = False
        self.delay_seconds = 0.0
        self.instance_url = None
        self.requests.clear()
        self.issued_tokens.clear()
        self.valid_tokens = set(self.static_tokens)
        self.deleted.clear()
        self._cursors.clear()
        self.records = {name: {} for name in SCHEMA}
        for name, rows in SEED.items():
            for row in rows:
                values = {k: v for k, v in row.items() if k != "Account"}
                if "Account" in row:
                    values["AccountId"] = list(self.records["Account"])[row["Account"]]
                self._insert(name, values)

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    @property
    def token_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/services/oauth2/token"]

    @property
    def data_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith("/services/data/")]

    def _new_id(self, sobject: str) -> str:
        self._counter += 1
        return f"{SCHEMA[sobject]['keyPrefix']}5g00000{self._counter:05d}AAA"

    def _insert(self, sobject: str, values: dict[str, Any]) -> str:
        record_id = self._new_id(sobject)
        row = {f["name"]: None for f in SCHEMA[sobject]["fields"]}
        self.records[sobject][record_id] = row | values | {"Id": record_id}
        return record_id

    async def _record_request(self, request: Request) -> RecordedRequest:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            params=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        if content_type.startswith("application/x-www-form-urlencoded"):
            recorded.form = {k: str(v) for k, v in (await request.form()).items()}
        elif content_type.startswith("application/json") and body:
            recorded.json = await request.json()
        self.requests.append(recorded)
        return recorded

    def _answer(self, recorded: RecordedRequest, body: Any, status: int = 200) -> Response:
        recorded.status = status
        if status == 204:
            return Response(status_code=204)
        headers = {"WWW-Authenticate": "Token"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def _guard(self, request: Request) -> tuple[RecordedRequest, Response | None]:
        """Record the request and refuse it as Salesforce would: bad token, unknown version."""
        recorded = await self._record_request(request)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        token = recorded.bearer
        if self.reject_all_tokens or token is None or token not in self.valid_tokens:
            return recorded, self._answer(recorded, INVALID_SESSION, 401)
        match = re.fullmatch(r"v(\d+)\.0", request.path_params["version"])
        if match is None or not OLDEST_VERSION <= int(match.group(1)) <= NEWEST_VERSION:
            return recorded, self._answer(recorded, NOT_FOUND, 404)
        return recorded, None

    def _data_path(self, request: Request) -> str:
        return f"/services/data/{request.path_params['version']}"

    def _attributes(self, request: Request, sobject: str, record_id: str) -> dict[str, str]:
        return {
            "type": sobject,
            "url": f"{self._data_path(request)}/sobjects/{sobject}/{record_id}",
        }

    def _field_name(self, sobject: str, name: str) -> str | None:
        for described in SCHEMA[sobject]["fields"]:
            if described["name"].lower() == name.lower():
                return str(described["name"])
        return None

    def _object_name(self, name: str) -> str | None:
        return next((known for known in SCHEMA if known.lower() == name.lower()), None)

    def _project(
        self, request: Request, sobject: str, row: dict[str, Any], fields: list[str]
    ) -> dict[str, Any]:
        """A row as the API returns it: attributes first, then the selected fields."""
        out: dict[str, Any] = {"attributes": self._attributes(request, sobject, row["Id"])}
        for name in fields:
            if "." in name:
                relation, parent_field = name.split(".", 1)
                parent_id = row.get(f"{relation}Id")
                parent = self.records["Account"].get(parent_id or "")
                out[relation] = (
                    None
                    if parent is None
                    else self._project(request, "Account", parent, [parent_field])
                )
            else:
                out[name] = row[name]
        return out

    def _resolve_fields(self, sobject: str, names: list[str]) -> list[str] | str:
        """API names for ``names``, or the first one that does not exist."""
        resolved: list[str] = []
        for name in names:
            if "." in name and sobject == "Contact":
                relation, parent_field = name.split(".", 1)
                parent_name = self._field_name("Account", parent_field)
                if relation.lower() == "account" and parent_name:
                    resolved.append(f"Account.{parent_name}")
                    continue
            found = self._field_name(sobject, name)
            if found is None:
                return name
            resolved.append(found)
        return resolved

    async def _token(self, request: Request) -> Response:
        recorded = await self._record_request(request)
        form = recorded.form
        if form is None:
            return self._answer(
                recorded,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                400,
            )
        grant = form.get("grant_type")
        if grant not in ("password", "client_credentials"):
            return self._answer(
                recorded,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                400,
            )
        if form.get("client_id") != self.client_id:
            return self._answer(
                recorded,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
                400,
            )
        if form.get("client_secret") != self.client_secret:
            return self._answer(
                recorded,
                {"error": "invalid_client", "error_description": "invalid client credentials"},
                400,
            )
        if grant == "password" and (
            form.get("username") != self.username or form.get("password") != self.password
        ):
            return self._answer(
                recorded,
                {"error": "invalid_grant", "error_description": "authentication failure"},
                400,
            )
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(24)}"
        self.issued_tokens.append(token)
        self.valid_tokens.add(token)
        instance = self.instance_url or str(request.base_url).rstrip("/")
        body = {
            "access_token": token,
            "instance_url": instance,
            "id": f"{instance}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        if grant == "client_credentials":
            body["scope"] = "api"
        return self._answer(recorded, body)

    def _page(self, request: Request, rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
        page, rest = rows[: self.page_size], rows[self.page_size :]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            locator = f"01gFAKE{len(self._cursors):08d}"
            offset = total - len(rest)
            self._cursors[f"{locator}-{offset}"] = rest
            body["nextRecordsUrl"] = f"{self._data_path(request)}/query/{locator}-{offset}"
        return body

    async def _query(self, request: Request) -> Response:
        recorded, refused = await self._guard(request)
        if refused:
            return refused
        soql = recorded.params.get("q", "")
        match = _SOQL.match(soql)
        if match is None:
            words = soql.split()
            token = words[1] if len(words) > 1 else (words[0] if words else "<EOF>")
            message = f"\n{soql}\n^\nERROR at Row:1:Column:1\nunexpected token: {token}"
            return self._answer(
                recorded, [{"message": message, "errorCode": "MALFORMED_QUERY"}], 400
            )
        sobject = self._object_name(match["object"])
        if sobject is None:
            return self._answer(
                recorded,
                [
                    {
                        "message": f"sObject type '{match['object']}' is not supported.",
                        "errorCode": "INVALID_TYPE",
                    }
                ],
                400,
            )
        fields = self._resolve_fields(sobject, [f.strip() for f in match["fields"].split(",")])
        where = match["where_field"] and self._field_name(sobject, match["where_field"])
        if isinstance(fields, str) or (match["where_field"] and not where):
            missing = fields if isinstance(fields, str) else match["where_field"]
            return self._answer(
                recorded,
                [
                    {
                        "message": f"No such column '{missing}' on entity '{sobject}'.",
                        "errorCode": "INVALID_FIELD",
                    }
                ],
                400,
            )
        rows = [
            self._project(request, sobject, row, fields)
            for row in self.records[sobject].values()
            if not where or str(row.get(where)) == match["where_value"]
        ]
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        return self._answer(recorded, self._page(request, rows, len(rows)))

    async def _query_more(self, request: Request) -> Response:
        recorded, refused = await self._guard(request)
        if refused:
            return refused
        locator = request.path_params["locator"]
        rest = self._cursors.pop(locator, None)
        if rest is None:
            return self._answer(
                recorded,
                [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}],
                400,
            )
        offset = int(locator.rsplit("-", 1)[1])
        return self._answer(recorded, self._page(request, rest, offset + len(rest)))

    async def _search(self, request: Request) -> Response:
        recorded, refused = await self._guard(request)
        if refused:
            return refused
        match = _SOSL.match(recorded.params.get("q", ""))
        if match is None:
            return self._answer(
                recorded,
                [
                    {
                        "message": "No search term found. The search term must be enclosed "
                        "in braces.",
                        "errorCode": "MALFORMED_SEARCH",
                    }
                ],
                400,
            )
        term = match["term"].strip().rstrip("*").lower()
        wanted: list[tuple[str, list[str]]] = []
        for name, field_list in _RETURNING.findall(match["returning"] or ""):
            sobject = self._object_name(name)
            if sobject is None:
                return self._answer(
                    recorded,
                    [
                        {
                            "message": f"sObject type '{name}' is not supported.",
                            "errorCode": "INVALID_TYPE",
                        }
                    ],
                    400,
                )
            names = [f.strip() for f in field_list.split(",") if f.strip()] or ["Id"]
            resolved = self._resolve_fields(sobject, names)
            if isinstance(resolved, str):
                return self._answer(
                    recorded,
                    [
                        {
                            "message": f"No such column '{resolved}' on entity '{sobject}'.",
                            "errorCode": "INVALID_FIELD",
                        }
                    ],
                    400,
                )
            wanted.append((sobject, resolved))
        hits = [
            self._project(request, sobject, row, fields)
            for sobject, fields in wanted or [(name, ["Id"]) for name in SCHEMA]
            for row in self.records[sobject].values()
            if any(isinstance(v, str) and term in v.lower() for k, v in row.items() if k != "Id")
        ]
        return self._answer(recorded, {"searchRecords": hits})

    async def _sobjects(self, request: Request) -> Response:
        recorded, refused = await self._guard(request)
        if refused:
            return refused
        base = self._data_path(request)
        entries = [
            {
                "activateable": False,
                "createable": True,
                "custom": meta["custom"],
                "customSetting": False,
                "deletable": True,
                "deprecatedAndHidden": False,
                "feedEnabled": not meta["custom"],
                "hasSubtypes": False,
                "isSubtype": False,
                "keyPrefix": meta["keyPrefix"],
                "label": meta["label"],
                "labelPlural": meta["labelPlural"],
                "layoutable": True,
                "mergeable": name != "Invoice__c",
                "mruEnabled": True,
                "name": name,
                "queryable": True,
                "replicateable": True,
                "retrieveable": True,
                "searchable": True,
                "triggerable": True,
                "undeletable": True,
                "updateable": True,
                "urls": {
                    "rowTemplate": f"{base}/sobjects/{name}/{{ID}}",
                    "describe": f"{base}/sobjects/{name}/describe",
                    "sobject": f"{base}/sobjects/{name}",
                },
            }
            for name, meta in SCHEMA.items()
        ]
        return self._answer(
            recorded, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": entries}
        )

    async def _describe(self, request: Request) -> Response:
        recorded, refused = await self._guard(request)
        if refused:
            return refused
        name = self._object_name(request.path_params["sobject"])
        if name is None:
            return self._answer(recorded, NOT_FOUND, 404)
        meta = SCHEMA[name]
        base = f"{self._data_path(request)}/sobjects/{name}"
        return self._answer(
            recorded,
            {
                "actionOverrides": [],
                "activateable": False,
                "childRelationships": meta["childRelationships"],
                "compactLayoutable": True,
                "createable": True,
                "custom": meta["custom"],
                "customSetting": False,
                "deletable": True,
                "fields": meta["fields"],
                "keyPrefix": meta["keyPrefix"],
                "label": meta["label"],
                "labelPlural": meta["labelPlural"],
                "name": name,
                "queryable": True,
                "recordTypeInfos": [
                    {
                        "active": True,
                        "available": True,
                        "defaultRecordTypeMapping": True,
                        "developerName": "Master",
                        "master": True,
                        "name": "Master",
                        "recordTypeId": "012000000000000AAA",
                        "urls": {"layout": f"{base}/describe/layouts/012000000000000AAA"},
                    }
                ],
                "searchable": True,
                "supportedScopes": [{"label": "All accounts", "name": "everything"}],
                "updateable": True,
                "urls": {"describe": f"{base}/describe", "sobject": base},
            },
        )

    def _check_values(
        self, sobject: str, values: Any, *, creating: bool
    ) -> list[dict[str, Any]] | None:
        """The error array Salesforce would answer for this body, or None if it is fine."""
        if not isinstance(values, dict):
            return [{"message": "Json Deserialization failed", "errorCode": "JSON_PARSER_ERROR"}]
        for key in values:
            described = next(
                (f for f in SCHEMA[sobject]["fields"] if f["name"].lower() == key.lower()), None
            )
            if described is None:
                return [
                    {
                        "message": f"No such column '{key}' on sobject of type {sobject}",
                        "errorCode": "INVALID_FIELD",
                    }
                ]
            if not described["createable" if creating else "updateable"]:
                return [
                    {
                        "message": f"Unable to create/update fields: {described['name']}. Please "
                        "check the security settings of this field and verify that it is "
                        "read/write for your profile or permission set.",
                        "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "fields": [described["name"]],
                    }
                ]
        if creating:
            given = {k.lower() for k, v in values.items() if v is not None}
            missing = [
                f["name"]
                for f in SCHEMA[sobject]["fields"]
                if not f["nillable"] and f["createable"] and f["name"].lower() not in given
            ]
            if missing:
                return [
                    {
                        "message": f"Required fields are missing: [{', '.join(missing)}]",
                        "errorCode": "REQUIRED_FIELD_MISSING",
                        "fields": missing,
                    }
                ]
        return None

    async def _create(self, request: Request) -> Response:
        recorded, refused = await self._guard(request)
        if refused:
            return refused
        sobject = self._object_name(request.path_params["sobject"])
        if sobject is None:
            return self._answer(recorded, NOT_FOUND, 404)
        if not recorded.headers.get("content-type", "").startswith("application/json"):
            return self._answer(
                recorded,
                [
                    {
                        "message": "Content type 'text/plain' not supported",
                        "errorCode": "UNSUPPORTED_MEDIA_TYPE",
                    }
                ],
                415,
            )
        errors = self._check_values(sobject, recorded.json, creating=True)
        if errors:
            return self._answer(recorded, errors, 400)
        values = {self._field_name(sobject, k) or k: v for k, v in recorded.json.items()}
        record_id = self._insert(sobject, values)
        return self._answer(recorded, {"id": record_id, "success": True, "errors": []}, 201)

    async def _record(self, request: Request) -> Response:
        recorded, refused = await self._guard(request)
        if refused:
            return refused
        sobject = self._object_name(request.path_params["sobject"])
        record_id = request.path_params["record_id"]
        if sobject is None:
            return self._answer(recorded, NOT_FOUND, 404)
        row = self.records[sobject].get(record_id)
        if row is None:
            if record_id in self.deleted:
                gone = {
                    "errorCode": "ENTITY_IS_DELETED",
                    "message": "entity is deleted",
                    "fields": [],
                }
                return self._answer(recorded, [gone], 404)
            return self._answer(recorded, NOT_FOUND, 404)
        if request.method == "GET":
            requested = recorded.params.get("fields")
            names = [f["name"] for f in SCHEMA[sobject]["fields"]]
            if requested:
                resolved = self._resolve_fields(sobject, requested.split(","))
                if isinstance(resolved, str):
                    return self._answer(
                        recorded,
                        [
                            {
                                "message": f"No such column '{resolved}' on entity '{sobject}'.",
                                "errorCode": "INVALID_FIELD",
                            }
                        ],
                        400,
                    )
                names = resolved
            return self._answer(recorded, self._project(request, sobject, row, names))
        if request.method == "DELETE":
            del self.records[sobject][record_id]
            self.deleted.add(record_id)
            return self._answer(recorded, None, 204)
        errors = self._check_values(sobject, recorded.json, creating=False)
        if errors:
            return self._answer(recorded, errors, 400)
        row.update({self._field_name(sobject, k) or k: v for k, v in recorded.json.items()})
        return self._answer(recorded, None, 204)
