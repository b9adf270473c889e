"""Decode And Store Results: decode every region of the stored raw response and store them.

Input ``{"input": <state>, "executionArn"}``; output the ``$.outcome`` payload (event detail with
ids, counts, S3 keys and region errors, never recognised text).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ocr_fetch.decoding import decode_results
from ocr_fetch.errors import AsposeProtocolError
from ocr_fetch.handlers.wiring import results_store
from ocr_fetch.handlers.workflow_state import WorkflowState, outcome_payload
from ocr_fetch.model import OcrResponse
from ocr_fetch.observability import count_by, logger, metrics
from ocr_fetch.settings import get_settings
from ocr_fetch.storage import ResultStore


#: The keys this function reads from its payload, and those it requires: `make lint` checks the
#: state machine's Payload against them.
PAYLOAD_KEYS = frozenset({"input", "executionArn"})
REQUIRED_PAYLOAD_KEYS = frozenset({"input"})


def store_results(
    state: WorkflowState, *, store: ResultStore, max_region_bytes: int
) -> dict[str, Any]:
    """Decode the raw response saved by the check and store regions, manifest and item."""
    raw = store.get_raw(state.task_id)
    try:
        response = OcrResponse.from_body(raw)  # each region's Base64 stays in ``raw``
    except ValueError as exc:
        raise AsposeProtocolError("the stored raw response is not JSON") from exc
    report = decode_results(
        response,
        region_names=(
            store.get_region_names(state.region_names_key)
            if state.region_names_key
            else state.inline_region_names
        ),
        expected_count=state.region_count,
        max_bytes=max_region_bytes,
    )
    outcome = store.store_completed(state.run, response, report)
    metrics.add_metric(name="TasksCompleted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="PollsPerTask", unit=MetricUnit.Count, value=state.polls)
    metrics.add_metric(name="RegionsDecoded", unit=MetricUnit.Count, value=len(report.decoded))
    metrics.add_metric(name="RegionErrors", unit=MetricUnit.Count, value=outcome.region_error_count)
    stored = sum(region.size for region in report.decoded)
    metrics.add_metric(name="BytesStored", unit=MetricUnit.Bytes, value=stored)
    for result_type, failures in Counter(f.type or "none" for f in report.failures).items():
        count_by("DecodeFailures", "resultType", result_type, failures)
    elapsed = state.seconds_since_submission()
    if elapsed is not None:
        metrics.add_metric(name="TimeToResult", unit=MetricUnit.Seconds, value=elapsed)
    logger.info(
        "results stored",
        extra={
            "regions": report.received_count,
            "region_errors": outcome.region_error_count,
            "count_mismatch": report.count_mismatch,
            "response_status_code": response.response_status_code,
        },
    )
    return outcome_payload(outcome, recorded=True, state_bytes=state.size_bytes)


@logger.inject_lambda_context(correlation_id_path="input.taskId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.parse(event)
    return store_results(
        state, store=results_store(), max_region_bytes=get_settings().max_region_bytes
    )
