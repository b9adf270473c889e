"""OCRResponse parsing and the submitted-event contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ocr_fetch.errors import AsposeProtocolError, InvalidEventError
from ocr_fetch.learning import PollStart
from ocr_fetch.model import OcrResponse, TaskStatus
from ocr_fetch.submission import (
    SUBMITTED_DETAIL_TYPE,
    SubmittedFacts,
    SubmittedTask,
    parse_submitted_event,
    parse_timestamp,
)

TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"
#: When the starter received the events below: 5 s after their time.
RECEIVED = datetime(2026, 11, 24, 10, 0, 5, tzinfo=UTC)


def parse(body: str) -> SubmittedTask:
    return parse_submitted_event(body, RECEIVED)


# --- OCRResponse -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Pending", TaskStatus.PENDING),
        ("Processing", TaskStatus.PROCESSING),
        ("Completed", TaskStatus.COMPLETED),
        ("Error", TaskStatus.ERROR),
        ("NotExist", TaskStatus.NOT_EXIST),
        ("Sleeping", TaskStatus.UNKNOWN),
        (None, TaskStatus.UNKNOWN),
        (3, TaskStatus.UNKNOWN),
    ],
)
def test_every_status_parses_and_anything_else_is_unknown(raw: Any, status: TaskStatus) -> None:
    response = OcrResponse.from_json({"id": TASK, "taskStatus": raw})
    assert response.task_status is status
    assert response.raw_task_status == (None if raw is None else str(raw))


def test_missing_and_null_fields_have_defined_meanings() -> None:
    response = OcrResponse.from_json({})
    assert response.task_status is TaskStatus.UNKNOWN
    assert response.results == ()
    assert response.messages == ()
    assert response.warnings == ()
    assert response.response_status_code is None
    assert response.task_id is None


def test_error_messages_and_warnings_are_kept_bounded() -> None:
    response = OcrResponse.from_json(
        {
            "taskStatus": "Error",
            "error": {"messages": ["bad image", "x" * 5000], "warnings": ["low contrast"]},
        }
    )
    assert response.messages[0] == "bad image"
    assert len(response.messages[1]) <= 500
    assert response.warnings == ("low contrast",)


def test_result_entries_that_are_not_objects_become_empty_entries() -> None:
    response = OcrResponse.from_json({"taskStatus": "Completed", "results": [5, {"type": "Text"}]})
    assert [(r.type, r.data) for r in response.results] == [(None, None), ("Text", None)]


@pytest.mark.parametrize("payload", [[], "Completed", None, {"results": "abc"}])
def test_non_object_bodies_are_protocol_errors(payload: Any) -> None:
    with pytest.raises(AsposeProtocolError):
        OcrResponse.from_json(payload)


def test_completed_with_a_code_other_than_ok_is_an_anomaly() -> None:
    assert OcrResponse.from_json(
        {"taskStatus": "Completed", "responseStatusCode": "PartiallyNotFound"}
    ).is_anomalous_completion
    assert not OcrResponse.from_json(
        {"taskStatus": "Completed", "responseStatusCode": "Ok"}
    ).is_anomalous_completion


# --- Submitted event -------------------------------------------------------------------------
def event(detail: Any, **extra: Any) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "e1",
            "detail-type": SUBMITTED_DETAIL_TYPE,
            "source": "my.app",
            "time": "2026-11-24T10:00:00Z",
            "detail": detail,
            **extra,
        }
    )


def nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


def test_an_upper_case_task_id_is_the_same_task() -> None:
    # One execution per task, whatever the spelling: the name is the canonical (lower-case) id.
    task = parse(event({"taskId": TASK.upper()}))
    assert task.task_id == task.execution_name == TASK


def test_region_names_never_travel_in_the_execution_input() -> None:
    # 500 emoji names (16 KB as UTF-8): only their count and where they are kept are sent.
    names = [{"name": "\U0001f600" * 8} for _ in range(500)]
    task = parse(event({"taskId": TASK, "regions": names}))
    sent = task.execution_input_json()
    assert "\U0001f600" not in sent
    assert json.loads(sent)["regionCount"] == 500
    assert json.loads(sent)["submittedKey"] == f"results/{TASK}/submitted.json"
    assert len(sent.encode("utf-8")) < 1024


def test_a_full_submission_becomes_the_execution_input() -> None:
    task = parse(
        event(
            {
                "taskId": TASK,
                "regions": [{"name": "surname"}, {}],
                "correlationId": "c-1",
                "metadata": {"tenant": "acme"},
            }
        )
    )
    assert task.execution_name == TASK
    assert task.execution_input() == {
        "taskId": TASK,
        "regionCount": 2,
        "submittedKey": f"results/{TASK}/submitted.json",
        "correlationId": "c-1",
        "metadata": {"tenant": "acme"},
        "submittedAt": "2026-11-24T10:00:00Z",
        "receivedAt": "2026-11-24T10:00:05Z",
        "source": "my.app",
        "eventId": "e1",
        "teach": True,
        # Without a plan: polled at once, then by the geometric policy; learnt as 2 regions
        "poll": {
            "status": "NotChecked",
            "polls": 0,
            "waitSeconds": 0,
            "pollAt": 0.0,
            "giveUp": False,
            "elapsedSeconds": 0,
            "plan": [],
            "kind": "regions-2",
            "runningAt": 0,
        },
    }


def test_a_plan_starts_the_execution_with_its_first_wait() -> None:
    task = parse(event({"taskId": TASK, "expectedSeconds": 8}))
    assert task.expected_seconds == 8.0
    poll = task.execution_input(start=PollStart("regions-0", (9, 11), 9))["poll"]
    # the Wait is short of 9 s by the allowance; the check function makes it up
    assert (poll["waitSeconds"], poll["pollAt"]) == (8, 9)
    assert (poll["plan"], poll["kind"]) == ([9, 11], "regions-0")


@pytest.mark.parametrize("value", [0, -3, 90_000, "8", True, None])
def test_expected_seconds_must_be_a_plausible_number(value: object) -> None:
    if value is None:
        assert parse(event({"taskId": TASK})).expected_seconds is None
        return
    with pytest.raises(InvalidEventError, match="expectedSeconds must be a number from 1"):
        parse(event({"taskId": TASK, "expectedSeconds": value}))


def test_only_the_task_id_is_required() -> None:
    task = parse(event({"taskId": TASK}))
    assert task.region_names is None
    assert task.execution_input()["regionCount"] is None


def test_a_refetch_gets_its_own_execution_name() -> None:
    task = parse(event({"taskId": TASK, "refetch": "2"}))
    assert task.execution_name == f"{TASK}-2"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not valid JSON"),
        ("[]", "JSON object"),
        (event({}), "taskId is missing"),
        (event({"taskId": "abc"}), "not a GUID"),
        (event({"taskId": 5}), "must be a string"),
        (event({"taskId": TASK.replace("-", "")}), "36-character"),
        (event({"taskId": TASK, "regions": "x"}), "regions must be a list"),
        (event({"taskId": TASK, "regions": [{"name": "n" * 65}]}), r"regions\[0\].name"),
        (event({"taskId": TASK, "metadata": {"k": "v" * 3000}}), "metadata is"),
        (event({"taskId": TASK, "refetch": "a b"}), "refetch"),
        (event("oops"), "detail must be a JSON object"),
        (json.dumps({"detail-type": "Other", "detail": {"taskId": TASK}}), "detail-type"),
        (event({"taskId": TASK, "pad": "x" * 70_000}), "bytes, more than"),
        (event({"taskId": TASK}, time="yesterday"), "event time is not an ISO 8601"),
        (event({"taskId": f"urn:uuid:{TASK}"}), "not a GUID"),
        (event({"taskId": "{" + TASK + "}"}), "not a GUID"),
        (event({"taskId": "urn:" + TASK.replace("-", "")}), "not a GUID"),
        (event({"taskId": TASK, "metadata": {"n": 10**49}}), r"metadata\.\"n\" has more than 38"),
        (event({"taskId": TASK, "metadata": {"x": 1e300}}), "out of range"),
        (event({"taskId": TASK, "metadata": {"": 1}}), "empty key"),
        (event({"taskId": TASK, "metadata": nested(20)}), "nested more than 16"),
        (event({"taskId": TASK, "metadata": {"k": "\ud800"}}), "lone surrogate"),
        (event({"taskId": TASK, "regions": [{"name": "\udfff"}]}), "lone surrogate"),
        # 500 names of 64 emoji: 33,000 characters, but 128 KB as EventBridge delivers them.
        (event({"taskId": TASK, "regions": [{"name": "\U0001f600" * 64}] * 500}), "bytes, more"),
    ],
)
def test_malformed_submissions_name_what_was_wrong(body: str, reason: str) -> None:
    with pytest.raises(InvalidEventError, match=reason):
        parse(body)


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"taskId": TASK + "\n"}, "not a GUID"),
        ({"taskId": TASK, "refetch": "again\n"}, "refetch"),
        ({"taskId": "\n" + TASK}, "not a GUID"),
    ],
)
def test_a_trailing_newline_is_refused_not_trimmed(detail: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidEventError, match=reason):
        parse(event(detail))


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("2026-11-23T10:00:04Z", "24.0 h old"),
        ("2025-01-01T00:00:00Z", "h old: Aspose keeps results 24 h"),
        ("0001-01-01T00:00:00+00:00", "h old"),
        ("2026-11-24T10:05:06Z", "301 s ahead"),
        ("9999-12-31T23:59:59Z", "ahead of the starter's clock"),
    ],
)
def test_an_event_time_out_of_range_is_refused_naming_why(time: str, reason: str) -> None:
    with pytest.raises(InvalidEventError, match=reason):
        parse(event({"taskId": TASK}, time=time))


def test_an_event_time_a_little_ahead_counts_as_when_it_was_received() -> None:
    task = parse(event({"taskId": TASK}, time="2026-11-24T10:03:00Z"))
    assert task.submitted_at == RECEIVED


def test_an_event_without_a_time_is_stamped_when_received() -> None:
    body = json.dumps({"detail-type": SUBMITTED_DETAIL_TYPE, "detail": {"taskId": TASK}})
    assert parse(body).submitted_at == RECEIVED


# --- The facts of a task: what its first accepted submission said ----------------------------
def test_the_facts_are_the_submissions_and_round_trip() -> None:
    task = parse(
        event({"taskId": TASK, "regions": [{"name": "a"}, {}], "metadata": {"tenant": "acme"}})
    )
    facts = task.facts()
    assert facts.region_names == ("a", None)
    assert (facts.received_at, facts.on_time) == (RECEIVED, True)
    assert facts.history_scope == "tenant:acme"
    assert SubmittedFacts.from_json(facts.to_json(), "here") == facts


def test_whose_history_a_task_learns_from() -> None:
    assert parse(event({"taskId": TASK})).history_scope == "source:my.app"
    tenant = parse(event({"taskId": TASK, "metadata": {"tenant": "a/b c"}}))
    assert tenant.history_scope == "tenant:a_b_c"


def test_a_late_announcement_or_a_duplicates_run_does_not_teach() -> None:
    late = parse(event({"taskId": TASK}, time="2026-11-24T09:59:00Z"))
    assert late.facts().on_time is False
    assert late.execution_input()["teach"] is False
    first = parse(event({"taskId": TASK}))
    refetch = parse(event({"taskId": TASK, "refetch": "again"}, id="e2"))
    # the re-fetch runs with the first submission's facts, and does not teach
    sent = refetch.execution_input(first.facts())
    assert (sent["teach"], sent["eventId"]) == (False, "e2")
    assert first.execution_input(first.facts())["teach"] is True


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[" * 5000 + b"]" * 5000,
        b'{"taskId": "x", "regions": null, "submittedAt": "2026-11-24T10:00:00Z"}',
        b'{"taskId": "' + TASK.encode() + b'", "regions": [{"name": 7}], "submittedAt": "x"}',
    ],
)
def test_facts_not_as_written_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a submitted-facts object"):
        SubmittedFacts.from_json(body, "here")


def test_json_nested_a_thousand_deep_is_refused_not_a_crash() -> None:
    deep = '{"detail-type": "Region Recognition Submitted", "detail": ' + "[" * 1000 + "]" * 1000
    with pytest.raises(InvalidEventError, match="nested more than"):
        parse(deep + "}")


# --- Timestamps ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2026-11-24T10:00:00Z", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24T10:00:00.250Z", datetime(2026, 11, 24, 10, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-24T10:00:00+00:00", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        (
            "2026-11-24T12:00:00+02:00",
            datetime(2026, 11, 24, 12, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2026-11-24T10:00:00", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1_700_000_000, None),
    ],
)
def test_parse_timestamp(value: object, parsed: datetime | None) -> None:
    result = parse_timestamp(value)

    assert result == parsed
    # Equal instants are not enough: the offset given is kept, and none means UTC.
    assert (result and result.utcoffset()) == (parsed and parsed.utcoffset())
