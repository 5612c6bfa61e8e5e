"""Secret scrubbing: whole values, and the password inside a URL."""

from __future__ import annotations

from mcp_integrations.redact import Redactor


def test_masks_values_and_url_passwords() -> None:
    redact = Redactor(["tok-abcdef", "postgresql://u:pa55word@h/db", "ab"])
    text = "token tok-abcdef; url postgresql://u:pa55word@h/db; auth failed for pa55word; ab"
    assert redact(text) == "token ***; url ***; auth failed for ***; ab"
