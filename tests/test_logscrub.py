"""Secrets masked in every log record, message and traceback alike, whoever logs them."""

from __future__ import annotations

import logging

import pytest

from mcp_integrations.logscrub import SecretSet
from mcp_integrations.redact import Redactor

SECRET = "ghp_log-scrub-secret-value"


def test_log_records_are_scrubbed_while_the_hub_knows_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = SecretSet()
    secrets.set("gh", Redactor([SECRET]))
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        logger.info("connecting with %s", SECRET)
        logger.info("%s %d %r", ValueError(SECRET), 7, {"t": SECRET})
        logger.info(f"formatted early: {SECRET}")
        try:
            raise RuntimeError(f"refused token {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    assert SECRET not in caplog.text
    assert "connecting with ***" in caplog.text and "refused token ***" in caplog.text
    assert "formatted early: ***" in caplog.text and " 7 " in caplog.text
    access = caplog.records[0].args
    assert isinstance(access, tuple) and access == ("***",)

    secrets.discard("gh")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        logger.info("later %s", SECRET)
    assert SECRET in caplog.text
