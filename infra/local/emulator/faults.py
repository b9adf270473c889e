"""Fault injection: what to break, for which task or for which of the next requests."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from infra.local.faults import Fault, FaultRegistry, new_id
from infra.stack.values import integer

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


def _whole(value: Any, low: int, high: int | None = None) -> bool:
    """A whole number (never a bool) from ``low`` up to ``high``."""
    found = integer(value)
    return found is not None and low <= found and (high is None or found <= high)


def _check(holds: Callable[[Any], bool], must: str) -> Check:
    """A check that keeps a value ``holds`` accepts, else says what it ``must`` be."""

    def check(name: str, value: Any) -> Any:
        if not holds(value):
            raise FaultSpecError(f"{name} must be {must}")
        return value

    return check


def _number(kind_of: type[int] | type[float]) -> Check:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise FaultSpecError(f"{name} must be a number >= 0")
        return kind_of(value)

    return check


def _optional(check: Check) -> Check:
    def optional(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return optional


def _fraction(name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise FaultSpecError(f"{name} must be a number from 0 up to (not including) 1")
    return float(value)


_count = _optional(_check(lambda v: _whole(v, 0), "an integer >= 0"))
_indexes = _optional(
    _check(
        lambda v: isinstance(v, list) and all(_whole(i, 0) for i in v),
        "a list of integers >= 0",
    )
)
_strings = _check(
    lambda v: isinstance(v, list) and all(isinstance(m, str) for m in v), "a list of strings"
)
_string = _check(lambda v: isinstance(v, str), "a string")
_flag = _check(lambda v: isinstance(v, bool), "true or false")
_status = _check(lambda v: _whole(v, 200, 599), "an HTTP status from 200 to 599")


def _size(limit: int) -> Check:
    return _check(lambda v: _whole(v, 0, limit), f"an integer from 0 to {limit}")


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
_positive = _optional(_check(lambda v: _whole(v, 1), "an integer >= 1"))
_span = _optional(
    _check(
        lambda v: not isinstance(v, bool) and isinstance(v, int | float) and 0 < v <= 86_400,
        "a number of seconds above 0, at most 86400",
    )
)
_optional_string = _optional(_string)


@dataclass(frozen=True)
class Target:
    """Which tasks or requests a fault hits, and for how long.

    At most one of `task_id`, `next_tasks`, `next_requests`; `method` and `path` (a prefix) narrow
    the requests; `times` caps how many requests a task-targeted fault affects; `for_s` arms it
    for that many seconds from now, and alone (no count) hits every matching request meanwhile:
    an outage lasts a time, however many requests arrive during it.
    """

    task_id: str | None = None
    next_tasks: int | None = None
    next_requests: int | None = None
    method: str | None = None
    path: str | None = None
    times: int | None = None
    for_s: float | None = None

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
            for_s=_span("for_s", spec.get("for_s")),
        )

    def chosen(self) -> list[str | int]:
        return [t for t in (self.task_id, self.next_tasks, self.next_requests) if t is not None]


@dataclass
class AsposeFault(Fault):
    """A fault armed in the emulator: a task's (``task_id``), the next tasks' (``next_tasks``,
    copied to each as it is submitted), or the next requests' (``remaining``), narrowed by
    ``method`` and ``path`` (a prefix)."""

    task_id: str | None = None
    next_tasks: int | None = None
    method: str | None = None
    path: str | None = None

    def matches(self, method: str, path: str, task_id: str | None) -> bool:
        if self.task_id is not None and self.task_id != task_id:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or path.startswith(self.path)

    def to_json(self) -> dict[str, Any]:
        """As the admin API lists it (``fault`` names the kind, as an injection does)."""
        found = super().to_json()
        return {"fault": found.pop("kind"), **found}


class FaultBook(FaultRegistry[AsposeFault]):
    """The armed faults of one emulator."""

    @staticmethod
    def build(
        kind: str, params: Mapping[str, Any] | None = None, target: Target | None = None
    ) -> AsposeFault:
        """A checked fault. Without a target, request faults hit the next request (every
        request, for a fault armed ``for_s``), task faults the next submitted task."""
        if kind not in ALL_FAULTS:
            raise FaultSpecError(f"unknown fault {kind!r}; known: {sorted(ALL_FAULTS)}")
        target = target or Target()
        if len(target.chosen()) > 1:
            raise FaultSpecError("give at most one of task_id, next_tasks, next_requests")
        if target.next_requests is not None and kind not in REQUEST_FAULTS:
            raise FaultSpecError(f"{kind!r} is a task fault: target it with task_id or next_tasks")
        if target.for_s is not None and kind in STATE_FAULTS:
            raise FaultSpecError(f"{kind!r} changes a task for good: for_s cannot bound it")
        if not target.chosen() and kind in REQUEST_FAULTS and target.for_s is None:
            target = replace(target, next_requests=1)
        elif not target.chosen() and kind not in REQUEST_FAULTS:
            target = replace(target, next_tasks=1)
        return AsposeFault(
            kind=kind,
            params=_check_params(kind, params or {}),
            remaining=target.next_requests if target.next_requests is not None else target.times,
            task_id=target.task_id,
            next_tasks=target.next_tasks,
            method=target.method,
            path=target.path,
            until=None if target.for_s is None else time.time() + target.for_s,
        )

    def bind_new_task(self, task_id: str) -> list[AsposeFault]:
        """Give a just-submitted task a copy of each fault armed for the next tasks."""
        bound: list[AsposeFault] = []
        with self._lock:
            self._drop_expired()
            for fault in list(self._faults):
                if fault.next_tasks is None:
                    continue
                copied = replace(
                    fault,
                    id=new_id(),
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

    def hitting(
        self,
        kinds: frozenset[str],
        method: str,
        path: str,
        task_id: str | None,
        limit: int | None = None,
    ) -> list[AsposeFault]:
        """The armed faults of ``kinds`` (at most ``limit``) that hit this request, each counted
        as used."""
        return self.take(
            lambda f: f.kind in kinds and f.next_tasks is None and f.matches(method, path, task_id),
            limit=limit,
        )
