"""Check Task Status: one poll of the task (:mod:`ocr_fetch.checking`), in and out as the state
machine's ``poll`` state (:mod:`ocr_fetch.poll_state`)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ocr_fetch.checking import Checker, check_task
from ocr_fetch.client import Deadline
from ocr_fetch.fleet import Fleet
from ocr_fetch.handlers.wiring import aspose_client, result_bucket, state_machine_task
from ocr_fetch.history import PollingHistory
from ocr_fetch.poll_state import PAYLOAD_KEYS, REQUIRED_PAYLOAD_KEYS, CheckRequest
from ocr_fetch.settings import CheckSettings

__all__ = ["PAYLOAD_KEYS", "REQUIRED_PAYLOAD_KEYS", "handler"]

#: Left at the end of an invocation for keeping a final answer (one S3 PUT) and returning: every
#: request to Aspose must be over this long before the invocation's own timeout, so a slow
#: service is a transient answer, never a killed function.
_MARGIN_SECONDS = 5.0


#: Read once per Lambda container.
settings = cache(CheckSettings.from_env)


@cache
def _history(table: str) -> PollingHistory:
    return PollingHistory(table)


@cache
def _fleet(config: CheckSettings) -> Fleet | None:
    if not config.fleet_table:
        return None
    return Fleet(
        config.fleet_table,
        probe_seconds=config.breaker_probe_seconds,
        calls_per_second=config.aspose_calls_per_second,
    )


@state_machine_task(correlation_id_path="taskId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckRequest.parse(event)
    config = settings()
    table = config.polling_history_table
    checker = Checker(
        aspose_client(config),
        result_bucket(config.results_bucket),
        config.polling,
        config.cancel_on_give_up,
        history=_history(table) if table else None,
        fleet=_fleet(config),
    )
    left = context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    return check_task(request, checker, Deadline.after(left)).to_state()
