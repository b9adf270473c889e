"""Request faults: how an armed fault changes (or replaces) the HTTP answer to one request.

Every fault here is real on the wire (the server's handler sends what the `Reply` says: a
`Content-Length` that promises more than is sent, a streamed or chunked body, gzip bytes), so a
client library meets it exactly as it would meet a broken proxy or a hostile server.
"""

from __future__ import annotations

import functools
import json
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from infra.local.emulator.faults import AsposeFault
from infra.local.emulator.replies import Call, Reply, problem, problem_document

Answer = Callable[[], Reply]
"""The normal answer to the request (routes it: tokens are issued, tasks submitted)."""

CHUNK = 64 * 1024  # bytes per write of a streamed body
NIL_ID = (
    "00000000-0000-0000-0000-000000000000"  # the id of a padded answer to a request without one
)


def _delay(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    time.sleep(float(fault.params["seconds"]))
    return answer()


def _drop(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    return Reply(0, drop=True)


def _not_json(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    return Reply(200, str(fault.params["body"]).encode(), "text/html; charset=utf-8")


def _server_status(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    status = int(fault.kind.removeprefix("http_"))
    reply = problem(status, f"Injected fault: HTTP {status}.", call.path)
    if status == 429:
        reply.headers["Retry-After"] = str(fault.params["retry_after"])
    return reply


# ----- http_status: any status, body and headers -------------------------------------------------
def _content_type_of(body: str) -> str:
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json; charset=utf-8"


def _any_status(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    status: int = fault.params["status"]
    headers: dict[str, str] = dict(fault.params["headers"])
    if status in (204, 304):  # these never carry a body
        reply = Reply(status, headers=headers)
    elif fault.params["body"] is not None:
        text: str = fault.params["body"]
        reply = Reply(status, text.encode("utf-8"), _content_type_of(text), headers)
    else:
        detail = fault.params["detail"] or f"Injected fault: HTTP {status}."
        document = problem_document(status, detail, call.path, fault.params["title"])
        body = json.dumps(document).encode("utf-8")
        reply = Reply(status, body, "application/problem+json; charset=utf-8", headers)
    if any(name.lower() == "content-type" for name in headers):
        reply.content_type = None  # the caller's Content-Type is sent as given
    return reply


# ----- truncate: the real answer, cut short ------------------------------------------------------
def _truncate(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    reply = answer()
    if reply.drop or reply.stream is not None:
        return reply
    declared = max(len(reply.body), 1)  # an empty answer (cancel) promises one byte
    sent = min(int(len(reply.body) * fault.params["fraction"]), declared - 1)
    reply.body = reply.body[:sent]
    reply.length = declared
    reply.close = True
    return reply


# ----- huge and gzip_bomb: a Completed OCRResponse, padded --------------------------------------
_PAD = b"ICAg"  # Base64 of three spaces: the padding is valid Base64 and decodes to text


def _frame(task_id: str, room: int) -> tuple[bytes, bytes]:
    """The OCRResponse around `room` bytes of padding: a `Completed` answer with one `Text`
    result whose Base64 `data` is the padding (a multiple of 4 symbols, the rest as spaces)."""
    prefix = (
        '{"id": ' + json.dumps(task_id) + ', "taskStatus": "Completed", "responseStatusCode": '
        '"Ok", "results": [{"type": "Text", "data": "'
    )
    suffix = '"' + " " * (room % 4) + '}], "error": null}'
    return prefix.encode(), suffix.encode()


def padded_ocr_response(task_id: str, size: int) -> tuple[int, Iterator[bytes]]:
    """An OCRResponse of exactly `size` bytes (or the smallest one, if `size` is smaller), as
    its length and a generator of chunks of at most CHUNK bytes; never held in memory whole."""
    prefix, suffix = _frame(task_id, 0)
    room = max(0, size - len(prefix) - len(suffix))
    prefix, suffix = _frame(task_id, room)
    data = room - room % 4

    def chunks() -> Iterator[bytes]:
        yield prefix
        block = _PAD * (CHUNK // len(_PAD))
        full, rest = divmod(data, CHUNK)
        for _ in range(full):
            yield block
        if rest:
            yield block[:rest]
        yield suffix

    return len(prefix) + data + len(suffix), chunks()


def _huge(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    length, chunks = padded_ocr_response(call.task_id or NIL_ID, fault.params["bytes"])
    return Reply(
        200,
        content_type="application/json; charset=utf-8",
        stream=chunks,
        length=None if fault.params["chunked"] else length,
    )


_BOMB_BLOCK = 1 << 20  # spaces compressed at a time (~1 KiB each, deflate's ~1000:1 at most)
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no mtime, OS unknown


def _deflate(data: bytes, mode: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(mode)


@dataclass(frozen=True)
class _Spaces:
    """`size` spaces as raw deflate: `batch` repeated `batches` times, then `tail`.

    Each piece is compressed on its own and ends with a sync flush (byte-aligned, not final), so
    concatenated they are one valid deflate stream that a single gzip member can carry.
    """

    size: int
    batch: bytes
    batches: int
    tail: bytes
    crc: int  # CRC-32 of the spaces, to continue over what follows them

    @property
    def length(self) -> int:
        return len(self.batch) * self.batches + len(self.tail)


@functools.lru_cache(maxsize=8)
def deflated_spaces(size: int) -> _Spaces:
    """Compressed once per size: one 1 MiB block of spaces, reused (about 1 KiB per MiB)."""
    block = b" " * _BOMB_BLOCK
    segment = _deflate(block, zlib.Z_SYNC_FLUSH)
    blocks, rest = divmod(size, _BOMB_BLOCK)
    per_batch = 64  # segments per write
    batches, loose = divmod(blocks, per_batch)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(block[:rest], crc)
    tail = segment * loose + (_deflate(block[:rest], zlib.Z_SYNC_FLUSH) if rest else b"")
    return _Spaces(size, segment * per_batch, batches, tail, crc)


def gzip_bomb(task_id: str, inflated: int) -> tuple[int, Iterator[bytes]]:
    """One gzip member that inflates to `inflated` spaces followed by a small `Completed`
    OCRResponse (valid JSON: leading whitespace), as its compressed length and chunks."""
    spaces = deflated_spaces(inflated)
    prefix, suffix = _frame(task_id, 0)
    document = prefix + suffix
    end = _deflate(document, zlib.Z_FINISH)
    crc = zlib.crc32(document, spaces.crc)
    trailer = struct.pack("<II", crc, (inflated + len(document)) & 0xFFFFFFFF)

    def chunks() -> Iterator[bytes]:
        yield _GZIP_HEADER
        for _ in range(spaces.batches):
            yield spaces.batch
        yield spaces.tail + end + trailer

    length = len(_GZIP_HEADER) + spaces.length + len(end) + len(trailer)
    return length, chunks()


def _gzip_bomb(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    length, chunks = gzip_bomb(call.task_id or NIL_ID, fault.params["inflated_bytes"])
    return Reply(
        200,
        content_type="application/json; charset=utf-8",
        headers={"Content-Encoding": "gzip"},
        stream=chunks,
        length=length,
    )


_ANSWERS: dict[str, Callable[[AsposeFault, Call, Answer], Reply]] = {
    "delay": _delay,
    "drop": _drop,
    "not_json": _not_json,
    "http_429": _server_status,
    "http_500": _server_status,
    "http_502": _server_status,
    "http_503": _server_status,
    "http_status": _any_status,
    "truncate": _truncate,
    "huge": _huge,
    "gzip_bomb": _gzip_bomb,
}


def answer_with_fault(fault: AsposeFault, call: Call, answer: Answer) -> Reply:
    """The answer to `call` under the request fault `fault`."""
    return _ANSWERS[fault.kind](fault, call, answer)
