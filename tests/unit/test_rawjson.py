"""Long strings left in the body: the same document as json.loads, valid exactly when it is."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr_fetch.rawjson import MIN_RAW_CHARS, Path, RawString, loads, materialised

LONG = base64.b64encode(os.urandom(MIN_RAW_CHARS)).decode("ascii")
#: As .NET's default encoder writes Base64: ``+`` escaped, and ``/`` escaped as some do.
ESCAPED = LONG.replace("+", "\\u002B").replace("/", "\\/")


def results_data(path: Path) -> bool:
    return len(path) == 3 and path[0] == "results" and path[2] == "data"


def body_with(data: str, document: str = '{"results": [{"data": "@"}]}') -> bytes:
    """``document`` with ``data`` written (as JSON text, escapes and all) in place of ``@``."""
    return document.replace("@", data).encode()


def parse(body: bytes) -> Any:
    return loads(body, keep=results_data)


def value(raw: RawString, size: int) -> str:
    return "".join(p if isinstance(p, str) else p.decode("ascii") for p in raw.pieces(size))


@pytest.mark.parametrize("data", [LONG, ESCAPED], ids=["plain", "escaped"])
def test_a_long_result_stays_in_the_body_and_means_what_json_loads_says(data: str) -> None:
    body = body_with(data, '{"id": "t", "results": [{"type": "Text", "data": "@"}], "n": 1}')

    parsed = parse(body)

    raw = parsed["results"][0]["data"]
    assert isinstance(raw, RawString)
    assert len(raw) == len(data)
    assert value(raw, 4096) == json.loads(body)["results"][0]["data"]
    assert materialised(parsed) == json.loads(body)
    assert repr(raw) == f"RawString({len(data)} chars)"


def test_long_strings_anywhere_else_are_plain_strings() -> None:
    body = json.dumps({LONG: 1, "error": {"messages": [LONG]}, "results": [{"type": LONG}]})

    assert parse(body.encode()) == json.loads(body)


@pytest.mark.parametrize(
    "document",
    [
        '{"results": [{"data": "@\\x"}]}',  # an escape JSON does not know
        '{"results": [{"data": "@"',  # cut off
        '{"a""@"}',  # no colon: a long string where none may be
        '{"a": "@"} trailing',
    ],
)
def test_a_body_json_loads_refuses_is_refused(document: str) -> None:
    body = body_with(LONG, document)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    with pytest.raises(json.JSONDecodeError):
        parse(body)


@pytest.mark.parametrize(
    "data",
    [
        'x \\"' + LONG + '\\" y',  # quotes escaped inside a string: not a string of their own
        LONG + "\\\\",  # ends with an escaped backslash
        LONG + "\\\\" * 9,
        "\\\\" * MIN_RAW_CHARS + "\\u0041" * 100,  # pieces that are all escapes
    ],
)
def test_escapes_next_to_quotes_and_piece_boundaries(data: str) -> None:
    body = body_with(data)
    expected = json.loads(body)["results"][0]["data"]

    parsed = parse(body)["results"][0]["data"]

    if isinstance(parsed, RawString):
        assert {value(parsed, size) for size in (1, 49, 50, 51, 97, 4096)} == {expected}
    else:
        assert parsed == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["A", "+", "=", "\\\\", "\\/", "\\n", "\\u0041"]), min_size=1))
def test_any_escapes_read_piecewise_give_the_value(tokens: list[str]) -> None:
    data = "".join(tokens) * (MIN_RAW_CHARS // len("".join(tokens)) + 1)
    body = body_with(data)
    raw = parse(body)["results"][0]["data"]

    assert isinstance(raw, RawString)
    assert value(raw, 53) == value(raw, 1000) == json.loads(body)["results"][0]["data"]


def test_bodies_in_utf_16_or_with_a_bom_parse_as_json_loads_parses_them() -> None:
    document = {"results": [{"data": LONG}]}
    for body in (
        json.dumps(document).encode("utf-16"),
        b"\xef\xbb\xbf" + json.dumps(document).encode(),
    ):
        assert materialised(parse(body)) == json.loads(body)
