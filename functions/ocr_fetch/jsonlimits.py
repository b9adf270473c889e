"""JSON read within bounds: its size and its nesting depth are checked before it is parsed.

:func:`json.loads` recurses once per level of nesting, so a document nested about a thousand
levels deep raises ``RecursionError``, which no caller expects and which is not a ``ValueError``.
Every JSON the product reads (an event, an answer, the secret, a stored object, a state's
``Cause``; the CLI's files) goes through :func:`loads`, or :func:`check` before a parser of its
own, and a document over either bound raises :class:`JsonLimitError`, a ``ValueError`` naming the
bound: each caller's "not JSON" path is its defined outcome.

The depth is measured without recursion, at C speed: strings are cut out with one regular
expression, everything but brackets is deleted, then innermost ``[]``/``{}`` pairs are removed a
level at a time, at most ``max_depth`` times.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Nesting deeper than any document the product reads (an OCRResponse is 4 deep, metadata 16).
MAX_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_PAIRS = re.compile(rb"\[\]|\{\}")


class JsonLimitError(ValueError):
    """A JSON document over a size or depth bound; the message names which and the limit."""


def check(body: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH, what: str) -> None:
    """Raise :class:`JsonLimitError` when ``body`` is over ``max_bytes`` (UTF-8) or nested
    deeper than ``max_depth``; otherwise return (whether it is JSON is the parser's to say)."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(data) > max_bytes:
        raise JsonLimitError(f"{what} is {len(data)} bytes, more than {max_bytes}")
    if depth_exceeds(data, max_depth):
        raise JsonLimitError(f"{what} is nested more than {max_depth} levels deep")


def loads(body: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH, what: str) -> Any:
    """:func:`json.loads` after :func:`check`: ``ValueError`` for anything not JSON or too big."""
    check(body, max_bytes=max_bytes, max_depth=max_depth, what=what)
    return json.loads(body)


def depth_exceeds(data: bytes, max_depth: int) -> bool:
    """Whether the brackets of ``data`` (outside strings) nest deeper than ``max_depth``.

    Unbalanced brackets are left for the parser to refuse: only a depth is judged here.
    """
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    too_many_opens = re.compile(rb"[\[{]{%d}" % (max_depth + 1))
    # Each pass removes every empty container, so a document of depth d is gone after d passes;
    # what cannot be removed (unbalanced) is judged by its longest run of opening brackets, as
    # the parser would recurse into them before finding the fault.
    for _ in range(max_depth):
        if too_many_opens.search(brackets):
            return True
        fewer = _PAIRS.sub(b"", brackets)
        if not fewer or fewer == brackets:
            return False
        brackets = fewer
    return True
