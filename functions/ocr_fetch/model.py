"""The Aspose.OCR Cloud ``OCRResponse``, parsed into a typed object.

Every field may be missing or null in practice; each gets a defined meaning here instead of a
crash: no ``taskStatus`` is :attr:`TaskStatus.UNKNOWN`, no ``results`` is an empty tuple, no
``error`` means no messages and no warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ocr_fetch import rawjson
from ocr_fetch.errors import MAX_SERVICE_MESSAGE_CHARS, AsposeProtocolError, clip
from ocr_fetch.rawjson import RawString

#: Most service messages (and warnings) kept: they are recorded and published.
MAX_MESSAGES = 20


class TaskStatus(StrEnum):
    """The five documented task statuses, and UNKNOWN for anything else."""

    PENDING = "Pending"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    ERROR = "Error"
    NOT_EXIST = "NotExist"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> TaskStatus:
        for status in cls:
            if status is not cls.UNKNOWN and value == status.value:
                return status
        return cls.UNKNOWN

    @property
    def is_running(self) -> bool:
        return self in (TaskStatus.PENDING, TaskStatus.PROCESSING)


@dataclass(frozen=True)
class ResultEntry:
    """One ``results[]`` entry as received: ``type`` names the format, ``data`` is Base64 (a
    long one left in the body it came from, :meth:`OcrResponse.from_body`).

    Either may be ``None`` when the service sent something else; decoding reports that as a
    region error rather than guessing.
    """

    type: str | None
    data: str | RawString | None

    @classmethod
    def parse(cls, value: object) -> ResultEntry:
        if not isinstance(value, dict):
            return cls(type=None, data=None)
        kind = value.get("type")
        data = value.get("data")
        return cls(
            type=str(kind) if isinstance(kind, str | int) else None,
            data=data if isinstance(data, str | RawString) else None,
        )


@dataclass(frozen=True)
class OcrResponse:
    """A parsed OCRResponse. ``raw_task_status`` keeps what the service said, for UNKNOWN."""

    task_id: str | None
    task_status: TaskStatus
    raw_task_status: str | None
    response_status_code: str | None
    results: tuple[ResultEntry, ...]
    messages: tuple[str, ...]
    warnings: tuple[str, ...]

    @classmethod
    def from_body(cls, body: bytes) -> OcrResponse:
        """Parse a body as received, each long ``results[].data`` left in it (so the body and
        the decoded results are all a region costs in memory): ``ValueError`` if not JSON."""
        return cls.from_json(rawjson.loads(body, keep=_is_result_data))

    @classmethod
    def from_json(cls, payload: Any) -> OcrResponse:
        """Parse a decoded JSON body; anything but a JSON object is a protocol error."""
        if not isinstance(payload, dict):
            raise AsposeProtocolError(
                f"OCRResponse must be a JSON object, got {type(payload).__name__}"
            )
        raw_status = payload.get("taskStatus")
        raw_results = payload.get("results")
        if raw_results is not None and not isinstance(raw_results, list):
            raise AsposeProtocolError(
                f"OCRResponse.results must be a list or null, got {type(raw_results).__name__}"
            )
        error = payload.get("error")
        messages: tuple[str, ...] = ()
        warnings: tuple[str, ...] = ()
        if isinstance(error, dict):
            messages = _strings(error.get("messages"))
            warnings = _strings(error.get("warnings"))
        elif error is not None:
            messages = _strings([error])
        task_id = payload.get("id")
        code = payload.get("responseStatusCode")
        return cls(
            task_id=task_id if isinstance(task_id, str) else None,
            task_status=TaskStatus.parse(raw_status),
            raw_task_status=_text(raw_status) if raw_status is not None else None,
            response_status_code=_text(code) if code is not None else None,
            results=tuple(ResultEntry.parse(item) for item in raw_results or ()),
            messages=messages,
            warnings=warnings,
        )

    @property
    def is_anomalous_completion(self) -> bool:
        """``Completed`` with a ``responseStatusCode`` other than ``Ok`` is worth reporting."""
        return self.task_status is TaskStatus.COMPLETED and self.response_status_code != "Ok"


def _is_result_data(path: rawjson.Path) -> bool:
    return len(path) == 3 and path[0] == "results" and path[2] == "data"


def _text(value: object) -> str:
    return clip(str(value), MAX_SERVICE_MESSAGE_CHARS)


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_text(item) for item in items[:MAX_MESSAGES] if item is not None)
