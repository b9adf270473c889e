"""One design for the faults the local stand-ins inject, on AWS's side (the local cloud) and on
Aspose's (the emulator): a fault is armed for a number of the events it hits (or for all of
them), or for a span of time (``until``: an outage, which no count of requests describes, since
how many arrive during it is what is measured); each hit is counted and uses one up, and a
registry arms, takes, lists and clears them from any thread. What a fault aims at differs (a
function or an API operation; a task, or the next requests), so each side's fault adds its own
aim, and says how it matches."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar


def new_id() -> str:
    """An armed fault's id (in the messages it injects, and in the listings)."""
    return uuid.uuid4().hex[:12]


@dataclass
class Fault:
    """One armed fault: its kind and parameters, how many more events it may hit (None: no
    limit), until when it is armed (epoch seconds; None: no limit), and how many it has hit."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    remaining: int | None = None
    hits: int = 0
    id: str = field(default_factory=new_id)
    until: float | None = None

    def expired(self, now: float) -> bool:
        """Whether its span of time is over (then it hits nothing more)."""
        return self.until is not None and now >= self.until

    def use(self) -> bool:
        """Count one hit; True once it is used up."""
        self.hits += 1
        if self.remaining is None:
            return False
        self.remaining -= 1
        return self.remaining <= 0

    def to_json(self) -> dict[str, Any]:
        """Every field (its aim's too), as the stand-in's admin API lists it."""
        return asdict(self)


F = TypeVar("F", bound=Fault)


class FaultRegistry(Generic[F]):
    """The armed faults of one stand-in, oldest first; safe to use from every request thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[F] = []

    def arm(self, fault: F) -> F:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, hits: Callable[[F], bool], *, limit: int | None = None) -> list[F]:
        """The armed faults ``hits`` says hit this event (the oldest, at most ``limit``), each
        counted; one used up, or whose span of time is over, is disarmed."""
        taken: list[F] = []
        with self._lock:
            self._drop_expired()
            for fault in list(self._faults):
                if limit is not None and len(taken) >= limit:
                    break
                if not hits(fault):
                    continue
                taken.append(fault)
                if fault.use():
                    self._faults.remove(fault)
        return taken

    def armed(self) -> list[F]:
        with self._lock:
            self._drop_expired()
            return list(self._faults)

    def _drop_expired(self) -> None:
        """Disarm the faults whose span of time is over (the lock held)."""
        now = time.time()
        self._faults[:] = [f for f in self._faults if not f.expired(now)]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
