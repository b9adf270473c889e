"""Fault injection: what to break, for which task or for which of the next requests."""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

# Break the HTTP answer itself.
REQUEST_FAULTS = frozenset(
    [
        "http_429",
        "http_500",
        "http_502",
        "http_503",
        "http_status",
        "delay",
        "drop",
        "not_json",
        "truncate",
        "huge",
        "gzip_bomb",
    ]
)
# Change how a task behaves (state faults) or what its OCRResponse says (response faults).
STATE_FAULTS = frozenset(["error", "stuck", "expire"])
RESPONSE_FAULTS = frozenset(["corrupt_base64", "unknown_status", "result_count", "response_code"])
TASK_FAULTS = STATE_FAULTS | RESPONSE_FAULTS
ALL_FAULTS = REQUEST_FAULTS | TASK_FAULTS


class FaultSpecError(ValueError):
    """An injection request that cannot be honoured."""


# ----- parameters: a default and a check per fault and name -------------------------------------
Check = Callable[[str, Any], Any]
"""Takes a parameter's name and value; returns the value to keep or raises FaultSpecError."""


def _number(kind_of: type[int] | type[float]) -> Check:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise FaultSpecError(f"{name} must be a number >= 0")
        return kind_of(value)

    return check


def _count(name: str, value: Any) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise FaultSpecError(f"{name} must be an integer >= 0")
    return value


def _indexes(name: str, value: Any) -> Any:
    if value is not None and (
        not isinstance(value, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value)
    ):
        raise FaultSpecError(f"{name} must be a list of integers >= 0")
    return value


def _strings(name: str, value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise FaultSpecError(f"{name} must be a list of strings")
    return list(value)


def _string(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise FaultSpecError(f"{name} must be a string")
    return value


def _optional(check: Check) -> Check:
    def optional(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return optional


def _flag(name: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise FaultSpecError(f"{name} must be true or false")
    return value


def _size(limit: int) -> Check:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            raise FaultSpecError(f"{name} must be an integer from 0 to {limit}")
        return value

    return check


def _fraction(name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise FaultSpecError(f"{name} must be a number from 0 up to (not including) 1")
    return float(value)


def _status(name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise FaultSpecError(f"{name} must be an HTTP status from 200 to 599")
    return value


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# The emulator frames every answer itself (use `truncate` for a body shorter than declared).
_FRAMING_HEADERS = frozenset(["content-length", "transfer-encoding"])


def _headers(name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise FaultSpecError(f"{name} must be an object of header names to string values")
    for header, text in value.items():
        if not _TOKEN.fullmatch(header) or header.lower() in _FRAMING_HEADERS:
            raise FaultSpecError(f"{name}: {header!r} is not a header the fault may set")
        if not isinstance(text, str) or "\r" in text or "\n" in text:
            raise FaultSpecError(f"{name}: the value of {header!r} must be a one-line string")
    return dict(value)


MAX_HUGE_BYTES = 1 << 40  # 1 TiB: more than any client reads; the body is generated as it is sent
MAX_INFLATED_BYTES = 1 << 32  # 4 GiB: gzip's size field; its CRC is computed once, over all of it
_REQUIRED = object()  # the default of a parameter the caller must give
_PARAMS: dict[str, dict[str, tuple[Any, Check]]] = {
    "http_429": {"retry_after": (1, _number(int))},
    "delay": {"seconds": (1.0, _number(float))},
    "not_json": {"body": ("<html><body><h1>502 Bad Gateway</h1></body></html>", _string)},
    "error": {"messages": (["Recognition failed: injected fault."], _strings)},
    "expire": {"after_s": (0.0, _number(float))},
    "unknown_status": {"value": ("Queued", _string)},
    "result_count": {"count": (None, _count)},
    "corrupt_base64": {"indexes": (None, _indexes)},
    "response_code": {"value": ("PartiallyNotFound", _string)},
    "http_status": {
        "status": (_REQUIRED, _status),
        "body": (None, _optional(_string)),
        "title": (None, _optional(_string)),
        "detail": (None, _optional(_string)),
        "headers": ({}, _headers),
    },
    "truncate": {"fraction": (0.5, _fraction)},
    "huge": {"bytes": (64 * 1024 * 1024, _size(MAX_HUGE_BYTES)), "chunked": (False, _flag)},
    "gzip_bomb": {"inflated_bytes": (200 * 1024 * 1024, _size(MAX_INFLATED_BYTES))},
}


def _one_body(params: dict[str, Any]) -> None:
    if params["body"] is not None and (params["title"], params["detail"]) != (None, None):
        raise FaultSpecError("give body, or title and/or detail for our ProblemDetails; not both")


# Checks of a fault's parameters together, after each was checked alone.
_TOGETHER: dict[str, Callable[[dict[str, Any]], None]] = {"http_status": _one_body}


def _check_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The fault's parameters with defaults filled in, each checked and normalised."""
    known = _PARAMS.get(kind, {})
    unknown = set(params) - set(known)
    if unknown:
        raise FaultSpecError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}")
    checked: dict[str, Any] = {}
    for name, (default, check) in known.items():
        if name not in params and default is _REQUIRED:
            raise FaultSpecError(f"fault {kind!r} needs the parameter {name!r}")
        value = params[name] if name in params else copy.deepcopy(default)
        checked[name] = check(name, value)
    _TOGETHER.get(kind, lambda _: None)(checked)
    return checked


# ----- targets ------------------------------------------------------------------------------------
def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FaultSpecError(f"{name} must be an integer >= 1")
    return value


def _optional_string(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise FaultSpecError(f"{name} must be a string")
    return value


@dataclass(frozen=True)
class Target:
    """Which tasks or requests a fault hits.

    At most one of `task_id`, `next_tasks`, `next_requests`; `method` and `path` (a prefix) narrow
    the requests; `times` caps how many requests a task-targeted fault affects.
    """

    task_id: str | None = None
    next_tasks: int | None = None
    next_requests: int | None = None
    method: str | None = None
    path: str | None = None
    times: int | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Target:
        """A checked target from the members of an injection request (all optional)."""
        unknown = set(spec) - set(cls.names())
        if unknown:
            raise FaultSpecError(f"unknown target member(s) {sorted(unknown)}")
        method = _optional_string("method", spec.get("method"))
        return cls(
            task_id=_optional_string("task_id", spec.get("task_id")),
            next_tasks=_positive("next_tasks", spec.get("next_tasks")),
            next_requests=_positive("next_requests", spec.get("next_requests")),
            method=method.upper() if method else None,
            path=_optional_string("path", spec.get("path")) or None,
            times=_positive("times", spec.get("times")),
        )

    def chosen(self) -> list[str | int]:
        return [t for t in (self.task_id, self.next_tasks, self.next_requests) if t is not None]


@dataclass
class Fault:
    """One armed fault. `remaining` counts the requests it may still affect (None: no limit)."""

    id: str
    kind: str
    params: dict[str, Any]
    task_id: str | None = None
    next_tasks: int | None = None
    method: str | None = None
    path: str | None = None
    remaining: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str, task_id: str | None) -> bool:
        if self.task_id is not None and self.task_id != task_id:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or path.startswith(self.path)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fault": self.kind,
            "params": self.params,
            "task_id": self.task_id,
            "next_tasks": self.next_tasks,
            "method": self.method,
            "path": self.path,
            "remaining": self.remaining,
            "hits": self.hits,
        }


class FaultBook:
    """The armed faults of one emulator; safe to use from every request thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    @staticmethod
    def build(
        kind: str, params: Mapping[str, Any] | None = None, target: Target | None = None
    ) -> Fault:
        """A checked fault. Without a target, request faults hit the next request, task faults
        the next submitted task."""
        if kind not in ALL_FAULTS:
            raise FaultSpecError(f"unknown fault {kind!r}; known: {sorted(ALL_FAULTS)}")
        target = target or Target()
        if len(target.chosen()) > 1:
            raise FaultSpecError("give at most one of task_id, next_tasks, next_requests")
        if target.next_requests is not None and kind not in REQUEST_FAULTS:
            raise FaultSpecError(f"{kind!r} is a task fault: target it with task_id or next_tasks")
        if not target.chosen() and kind in REQUEST_FAULTS:
            target = replace(target, next_requests=1)
        elif not target.chosen():
            target = replace(target, next_tasks=1)
        return Fault(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            params=_check_params(kind, params or {}),
            task_id=target.task_id,
            next_tasks=target.next_tasks,
            method=target.method,
            path=target.path,
            remaining=target.next_requests if target.next_requests is not None else target.times,
        )

    def bind_new_task(self, task_id: str) -> list[Fault]:
        """Give a just-submitted task a copy of each fault armed for the next tasks."""
        bound: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.next_tasks is None:
                    continue
                copied = replace(
                    fault,
                    id=uuid.uuid4().hex[:12],
                    task_id=task_id,
                    next_tasks=None,
                    params=copy.deepcopy(fault.params),
                )
                bound.append(copied)
                fault.next_tasks -= 1
                fault.hits += 1
                if fault.next_tasks <= 0:
                    self._faults.remove(fault)
            self._faults.extend(f for f in bound if f.kind not in STATE_FAULTS)
        return bound

    def take(
        self,
        kinds: frozenset[str],
        method: str,
        path: str,
        task_id: str | None,
        limit: int | None = None,
    ) -> list[Fault]:
        """The armed faults of `kinds` (at most `limit`) that hit this request, counted as used."""
        hit: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if limit is not None and len(hit) >= limit:
                    break
                if fault.kind not in kinds or fault.next_tasks is not None:
                    continue
                if not fault.matches(method, path, task_id):
                    continue
                hit.append(fault)
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
        return hit

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_dict() for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
