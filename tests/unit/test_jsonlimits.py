"""Bounded JSON: size and depth judged before parsing, never a RecursionError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_fetch.jsonlimits import MAX_DEPTH, JsonLimitError, check, depth_exceeds, loads


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=40,
)


@given(json_values, st.integers(1, 12))
def test_the_depth_is_judged_as_the_parser_would_nest(value: object, limit: int) -> None:
    text = json.dumps(value).encode()
    assert depth_exceeds(text, limit) is (depth(value) > limit)


@pytest.mark.parametrize(
    "document",
    [
        b"[" * 5000 + b"]" * 5000,
        b"[" * 5000,  # unbalanced: refused by depth before the parser recurses
        b"[{}" * 3000 + b"]" * 3000,
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
    ],
)
def test_deep_documents_are_refused_by_name_not_by_recursion(document: bytes) -> None:
    with pytest.raises(JsonLimitError, match=f"nested more than {MAX_DEPTH} levels"):
        loads(document, max_bytes=1 << 20, what="the answer")


def test_brackets_inside_strings_do_not_count() -> None:
    document = json.dumps({"text": "[" * 10_000 + '\\"' + "{" * 10_000}).encode()
    assert loads(document, max_bytes=1 << 20, what="x") == json.loads(document)


def test_a_document_over_its_size_is_refused_before_parsing() -> None:
    with pytest.raises(JsonLimitError, match="is 11 bytes, more than 10"):
        check('{"a": "bc"}', max_bytes=10, what="the secret")


def test_wide_shallow_documents_pass() -> None:
    document = json.dumps([[[]] for _ in range(200_000)]).encode()
    assert not depth_exceeds(document, 3)
    assert depth_exceeds(document, 2)


def test_not_json_stays_the_parsers_to_refuse() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        loads("[}", max_bytes=100, what="x")
