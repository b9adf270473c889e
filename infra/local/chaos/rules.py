"""The rules a chaos run is judged by: for each outcome the product may give a task, the one
thing the service (or an injected fault) must have done for it to be right.

Every outcome is judged against the emulator's own account, never against what the product
stored: ``answers`` are the ``taskStatus`` values the service told the client for that task,
``fired`` the service's faults that hit its requests, the cloud's fault objects count their own
hits. An outcome no rule allows is *wrong*; a task the service completed that ends neither
Completed (with the right bytes) nor failed for a reason a rule allows is *lost*.

The same rules, read by fault (what each may do to a task, and nothing else):

=============================================  ================================================
fault                                          what it may end in
=============================================  ================================================
``http_429`` (any Retry-After), ``http_5xx``,   nothing: each is "not yet", waited out (no rule
``truncate``, ``drop``, ``not_json``,          names them, so an outcome they alone explain is
``delay``; token revocations, token-endpoint   wrong); a single token redirect is retried once
faults, a token redirect, the secret rotated,
Secrets Manager and shared DynamoDB errors;
``lambda_throttle`` (at most 4 in a row)
``huge``, ``gzip_bomb``                        Failed ``ResponseTooLarge``
``http_status`` 400, 404, 409                  Failed ``AsposeBadRequestError``
``http_status`` 403                            Failed ``AsposeAuthError``
``error``                                      Failed ``RecognitionError``
``stuck``                                      TimedOut (``DeadlineReached``); once cancelled at
                                               give-up, NotFound for a later fetch
``expire``, a task the service never knew      NotFound
``unknown_status``                             Failed ``UnknownTaskStatus``
``corrupt_base64``                             Completed, those regions region errors
``result_count``                               Completed with that many entries (names attached
                                               only when the counts match)
``response_code``                              Completed (with a warning)
``lambda_crash``/``timeout``/``oom``, check    Failed with that error, after 3 kills in a row
or store
the same, recording function                   execution FAILED ``OutcomeNotRecorded`` (3 kills)
the same, starter (at most 3 a run)            a redelivery: nothing
``aws_error`` on a run's objects or its item   execution FAILED ``StorageError`` (5 failures)
``aws_error`` on the submitted facts (<= 5)    one redelivery: nothing
``events_failed_entry``                        execution FAILED ``EventBridge.FailedEntry``, the
                                               outcome recorded, not published (7 failures)
event time > 5 min ahead, or > 24 h old        a dead letter with the reason
event time late, or ahead within 5 min;        nothing: names, correlation id and metadata are
duplicates, re-fetches                         the first accepted submission's
=============================================  ================================================

Why each threshold: a Task retries Lambda timeouts, crashes and OOMs twice (three failures end
it), ``StorageError`` four times (five attempts, each needing at least one failed call), and
Publish Outcome Event retries a failed entry six times (seven failures end it); Lambda
throttling is retried 120 times and the schedule throttles at most four in a row, so it never
ends anything.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from infra.local.chaos.evidence import Evidence

#: The task statuses the service documents; any other is one ``unknown_status`` made up.
DOCUMENTED = frozenset({"Pending", "Processing", "Completed", "Error", "NotExist"})
CHECK, STORE, RECORD = "CheckStatusFunction", "StoreResultsFunction", "RecordOutcomeFunction"
LAMBDA_ERRORS = {
    "Sandbox.Timedout": "lambda_timeout",
    "Runtime.ExitError": "lambda_crash",
    "Runtime.OutOfMemory": "lambda_oom",
}
_KILLING = tuple(LAMBDA_ERRORS.values())
#: A Task's two retries of a killed invocation: three in a row end it.
KILLS_TO_FAIL = 3
#: StorageError: five Task attempts, each failing only if a call in it failed.
STORAGE_FAILURES_TO_FAIL = 5
#: Publish Outcome Event: the first attempt and six retries.
FAILED_ENTRIES_TO_FAIL = 7


@dataclass(frozen=True)
class Rule:
    """When an outcome is right: ``holds`` says whether it is for this task; ``why`` states it."""

    why: str
    holds: Callable[[Evidence], bool]


def _statuses(ev: Evidence) -> set[int]:
    """The HTTP statuses of the ``http_status`` faults that hit the task's polls."""
    if not ev.truth.fired["http_status"]:
        return set()
    return {int(f.params["status"]) for f in ev.run.plan.service_faults if f.fault == "http_status"}


#: The running deadline of a chaos run (PollDeadlineSeconds).
DEADLINE_SECONDS = 45.0


def _stuck(ev: Evidence) -> bool:
    """Stuck (the fault), or as good as: the service said "running" for the whole deadline (a
    task it was too busy to recognise in time); a poll's latency may shorten what it saw."""
    stuck = any(f.fault == "stuck" for f in ev.run.plan.service_faults)
    return stuck or ev.truth.running_span >= 0.9 * DEADLINE_SECONDS


def _killed(kind: str, functions: tuple[str, ...]) -> Rule:
    return Rule(
        f"`{kind}` hit the check or the store for this task, and such kills hit its invocations "
        f"at least {KILLS_TO_FAIL} times (a Task's two retries exhausted)",
        lambda ev: (
            ev.cloud_hits([kind], functions) > 0
            and ev.cloud_hits(_KILLING, functions) >= KILLS_TO_FAIL
        ),
    )


#: What a published or recorded outcome needs: (status, error name) -> rule.
OUTCOMES: dict[tuple[str, str | None], Rule] = {
    ("Completed", None): Rule(
        "the service answered Completed for the task (its stored regions are then checked "
        "byte for byte against what it recognised)",
        lambda ev: "Completed" in ev.truth.answers,
    ),
    ("Failed", "RecognitionError"): Rule(
        "the service answered Error for the task (the `error` fault)",
        lambda ev: "Error" in ev.truth.answers,
    ),
    ("Failed", "UnknownTaskStatus"): Rule(
        "the service answered a taskStatus it does not document (`unknown_status`)",
        lambda ev: bool(ev.truth.answers - DOCUMENTED),
    ),
    ("Failed", "ResponseTooLarge"): Rule(
        "an answer over MaxResponseBytes was served for the task (`huge`, `gzip_bomb`)",
        lambda ev: bool(ev.truth.fired["huge"] or ev.truth.fired["gzip_bomb"]),
    ),
    ("Failed", "AsposeBadRequestError"): Rule(
        "a poll of the task was answered 400, 404 or 409 (`http_status`)",
        lambda ev: bool(_statuses(ev) & {400, 404, 409}),
    ),
    ("Failed", "AsposeAuthError"): Rule(
        "a poll of the task was answered 403 (`http_status`)",
        lambda ev: 403 in _statuses(ev),
    ),
    **{("Failed", name): _killed(kind, (CHECK, STORE)) for name, kind in LAMBDA_ERRORS.items()},
    ("NotFound", None): Rule(
        "the service answered NotExist for the task: one it never knew, one `expire`d, or one "
        "cancelled when given up (`stuck`, CancelOnGiveUp)",
        lambda ev: "NotExist" in ev.truth.answers,
    ),
    ("TimedOut", "DeadlineReached"): Rule(
        "the task was `stuck`: the service said it was running until the running deadline",
        _stuck,
    ),
    ("TimedOut", "PollBudgetExhausted"): Rule(
        "the task was `stuck`: the service said it was running for PollMaxPolls answers",
        _stuck,
    ),
}

#: An execution that failed without publishing an outcome, by its error: visibly failed, at
#: the state that could not go on (an alarm sees it, a redrive resumes it).
EXECUTION_FAILURES: dict[str, Rule] = {
    "StorageError": Rule(
        f"storage calls about the task (its runs' objects, its item) were failed at least "
        f"{STORAGE_FAILURES_TO_FAIL} times (`aws_error` on S3 or DynamoDB)",
        lambda ev: ev.storage_hits() >= STORAGE_FAILURES_TO_FAIL,
    ),
    "EventBridge.FailedEntry": Rule(
        f"PutEvents failed the task's entries at least {FAILED_ENTRIES_TO_FAIL} times "
        "(`events_failed_entry`); the outcome is recorded, not published",
        lambda ev: (
            ev.cloud_hits(["events_failed_entry"], ["events:PutEvents"]) >= FAILED_ENTRIES_TO_FAIL
        ),
    ),
    "OutcomeNotRecorded": Rule(
        f"the recording function was killed for the task at least {KILLS_TO_FAIL} times "
        "(`lambda_crash`, `lambda_timeout`, `lambda_oom` on RecordOutcomeFunction)",
        lambda ev: ev.cloud_hits(_KILLING, (RECORD,)) >= KILLS_TO_FAIL,
    ),
}

#: A dead letter is right only for an announcement whose time the starter must refuse (more
#: than 5 minutes ahead, or older than the results' 24 hours), with a reason naming the time.
#: Never without a reason: the schedule caps the starter's batch-killing faults so that no
#: message is received five times by faults (see ``schedule.STARTER_BATCH_FAULTS``), and the
#: facts' own faults fail at most one delivery.
DEAD_LETTER_REASONS = ("ahead of the starter's clock", " h old: Aspose keeps results")


def rule_for(status: str, error: str | None) -> Rule | None:
    """The rule an outcome is judged by; None: no rule allows it (always wrong)."""
    # Completed and NotFound come from the service's own answer: their name adds nothing.
    return OUTCOMES.get((status, None if status in {"Completed", "NotFound"} else error))


@dataclass(frozen=True)
class Shape:
    """What one Completed answer carried: its entries, and which of them were corrupt Base64."""

    entries: list[dict[str, str]]
    corrupted: frozenset[int]


def shapes(ev: Evidence) -> list[Shape]:
    """Every shape a Completed answer for the task had: the recognised entries as sent, and as
    each shaping fault that hit a Completed answer changed them (``result_count``: ``count``
    entries, the last repeated; ``corrupt_base64``: the entries at ``indexes``, or all, made
    undecodable). A fault armed after some answers were sent leaves both shapes."""
    results = ev.truth.results
    if results is None:
        return []
    found = []
    for hit in ev.truth.completed_shapes or {frozenset()}:
        entries, corrupted = list(results), frozenset[int]()
        for fault in ev.run.plan.service_faults:
            if fault.fault == "result_count" and fault.fault in hit and entries:
                count = int(fault.params["count"])
                entries = (entries + [entries[-1]] * count)[:count]
            if fault.fault == "corrupt_base64" and fault.fault in hit:
                indexes = fault.params["indexes"]
                every = range(len(entries)) if indexes is None else indexes
                corrupted = frozenset(i for i in every if i < len(entries))
        found.append(Shape(entries, corrupted))
    return found


def decoded(entry: dict[str, str]) -> bytes | None:
    try:
        return base64.b64decode(entry["data"], validate=True)
    except (binascii.Error, ValueError, KeyError):
        return None
