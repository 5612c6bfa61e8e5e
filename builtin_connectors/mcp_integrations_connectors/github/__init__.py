"""The GitHub connector's descriptor: what the hub needs to install and start it.

Kept free of heavy imports (no httpx, no mcp) because the hub loads it at install time.
"""

from __future__ import annotations

from mcp_integrations.connectors import Connector, EnvVar

connector = Connector(
    module="mcp_integrations_connectors.github",
    description=(
        "GitHub over its REST API: search repositories, read files, list and create issues, "
        "list pull requests. Works with github.com and GitHub Enterprise Server."
    ),
    env=(
        EnvVar(
            "GITHUB_TOKEN",
            description=(
                "GitHub personal access token (fine-grained or classic) or app installation "
                "token; needs read access to contents, issues and pull requests, and write "
                "access to issues to create them."
            ),
            required=True,
            secret=True,
        ),
        EnvVar(
            "GITHUB_API_URL",
            description=(
                "REST API base URL; default https://api.github.com, "
                "or https://HOST/api/v3 for GitHub Enterprise Server."
            ),
        ),
    ),
)
