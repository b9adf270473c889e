"""Decode And Store Results: the answer this run kept, decoded, stored and recorded.

The store decodes exactly the object the check wrote for this execution (its key and ETag, from
the state) and refuses anything else by name. The regions and the manifest go under the run's
own prefix, so a run that turns out worse than the recorded one overwrites nothing; the table's
conditional write (:mod:`ocr_fetch.table`) then decides whose results are the task's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ocr_fetch.decoding import DecodedRegion
from ocr_fetch.errors import RawAnswerMismatchError
from ocr_fetch.layout import manifest_key, region_key, run_prefix
from ocr_fetch.model import OcrResponse, TaskStatus
from ocr_fetch.outcome import Outcome, OutcomeKind, RegionRecord

if TYPE_CHECKING:
    from ocr_fetch.bucket import ResultBucket, StoredAnswer
    from ocr_fetch.decoding import DecodeReport
    from ocr_fetch.outcome import TaskRun
    from ocr_fetch.table import ResultTable


def read_completed(bucket: ResultBucket, run: TaskRun, answer: StoredAnswer | None) -> OcrResponse:
    """The run's kept answer, which must be a Completed answer for its task; else
    :class:`RawAnswerMismatchError` naming what it is."""
    name = run.execution_name or ""
    if answer is None:
        raise RawAnswerMismatchError("the state points at no kept answer")
    body = bucket.get_answer(run.task_id, name, answer)
    try:
        response = OcrResponse.from_body(body)  # each region's Base64 stays in ``body``
    except ValueError:
        raise RawAnswerMismatchError(f"the answer at {answer.key} is not JSON") from None
    if response.task_id is not None and response.task_id.lower() != run.task_id:
        raise RawAnswerMismatchError(f"the answer at {answer.key} is another task's")
    if response.task_status is not TaskStatus.COMPLETED:
        raise RawAnswerMismatchError(
            f"the answer at {answer.key} is not Completed but {response.task_status.value}"
        )
    return response


def store_completed(
    run: TaskRun,
    response: OcrResponse,
    report: DecodeReport,
    *,
    raw_key: str,
    places: tuple[ResultBucket, ResultTable],
) -> tuple[Outcome, bool]:
    """Write every decoded region and the manifest under the run's prefix, then record the
    Completed outcome; return it and whether it was recorded (False: a better one is)."""
    bucket, table = places
    name = run.execution_name or ""
    records: list[RegionRecord] = []
    for region in report.regions:
        if isinstance(region, DecodedRegion):
            key = region_key(run.task_id, name, region.index, region.name, region.extension)
            bucket.put(key, region.data, region.content_type)
            records.append(region.to_record(key))
        else:
            records.append(region.to_record(None))
    outcome = Outcome(
        task_id=run.task_id,
        kind=OutcomeKind.COMPLETED,
        task_status=response.raw_task_status or response.task_status.value,
        response_status_code=response.response_status_code,
        execution_arn=run.execution_arn,
        prefix=run_prefix(run.task_id, name),
        polls=run.polls,
        bucket=bucket.name,
        raw_key=raw_key,
        manifest_key=manifest_key(run.task_id, name),
        regions=tuple(records),
        expected_region_count=report.expected_count,
        received_result_count=report.received_count,
        warnings=completion_warnings(response, report),
        correlation_id=run.correlation_id,
        metadata=dict(run.metadata) if run.metadata is not None else None,
    )
    manifest = json.dumps(outcome.manifest(), indent=2, ensure_ascii=False)
    bucket.put(outcome.manifest_key or "", manifest.encode("utf-8"), "application/json")
    return outcome, table.record(outcome)


def completion_warnings(response: OcrResponse, report: DecodeReport) -> tuple[str, ...]:
    warnings = list(response.warnings)
    if response.is_anomalous_completion:
        warnings.append(f"task completed with responseStatusCode {response.response_status_code!r}")
    if report.count_mismatch:
        warnings.append(
            f"expected {report.expected_count} results, received {report.received_count}; "
            "region names were not attached"
        )
    failures = len(report.failures)
    if failures:
        warnings.append(f"{failures} of {report.received_count} regions could not be decoded")
    return tuple(warnings)
