"""Announcing tasks on the stack's bus: the product's public start contract (a
``Region Recognition Submitted`` event), first submissions and re-fetches alike, one at a time
or many in ``PutEvents`` batches (the product's own publisher, which retries the entries a
partial failure reports)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from infra.stack.client import StackClient
from ocr_fetch.events import Event, EventPublisher, PutResult, build_submitted_detail
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE, execution_name_of

#: Who announces, by default: the operator's command line.
SOURCE = "ocr-results"


@dataclass(frozen=True)
class Announcement:
    """One task to announce: what the submitted event's detail says, and when the task was
    submitted (the event's time, from which the product counts the results' lifetime; None:
    now). ``region_names`` None leaves ``regions`` out (stored by index, not as zero regions);
    ``refetch`` names a new execution ``<taskId>-<refetch>``."""

    task_id: str
    region_names: tuple[str | None, ...] | None = None
    correlation_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    refetch: str | None = None
    expected_seconds: float | None = None
    submitted_at: datetime | None = None

    @property
    def execution_name(self) -> str:
        return execution_name_of(self.task_id, self.refetch)

    def detail(self) -> dict[str, Any]:
        """The event's detail, exactly as it is sent."""
        detail = build_submitted_detail(
            self.task_id, self.region_names or (), self.correlation_id, self.metadata
        )
        if self.region_names is None:
            del detail["regions"]
        if self.refetch is not None:
            detail["refetch"] = self.refetch
        if self.expected_seconds is not None:
            detail["expectedSeconds"] = self.expected_seconds
        return detail


class Bus(StackClient):
    """The stack's event bus, as a submitter uses it."""

    #: The time the events put carry (PutEvents' ``Time``); None: when they are put.
    event_time: datetime | None = None

    def at(self, time: datetime) -> Self:
        """This client, putting events that say they happened at ``time`` (a submitter whose
        clock differs, or who announces late)."""
        stamped = copy.copy(self)
        stamped.event_time = time
        return stamped

    def announce(
        self,
        task_id: str,
        region_names: list[str | None] | None = None,
        *,
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: str = SOURCE,
    ) -> str:
        """Put a ``Region Recognition Submitted`` event on the bus; return its event id.
        ``region_names`` None: the names are unknown (the regions are stored by index), as for
        :meth:`announce_refetch`, not zero regions."""
        announcement = Announcement(
            task_id,
            None if region_names is None else tuple(region_names),
            correlation_id,
            metadata,
        )
        return self._publish(announcement, source)

    def announce_refetch(
        self, task_id: str, label: str, submission: Mapping[str, Any], source: str = SOURCE
    ) -> str:
        """Announce ``task_id`` again with ``refetch: label``: an execution named
        ``<taskId>-<label>`` fetches it anew. ``submission`` is what the task was announced with
        (``regions`` with their names, or None when unknown; ``correlationId``; ``metadata``),
        carried over. Returns the execution name."""
        regions = submission.get("regions")
        announcement = Announcement(
            task_id,
            None
            if regions is None
            else tuple(r.get("name") if isinstance(r, dict) else None for r in regions),
            submission.get("correlationId"),
            submission.get("metadata"),
            refetch=label,
        )
        self._publish(announcement, source)
        return announcement.execution_name

    def announce_many(
        self,
        announcements: Sequence[Announcement],
        on_put: Callable[[int], None] | None = None,
        source: str = SOURCE,
    ) -> PutResult:
        """Announce every task, ten to a ``PutEvents`` call; the failed entries are retried,
        and those that still fail are in the result (by index), never dropped."""
        events = [
            Event(SUBMITTED_DETAIL_TYPE, a.detail(), source, a.submitted_at or self.event_time)
            for a in announcements
        ]
        return self._publisher().publish_batch(events, on_put)

    def _publish(self, announcement: Announcement, source: str) -> str:
        return self._publisher().publish(
            SUBMITTED_DETAIL_TYPE,
            announcement.detail(),
            source=source,
            at=announcement.submitted_at or self.event_time,
        )

    def _publisher(self) -> EventPublisher:
        return EventPublisher(self.outputs.event_bus_name, client=self.client("events"))
