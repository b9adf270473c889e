"""make chaos without a cloud: the schedule is a pure function of the seed and covers every
fault, and the judgement catches what it must (a checker that passes everything proves
nothing): wrong bytes, an outcome the service never gave, a downgrade, names of a later
submission, a refused event not dead-lettered, a completed task lost."""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from infra.local.chaos.evidence import Evidence, ServiceTruth, Stored
from infra.local.chaos.judge import Verdict, judge
from infra.local.chaos.runner import Sent, TaskRun
from infra.local.chaos.schedule import (
    STARTER,
    STARTER_BATCH_FAULTS,
    TOO_OLD,
    Announcement,
    CloudFault,
    ServiceFault,
    TaskPlan,
    generate,
)
from infra.local.cloud.faults import KINDS, AwsFault
from infra.local.emulator import REQUEST_FAULTS, TASK_FAULTS
from infra.stack.dead_letters import DeadLetter
from infra.stack.history import Execution, Step

TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"
ARN = f"arn:aws:states:eu-west-1:123456789012:execution:m:{TASK}"
PREFIX = f"results/{TASK}/runs/{TASK}/"


# --- the schedule ------------------------------------------------------------------------------
def test_the_schedule_is_a_pure_function_of_the_seed() -> None:
    assert generate(11, 80) == generate(11, 80)
    assert generate(11, 80) != generate(12, 80)
    assert json.dumps(generate(11, 80).to_json()) == json.dumps(generate(11, 80).to_json())


def test_three_hundred_tasks_meet_every_fault_of_both_sides() -> None:
    schedule = generate(3, 300)
    service = {f.fault for t in schedule.tasks for f in t.service_faults}
    assert service == REQUEST_FAULTS | TASK_FAULTS
    cloud = {(f.kind, f.target) for t in schedule.tasks for f in t.cloud_faults}
    for function in ("CheckStatusFunction", "StoreResultsFunction", "RecordOutcomeFunction"):
        assert {kind for kind, target in cloud if target == function} >= {
            "lambda_crash",
            "lambda_oom",
            "lambda_throttle",
        }
    assert {kind for kind, _ in cloud} == KINDS
    clocks = Counter(a.clock for t in schedule.tasks for a in t.announcements)
    assert len(clocks) == 5
    assert any(a.refetch for t in schedule.tasks for a in t.announcements)
    assert any(t.unknown_id for t in schedule.tasks)
    kinds = {a.kind for a in schedule.shared}
    assert kinds == {
        "revoke_tokens",
        "token_fault",
        "rotate_secret",
        "secrets_error",
        "dynamodb_error",
    }


@pytest.mark.parametrize("seed", range(20))
def test_the_starter_s_batch_killing_faults_are_capped(seed: int) -> None:
    kills = [
        f
        for t in generate(seed, 300).tasks
        for f in t.cloud_faults
        if f.target == STARTER and f.kind != "lambda_throttle"
    ]
    assert sum(f.times for f in kills) <= STARTER_BATCH_FAULTS


# --- the judgement -----------------------------------------------------------------------------
def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def evidence() -> tuple[Evidence, dict[str, bytes]]:
    """A card task with two regions that completed cleanly, as the evidence would show it."""
    first = Announcement(0.0, ("surname", "given_names"), "chaos-0-0", {})
    plan = TaskPlan(0, 0.0, "id_card", (0, 1), "Text", None, (first,), (), ())
    run = TaskRun(plan, task_id=TASK, sent=[Sent(first, put_at=1000.0)])
    truth = ServiceTruth(
        [{"type": "Text", "data": _b64("MUSTERMANN")}, {"type": "Text", "data": _b64("ERIKA")}],
        frozenset({"Pending", "Completed"}),
        Counter(),
    )
    regions = [
        {"index": 0, "name": "surname", "type": "Text", "s3Key": PREFIX + "regions/0-surname.txt"},
        {"index": 1, "name": "given_names", "type": "Text", "s3Key": PREFIX + "regions/1-g.txt"},
    ]
    objects = {
        PREFIX + "regions/0-surname.txt": b"MUSTERMANN",
        PREFIX + "regions/1-g.txt": b"ERIKA",
        PREFIX + "manifest.json": json.dumps({"regions": regions}).encode(),
        PREFIX + "answer-2.json": json.dumps({"id": TASK, "taskStatus": "Completed"}).encode(),
    }
    outcome = {
        "status": "Completed",
        "executionArn": ARN,
        "regionCount": 2,
        "errorCount": 0,
        "manifestKey": PREFIX + "manifest.json",
        "rawKey": PREFIX + "answer-2.json",
    }
    event = {
        "detail": {**outcome, "taskId": TASK, "results": {"manifestKey": outcome["manifestKey"]}}
    }
    stored = Stored(
        executions=[_execution("SUCCEEDED", "Results Stored")],
        events=[event],
        item=dict(outcome),
        facts={
            "correlationId": "chaos-0-0",
            "regions": [{"name": "surname"}, {"name": "given_names"}],
        },
        facts_written=datetime.fromtimestamp(1000.5, UTC),
    )
    return Evidence(run, truth, stored, objects.get), objects


def _execution(status: str, last: str, error: str | None = None, name: str = TASK) -> Execution:
    steps = (Step("Check Task Status", "Task", None), Step(last, "Task", None))
    return Execution(f"{ARN[: -len(TASK)]}{name}", name, status, None, None, error, None, steps, ())


def test_a_clean_completion_passes() -> None:
    ev, _ = evidence()
    assert judge(ev) == Verdict(TASK, 0, "Completed", [])


def test_other_bytes_than_the_service_recognised_are_wrong() -> None:
    ev, objects = evidence()
    objects[PREFIX + "regions/1-g.txt"] = b"ERIKB"
    verdict = judge(ev)
    assert any("region 1 holds other bytes" in w for w in verdict.wrong)


def test_a_completion_the_service_never_answered_is_wrong() -> None:
    ev, _ = evidence()
    ev.truth = replace(ev.truth, answers=frozenset({"Pending", "Error"}))
    assert any("not so: the service answered Completed" in w for w in judge(ev).wrong)


def test_not_found_needs_the_service_to_have_said_not_exist() -> None:
    ev, _ = evidence()
    for outcome in (ev.stored.events[0]["detail"], ev.stored.item):
        assert outcome is not None
        outcome.update(status="NotFound", error={"name": "TaskNotFound"}, errorName="TaskNotFound")
    assert judge(ev).wrong
    ev.truth = replace(ev.truth, answers=frozenset({"NotExist"}), results=None)
    assert judge(ev).ok


def test_an_item_below_what_was_published_is_a_downgrade() -> None:
    ev, _ = evidence()
    ev.stored.item = {"status": "TimedOut", "errorName": "DeadlineReached", "executionArn": ARN}
    assert any("downgraded" in w for w in judge(ev).wrong)


def test_names_of_a_later_announcement_are_wrong() -> None:
    ev, _ = evidence()
    later = Announcement(5.0, ("dup_surname", "dup_given"), "chaos-0-1", {})
    ev.run.sent.append(Sent(later, put_at=1005.0))
    ev.stored.facts = {"correlationId": "chaos-0-1", "regions": [{"name": "dup_surname"}]}
    assert any("no announcement put before them" in w for w in judge(ev).wrong)


def test_a_refused_announcement_must_be_dead_lettered_with_its_reason() -> None:
    ev, _ = evidence()
    stale = Announcement(3.0, None, "chaos-0-1", {}, clock=TOO_OLD, offset=-90_000.0)
    ev.run.sent.append(Sent(stale, put_at=1003.0))
    assert judge(ev).wrong == ["chaos-0-1 refused, yet not dead-lettered"]
    body = json.dumps({"detail": {"taskId": TASK, "correlationId": "chaos-0-1"}})
    ev.stored.letters = [DeadLetter("m", body, None, 5, {})]
    assert judge(ev).wrong == ["chaos-0-1 moved to the dead-letter queue without a reason"]
    reason = "event time is 25.0 h old: Aspose keeps results 24 h after submission, ..."
    ev.stored.letters = [replace(ev.stored.letters[0], reason=reason)]
    assert judge(ev).ok


def test_a_completed_task_failing_for_no_injected_reason_is_lost() -> None:
    ev, _ = evidence()
    ev.stored.events, ev.stored.item = [], None
    ev.stored.executions = [_execution("FAILED", "Decode And Store Results", "StorageError")]
    verdict = judge(ev)
    assert verdict.lost
    assert verdict.wrong
    # With the storage faults that explain it, the same end is a defined one.
    fault = AwsFault("aws_error", {"match": PREFIX}, 20, hits=15, target="s3:PutObject")
    planned = CloudFault(0.0, "aws_error", "s3:PutObject", 20, "run", {"code": "InternalError"})
    ev.run.cloud_faults = [(planned, fault)]
    assert judge(ev).ok


def test_only_a_stuck_task_may_time_out() -> None:
    ev, _ = evidence()
    ev.truth = replace(ev.truth, answers=frozenset({"Processing"}), results=None)
    ev.stored.events = []
    ev.stored.item = {"status": "TimedOut", "errorName": "DeadlineReached", "executionArn": ARN}
    ev.stored.executions = [_execution("FAILED", "Recognition Not Completed", "DeadlineReached")]
    assert judge(ev).wrong
    stuck = ServiceFault(0.0, "stuck")
    ev.run.plan = replace(ev.run.plan, service_faults=(stuck,))
    ev.stored.events = [{"detail": {**ev.stored.item, "error": {"name": "DeadlineReached"}}}]
    assert judge(ev).ok


def test_a_corrupt_region_must_be_a_region_error() -> None:
    ev, objects = evidence()
    fault = ServiceFault(0.0, "corrupt_base64", {"indexes": [1]})
    ev.run.plan = replace(ev.run.plan, service_faults=(fault,))
    # Armed late: one Completed answer went out as recognised, one corrupted. Either is right.
    shaped = frozenset({"corrupt_base64"})
    ev.truth = replace(ev.truth, completed_shapes=frozenset({frozenset(), shaped}))
    assert judge(ev).ok
    ev.truth = replace(ev.truth, completed_shapes=frozenset({shaped}))
    assert any("corrupt Base64, yet not a region error" in w for w in judge(ev).wrong)
    manifest = json.loads(objects[PREFIX + "manifest.json"])
    manifest["regions"][1] = {"index": 1, "name": "given_names", "error": "invalid_base64"}
    objects[PREFIX + "manifest.json"] = json.dumps(manifest).encode()
    assert judge(ev).ok


def test_an_outcome_recorded_but_not_published_may_not_be_downgraded_either() -> None:
    ev, _ = evidence()
    ev.stored.events = []  # Publish Outcome Event failed for good: recorded, never published
    recorded = {
        "outcome": {
            "kind": "Completed",
            "recorded": True,
            "detail": {"status": "Completed", "regionCount": 2, "errorCount": 0},
        }
    }
    entered = {"name": "Was Outcome Recorded?", "input": json.dumps(recorded)}
    history = ({"type": "ChoiceStateEntered", "stateEnteredEventDetails": entered},)
    ev.stored.executions = [
        replace(
            _execution("FAILED", "Publish Outcome Event", "EventBridge.FailedEntry"),
            history=history,
        )
    ]
    ev.run.cloud_faults = [
        (
            CloudFault(0.0, "events_failed_entry", "events:PutEvents", 8),
            AwsFault("events_failed_entry", {}, 8, hits=8, target="events:PutEvents"),
        )
    ]
    assert judge(ev).ok
    ev.stored.item = {"status": "Failed", "errorName": "RecognitionError", "executionArn": ARN}
    ev.truth = replace(ev.truth, answers=ev.truth.answers | {"Error"})
    assert any("downgraded" in w for w in judge(ev).wrong)
