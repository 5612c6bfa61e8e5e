"""Secret scrubbing: every encoded, re-cased or line-split form a server may print."""

from __future__ import annotations

import base64
import json
import random
import re
import string
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from mcp_integrations.redact import MASK, Redactor

TOKEN = "ghp_4Fz8QmL2xR7vN1cK9sT3wY6bH0jD5pEa"
SPECIAL = 'p@ss w0rd/+"q"\\é€😀~'  # a character for every escaping rule
SHORTEST = "abcd"
URL = "postgresql://app:S3cr%40t-pw!@db.internal:5432/prod"
PASSWORD = "S3cr@t-pw!"  # what the server prints: the URL's password, decoded
SECRETS = [TOKEN, SPECIAL, SHORTEST]


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda found: found.group().lower(), text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64_urlsafe(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "swapcase": str.swapcase,
    "quote": lambda s: quote(s, safe=""),
    "quote-default-safe": quote,
    "quote_plus": quote_plus,
    "quote-lower-hex": lambda s: _lower_hex(quote(s, safe="")),
    "quote_plus-lower-hex": lambda s: _lower_hex(quote_plus(s)),
    "json-ascii": lambda s: json.dumps(s)[1:-1],
    "json-unicode": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "hex": lambda s: s.encode().hex(),
    "hex-upper": lambda s: s.encode().hex().upper(),
    "base64": lambda s: _b64(s.encode()),
    "base64-unpadded": lambda s: _b64(s.encode()).rstrip("="),
    "base64-urlsafe": lambda s: _b64_urlsafe(s.encode()),
    "base64-urlsafe-unpadded": lambda s: _b64_urlsafe(s.encode()).rstrip("="),
}

ENCODERS: dict[str, Callable[[bytes], str]] = {
    "standard": _b64,
    "standard-unpadded": lambda data: _b64(data).rstrip("="),
    "urlsafe": _b64_urlsafe,
}

PARAGRAPH = """\
The hub starts every integration as a child process and talks to it over standard input
and output. When a server fails to start, the last lines it wrote to its error stream are
shown to the operator, together with the exit status and a short hint about what to check
next: the command, the working directory, the environment and the network. Most failures
come from a missing dependency, a wrong path or a database that refused the connection.
Restarting with a longer timeout rarely helps; reading the log usually does. Keep secrets
in the settings store, never in the command line, so that they can be masked everywhere.
"""

JSON_DOCUMENT = json.dumps(
    {
        "name": "postgresql-connector",
        "version": "1.4.2",
        "command": ["python", "-m", "mcp_integrations_connectors.postgresql"],
        "env": {"PGHOST": "db.internal", "PGPORT": "5432", "PGDATABASE": "prod"},
        "secret_env": ["DATABASE_URL", "GITHUB_TOKEN"],
        "restart": {"max_attempts": 5, "backoff_seconds": [1, 2, 4, 8, 16]},
        "tools": [{"name": "query", "description": "Run a read-only SQL query."}],
        "checksum": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "enabled": True,
        "notes": None,
    },
    indent=2,
)


def test_masks_values_and_url_passwords() -> None:
    redact = Redactor(["tok-abcdef", "postgresql://u:pa55word@h/db", "ab"])
    text = "token tok-abcdef; url postgresql://u:pa55word@h/db; auth failed for pa55word; ab"
    assert redact(text) == "token ***; url ***; auth failed for ***; ab"


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("form", FORMS)
def test_masks_each_form_embedded_in_text(secret: str, form: str) -> None:
    printed = FORMS[form](secret)
    assert Redactor([secret])(f"before {printed} after") == f"before {MASK} after"


@pytest.mark.parametrize("secret", SECRETS)
def test_masks_a_secret_inside_json(secret: str) -> None:
    document = json.dumps({"error": f"bad credentials: {secret}", "retry": False})
    assert Redactor([secret])(document) == '{"error": "bad credentials: ***", "retry": false}'


def test_base64_is_matched_case_sensitively() -> None:
    swapped = _b64(TOKEN.encode()).swapcase()
    assert Redactor([TOKEN])(f"id {swapped} ok") == f"id {swapped} ok"


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("after", ["", ":x", ":xy", ":xyz"])
@pytest.mark.parametrize("before", ["", "x", "u:", "ab:", "user:", "admin-user:"])
@pytest.mark.parametrize("secret", SECRETS)
def test_masks_a_secret_inside_a_longer_base64_blob(
    secret: str, before: str, after: str, encoder: str
) -> None:
    """Like HTTP Basic auth: only the characters carrying bits of the neighbours stay."""
    blob = ENCODERS[encoder]((before + secret + after).encode())
    out = Redactor([secret])(f"Authorization: Basic {blob} end")
    head, mask, tail = (
        out.removeprefix("Authorization: Basic ").removesuffix(" end").partition(MASK)
    )
    assert mask == MASK
    assert MASK not in tail
    start, stop = len(before.encode()), len((before + secret).encode())
    assert blob.startswith(head)
    assert len(head) <= -(-8 * start // 6)  # the first character with a bit of the secret
    assert blob.endswith(tail)
    assert len(tail) <= len(blob) - 8 * stop // 6  # from the last one with a bit of `after`
    if not after:
        assert tail == ""


@pytest.mark.parametrize("width", [4, 7, 10, 64, 76])
def test_masks_a_base64_blob_wrapped_across_lines(width: int) -> None:
    blob = _b64(f"user:{TOKEN}".encode())
    wrapped = "\n".join(blob[i : i + width] for i in range(0, len(blob), width))
    out = Redactor([TOKEN])(f"key:\n{wrapped}\n")
    assert out.count("\n") == wrapped.count("\n") + 2
    kept = out.removeprefix("key:\n").replace("\n", "")
    assert re.fullmatch(r"dXNlcj.?(\*\*\*)+", kept), kept


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("cut", range(1, len(TOKEN)))
def test_masks_a_secret_split_across_lines(cut: int, newline: str) -> None:
    text = f"error: {TOKEN[:cut]}{newline}{TOKEN[cut:]} (code 7)"
    assert Redactor([TOKEN])(text) == f"error: {MASK}{newline}{MASK} (code 7)"


@pytest.mark.parametrize("cut", range(1, len(SPECIAL)))
def test_masks_a_special_secret_split_across_lines(cut: int) -> None:
    text = f"error: {SPECIAL[:cut]}\n{SPECIAL[cut:]} (code 7)"
    assert Redactor([SPECIAL])(text) == f"error: {MASK}\n{MASK} (code 7)"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 11])
@pytest.mark.parametrize("form", ["plain", "upper", "quote", "hex", "base64"])
def test_masks_a_secret_split_across_many_lines(form: str, size: int) -> None:
    printed = FORMS[form](TOKEN)
    pieces = [printed[i : i + size] for i in range(0, len(printed), size)]
    out = Redactor([TOKEN])("token:\n" + "\r\n".join(pieces) + "\ndone")
    assert out == "token:\n" + "\r\n".join([MASK] * len(pieces)) + "\ndone"


@pytest.mark.parametrize("cut", range(1, len(TOKEN)))
def test_streamed_lines_mask_the_pieces_of_a_split_secret(cut: int) -> None:
    """One call per line: a piece of 4+ characters at the split is masked, 3 or less leak."""
    redact = Redactor([TOKEN])
    first, second = TOKEN[:cut], TOKEN[cut:]
    assert redact.line(f"log: {first}") == (f"log: {MASK}" if len(first) >= 4 else f"log: {first}")
    assert redact.line(f"{second} next") == (
        f"{MASK} next" if len(second) >= 4 else f"{second} next"
    )


@pytest.mark.parametrize("secret", [TOKEN, SPECIAL])
@pytest.mark.parametrize("form", FORMS)
def test_streamed_lines_mask_each_form_split_in_two(secret: str, form: str) -> None:
    printed = FORMS[form](secret)
    half = len(printed) // 2
    redact = Redactor([secret])
    assert redact.line(f"x {printed[:half]}") == f"x {MASK}"
    assert redact.line(f"{printed[half:]} y") == f"{MASK} y"


def test_streamed_lines_mask_a_line_wholly_inside_a_secret() -> None:
    redact = Redactor([TOKEN])
    assert [redact.line(line) for line in (TOKEN[:12], TOKEN[12:24], TOKEN[24:])] == [MASK] * 3


def test_streamed_line_ending_in_carriage_return() -> None:
    """A CRLF stream split on LF leaves the CR at the end of each line."""
    assert Redactor([TOKEN]).line(f"log: {TOKEN[:10]}\r") == f"log: {MASK}\r"


def test_whole_texts_are_not_masked_by_pieces() -> None:
    """Edges are a streaming rule: an error or a tool listing loses only whole forms."""
    redact = Redactor([TOKEN])
    assert redact(f"log: {TOKEN[:10]}") == f"log: {TOKEN[:10]}"
    assert redact(f"{TOKEN[10:]} next") == f"{TOKEN[10:]} next"


def test_a_urls_edges_are_its_password_only() -> None:
    redact = Redactor(["postgresql://postgres:pa55-word-x@127.0.0.1:5432/postgres"])
    for text in ("postgresql-connector", "postgres is fine", "connect to postgres"):
        assert redact.line(text) == text and redact(text) == text
    assert redact.line("password pa55-w") == f"password {MASK}"
    assert redact.line("ord-x then") == f"{MASK} then"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"connecting to {URL}", "connecting to ***"),
        (
            f'password authentication failed ("{PASSWORD}")',
            'password authentication failed ("***")',
        ),
        ("dsn password=S3cr%40t-pw!", "dsn password=***"),
        (f"url-encoded {quote(PASSWORD, safe='')}", "url-encoded ***"),
        (f"upper {PASSWORD.upper()}", "upper ***"),
        ("user app at db.internal:5432/prod", "user app at db.internal:5432/prod"),
        ("mysql://root:hunter22@replica/db", "mysql://root:***@replica/db"),
    ],
)
def test_masks_the_password_of_a_url(text: str, expected: str) -> None:
    assert Redactor([URL, "mysql://root:hunter22@localhost/db"])(text) == expected


def test_masks_a_value_read_with_surrounding_whitespace() -> None:
    assert Redactor([f" {TOKEN}\n"])(f"token={TOKEN};") == "token=***;"


def test_ignores_short_secrets() -> None:
    redact = Redactor(["abc", "xy", "", "🔑", "postgresql://u:pw@h/db"])
    assert redact("abc xy 🔑 pw") == "abc xy 🔑 pw"
    assert redact("url postgresql://u:pw@h/db") == "url ***"
    assert Redactor(["abc", TOKEN])(f"abc {TOKEN}") == "abc ***"


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [([], False), (["abc", ""], False), ([SHORTEST], True), ([URL], True)],
)
def test_is_false_when_there_is_nothing_to_mask(secrets: list[str], expected: bool) -> None:
    assert bool(Redactor(secrets)) is expected


@pytest.mark.parametrize(
    "secret",
    # The last one shares 3 characters with the ends of some lines and of the JSON keys:
    # below the 4-character threshold, so nothing may be masked.
    [TOKEN, URL, SPECIAL, "sk_live_51HxQm2eZvKYlo2C8a9rT", 'eck-9Vt2LqX7pR4w-The"'],
)
@pytest.mark.parametrize("text", [PARAGRAPH, JSON_DOCUMENT], ids=["english", "json"])
def test_leaves_text_without_secrets_alone(text: str, secret: str) -> None:
    redact = Redactor([secret])
    assert redact(text) == text
    assert [redact(line) for line in text.splitlines()] == text.splitlines()


def test_union_masks_the_secrets_of_every_redactor() -> None:
    token, url = Redactor([TOKEN]), Redactor([URL])
    text = f"{TOKEN} {PASSWORD} {_b64(TOKEN.encode())}"
    assert token(text) == f"*** {PASSWORD} ***"
    assert url(text) == f"{TOKEN} *** {_b64(TOKEN.encode())}"
    for combined in (token | url, Redactor.union(token, Redactor([]), url)):
        assert combined(text) == "*** *** ***"
    assert not Redactor.union(Redactor([]), Redactor(["abc"]))
    assert not Redactor.union()


def test_union_only_with_redactors() -> None:
    with pytest.raises(TypeError):
        _ = Redactor([TOKEN]) | TOKEN


@pytest.mark.parametrize(
    ("secrets", "text"),
    [
        (["abcd1234", "abcd1234efgh5678"], "k=abcd1234efgh5678;"),
        (["abcd1234efgh5678", "abcd1234"], "k=ABCD1234EFGH5678;"),
        (["aaaa-bbbb-cccc", "cccc-dddd-eeee"], "k=aaaa-bbbb-cccc-dddd-eeee;"),
        (["aaaa-bbbb-cccc", "bbbb-cccc-dddd-eeee"], "k=aaaa-bbbb-cccc-dddd-eeee;"),
        ([TOKEN], f"k={TOKEN}{TOKEN};"),
        ([TOKEN], f"k={TOKEN}{_b64(TOKEN.encode())};"),
    ],
)
def test_masks_the_longest_match_and_never_half_a_secret(secrets: list[str], text: str) -> None:
    assert Redactor(secrets)(text) == "k=***;"


def test_repr_does_not_show_the_secrets() -> None:
    assert TOKEN not in repr(Redactor([TOKEN]))


def test_ten_secrets_over_ten_thousand_lines() -> None:
    """A sanity check that the hub-wide case finishes: no timing, only correctness."""
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    secrets = ["".join(rng.choices(alphabet, k=32)) for _ in range(10)]
    forms = list(FORMS.values())
    lines = []
    for n in range(10_000):
        line = f"{n:05d} worker {n % 7} handled GET /items/{n % 97} in {n % 13} ms"
        if n % 100 == 0:
            line += f" token={forms[n % len(forms)](secrets[n % 10])}"
        lines.append(line)
    redact = Redactor(secrets)
    out = redact("\n".join(lines)).split("\n")
    streamed = [redact.line(line) for line in lines]
    for result in (out, streamed):
        assert len(result) == len(lines)
        assert sum(MASK in line for line in result) == 100
        assert [line.split(" token=")[0] for line in result] == [
            line.split(" token=")[0] for line in lines
        ]
        assert all(line.endswith(f" token={MASK}") for line in result if " token=" in line)
