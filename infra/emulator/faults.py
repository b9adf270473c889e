"""Fault injection: what to break, for which task or for which of the next requests."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, replace
from typing import Any

# Break the HTTP answer itself.
REQUEST_FAULTS = frozenset(
    ["http_429", "http_500", "http_502", "http_503", "delay", "drop", "not_json"]
)
# Change how a task behaves (state faults) or what its OCRResponse says (response faults).
STATE_FAULTS = frozenset(["error", "stuck", "expire"])
RESPONSE_FAULTS = frozenset(["corrupt_base64", "unknown_status", "result_count", "response_code"])
TASK_FAULTS = STATE_FAULTS | RESPONSE_FAULTS
ALL_FAULTS = REQUEST_FAULTS | TASK_FAULTS

_DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "http_429": {"retry_after": 1},
    "delay": {"seconds": 1.0},
    "not_json": {"body": "<html><body><h1>502 Bad Gateway</h1></body></html>"},
    "error": {"messages": ["Recognition failed: injected fault."]},
    "expire": {"after_s": 0.0},
    "unknown_status": {"value": "Queued"},
    "result_count": {"count": None},
    "corrupt_base64": {"indexes": None},
    "response_code": {"value": "PartiallyNotFound"},
}


class FaultSpecError(ValueError):
    """An injection request that cannot be honoured."""


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


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    merged = {**_DEFAULT_PARAMS.get(kind, {}), **params}
    unknown = set(merged) - set(_DEFAULT_PARAMS.get(kind, {}))
    if unknown:
        raise FaultSpecError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}")
    numbers = {"retry_after": int, "seconds": float, "after_s": float}
    for name, kind_of in numbers.items():
        if name in merged:
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise FaultSpecError(f"{name} must be a number >= 0")
            merged[name] = kind_of(value)
    count = merged.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise FaultSpecError("count must be an integer >= 0")
    indexes = merged.get("indexes")
    if indexes is not None and (
        not isinstance(indexes, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indexes)
    ):
        raise FaultSpecError("indexes must be a list of integers >= 0")
    messages = merged.get("messages")
    if messages is not None and (
        not isinstance(messages, list) or not all(isinstance(m, str) for m in messages)
    ):
        raise FaultSpecError("messages must be a list of strings")
    for name in ("value", "body"):
        if name in merged and not isinstance(merged[name], str):
            raise FaultSpecError(f"{name} must be a string")
    return merged


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FaultSpecError(f"{name} must be an integer >= 1")
    return value


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
        kind: str,
        *,
        params: dict[str, Any] | None = None,
        task_id: str | None = None,
        next_tasks: int | None = None,
        next_requests: int | None = None,
        method: str | None = None,
        path: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """A checked fault. Without a target, request faults hit the next request, task faults
        the next submitted task."""
        if kind not in ALL_FAULTS:
            raise FaultSpecError(f"unknown fault {kind!r}; known: {sorted(ALL_FAULTS)}")
        for name, value in (("task_id", task_id), ("method", method), ("path", path)):
            if value is not None and not isinstance(value, str):
                raise FaultSpecError(f"{name} must be a string")
        next_tasks = _positive("next_tasks", next_tasks)
        next_requests = _positive("next_requests", next_requests)
        times = _positive("times", times)
        targets = [t for t in (task_id, next_tasks, next_requests) if t is not None]
        if len(targets) > 1:
            raise FaultSpecError("give at most one of task_id, next_tasks, next_requests")
        if next_requests is not None and kind not in REQUEST_FAULTS:
            raise FaultSpecError(f"{kind!r} is a task fault: target it with task_id or next_tasks")
        if not targets:
            if kind in REQUEST_FAULTS:
                next_requests = 1
            else:
                next_tasks = 1
        fault = Fault(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            params=_check_params(kind, dict(params or {})),
            task_id=task_id,
            next_tasks=next_tasks,
            method=method.upper() if method else None,
            path=path or None,
            remaining=next_requests if next_requests is not None else times,
        )
        return fault

    def bind_new_task(self, task_id: str) -> list[Fault]:
        """Give a just-submitted task a copy of each fault armed for the next tasks."""
        bound: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.next_tasks is None:
                    continue
                copy = replace(
                    fault,
                    id=uuid.uuid4().hex[:12],
                    task_id=task_id,
                    next_tasks=None,
                    params=dict(fault.params),
                )
                bound.append(copy)
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
