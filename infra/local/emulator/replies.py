"""What one request to the imitated API is, and what the emulator answers to it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class Call:
    """One request to the imitated API (never an admin request), as the router sees it.

    `task_id` starts as the `id` query and becomes the new task's id on a successful submit;
    `faults` collects the names of the faults that hit the request (for the request log);
    `answer` is the `taskStatus` an OCRResponse answered (after response faults), so the log says
    what the service told the client about the task.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    task_id: str | None = None
    faults: list[str] = field(default_factory=list)
    answer: str | None = None

    @property
    def lowered(self) -> str:
        return self.path.lower()


@dataclass
class Reply:
    """An answer to send: status, body, headers; `drop` closes the socket instead.

    How it goes on the wire (see the server's handler): `body`, then every chunk of `stream`;
    `Content-Length` is `length` when given (it may promise more than is sent), else the size of
    `body`; a `stream` without `length` is sent chunked. `close` closes the connection after the
    answer (a short body must not be followed by the next answer on a kept-alive connection).
    """

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    stream: Iterable[bytes] | None = None
    length: int | None = None
    close: bool = False


def json_reply(status: int, document: Any, content_type: str = "application/json") -> Reply:
    body = json.dumps(document).encode("utf-8")
    return Reply(status, body, f"{content_type}; charset=utf-8")


def problem_document(status: int, detail: str, instance: str, title: str | None = None) -> Any:
    """A ProblemDetails object (RFC 7807) of our own wording."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = f"HTTP {status}"
    return {
        "type": f"https://httpstatuses.io/{status}",
        "title": title if title is not None else phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }


def problem(
    status: int, detail: str, instance: str, errors: dict[str, list[str]] | None = None
) -> Reply:
    """A ProblemDetails answer; `errors` names the offending fields (as ASP.NET does)."""
    document = problem_document(status, detail, instance)
    if errors:
        document["errors"] = errors
    return json_reply(status, document, "application/problem+json")
