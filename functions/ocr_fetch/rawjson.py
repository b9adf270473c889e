"""JSON whose long Base64-like strings stay where they are: in the body's bytes.

An OCRResponse is mostly Base64: each ``results[].data`` is a string a third longer than the
region's result. :func:`json.loads` on the body holds the body, its text and every string at once,
four times the region. :func:`loads` parses the document with every long string (of Base64
characters and escapes, :data:`MIN_RAW_CHARS` or more) replaced by a short placeholder, and gives
each back as a :class:`RawString` (a place in the body) where ``keep`` says so, as ``str``
elsewhere. Such a string is valid JSON string content whatever it holds, so the document is
valid for :func:`loads` exactly when it is for :func:`json.loads`, and means the same.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from ocr_fetch.jsonlimits import MAX_DEPTH, JsonLimitError, depth_exceeds

#: Strings shorter than this are parsed as usual: they cost nothing worth avoiding.
MIN_RAW_CHARS = 16 * 1024
_LONG = re.compile(rb'"([A-Za-z0-9+/=\\]{%d,})"' % MIN_RAW_CHARS)
_CHECK_CHARS = 256 * 1024
_BACKSLASH = 0x5C
#: An escape is at most this long (``\uXXXX``): a piece never ends inside one.
_LONGEST_ESCAPE = 6

Path = tuple[str | int, ...]


class RawString:
    """A JSON string's content (between its quotes) left in the body it came from."""

    __slots__ = ("_body", "_end", "_escaped", "_start")

    def __init__(self, body: bytes, start: int, end: int) -> None:
        self._body = body
        self._start = start
        self._end = end
        self._escaped = body.find(b"\\", start, end) >= 0

    def __len__(self) -> int:
        """Characters in the body, escapes counted as written."""
        return self._end - self._start

    def __repr__(self) -> str:  # never the content: it may be recognised text
        return f"RawString({len(self)} chars)"

    def pieces(self, size: int) -> Iterator[str | bytes]:
        """The string's value, ``size`` characters or so at a time: bytes (ASCII), or str where
        the body escaped characters."""
        view = memoryview(self._body)
        position = self._start
        size = max(size, 8 * _LONGEST_ESCAPE)
        while position < self._end:
            stop = min(position + size, self._end)
            if not self._escaped:
                yield bytes(view[position:stop])
            else:
                stop = self._escape_boundary(position, stop)
                yield json.loads(b'"' + view[position:stop].tobytes() + b'"')
            position = stop

    def text(self) -> str:
        """The whole value as a str."""
        return "".join(
            p if isinstance(p, str) else p.decode("ascii") for p in self.pieces(len(self) or 1)
        )

    def _escape_boundary(self, position: int, stop: int) -> int:
        """``stop``, or earlier so that no escape is cut. ``position`` starts an escape or a
        character; so does the first backslash of each run after it, and every other one."""
        if stop == self._end:
            return stop
        body = self._body
        cut = body.rfind(b"\\", max(position, stop - _LONGEST_ESCAPE), stop)
        if cut < 0:
            return stop
        first = cut
        while first > position and body[first - 1] == _BACKSLASH:
            first -= 1
        if (cut - first) % 2 == 1 or cut == position:
            return stop  # the last backslash ends a pair: nothing is cut
        return cut


def loads(body: bytes, keep: Callable[[Path], bool]) -> Any:
    """``json.loads(body)``, each long string at a path ``keep`` accepts a :class:`RawString`.

    Raises ``ValueError`` (``json.JSONDecodeError``) for a body that is not JSON, and
    :class:`~ocr_fetch.jsonlimits.JsonLimitError` for one nested deeper than
    :data:`~ocr_fetch.jsonlimits.MAX_DEPTH` (checked before parsing, on the document with its long
    strings taken out).
    """
    if json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
        return _parsed(body.decode(json.detect_encoding(body)).encode("utf-8"))
    nonce = "\x00" + os.urandom(8).hex() + "#"
    parts: list[bytes] = []
    raw: list[tuple[int, int]] = []
    last = 0
    for match in _LONG.finditer(body):
        start, end = match.span(1)
        if _escaped(body, start - 1) or _escaped(body, end) or not _valid(body, start, end):
            continue  # not a whole string of its own, or one json.loads shall judge
        placeholder = json.dumps(f"{nonce}{len(raw)}")[1:-1].encode()
        parts += [body[last:start], placeholder]
        raw.append((start, end))
        last = end
    if not raw:
        return _parsed(body)
    parts.append(body[last:])
    value = _parsed(b"".join(parts))
    return _restore(value, nonce, lambda at: RawString(body, *raw[at]), keep)


def _parsed(document: bytes) -> Any:
    if depth_exceeds(document, MAX_DEPTH):
        raise JsonLimitError(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    return json.loads(document)


def materialised(value: Any) -> Any:
    """``value`` with every :class:`RawString` in it made a str."""
    if isinstance(value, RawString):
        return value.text()
    if isinstance(value, dict):
        return {key: materialised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [materialised(item) for item in value]
    return value


def _escaped(body: bytes, quote: int) -> bool:
    """Whether the quote at ``quote`` is escaped (an odd run of backslashes before it)."""
    run = 0
    while quote - run - 1 >= 0 and body[quote - run - 1] == _BACKSLASH:
        run += 1
    return run % 2 == 1


def _valid(body: bytes, start: int, end: int) -> bool:
    """Whether every escape in the string is one JSON knows (read as the decoding will be)."""
    if body.find(b"\\", start, end) < 0:
        return True
    try:
        for _ in RawString(body, start, end).pieces(_CHECK_CHARS):
            pass
    except ValueError:
        return False
    return True


def _restore(
    value: Any, nonce: str, raw: Callable[[int], RawString], keep: Callable[[Path], bool]
) -> Any:
    """The placeholders of ``value`` given back (iteratively: as deep as json.loads went)."""

    def back(item: Any, path: Path | None) -> Any:
        """The placeholder ``item`` given back (a key's path is None: always a str)."""
        if isinstance(item, str) and item.startswith(nonce):
            found = raw(int(item[len(nonce) :]))
            return found if path is not None and keep(path) else found.text()
        return item

    root = [back(value, ())]
    stack: list[tuple[Any, Path]] = [(root[0], ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key in [k for k in node if k.startswith(nonce)]:
                node[back(key, None)] = node.pop(key)
            for key, item in node.items():
                node[key] = back(item, (*path, key))
                stack.append((node[key], (*path, key)))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                node[index] = back(item, (*path, index))
                stack.append((node[index], (*path, index)))
    return root[0]
