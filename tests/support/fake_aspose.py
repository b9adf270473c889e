"""Aspose.OCR Cloud's token and region-recognition endpoints, answered through ``responses`` as a
test chooses, poll by poll, and kept as ground truth.

Each poll of a task takes the next answer queued for it (``Processing`` when none is): any answer
the service, or the network between, could give (:data:`Answer`). The stand-in keeps what a
checker of "nothing lost" needs: every ``Completed`` answer it served for its own task, exactly as
sent, with the bytes each region decodes to (or that it was corrupt); every text it recognised,
which must never leave the bucket; and what the last poll of a task was told when a cancel came.
Tokens are issued for the credentials it accepts and live for no time at all, so every poll reads
the stack's secret (as cached by the function) and a changed secret is seen when the cache is.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import responses

from ocr_fetch.client import RECOGNIZE_REGIONS_PATH

TOKEN_PATH = "/connect/token"
RUNNING = ("Pending", "Processing")
#: How a region's Base64 is spoiled: a character outside the alphabet, a length that is not a
#: multiple of four, or no data at all. Each is refused by a strict decoder.
CORRUPTIONS = ("character", "length", "missing")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Region:
    """One recognised region: its text, its result type, and how its Base64 is spoiled (if)."""

    text: str
    type: str = "Text"
    corruption: str | None = None

    @property
    def content(self) -> bytes:
        """What the region decodes to: what a correct store keeps, byte for byte."""
        if self.type == "JSON":
            return json.dumps({"text": self.text}, ensure_ascii=False).encode("utf-8")
        return self.text.encode("utf-8")

    @property
    def decodable(self) -> bool:
        return self.corruption is None

    @property
    def encoded(self) -> str:
        return base64.b64encode(self.content).decode("ascii")

    def data(self) -> str | None:
        """The ``results[].data`` the answer carries."""
        encoded = self.encoded
        if self.corruption == "character":
            return encoded[:-2] + "*" + encoded[-1:]
        if self.corruption == "length":
            return encoded[:-1]
        if self.corruption == "missing":
            return None
        return encoded


class Answer(Protocol):
    """One poll's answer: the HTTP reply to a poll of ``task_id``; ``service`` learns the ground
    truth from it."""

    def reply(self, task_id: str, service: FakeAspose) -> Reply: ...


def _document(task_id: str, status: Any, **fields: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "taskStatus": status,
        "responseStatusCode": fields.pop("code", None),
        "results": fields.pop("results", None),
        "error": fields.pop("error", None),
        **fields,
    }


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Running:
    """``Pending`` or ``Processing``; ``shout`` writes the task id in capitals."""

    status: str = "Processing"
    shout: bool = False

    def body(self, task_id: str, service: FakeAspose) -> bytes:
        return _json(_document(task_id.upper() if self.shout else task_id, self.status))

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        return Reply(200, self.body(task_id, service))


@dataclass(frozen=True)
class Completed:
    """``Completed`` with one result per region (some may be corrupt), a ``responseStatusCode``
    and the service's warnings, if any."""

    regions: tuple[Region, ...]
    code: str = "Ok"
    shout: bool = False
    warnings: tuple[str, ...] = ()

    def body(self, task_id: str, service: FakeAspose) -> bytes:
        service.recognised(self.regions)
        results = [{"type": region.type, "data": region.data()} for region in self.regions]
        answered_id = task_id.upper() if self.shout else task_id
        error = {"messages": [], "warnings": list(self.warnings)} if self.warnings else None
        document = _document(answered_id, "Completed", code=self.code, results=results)
        return _json({**document, "error": error})

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        body = self.body(task_id, service)
        service.served.append(Served(task_id, body, self.regions))
        return Reply(200, body)


@dataclass(frozen=True)
class Failed:
    """``Error``, with the service's messages (they may be long and many)."""

    messages: tuple[str, ...]

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        error = {"messages": list(self.messages), "warnings": list(self.messages[:2])}
        return Reply(200, _json(_document(task_id, "Error", code="Error", error=error)))


@dataclass(frozen=True)
class NotExist:
    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        return Reply(200, _json(_document(task_id, "NotExist")))


@dataclass(frozen=True)
class UnknownStatus:
    """A ``taskStatus`` no documented one: another word, null, a number, a long string."""

    status: Any

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        return Reply(200, _json(_document(task_id, self.status)))


@dataclass(frozen=True)
class Throttled:
    """HTTP 429, with any ``Retry-After`` (seconds, a date, nonsense) or none."""

    retry_after: str | None

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        return Reply(429, b'{"message": "Too Many Requests"}', headers)


@dataclass(frozen=True)
class ServerError:
    status: int = 503

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        return Reply(self.status, b"<html><body>upstream trouble</body></html>")


@dataclass(frozen=True)
class Truncated:
    """An answer cut off part way (``keep`` of its bytes), as a dropped connection leaves it."""

    answer: Running | Completed
    keep: float

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        whole = self.answer.body(task_id, service)
        cut = min(max(int(len(whole) * self.keep), 1), len(whole) - 1)
        return Reply(200, whole[:cut])


@dataclass(frozen=True)
class Huge:
    """A 200 larger than the function's ``MaxResponseBytes``."""

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        padding = "x" * (service.max_response_bytes + 1024)
        return Reply(200, _json(_document(task_id, "Processing", padding=padding)))


@dataclass(frozen=True)
class Deep:
    """A 200 whose JSON nests ``depth`` levels deep."""

    depth: int = 1000

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        nested = "[" * self.depth + "]" * self.depth
        return Reply(
            200, f'{{"id": "{task_id}", "taskStatus": "Completed", "results": {nested}}}'.encode()
        )


@dataclass(frozen=True)
class OtherTask:
    """The answer about another task (a proxy's mix-up)."""

    answer: Running | Completed
    other_id: str

    def reply(self, task_id: str, service: FakeAspose) -> Reply:
        return Reply(200, self.answer.body(self.other_id, service))


@dataclass(frozen=True)
class Served:
    """A ``Completed`` answer for its own task, exactly as sent."""

    task_id: str
    body: bytes
    regions: tuple[Region, ...]


class FakeAspose:
    """The service (see the module); :meth:`install` routes a ``responses`` mock to it."""

    def __init__(self, base_url: str, *, max_response_bytes: int) -> None:
        self.base_url = base_url
        self.max_response_bytes = max_response_bytes
        self.queued: defaultdict[str, deque[Answer]] = defaultdict(deque)
        #: Every Completed answer served for its own task, in order.
        self.served: list[Served] = []
        #: Every text recognised in any answer (served whole, cut off or about another task).
        self.texts: set[str] = set()
        self.credentials: set[tuple[str, str]] = set()
        #: Per task, what its last poll was told (a taskStatus, or the kind of non-answer).
        self.last_said: dict[str, str] = {}
        #: Each cancel: the task and what its last poll had been told.
        self.cancels: list[tuple[str, str | None]] = []
        self._tokens: set[str] = set()

    def install(self, mock: responses.RequestsMock) -> None:
        fetch = self.base_url + RECOGNIZE_REGIONS_PATH
        mock.add_callback(responses.POST, self.base_url + TOKEN_PATH, callback=self._token)
        mock.add_callback(responses.GET, fetch, callback=self._fetch)
        mock.add_callback(responses.DELETE, fetch, callback=self._cancel)

    def queue(self, task_id: str, answers: Iterable[Answer]) -> None:
        self.queued[task_id].extend(answers)

    def recognised(self, regions: Iterable[Region]) -> None:
        self.texts.update(region.text for region in regions)

    def served_as(self, body: bytes) -> Served | None:
        """The Completed answer served with exactly this body, if one was."""
        return next((served for served in self.served if served.body == body), None)

    # --- the endpoints ----------------------------------------------------------------------
    def _token(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        form = parse_qs(str(request.body or ""))
        given = (form.get("client_id", [""])[0], form.get("client_secret", [""])[0])
        if given not in self.credentials:
            return 401, {}, b'{"error": "invalid_client"}'
        token = f"token-{len(self._tokens)}"
        self._tokens.add(token)
        return 200, {}, _json({"access_token": token, "expires_in": 0, "token_type": "Bearer"})

    def _authorised(self, request: Any) -> bool:
        header = str(request.headers.get("Authorization", ""))
        return header.removeprefix("Bearer ") in self._tokens

    def _fetch(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        if not self._authorised(request):
            return 401, {}, b""
        task_id = parse_qs(urlsplit(str(request.url)).query).get("id", [""])[0]
        waiting = self.queued.get(task_id)
        answer: Answer = waiting.popleft() if waiting else Running()
        reply = answer.reply(task_id, self)
        self.last_said[task_id] = (
            answer.status if isinstance(answer, Running) else type(answer).__name__
        )
        return reply.status, reply.headers, reply.body

    def _cancel(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        if not self._authorised(request):
            return 401, {}, b""
        task_id = parse_qs(urlsplit(str(request.url)).query).get("id", [""])[0]
        self.cancels.append((task_id, self.last_said.get(task_id)))
        return 200, {}, b""
