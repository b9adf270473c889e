"""Decoding every result type, and every way a result can be wrong."""

from __future__ import annotations

import base64
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_fetch.decoding import (
    PIECE_CHARS,
    DecodedRegion,
    RegionFailure,
    decode_result,
    decode_results,
)
from ocr_fetch.errors import ResultDecodeError
from ocr_fetch.model import OcrResponse, ResultEntry

MAX = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(13)
HOCR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
    b' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    b'<html xmlns="http://www.w3.org/1999/xhtml"><body>'
    b"<div class='ocr_page'><span class='ocrx_word'>Jane</span></div></body></html>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz ['
    b'<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><lolz>&lol9;</lolz>"
)
XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(kind: str | None, data: bytes | str | None, max_bytes: int = MAX) -> DecodedRegion:
    encoded = b64(data) if isinstance(data, bytes) else data
    return decode_result(ResultEntry(kind, encoded), index=0, name=None, max_bytes=max_bytes)


def reason_of(kind: str | None, data: bytes | str | None, max_bytes: int = MAX) -> str:
    with pytest.raises(ResultDecodeError) as caught:
        decode(kind, data, max_bytes)
    return caught.value.reason


@pytest.mark.parametrize(
    ("kind", "data", "content_type", "extension"),
    [
        ("Text", b"Jane Doe, 1 Main St", "text/plain; charset=utf-8", "txt"),
        ("text", "Zoë Ångström".encode(), "text/plain; charset=utf-8", "txt"),
        ("JSON", b'{"words": [{"text": "Jane", "x": 1}]}', "application/json", "json"),
        ("Hocr", HOCR, "application/xhtml+xml", "hocr"),
        ("HOCR", b"<html><body/></html>", "application/xhtml+xml", "hocr"),
        ("XML", b"<doc><line>Jane</line></doc>", "application/xml", "xml"),
        ("Pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "pdf"),
        ("ImagePNG", PNG, "image/png", "png"),
        ("png", PNG, "image/png", "png"),
        ("Docx", b"PK\x03\x04 not checked", "application/octet-stream", "bin"),
        (None, b"\x00\x01\x02", "application/octet-stream", "bin"),
    ],
)
def test_every_type_decodes_with_its_content_type(
    kind: str | None, data: bytes, content_type: str, extension: str
) -> None:
    region = decode(kind, data)

    assert region.data == data
    assert region.type == kind
    assert region.content_type == content_type
    assert region.extension == extension
    assert region.size == len(data)


def test_whitespace_wrapped_base64_is_accepted() -> None:
    data = b"A long line of recognised text that gets MIME-wrapped at 76 characters." * 3
    wrapped = "\r\n".join(b64(data)[i : i + 76] for i in range(0, len(b64(data)), 76))

    assert decode("Text", " \t" + wrapped + "\n").data == data


def test_utf8_bom_is_tolerated_and_kept() -> None:
    data = b"\xef\xbb\xbfJane"

    assert decode("Text", data).data == data


def test_empty_string_decodes_to_empty_bytes() -> None:
    region = decode("Text", "")

    assert region.data == b""
    assert region.size == 0


@pytest.mark.parametrize(
    ("kind", "data", "reason"),
    [
        ("Text", None, "missing_data"),
        ("Text", "SmFuZSBE*29l", "invalid_base64"),  # invalid character
        ("Text", "SmFuZQ", "invalid_base64"),  # padding missing
        ("Text", "SmFuZQ===", "invalid_base64"),  # too much padding
        ("Text", "SmF=uZQ=", "invalid_base64"),  # padding in the middle
        ("Text", "SmFu=", "invalid_base64"),  # stray padding after a full quantum
        ("Text", "SmFuZQ==é", "invalid_base64"),  # non-ASCII
        ("Text", b"\xffJane", "invalid_utf8"),
        ("Text", b"Jane \xc3\x28", "invalid_utf8"),
        ("JSON", b'{"a": 1', "invalid_json"),
        ("JSON", b"\xff{}", "invalid_utf8"),
        ("JSON", b"[" * 100_000, "invalid_json"),
        ("XML", b"<doc><line>Jane</doc>", "invalid_xml"),
        ("Hocr", b"<html><body>&nbsp;</body></html>", "invalid_xml"),
        ("Hocr", b"", "invalid_xml"),
        ("XML", XXE, "forbidden_xml"),
        ("Pdf", b"<html>not a pdf</html>", "bad_signature"),
        ("ImagePNG", b"\xff\xd8\xff\xe0 a JPEG", "bad_signature"),
    ],
)
def test_a_bad_region_is_a_decode_error_with_its_reason(
    kind: str, data: bytes | str | None, reason: str
) -> None:
    assert reason_of(kind, data) == reason


def test_the_error_message_names_the_problem_but_never_the_data() -> None:
    with pytest.raises(ResultDecodeError) as caught:
        decode_result(ResultEntry("Text", b64(b"Jane Doe \xff")), index=3, name="n", max_bytes=MAX)

    message = str(caught.value)
    assert "region 3" in message
    assert "UTF-8" in message
    assert "Jane" not in message
    assert "xff" not in message.lower()


def test_billion_laughs_is_rejected_quickly() -> None:
    started = time.monotonic()

    assert reason_of("XML", BILLION_LAUGHS) == "forbidden_xml"
    assert reason_of("Hocr", BILLION_LAUGHS) == "forbidden_xml"
    assert time.monotonic() - started < 1


def test_an_external_dtd_is_never_fetched() -> None:
    # The DTD would define &x;: unfetched, the entity is undefined and the XML rejected.
    external_dtd = b'<!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd"><r>&x;</r>'

    assert reason_of("XML", external_dtd) in {"forbidden_xml", "invalid_xml"}


def test_a_standard_hocr_doctype_is_accepted_without_fetching_it() -> None:
    assert decode("Hocr", HOCR).content_type == "application/xhtml+xml"


def test_size_limit_is_checked_before_decoding() -> None:
    data = b"x" * 101

    assert decode("Text", b"x" * 100, max_bytes=100).size == 100
    assert reason_of("Text", data, max_bytes=100) == "too_large"
    # Checked from the length alone: invalid Base64 that is too long is still "too_large".
    assert reason_of("Text", "*" * 1000, max_bytes=100) == "too_large"


@given(st.binary(max_size=4096), st.text(max_size=12))
def test_any_bytes_round_trip_as_an_unknown_type(data: bytes, kind: str) -> None:
    kind = "Unknown" + kind
    region = decode_result(ResultEntry(kind, b64(data)), index=0, name=None, max_bytes=MAX)

    assert region.data == data
    assert region.content_type == "application/octet-stream"


def response(*entries: tuple[str | None, str | None]) -> OcrResponse:
    return OcrResponse.from_json(
        {
            "id": "task-1",
            "taskStatus": "Completed",
            "responseStatusCode": "Ok",
            "results": [{"type": kind, "data": data} for kind, data in entries],
        }
    )


def test_results_map_to_named_regions_by_index() -> None:
    report = decode_results(
        response(("Text", b64(b"first")), ("Text", b64(b"second"))),
        region_names=["name", "address"],
        expected_count=None,
        max_bytes=MAX,
    )

    assert not report.count_mismatch
    assert (report.expected_count, report.received_count) == (2, 2)
    assert [(r.index, r.name) for r in report.regions] == [(0, "name"), (1, "address")]
    assert [r.data for r in report.decoded] == [b"first", b"second"]


def test_a_count_mismatch_attaches_no_names_and_is_reported() -> None:
    report = decode_results(
        response(("Text", b64(b"only one"))),
        region_names=["name", "address"],
        expected_count=None,
        max_bytes=MAX,
    )

    assert report.count_mismatch
    assert (report.expected_count, report.received_count) == (2, 1)
    assert [r.name for r in report.regions] == [None]
    assert report.decoded[0].data == b"only one"


def test_expected_count_without_names() -> None:
    report = decode_results(
        response(("Text", b64(b"a"))), region_names=None, expected_count=3, max_bytes=MAX
    )

    assert report.count_mismatch
    assert report.expected_count == 3


def test_an_empty_result_list() -> None:
    report = decode_results(response(), region_names=None, expected_count=None, max_bytes=MAX)

    assert report.regions == ()
    assert report.received_count == 0
    assert not report.count_mismatch


def test_an_empty_result_list_when_regions_were_asked_for_is_a_mismatch() -> None:
    report = decode_results(response(), region_names=["a"], expected_count=None, max_bytes=MAX)

    assert report.count_mismatch
    assert report.regions == ()


def test_one_corrupt_region_does_not_affect_the_others() -> None:
    report = decode_results(
        response(
            ("Text", b64(b"good one")),
            ("Text", "not*base64"),
            ("JSON", b64(b'{"ok": true}')),
            ("Pdf", None),
        ),
        region_names=["a", "b", "c", "d"],
        expected_count=4,
        max_bytes=MAX,
    )

    kinds = [type(r) for r in report.regions]
    assert kinds == [DecodedRegion, RegionFailure, DecodedRegion, RegionFailure]
    bad = report.failures
    assert [(f.index, f.name, f.type, f.reason) for f in bad] == [
        (1, "b", "Text", "invalid_base64"),
        (3, "d", "Pdf", "missing_data"),
    ]
    assert [r.data for r in report.decoded] == [b"good one", b'{"ok": true}']


def test_regions_convert_to_records() -> None:
    report = decode_results(
        response(("Text", b64(b"Jane")), ("Text", "???")),
        region_names=["name", "bad"],
        expected_count=2,
        max_bytes=MAX,
    )
    good, bad = report.regions

    record = good.to_record("results/t/0-name.txt")
    assert record.s3_key == "results/t/0-name.txt"
    assert (record.index, record.name, record.content_type, record.size) == (
        0,
        "name",
        "text/plain; charset=utf-8",
        4,
    )
    assert not hasattr(record, "sha256")  # no digest of the text is kept
    failed = bad.to_record(None)
    assert (failed.error, failed.s3_key, failed.size) == ("invalid_base64", None, None)
    assert failed.error_message


def test_decoded_data_stays_out_of_repr() -> None:
    assert "Jane" not in repr(decode("Text", b"Jane Doe"))


# --- a piece at a time ---------------------------------------------------------------------------
def from_body(kind: str, data: str, plus: str = "+") -> DecodedRegion:
    """Decode ``data`` as the store does: left in the body it came in (``+`` written ``plus``)."""
    body = json.dumps({"taskStatus": "Completed", "results": [{"type": kind, "data": data}]})
    entry = OcrResponse.from_body(body.replace("+", plus).encode()).results[0]
    return decode_result(entry, index=0, name=None, max_bytes=4 * PIECE_CHARS)


def test_a_long_region_left_in_the_body_decodes_as_a_whole_would() -> None:
    data = bytes(range(256)) * (PIECE_CHARS // 100)
    wrapped = "\n".join(b64(data)[i : i + 76] for i in range(0, len(b64(data)), 76))

    assert from_body("ImagePNG", b64(PNG + data)).data == PNG + data
    assert from_body("Unknown", wrapped).data == data
    assert from_body("Unknown", b64(data), plus="\\u002B").data == data  # as .NET writes it


def test_padding_before_the_last_piece_is_refused() -> None:
    # The first piece alone is valid Base64 ending in padding; more follows.
    first = b64(b"x" * (PIECE_CHARS // 4 * 3 - 1))
    assert len(first) == PIECE_CHARS
    assert first.endswith("=")
    data = first + "QUJD"
    with pytest.raises(ValueError, match="padding"):
        base64.b64decode(data, validate=True)

    with pytest.raises(ResultDecodeError, match="padding") as caught:
        decode("Text", data)
    assert caught.value.reason == "invalid_base64"
    with pytest.raises(ResultDecodeError, match="padding"):
        from_body("Text", data)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_invalid_utf8_is_placed_as_a_whole_decode_places_it(bom: bytes) -> None:
    # A two-byte character across the pieces' boundary, then an invalid byte.
    data = bom + b"a" * (PIECE_CHARS - 1) + "é".encode() + b"ok \xff"
    with pytest.raises(UnicodeDecodeError) as whole:
        data.decode("utf-8-sig")

    with pytest.raises(ResultDecodeError, match=f"at byte {whole.value.start}$"):
        decode("Text", data, max_bytes=2 * PIECE_CHARS)
