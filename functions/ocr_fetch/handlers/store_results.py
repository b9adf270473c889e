"""Decode And Store Results: decode every region of the answer this run kept and store them
(:mod:`ocr_fetch.storing`).

Input ``{"input": <state>, "executionArn", "executionName"}``; output the ``$.outcome`` payload
(event detail with ids, counts, S3 keys and region errors, never recognised text).
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ocr_fetch.bucket import ResultBucket
from ocr_fetch.decoding import decode_results
from ocr_fetch.handlers.wiring import result_bucket, result_table, state_machine_task
from ocr_fetch.handlers.workflow_state import WorkflowState, outcome_payload
from ocr_fetch.observability import count_by, logger, metrics
from ocr_fetch.settings import StoreSettings
from ocr_fetch.storing import read_completed, store_completed
from ocr_fetch.table import ResultTable

#: The keys this function reads from its payload, and those it requires: ``make lint`` checks
#: the state machine's Payload against them.
PAYLOAD_KEYS = frozenset({"input", "executionArn", "executionName"})
REQUIRED_PAYLOAD_KEYS = frozenset({"input", "executionName"})


def store_results(
    state: WorkflowState, *, places: tuple[ResultBucket, ResultTable], max_region_bytes: int
) -> dict[str, Any]:
    """Decode the run's kept answer and store regions, manifest and item."""
    bucket, _ = places
    run = state.run
    response = read_completed(bucket, run, state.answer)
    facts = bucket.facts(state.task_id) if state.submitted_key else None
    report = decode_results(
        response,
        region_names=facts.region_names if facts else None,
        expected_count=state.region_count,
        max_bytes=max_region_bytes,
    )
    outcome, recorded = store_completed(
        run, response, report, raw_key=state.answer.key if state.answer else "", places=places
    )
    if recorded:
        metrics.add_metric(name="TasksCompleted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="PollsPerTask", unit=MetricUnit.Count, value=state.polls)
        elapsed = state.seconds_since_submission()
        if elapsed is not None:
            metrics.add_metric(name="TimeToResult", unit=MetricUnit.Seconds, value=elapsed)
    metrics.add_metric(name="RegionsDecoded", unit=MetricUnit.Count, value=len(report.decoded))
    metrics.add_metric(name="RegionErrors", unit=MetricUnit.Count, value=outcome.region_error_count)
    stored = sum(region.size for region in report.decoded)
    metrics.add_metric(name="BytesStored", unit=MetricUnit.Bytes, value=stored)
    for result_type, failures in Counter(f.type or "none" for f in report.failures).items():
        count_by("DecodeFailures", "resultType", result_type, failures)
    logger.info(
        "results stored" if recorded else "results stored, a better outcome already recorded",
        extra={
            "regions": report.received_count,
            "region_errors": outcome.region_error_count,
            "count_mismatch": report.count_mismatch,
            "response_status_code": response.response_status_code,
        },
    )
    return outcome_payload(outcome, recorded=recorded, state_bytes=state.size_bytes)


#: Read once per Lambda container.
settings = cache(StoreSettings.from_env)


@state_machine_task(correlation_id_path="input.taskId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.parse(event)
    config = settings()
    places = (
        result_bucket(config.results_bucket),
        result_table(config.results_table, config.retention_days),
    )
    return store_results(state, places=places, max_region_bytes=config.max_region_bytes)
