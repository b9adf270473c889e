"""Decode each ``results[]`` entry into bytes, and say what they are.

Every entry is Base64, whatever its ``type``. Decoding is strict: an invalid character or wrong
padding is an error, never silently dropped. It goes a piece at a time (:data:`PIECE_CHARS`), from
the string or from the body it was left in (:class:`~ocr_fetch.rawjson.RawString`), so a region
costs its decoded bytes and little more. The bytes are then checked against their type (UTF-8
text, parseable JSON, well-formed XML/hOCR without entity tricks, PDF and PNG signatures), text
and XML piecewise too; unknown types are kept as opaque bytes. A failing region becomes a
:class:`RegionFailure` with a short reason code and never stops the others. Messages name what was
wrong, never the data: recognised text is personal data.
"""

from __future__ import annotations

import binascii
import codecs
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError

from ocr_fetch import jsonlimits
from ocr_fetch.errors import ResultDecodeError
from ocr_fetch.model import OcrResponse, ResultEntry
from ocr_fetch.outcome import RegionRecord
from ocr_fetch.rawjson import RawString

# Reason codes, stored and published with a failed region.
MISSING_DATA = "missing_data"
INVALID_BASE64 = "invalid_base64"
TOO_LARGE = "too_large"
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
INVALID_XML = "invalid_xml"
FORBIDDEN_XML = "forbidden_xml"
BAD_SIGNATURE = "bad_signature"

OCTET_STREAM = "application/octet-stream"
MAX_TYPE_CHARS = 64

_UTF8_BOM = b"\xef\xbb\xbf"
_PDF_MAGIC = b"%PDF-"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# MIME line wrapping: only ASCII whitespace is removed, anything else must be Base64.
_WHITESPACE = " \t\n\r\f\v"
_ASCII_WHITESPACE = {ord(c): None for c in _WHITESPACE}
_ASCII_WHITESPACE_BYTES = _WHITESPACE.encode()
#: Base64 characters decoded at a time (a multiple of 4), and bytes checked at a time.
PIECE_CHARS = 64 * 1024
_EQUALS = ord("=")


@dataclass(frozen=True)
class _Format:
    content_type: str
    extension: str
    check: str  # which content check applies: text, json, xml, pdf, png or none


_TEXT = _Format("text/plain; charset=utf-8", "txt", "text")
_FORMATS: dict[str, _Format] = {
    "text": _TEXT,
    "json": _Format("application/json", "json", "json"),
    "hocr": _Format("application/xhtml+xml", "hocr", "xml"),
    "xml": _Format("application/xml", "xml", "xml"),
    "pdf": _Format("application/pdf", "pdf", "pdf"),
    "imagepng": _Format("image/png", "png", "png"),
    "png": _Format("image/png", "png", "png"),
}
_UNKNOWN = _Format(OCTET_STREAM, "bin", "none")


@dataclass(frozen=True)
class _Region:
    """Which region an entry of ``results`` is: its index, the name it was submitted with (none
    on a count mismatch) and the type the service gave. Decoded or not, it is recorded so."""

    index: int
    name: str | None
    type: str | None

    def _record(self, s3_key: str | None, **outcome: Any) -> RegionRecord:
        return RegionRecord(
            index=self.index, name=self.name, type=self.type, s3_key=s3_key, **outcome
        )


@dataclass(frozen=True)
class DecodedRegion(_Region):
    """One region's decoded bytes and what they are. ``data`` is kept out of ``repr``."""

    content_type: str
    extension: str
    data: bytes = field(repr=False)
    size: int

    def to_record(self, s3_key: str | None) -> RegionRecord:
        return self._record(s3_key, content_type=self.content_type, size=self.size)


@dataclass(frozen=True)
class RegionFailure(_Region):
    """A region that could not be decoded: ``reason`` is a code, ``message`` names the problem."""

    reason: str
    message: str

    def to_record(self, s3_key: str | None = None) -> RegionRecord:
        return self._record(s3_key, error=self.reason, error_message=self.message)


@dataclass(frozen=True)
class DecodeReport:
    """Every region in ``results`` order, and whether their count matched what was asked for."""

    regions: tuple[DecodedRegion | RegionFailure, ...]
    expected_count: int | None
    received_count: int
    count_mismatch: bool

    @property
    def decoded(self) -> tuple[DecodedRegion, ...]:
        return tuple(r for r in self.regions if isinstance(r, DecodedRegion))

    @property
    def failures(self) -> tuple[RegionFailure, ...]:
        return tuple(r for r in self.regions if isinstance(r, RegionFailure))


def decode_result(
    entry: ResultEntry, *, index: int, name: str | None, max_bytes: int
) -> DecodedRegion:
    """Decode and check one entry; raise :class:`ResultDecodeError` naming what was wrong."""
    kind = _clip_type(entry.type)
    fmt = _FORMATS.get(kind.lower(), _UNKNOWN) if kind is not None else _UNKNOWN
    where = f"region {index} ({kind or 'no type'})"
    data = _decode_base64(entry.data, where=where, max_bytes=max_bytes)
    _check_content(data, fmt.check, where=where)
    return DecodedRegion(
        index=index,
        name=name,
        type=kind,
        content_type=fmt.content_type,
        extension=fmt.extension,
        data=data,
        size=len(data),
    )


def decode_results(
    response: OcrResponse,
    *,
    region_names: Sequence[str | None] | None,
    expected_count: int | None,
    max_bytes: int,
) -> DecodeReport:
    """Decode every result, mapped to regions by index.

    ``expected_count`` defaults to the number of names. Names are attached only when the number
    of results matches; on a mismatch none are (a name is never guessed) and the report says so.
    """
    if expected_count is None and region_names is not None:
        expected_count = len(region_names)
    received = len(response.results)
    mismatch = expected_count is not None and expected_count != received
    names_fit = region_names is not None and not mismatch and len(region_names) == received
    regions: list[DecodedRegion | RegionFailure] = []
    for index, entry in enumerate(response.results):
        name = region_names[index] if names_fit and region_names is not None else None
        try:
            regions.append(decode_result(entry, index=index, name=name, max_bytes=max_bytes))
        except ResultDecodeError as exc:
            regions.append(
                RegionFailure(
                    index=index,
                    name=name,
                    type=_clip_type(entry.type),
                    reason=exc.reason,
                    message=str(exc),
                )
            )
    return DecodeReport(
        regions=tuple(regions),
        expected_count=expected_count,
        received_count=received,
        count_mismatch=mismatch,
    )


# --- Base64 ---------------------------------------------------------------------------------------
Piece = str | bytes


def _decode_base64(data: str | RawString | None, *, where: str, max_bytes: int) -> bytes:
    if data is None:
        raise ResultDecodeError(f"{where}: data is missing or not a string", MISSING_DATA)
    length, tail = _measure(data)
    size = _decoded_size(length, tail)
    if size > max_bytes:
        raise ResultDecodeError(
            f"{where}: about {size} bytes once decoded, over the {max_bytes}-byte limit", TOO_LARGE
        )
    if length % 4:
        raise ResultDecodeError(
            f"{where}: Base64 length {length} is not a multiple of 4", INVALID_BASE64
        )
    try:
        return _decode_pieces(_pieces(data), size)
    except (binascii.Error, ValueError) as exc:
        # binascii's messages ("Only base64 data is allowed", "Incorrect padding") carry no data.
        raise ResultDecodeError(f"{where}: invalid Base64 ({exc})", INVALID_BASE64) from None


def _pieces(data: str | RawString) -> Iterator[Piece]:
    if isinstance(data, RawString):
        yield from data.pieces(PIECE_CHARS)
    else:
        for start in range(0, len(data), PIECE_CHARS):
            yield data[start : start + PIECE_CHARS]


def _measure(data: str | RawString) -> tuple[int, str]:
    """The Base64's length without whitespace, and its last two characters (counted, not
    copied: this pass only decides whether the next one is worth making)."""
    length, tail = 0, ""
    for piece in _pieces(data):
        if isinstance(piece, str):
            blanks = sum(piece.count(c) for c in _WHITESPACE)
            last = piece.rstrip(_WHITESPACE)[-2:]
        else:
            blanks = sum(piece.count(c) for c in _ASCII_WHITESPACE_BYTES)
            last = piece.rstrip(_ASCII_WHITESPACE_BYTES)[-2:].decode("latin-1")
        length += len(piece) - blanks
        tail = (tail + last.translate(_ASCII_WHITESPACE))[-2:] if last else tail
    return length, tail


def _decoded_size(length: int, tail: str) -> int:
    padding = len(tail) - len(tail.rstrip("="))
    return max(length * 3 // 4 - padding, 0)


def _decode_pieces(pieces: Iterator[Piece], size: int) -> bytes:
    """Strict Base64 of the pieces together (whitespace removed), decoded group by group: as
    ``base64.b64decode(..., validate=True)`` of the whole, without the whole. ``size`` bytes are
    allocated once (growing a buffer piece by piece may copy it); getvalue() hands them over."""
    decoded = io.BytesIO()
    if size:
        decoded.seek(size - 1)
        decoded.write(b"\0")
        decoded.seek(0)
    carry = b""
    padded = False
    for piece in pieces:
        compact = _ascii(piece).translate(None, _ASCII_WHITESPACE_BYTES)
        if not compact:
            continue
        if padded:
            raise binascii.Error("Excess data after padding")
        whole = carry + compact
        cut = len(whole) - len(whole) % 4
        if cut:
            decoded.write(binascii.a2b_base64(whole[:cut], strict_mode=True))
            padded = whole[cut - 1] == _EQUALS
        carry = whole[cut:]
    decoded.truncate()  # nothing to cut once the Base64 is valid: its size was known
    return decoded.getvalue()


def _ascii(piece: Piece) -> bytes:
    if isinstance(piece, bytes):
        return piece
    if not piece.isascii():  # as base64 says it, never naming the character
        raise ValueError("string argument should contain only ASCII characters")
    return piece.encode("ascii")


# --- Content checks -------------------------------------------------------------------------------
def _check_content(data: bytes, check: str, *, where: str) -> None:
    if check == "text":
        _check_utf8(data, where=where)
    elif check == "json":
        _check_json(data, where=where)
    elif check == "xml":
        _check_xml(data, where=where)
    elif check == "pdf" and not data.startswith(_PDF_MAGIC):
        raise ResultDecodeError(f"{where}: does not start with the PDF signature", BAD_SIGNATURE)
    elif check == "png" and not data.startswith(_PNG_MAGIC):
        raise ResultDecodeError(f"{where}: does not start with the PNG signature", BAD_SIGNATURE)


def _check_utf8(data: bytes, *, where: str) -> None:
    """As :func:`_utf8`, a piece at a time: no text is made."""
    view = memoryview(data)
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    position = start
    while position < len(data):
        final = position + PIECE_CHARS >= len(data)
        try:
            _, used = codecs.utf_8_decode(view[position : position + PIECE_CHARS], "strict", final)
        except UnicodeDecodeError as exc:
            raise ResultDecodeError(
                f"{where}: not valid UTF-8 at byte {position - start + exc.start}", INVALID_UTF8
            ) from None
        position += used


def _utf8(data: bytes, *, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Only the position: the exception's own text quotes the offending byte.
        raise ResultDecodeError(
            f"{where}: not valid UTF-8 at byte {exc.start}", INVALID_UTF8
        ) from None


def _check_json(data: bytes, *, where: str) -> None:
    text = _utf8(data, where=where)
    try:
        jsonlimits.loads(text, max_bytes=len(data), what="the JSON")
    except jsonlimits.JsonLimitError as exc:
        raise ResultDecodeError(f"{where}: {exc}", INVALID_JSON) from None
    except json.JSONDecodeError as exc:
        raise ResultDecodeError(
            f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            INVALID_JSON,
        ) from None


def _check_xml(data: bytes, *, where: str) -> None:
    """Well-formed, parsed by defusedxml: no entity declarations, external references or DTD
    internal subset. A bare ``<!DOCTYPE html PUBLIC ...>`` is tolerated (standard hOCR starts with
    one); expat never fetches it."""
    # Only XML results need defusedxml: loaded here, not by every cold start of the function.
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser

    # Checked, not kept: a target that builds nothing (a tree would be many times the bytes).
    parser = DefusedXMLParser(
        target=_Discard(), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    parser.parser.StartDoctypeDeclHandler = _refuse_internal_subset
    view = memoryview(data)
    try:
        for position in range(0, len(data), PIECE_CHARS):
            parser.feed(view[position : position + PIECE_CHARS])
        parser.close()
    except _InternalSubsetError:
        raise ResultDecodeError(
            f"{where}: XML declares a DTD internal subset, which is not allowed", FORBIDDEN_XML
        ) from None
    except DefusedXmlException as exc:
        what = _FORBIDDEN_WHAT.get(type(exc).__name__, "a forbidden construct")
        raise ResultDecodeError(f"{where}: XML uses {what}", FORBIDDEN_XML) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise ResultDecodeError(
            f"{where}: XML is not well-formed (line {line}, column {column})", INVALID_XML
        ) from None


_FORBIDDEN_WHAT = {
    "EntitiesForbidden": "entity declarations",
    "ExternalReferenceForbidden": "an external reference",
    "DTDForbidden": "a DTD",
}


class _InternalSubsetError(Exception):
    pass


class _Discard:
    """An XMLParser target that keeps nothing: parsing still checks every byte (and, with
    ``data``, that every entity referred to is defined)."""

    def data(self, text: str) -> None:
        """Text is dropped."""


def _refuse_internal_subset(
    name: str, sysid: str | None, pubid: str | None, has_internal_subset: Any
) -> None:
    if has_internal_subset:
        raise _InternalSubsetError


def _clip_type(kind: str | None) -> str | None:
    if kind is None:
        return None
    return kind[:MAX_TYPE_CHARS]
