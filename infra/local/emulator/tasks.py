"""The recognition queue: tasks, their clock-driven status, and the worker that runs OCR."""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

from infra.local.emulator.ocr import Recognizer
from infra.local.emulator.results import RegionResult, render
from infra.local.emulator.validation import Region, Settings, Submission

logger = logging.getLogger(__name__)

PENDING = "Pending"
PROCESSING = "Processing"
COMPLETED = "Completed"
ERROR = "Error"
NOT_EXIST = "NotExist"

_CODES = {
    PENDING: "NotReady",
    PROCESSING: "NotReady",
    COMPLETED: "Ok",
    ERROR: "Error",
    NOT_EXIST: "TaskNotFound",
}


def response_code(status: str) -> str:
    return _CODES.get(status, "NotReady")


@dataclass
class Task:
    id: str
    submitted: float
    submitted_wall: float
    result_type: str
    region_count: int
    queue_delay_s: float
    per_region_s: float
    submission: Submission | None
    started: float | None = None
    finished: float | None = None
    results: list[dict[str, str]] | None = None
    failure: str | None = None
    cancelled: bool = False
    # Injected state faults.
    error_messages: list[str] | None = None
    stuck: bool = False
    expire_after_s: float | None = None

    def status(self, now: float, retention_s: float) -> str:
        age = now - self.submitted
        if self.cancelled or age >= retention_s:
            return NOT_EXIST
        if self.expire_after_s is not None and age >= self.expire_after_s:
            return NOT_EXIST
        queue_end = self.submitted + self.queue_delay_s
        if now < queue_end or self.started is None:
            return PENDING
        if self.stuck:
            return PROCESSING
        work_end = max(queue_end, self.started) + self.region_count * self.per_region_s
        if self.finished is None or now < work_end:
            return PROCESSING
        if self.error_messages is not None or self.failure is not None:
            return ERROR
        return COMPLETED

    def error_document(self) -> dict[str, list[str]]:
        messages = list(self.error_messages or [])
        if self.failure is not None:
            messages.append(self.failure)
        return {"messages": messages, "warnings": []}


def prepare_crop(
    image: Image.Image, region: Region, settings: Settings
) -> tuple[Image.Image, float]:
    """The region as the service would process it, and its scale against the original pixels."""
    box = region.rect
    crop = image.crop((box.x0, box.y0, box.x1, box.y1)).convert("L")
    if settings.make_contrast_correction:
        crop = ImageOps.autocontrast(crop, cutoff=1)
    scale = 1.0
    if settings.make_upsampling:
        scale = 2.0
        crop = crop.resize((crop.width * 2, crop.height * 2), Image.Resampling.LANCZOS)
    if settings.make_binarization:
        crop = crop.point(lambda value: 255 if value > 127 else 0)
    return crop, scale


class TaskQueue:
    """Holds tasks and runs their OCR on worker threads, never on the request thread."""

    def __init__(
        self,
        recognizer: Recognizer,
        workers: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._recognizer = recognizer
        self._clock = clock
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ocr")

    def submit(self, submission: Submission, queue_delay_s: float, per_region_s: float) -> Task:
        task = Task(
            id=str(uuid.uuid4()),
            submitted=self._clock(),
            submitted_wall=time.time(),
            result_type=submission.settings.result_type,
            region_count=len(submission.regions),
            queue_delay_s=queue_delay_s,
            per_region_s=per_region_s,
            submission=submission,
        )
        with self._lock:
            self._tasks[task.id] = task
        return task

    def start(self, task: Task) -> None:
        """Queue the OCR work; call after the task's faults are attached."""
        self._pool.submit(self._process, task)

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def all(self) -> list[Task]:
        with self._lock:
            return list(self._tasks.values())

    def now(self) -> float:
        return self._clock()

    def purge(self, retention_s: float) -> None:
        """Forget tasks past their retention. A task cancelled or expired early answers NotExist
        too, but is kept until then (its image is gone, its results are small): the admin API
        still tells what it recognised, which a soak checks stored results against."""
        now = self._clock()
        with self._lock:
            for task_id, task in list(self._tasks.items()):
                if now - task.submitted >= retention_s and task.finished is not None:
                    del self._tasks[task_id]

    def clear(self) -> None:
        with self._lock:
            for task in self._tasks.values():
                task.cancelled = True
            self._tasks.clear()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _process(self, task: Task) -> None:
        task.started = self._clock()
        submission = task.submission
        try:
            if (
                submission is None
                or task.cancelled
                or task.stuck
                or task.error_messages is not None
            ):
                return
            regions: list[RegionResult] = []
            for region in submission.regions:
                crop, scale = prepare_crop(submission.image, region, submission.settings)
                lines = self._recognizer.recognize(crop)
                if scale != 1.0:
                    lines = [line.scaled(1 / scale) for line in lines]
                regions.append(RegionResult(region.order, region.rect, crop, lines))
            task.results = [
                {"type": kind, "data": base64.b64encode(data).decode("ascii")}
                for kind, data in render(task.result_type, regions)
            ]
        except Exception as error:  # the task fails like the service's would; the worker lives on
            logger.exception("recognition failed", extra={"task_id": task.id})
            task.failure = f"Recognition failed: {type(error).__name__}: {error}"
        finally:
            task.submission = None  # the image is no longer needed
            task.finished = self._clock()


def describe(task: Task, now: float, retention_s: float) -> dict[str, Any]:
    """The admin view of a task."""
    return {
        "id": task.id,
        "taskStatus": task.status(now, retention_s),
        "resultType": task.result_type,
        "regions": task.region_count,
        "submitted": task.submitted_wall,
        "stuck": task.stuck,
        "error_messages": task.error_messages,
        "expire_after_s": task.expire_after_s,
    }
