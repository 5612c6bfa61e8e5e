"""Scrubbing secrets out of text before it reaches a log, an error message or a response.

A :class:`Redactor` is built once from the secret values of an integration (or, with
``|``, of every integration) and then called on every line a server prints, so the
matching machinery is compiled up front: two regexes (a prefix tree of every form of every
secret: one for the case-insensitive forms, run on the lower-cased text, one for base64)
and a table of 4-character pieces for the edges of a text.

Masked with ``***``, for every secret of 4+ characters and for the password inside a
URL-shaped one (``postgresql://user:pw@host/db``, as written and percent-decoded):

* the value in any letter case;
* the value URL-encoded (``quote`` with ``safe=''`` or ``'/'``, ``quote_plus``, or every
  byte but ASCII letters and digits; upper- or lower-case hex) or JSON-escaped
  (``json.dumps`` without the quotes, with or without ``ensure_ascii``);
* its UTF-8 bytes in hex, either case;
* its base64, standard or URL-safe, padded or not, matched case-sensitively, also inside a
  longer blob such as the ``user:token`` of HTTP Basic auth: for each of the three byte
  alignments, the run of characters that depends only on the secret's bytes (what secret
  scanners match);
* any of those split across lines by ``\\n`` or ``\\r\\n``, at any points, in a multi-line
  text (the mask keeps the line breaks);
* with :meth:`Redactor.line`, for logs redacted one line at a time, at the two edges of
  the line: a line's end that is the start (4+ characters) of one of those forms, a
  line's start that is the end of one, and a line of 4+ characters lying wholly inside
  one; for a URL, of its password's forms only (its scheme, host and database name are
  ordinary words).

Not covered:

* in text redacted one line at a time, a piece of 3 characters or less cut off by a line
  break leaks: at most 3 characters of a secret per split (so a secret printed a few
  characters per line leaks whole);
* where a base64 blob mixes the secret with other bytes, the one character on each side
  carrying bits of both stays (a few bits of the secret);
* encodings mixed within one secret, stacked (base64 of the URL-encoded secret, JSON inside
  JSON) or not listed (base32, base85, HTML entities, UTF-16, hex with separators); a case
  change before a case-sensitive encoding (base64 of the upper-cased secret); casings
  that ``str.lower`` does not map one character to one (``ß``/``SS``); a secret split by
  anything but line breaks, truncated (except at a text's edges), reversed, hashed,
  compressed or encrypted; secrets shorter than 4 characters.

The price of the edge rule: a streamed line that merely starts or ends like a piece (4+
characters) of a secret form loses that piece to the mask; whole texts (errors, tool
listings) are never masked by pieces.
"""

from __future__ import annotations

import base64
import json
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"
_MIN_SECRET_LEN = 4
_EDGE = 4  # the shortest piece of a secret form masked at a text's edge
_LINE_BREAK = re.compile(r"\r?\n")
_LINE_PIECE = re.compile(r"[^\r\n]+")
_URLSAFE = str.maketrans("+/", "-_")
_NEVER = re.compile(r"(?!)")

_Span = tuple[int, int]
_Index = dict[str, list[tuple[str, int]]]


def _fold(text: str) -> str:
    """Lower case, one character for one, so positions in the folded text stay valid."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _exact(text: str) -> str:
    return text


def _utf8(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        return urlsplit(value.strip()).password
    except ValueError:  # e.g. a malformed IPv6 host: no password to find
        return None


def _fragments(value: str) -> Iterator[str]:
    """What a server may print of one secret: the value, trimmed, and a URL's password."""
    yield value
    yield value.strip()
    password = _password(value)
    if password:
        yield password
        yield unquote(password)


def _edge_fragments(value: str) -> Iterator[str]:
    """The fragments whose pieces are worth masking at a line's edge: for a URL, only its
    password, since its scheme, host and database name are ordinary words."""
    if "://" not in value:
        yield from _fragments(value)
    elif password := _password(value):
        yield password
        yield unquote(password)


def _text_forms(value: str) -> set[str]:
    """The forms of a value that are compared case-insensitively."""
    data = _utf8(value)
    return {
        value,
        quote(data, safe=""),
        quote(data),
        quote_plus(data),
        "".join(chr(b) if chr(b).isalnum() and b < 0x80 else f"%{b:02X}" for b in data),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        data.hex(),
    }


def _base64_forms(data: bytes) -> set[str]:
    """Base64 text that depends only on ``data``, at each of the three byte alignments.

    Inside a longer blob (``user:token``) the characters at the secret's edges mix in bits
    of its neighbours, so only the run between them is knowable; when the secret ends the
    blob, its last partial character and the padding are knowable too.
    """
    forms: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        first = -(-8 * offset // 6)
        last = 8 * (offset + len(data)) // 6
        for text in (encoded[first:last], encoded[first:], encoded[first:].rstrip("=")):
            forms.update((text, text.translate(_URLSAFE)))
    return forms


class _Trie:
    """Strings sharing prefixes, written out as one regex that matches the longest."""

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.terminal = False

    def add(self, text: str) -> None:
        node = self
        for char in text:
            node = node.children.setdefault(char, _Trie())
        node.terminal = True

    def regex(self) -> str:
        """Alternatives for what may follow this node ('' if nothing).

        Siblings start with different characters, so at most one can match; a longer
        string is tried before stopping at a shorter one (greedy ``?``).
        """
        branches = []
        for char, child in self.children.items():
            chars = [char]
            node = child
            while len(node.children) == 1 and not node.terminal:
                [(char, node)] = node.children.items()
                chars.append(char)
            rest = node.regex()
            if rest:
                rest = f"(?:{rest})" + ("?" if node.terminal else "")
            branches.append(re.escape("".join(chars)) + rest)
        return "|".join(branches)


def _compile(forms: Iterable[str]) -> re.Pattern[str]:
    trie = _Trie()
    for form in forms:
        trie.add(form)
    return re.compile(trie.regex()) if trie.children else _NEVER


def _index(forms: Iterable[str], fold: Callable[[str], str]) -> _Index:
    """Every 4-character window of every form, to find a form cut at a text's edge."""
    index: _Index = defaultdict(list)
    for form in forms:
        for pos in range(len(form) - _EDGE + 1):
            index[fold(form[pos : pos + _EDGE])].append((form, pos))
    return dict(index)


def _spans(pattern: re.Pattern[str], text: str) -> Iterator[_Span]:
    """Where the pattern matches, a match starting inside another stretching the span."""
    found = pattern.search(text)
    while found:
        start, end = found.span()
        found = pattern.search(text, start + 1)
        while found and found.start() < end:
            end = max(end, found.end())
            found = pattern.search(text, found.start() + 1)
        yield start, end


def _merge(spans: list[_Span]) -> Iterator[_Span]:
    """Overlapping or touching spans as one: one mask, no half secret left between two."""
    spans.sort()
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start > end:
            yield start, end
            start = next_start
        end = max(end, next_end)
    yield start, end


def _forms(fragments: Iterable[str]) -> tuple[set[str], set[str]]:
    """The case-insensitive and the base64 forms of some fragments, line breaks taken out
    (a multi-line text is searched without them), each of at least the edge length."""
    text_forms: set[str] = set()
    b64_forms: set[str] = set()
    for fragment in fragments:
        text_forms |= _text_forms(fragment)
        b64_forms |= _base64_forms(_utf8(fragment))
    text_forms = {f for f in (_LINE_BREAK.sub("", t) for t in text_forms) if len(f) >= _EDGE}
    return text_forms, {f for f in b64_forms if len(f) >= _EDGE}


class Redactor:
    """Replaces every known secret, in the forms the module docstring lists, with ``***``.

    Built once per set of secrets; on a line without secrets a call costs two regex
    searches and four dictionary lookups. Combine redactors with ``|`` or :meth:`union`.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._values = tuple(dict.fromkeys(secrets))
        fragments = {
            f for value in self._values for f in _fragments(value) if len(f) >= _MIN_SECRET_LEN
        }
        edge_fragments = {
            f for value in self._values for f in _edge_fragments(value) if f in fragments
        }
        text_forms, b64_forms = _forms(fragments)
        edge_text, edge_b64 = _forms(edge_fragments)
        self._count = len(fragments)
        self._folded = _compile(_fold(f) for f in text_forms)
        self._b64 = _compile(b64_forms)
        self._edges: list[tuple[_Index, Callable[[str], str]]] = [
            (_index(edge_text, _fold), _fold),
            (_index(edge_b64, _exact), _exact),
        ]

    @classmethod
    def union(cls, *redactors: Redactor) -> Redactor:
        """One redactor masking the secrets of all of them (e.g. hub-wide, for every server)."""
        return cls(chain.from_iterable(r._values for r in redactors))

    def __or__(self, other: object) -> Redactor:
        if not isinstance(other, Redactor):
            return NotImplemented
        return Redactor.union(self, other)

    def __bool__(self) -> bool:
        """False when there is nothing to mask, so a caller can skip the work."""
        return self._count > 0

    def __repr__(self) -> str:
        # Never the values: a redactor may itself end up in a log or a traceback.
        return f"<Redactor of {self._count} secret value(s)>"

    def __call__(self, text: str) -> str:
        """``text`` (one line or many) with every whole form masked."""
        return self._masked(text, edges=False)

    def line(self, text: str) -> str:
        """One line of a stream redacted line by line (a server's stderr): also masks a
        piece of a secret form cut off at either edge by a line break."""
        return self._masked(text, edges=True)

    def _masked(self, text: str, *, edges: bool) -> str:
        if not self._count or len(text) < _EDGE:
            return text
        spans = (self._edge_spans(text) if edges else []) + self._form_spans(text)
        if not spans:
            return text
        out = []
        done = 0
        for start, end in _merge(spans):
            out.append(text[done:start])
            out.append(_LINE_PIECE.sub(MASK, text[start:end]))  # keeps the line count
            done = end
        out.append(text[done:])
        return "".join(out)

    def _form_spans(self, text: str) -> list[_Span]:
        """Whole forms, also when line breaks cut them: searched with the breaks removed."""
        breaks = list(_LINE_BREAK.finditer(text)) if "\n" in text else []
        joined = _LINE_BREAK.sub("", text) if breaks else text
        spans = [*_spans(self._folded, _fold(joined)), *_spans(self._b64, joined)]
        if not breaks or not spans:
            return spans
        at: list[int] = []  # where each break was, as a position in the joined text
        removed: list[int] = []  # how many characters were taken out up to that break
        total = 0
        for found in breaks:
            at.append(found.start() - total)
            total += found.end() - found.start()
            removed.append(total)

        def original(pos: int) -> int:
            count = bisect_right(at, pos)
            return pos + (removed[count - 1] if count else 0)

        return [(original(start), original(end - 1) + 1) for start, end in spans]

    def _edge_spans(self, text: str) -> list[_Span]:
        """A form cut by a line break before or after this text (logs redacted per line)."""
        line = text[:-1] if text.endswith("\r") else text
        size = len(line)
        if size < _EDGE:
            return []
        head = tail = 0
        for index, fold in self._edges:
            # The line starts with a form's end, or lies wholly inside a form.
            for form, pos in index.get(fold(line[:_EDGE]), ()):
                n = min(len(form) - pos, size)
                if n > head and fold(line[:n]) == fold(form[pos : pos + n]):
                    head = n
            # The line ends with a form's start.
            for form, pos in index.get(fold(line[-_EDGE:]), ()):
                n = pos + _EDGE
                if tail < n <= size and fold(line[size - n :]) == fold(form[:n]):
                    tail = n
        spans = [(0, head)] if head else []
        return [*spans, (size - tail, size)] if tail else spans
