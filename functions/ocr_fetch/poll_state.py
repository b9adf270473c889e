"""What Check Task Status reads and returns: the execution's ``poll`` state, parsed and made.

The check function reads the task's ids and times and the ``poll`` object its previous
invocation returned (the starter's :meth:`~ocr_fetch.learning.PollStart.to_state` before the
first poll), and returns the next ``poll`` object, every key always present for the state
machine's ``ResultSelector`` and Choice states. It holds ids, counters, times and S3 keys only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocr_fetch.errors import (
    MAX_STATE_MESSAGE_BYTES,
    MAX_STATUS_CHARS,
    InvalidEventError,
    clip,
    clip_bytes,
)
from ocr_fetch.learning import MAX_PLAN_POLLS
from ocr_fetch.polling import WAIT_ALLOWANCE_SECONDS, PollDecision, whole_wait
from ocr_fetch.submission import parse_timestamp, validate_execution_name, validate_task_id

if TYPE_CHECKING:
    from ocr_fetch.bucket import StoredAnswer

#: The payload keys the function reads, and those it requires: ``make lint`` checks the state
#: machine's Payload against them.
PAYLOAD_KEYS = frozenset({"taskId", "executionName", "submittedAt", "receivedAt", "teach", "poll"})
REQUIRED_PAYLOAD_KEYS = frozenset({"taskId", "executionName", "submittedAt", "poll"})
THROTTLED = "Throttled"
UNAVAILABLE = "Unavailable"
#: A poll not made because the fleet's breaker is open (:mod:`ocr_fetch.fleet`).
PAUSED = "Paused"


@dataclass(frozen=True)
class CheckRequest:
    """One poll to make, and where polling stands."""

    task_id: str
    execution_name: str
    submitted_at: datetime
    #: When the product first saw the task (durations that teach count from here).
    received_at: datetime
    #: Whether this run's duration may teach polling (:class:`~ocr_fetch.submission.SubmittedTask`).
    teach: bool = False
    polls: int = 0
    #: Polls the service answered "still running", and for how long (seconds) it said so: what
    #: the running deadline and the poll budget count (:mod:`ocr_fetch.polling`).
    answered_polls: int = 0
    running_seconds: float = 0.0
    #: When the previous poll was made (seconds after submission; None before the first), and
    #: whether it was an answer that the task is running.
    last_poll_at: float | None = None
    last_answered: bool = False
    #: The learnt plan and the history it was learnt from (:mod:`ocr_fetch.learning`), and when a
    #: poll last saw the task running (seconds after submission).
    plan: tuple[int, ...] = ()
    kind: str | None = None
    running_at: float = 0.0
    #: When this poll is due, in seconds after submission (Wait states count whole seconds).
    poll_at: float = 0.0
    #: Polls in a row not made because the breaker was open: paused waits grow with them.
    paused: int = 0
    #: A budget slot kept for this poll (epoch seconds), when the last one had to wait for it.
    slot_at: float | None = None

    @classmethod
    def parse(cls, event: Any) -> CheckRequest:
        """The payload as the state machine sends it; InvalidEventError naming what is wrong."""
        if not isinstance(event, dict):
            raise InvalidEventError("check input must be an object")
        poll = event.get("poll")
        if not isinstance(poll, dict):
            raise InvalidEventError("check input poll must be an object")
        submitted_at = parse_timestamp(event.get("submittedAt"))
        if submitted_at is None:
            raise InvalidEventError("check input submittedAt must be ISO 8601")
        received_at = parse_timestamp(event.get("receivedAt")) or submitted_at
        plan = poll.get("plan") or []
        if not isinstance(plan, list) or not all(_whole(at) and at >= 0 for at in plan):
            raise InvalidEventError("check input poll.plan must be a list of whole seconds")
        kind = poll.get("kind")
        last_poll_at = poll.get("lastPollAt")
        slot_at = poll.get("slotAt")
        return cls(
            validate_task_id(event.get("taskId")),
            validate_execution_name(event.get("executionName")),
            submitted_at,
            received_at,
            teach=event.get("teach") is True,
            polls=_count(poll, "polls"),
            answered_polls=_count(poll, "answeredPolls"),
            running_seconds=_seconds(poll, "runningSeconds"),
            last_poll_at=None if last_poll_at is None else _seconds(poll, "lastPollAt"),
            last_answered=poll.get("lastAnswered") is True,
            plan=tuple(plan[:MAX_PLAN_POLLS]),
            kind=kind if isinstance(kind, str) and kind else None,
            running_at=_seconds(poll, "runningAt"),
            poll_at=_seconds(poll, "pollAt"),
            paused=_count(poll, "paused"),
            slot_at=None if slot_at is None else _seconds(poll, "slotAt"),
        )


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(poll: dict[str, Any], key: str) -> int:
    value = poll.get(key) or 0
    if not _whole(value) or value < 0:
        raise InvalidEventError(f"check input poll.{key} must be a non-negative integer")
    return int(value)


def _seconds(poll: dict[str, Any], key: str) -> float:
    value = poll.get(key) or 0
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidEventError(f"check input poll.{key} must be a number of seconds")
    return float(value)


@dataclass(frozen=True)
class PollResult:
    """One poll's answer to the state machine: its status and, while running, what next."""

    status: str
    request: CheckRequest
    #: Polls made, polls answered "running" and the running seconds, this poll included.
    polls: int
    answered_polls: int
    running_seconds: float
    #: When this poll counts as made (seconds after submission), and whether it was an answer
    #: that the task is running.
    made_at: float
    answered: bool
    #: The wait before the next poll (or giving up); None when the task is not running any more.
    decision: PollDecision | None = None
    #: When the next poll is due, in seconds after submission (None: no next poll).
    poll_at: float | None = None
    task_status: str | None = None
    response_status_code: str | None = None
    #: Where this execution kept a final answer (its key and ETag travel on in the state).
    answer: StoredAnswer | None = None
    error: dict[str, str] | None = None
    #: Why this poll got no answer about the task (``Throttled``/``Unavailable``/``Paused``).
    transient_cause: dict[str, str] | None = None
    #: When a poll last saw the task running (seconds after submission).
    running_at: float = 0.0
    paused: int = 0
    slot_at: float | None = None

    @property
    def wait_seconds(self) -> int:
        """The Wait state's whole seconds: short of the due time by what it takes from a Wait's
        end to the next poll's start, which the check function then makes up."""
        if self.poll_at is None or self.decision is None or self.decision.give_up:
            return 0
        # After no answer (a Retry-After, say) the whole wait is waited: never early.
        allowance = 0.0 if self.transient_cause else WAIT_ALLOWANCE_SECONDS
        return whole_wait(self.poll_at, self.made_at, allowance)

    def to_state(self) -> dict[str, Any]:
        """The handler's output: every key always present, every text bounded."""
        decision = self.decision
        return {
            "status": self.status,
            "taskStatus": clip(self.task_status, MAX_STATUS_CHARS),
            "responseStatusCode": clip(self.response_status_code, MAX_STATUS_CHARS),
            "polls": self.polls,
            "answeredPolls": self.answered_polls,
            "runningSeconds": round(self.running_seconds, 3),
            "lastPollAt": round(self.made_at, 3),
            "lastAnswered": self.answered,
            "waitSeconds": self.wait_seconds,
            "pollAt": None if self.poll_at is None else round(self.poll_at, 3),
            "giveUp": decision.give_up if decision else False,
            "giveUpReason": decision.give_up_reason if decision else None,
            "elapsedSeconds": int(self.made_at),
            "rawKey": self.answer.key if self.answer else None,
            "rawETag": self.answer.etag if self.answer else None,
            "error": _bounded(self.error),
            "transientCause": _bounded(self.transient_cause),
            "plan": list(self.request.plan),
            "kind": self.request.kind,
            "runningAt": round(self.running_at, 3),
            "paused": self.paused,
            "slotAt": None if self.slot_at is None else round(self.slot_at, 3),
        }


def _bounded(error: dict[str, str] | None) -> dict[str, str] | None:
    """An error as state data carries it: name and message, each bounded in bytes."""
    if error is None:
        return None
    return {
        "name": clip_bytes(str(error.get("name")), 128),
        "message": clip_bytes(str(error.get("message")), MAX_STATE_MESSAGE_BYTES),
    }
