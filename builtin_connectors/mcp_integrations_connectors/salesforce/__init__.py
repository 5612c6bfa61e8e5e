"""The Salesforce connector's descriptor; the server itself lives in ``.server``.

Importing this package must stay cheap: the hub reads ``connector`` at install time.
"""

from __future__ import annotations

from mcp_integrations.connectors import Connector, EnvVar

connector = Connector(
    module="mcp_integrations_connectors.salesforce",
    description=(
        "Salesforce REST API: SOQL queries, SOSL searches, object metadata and record "
        "create/read/update/delete. Authenticate with SALESFORCE_INSTANCE_URL and "
        "SALESFORCE_ACCESS_TOKEN, or with an OAuth connected app (SALESFORCE_CLIENT_ID and "
        "SALESFORCE_CLIENT_SECRET, plus SALESFORCE_USERNAME and SALESFORCE_PASSWORD for the "
        "username-password flow; without them the client-credentials flow is used)."
    ),
    env=(
        EnvVar(
            "SALESFORCE_INSTANCE_URL",
            "Your org's URL, e.g. https://mycompany.my.salesforce.com. Needed with "
            "SALESFORCE_ACCESS_TOKEN; an OAuth login reports it by itself.",
        ),
        EnvVar(
            "SALESFORCE_ACCESS_TOKEN",
            "An OAuth access token (session id). Not renewed unless OAuth credentials are set too.",
            secret=True,
        ),
        EnvVar("SALESFORCE_CLIENT_ID", "Consumer key of the connected app, for an OAuth login."),
        EnvVar(
            "SALESFORCE_CLIENT_SECRET",
            "Consumer secret of the connected app, for an OAuth login.",
            secret=True,
        ),
        EnvVar("SALESFORCE_USERNAME", "Username, for the OAuth username-password flow."),
        EnvVar(
            "SALESFORCE_PASSWORD",
            "Password followed by the security token if the org asks for one, for the OAuth "
            "username-password flow.",
            secret=True,
        ),
        EnvVar(
            "SALESFORCE_LOGIN_URL",
            "Where to log in: https://login.salesforce.com (default), https://test.salesforce.com "
            "for sandboxes, or your My Domain URL (required by the client-credentials flow).",
        ),
        EnvVar("SALESFORCE_API_VERSION", "REST API version, e.g. 62.0 (default) or v62.0."),
        EnvVar("SALESFORCE_TIMEOUT", "Seconds to wait for Salesforce per request (default 30)."),
    ),
)
