"""A hub served for real on loopback (the MCP endpoints need a real HTTP server) with two
toy servers running, ``alpha`` and ``beta``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mcp_integrations.app import create_app
from mcp_integrations.settings import Settings
from tests.conftest import FAST_RESTARTS
from tests.helpers import serve_asgi, toy_install


@pytest.fixture
def hub(data_dir: Path) -> Iterator[str]:
    app = create_app(data_dir, settings=Settings(), policy=FAST_RESTARTS)
    with serve_asgi(app, lifespan=True, timeout=30) as url, httpx.Client(base_url=url) as http:
        for integration_id in ("alpha", "beta"):
            assert (
                http.post("/integrations/install", json=toy_install(integration_id)).status_code
                == 201
            )
            assert http.post(f"/integrations/{integration_id}/start").status_code == 200
        yield url
