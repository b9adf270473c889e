"""Announcing tasks on the stack's bus: the product's public start contract (a
``Region Recognition Submitted`` event), first submissions and re-fetches alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.stack.client import StackClient
from ocr_fetch.events import EventPublisher, build_submitted_detail
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE

#: Who announces, by default: the operator's command line.
SOURCE = "ocr-results"


class Bus(StackClient):
    """The stack's event bus, as a submitter uses it."""

    def announce(
        self,
        task_id: str,
        region_names: list[str | None] | None = None,
        *,
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: str = SOURCE,
    ) -> str:
        """Put a ``Region Recognition Submitted`` event on the bus; return its event id."""
        return self._publisher().publish_submitted(
            task_id, region_names or [], correlation_id, metadata, source=source
        )

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
        return EventPublisher(self.outputs.event_bus_name, client=self.client("events"))
