"""Announcing tasks on the stack's bus: the product's public start contract (a
``Region Recognition Submitted`` event), first submissions and re-fetches alike."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from infra.stack.client import StackClient
from ocr_fetch.events import EventPublisher, build_submitted_detail
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE

#: Who announces, by default: the operator's command line.
SOURCE = "ocr-results"


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
        detail = build_submitted_detail(task_id, region_names or [], correlation_id, metadata)
        if region_names is None:
            del detail["regions"]
        return self._publisher().publish(SUBMITTED_DETAIL_TYPE, detail, source=source)

    def announce_refetch(
        self, task_id: str, label: str, submission: Mapping[str, Any], source: str = SOURCE
    ) -> str:
        """Announce ``task_id`` again with ``refetch: label``: an execution named
        ``<taskId>-<label>`` fetches it anew. ``submission`` is what the task was announced with
        (``regions`` with their names, or None when unknown; ``correlationId``; ``metadata``),
        carried over. Returns the execution name."""
        regions = submission.get("regions")
        detail = build_submitted_detail(
            task_id,
            [r.get("name") if isinstance(r, dict) else None for r in regions or []],
            submission.get("correlationId"),
            submission.get("metadata"),
        )
        if regions is None:
            del detail["regions"]  # unknown: stored by index, not as zero regions
        detail["refetch"] = label
        self._publisher().publish(SUBMITTED_DETAIL_TYPE, detail, source=source)
        return f"{task_id}-{label}"

    def _publisher(self) -> EventPublisher:
        client = self.client("events")
        if self.event_time is not None:
            client = _Stamped(client, self.event_time)
        return EventPublisher(self.outputs.event_bus_name, client=client)


class _Stamped:
    """An EventBridge client whose entries carry ``Time``: the product's publisher builds and
    checks the entries, this only says when the event happened."""

    def __init__(self, client: Any, time: datetime) -> None:
        self._client = client
        self._time = time

    def put_events(self, Entries: list[dict[str, Any]]) -> Any:
        return self._client.put_events(Entries=[{**e, "Time": self._time} for e in Entries])
