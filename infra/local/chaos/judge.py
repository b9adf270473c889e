"""Judging each task of a chaos run by the invariants, against the evidence of both sides.

For every task: each execution ended, and how (an outcome published, superseded by a better
one, or failed at a state for a reason a rule allows), every state it went through within the
8 KB budget; each outcome, published or recorded, is one a rule in
:mod:`infra.local.chaos.rules` allows; every Completed run stored each region byte for byte as
the service recognised it, named by the first accepted submission; the item never ends worse
than an outcome it recorded and its raw answer is a Completed answer for the task; the facts are
the first accepted submission's; every announcement the starter must refuse is in the
dead-letter queue with its reason, and nothing else is. A task the service completed must end
Completed, or failed for a reason a rule allows: otherwise it is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from infra.local.chaos.evidence import Evidence, recorded_outcomes
from infra.local.chaos.rules import (
    DEAD_LETTER_REASONS,
    EXECUTION_FAILURES,
    Shape,
    decoded,
    rule_for,
    shapes,
)
from infra.local.chaos.runner import Sent
from infra.stack.history import Execution
from ocr_fetch.handlers.workflow_state import STATE_BUDGET_BYTES

_RANKS = {"TimedOut": 1, "Failed": 2, "NotFound": 2, "Completed": 3}
#: S3's LastModified and this machine's clock, compared: a second either way.
_CLOCK_SLACK = timedelta(seconds=1)
DEAD_LETTERED = "dead-lettered"


@dataclass
class Verdict:
    """How one task ended, which faults hit it, and what was wrong or lost."""

    task_id: str
    index: int
    outcome: str
    faults: list[str]
    wrong: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    #: What happened to it, when something was wrong or lost (in the report's JSON).
    story: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.wrong and not self.lost


def judge(ev: Evidence) -> Verdict:
    """The verdict on one task."""
    verdict = Verdict(ev.task_id, ev.run.plan.index, _final(ev), ev.fired())
    verdict.wrong += _dead_letters(ev)
    explained = [_execution(ev, execution, verdict) for execution in ev.stored.executions]
    verdict.wrong += _item(ev)
    verdict.wrong += _facts(ev)
    verdict.lost += _lost(ev, explained)
    if not verdict.ok:
        verdict.story = ev.describe()
    return verdict


def _final(ev: Evidence) -> str:
    item = ev.stored.item
    if item is not None and item.get("status") in _RANKS:
        return str(item["status"])
    if ev.stored.executions:
        return "Failed"  # every execution failed at a state, or none ended: judged below
    if ev.stored.letters:
        return DEAD_LETTERED
    return "none"


# --- executions ---------------------------------------------------------------------------------
def _execution(ev: Evidence, execution: Execution, verdict: Verdict) -> bool:
    """Judge how one execution ended; True when its end is one a rule allows."""
    events = [e for e in ev.stored.events if e["detail"].get("executionArn") == execution.arn]
    verdict.wrong += _state_sizes(execution)
    if execution.status == "RUNNING":
        verdict.lost.append(f"{execution.name} still running after the run came to rest")
        return False
    if len(events) > 1:
        verdict.wrong.append(f"{execution.name} published {len(events)} outcomes")
    if events:
        problems = _outcome(ev, events[0]["detail"], f"{execution.name}'s event")
        verdict.wrong += problems
        return not problems
    if execution.status == "SUCCEEDED":
        superseded = execution.states_entered()[-1:] == ["Superseded By Earlier Outcome"]
        if not superseded:
            verdict.wrong.append(f"{execution.name} succeeded without publishing an outcome")
        return superseded
    rule = EXECUTION_FAILURES.get(execution.error or "")
    if execution.status == "FAILED" and rule is not None and rule.holds(ev):
        return True
    why = rule.why if rule else "no rule allows it"
    verdict.wrong.append(
        f"{execution.name} {execution.status} with {execution.error} at "
        f"{(execution.states_entered() or ['?'])[-1]} and no outcome published ({why})"
    )
    return False


def _state_sizes(execution: Execution) -> list[str]:
    """Every state's data (what a state is entered with, and leaves with) within the budget."""
    largest, where = 0, ""
    for event in execution.history:
        for key, name in (
            ("stateEnteredEventDetails", "input"),
            ("stateExitedEventDetails", "output"),
        ):
            details = event.get(key) or {}
            size = len(str(details.get(name) or "").encode("utf-8"))
            if size > largest:
                largest, where = size, f"{details.get('name')} {name}"
    if largest > STATE_BUDGET_BYTES:
        return [f"{execution.name}: a state of {largest} bytes at {where}, over the 8 KB budget"]
    return []


def _outcome(ev: Evidence, detail: dict[str, Any], where: str) -> list[str]:
    """What is wrong with an outcome (an event's detail, or the item)."""
    status = str(detail.get("status"))
    error = detail.get("error")
    name = error.get("name") if isinstance(error, dict) else detail.get("errorName")
    rule = rule_for(status, name)
    if rule is None:
        return [f"{where}: {status} {name or ''} is no outcome a rule allows".rstrip()]
    if not rule.holds(ev):
        return [f"{where}: {status} {name or ''}, but not so: {rule.why}"]
    facts = ev.stored.facts or {}
    for said in ("correlationId", "metadata"):
        if facts and said in detail and detail[said] != facts.get(said):
            return [f"{where}: its {said} is not the first accepted submission's"]
    if status == "Completed":
        key = (detail.get("results") or {}).get("manifestKey") or detail.get("manifestKey")
        return [f"{where}: {problem}" for problem in _completed(ev, key)]
    return []


def _completed(ev: Evidence, manifest_key: str | None) -> list[str]:
    """Every region of a Completed run against what the service recognised, byte for byte, as
    one of the answers it sent carried it (see :func:`~infra.local.chaos.rules.shapes`)."""
    manifest = ev.manifest(manifest_key)
    candidates = shapes(ev)
    if not candidates or manifest is None:
        return [f"Completed, but {'no manifest' if manifest is None else 'nothing recognised'}"]
    found = [_against(ev, manifest.get("regions") or [], shape) for shape in candidates]
    return [] if any(not problems for problems in found) else found[0]


def _against(ev: Evidence, regions: list[dict[str, Any]], shape: Shape) -> list[str]:
    entries = shape.entries
    if len(regions) != len(entries):
        return [f"{len(regions)} regions stored, the service answered {len(entries)}"]
    names = _names(ev.stored.facts)
    fit = names is not None and len(names) == len(entries)
    problems = []
    for region in regions:
        index = int(region.get("index", -1))
        expected_name = names[index] if fit and names is not None else None
        if region.get("name") != expected_name:
            problems.append(f"region {index} named {region.get('name')!r}, not {expected_name!r}")
        problems += _region(ev, region, entries[index], index in shape.corrupted)
    return problems


def _region(ev: Evidence, region: dict[str, Any], entry: dict[str, str], bad: bool) -> list[str]:
    index = region.get("index")
    if bad:
        if region.get("error") != "invalid_base64" or region.get("s3Key"):
            return [f"region {index} was corrupt Base64, yet not a region error"]
        return []
    if region.get("error"):
        return [f"region {index} is an error ({region['error']}) though the service sent it whole"]
    stored = ev.read(str(region.get("s3Key")))
    if stored is None:
        return [f"region {index} is missing at {region.get('s3Key')}"]
    if stored != decoded(entry) or region.get("type") != entry.get("type"):
        return [f"region {index} holds other bytes than the service recognised"]
    return []


# --- the item, the facts, the dead letters --------------------------------------------------------
def _item(ev: Evidence) -> list[str]:
    """The item: an outcome a rule allows, never below any outcome an execution recorded in it
    (published or not), its raw answer a Completed answer for the task when it says Completed."""
    item = ev.stored.item
    recorded = [e["detail"] for e in ev.stored.events]
    recorded += [o for x in ev.stored.executions for o in recorded_outcomes(x)]
    if item is None or item.get("status") not in _RANKS:
        return [f"no outcome in the item, yet {len(recorded)} recorded"] if recorded else []
    problems = _outcome(ev, item, "the item")
    best = max(recorded, key=_score, default=None)
    if best is not None and _score(item) < _score(best):
        problems.append(
            f"the item says {item['status']} ({_score(item)}), below the recorded "
            f"{best.get('status')} ({_score(best)}): downgraded"
        )
    if item["status"] == "Completed":
        problems += _raw_answer(ev, item.get("rawKey"))
    return problems


def _score(outcome: dict[str, Any]) -> int:
    """The table's order: rank, then (Completed) regions decoded."""
    status = str(outcome.get("status"))
    decoded_count = int(outcome.get("regionCount") or 0) - int(outcome.get("errorCount") or 0)
    return _RANKS.get(status, 0) * 1000 + (decoded_count if status == "Completed" else 0)


def _raw_answer(ev: Evidence, key: object) -> list[str]:
    body = ev.read(str(key)) if key else None
    if body is None:
        return [f"the item's raw answer {key} is gone"]
    try:
        answer = json.loads(body)
    except ValueError:
        return [f"the item's raw answer {key} is not JSON"]
    if answer.get("taskStatus") != "Completed" or str(answer.get("id")).lower() != ev.task_id:
        return [f"the item's raw answer {key} is not a Completed answer for the task"]
    return []


def _names(facts: dict[str, Any] | None) -> tuple[str | None, ...] | None:
    regions = (facts or {}).get("regions")
    return None if regions is None else tuple(r.get("name") or None for r in regions)


def _facts(ev: Evidence) -> list[str]:
    """The facts are the first accepted submission's: one put before they were written."""
    facts, written = ev.stored.facts, ev.stored.facts_written
    if facts is None or written is None:
        return ["executions ran, but no submitted facts were kept"] if ev.stored.executions else []
    candidates = [
        sent
        for sent in _accepted(ev)
        if sent.put_at is not None and sent.put_at <= (written + _CLOCK_SLACK).timestamp()
    ]
    mine = [s for s in candidates if s.announcement.correlation_id == facts.get("correlationId")]
    if not mine:
        return [f"the facts name {facts.get('correlationId')}, no announcement put before them"]
    names = mine[0].announcement.names
    expected = None if names is None else tuple(n or None for n in names)
    if _names(facts) != expected:
        return [f"the facts' names are not those of {facts.get('correlationId')}"]
    return []


def _accepted(ev: Evidence) -> list[Sent]:
    return [s for s in ev.run.sent if s.put_at is not None and not s.announcement.refused]


def _dead_letters(ev: Evidence) -> list[str]:
    """Every refused announcement dead-lettered with its reason; nothing else. At least once:
    SQS and Lambda deliver at least once, so a batch that fails after the starter dead-lettered
    one of its records (another record's crash, the batch timing out) brings it back, and it is
    dead-lettered again (harmless: a redrive of the copy would be refused again)."""
    problems = []
    by_id: dict[str, int] = {}
    for letter in ev.stored.letters:
        detail = json.loads(letter.body).get("detail") or {}
        correlation = str(detail.get("correlationId"))
        by_id[correlation] = by_id.get(correlation, 0) + 1
        sent = next((s for s in ev.run.sent if s.announcement.correlation_id == correlation), None)
        if letter.reason is None:
            problems.append(f"{correlation} moved to the dead-letter queue without a reason")
        elif sent is None or not sent.announcement.refused:
            problems.append(f"{correlation} dead-lettered, yet acceptable: {letter.reason}")
        elif not any(words in letter.reason for words in DEAD_LETTER_REASONS):
            problems.append(f"{correlation} dead-lettered for another reason: {letter.reason}")
    for sent in ev.run.sent:
        refused = sent.put_at is not None and sent.announcement.refused
        if refused and not by_id.get(sent.announcement.correlation_id):
            problems.append(f"{sent.announcement.correlation_id} refused, yet not dead-lettered")
    return problems


# --- lost ---------------------------------------------------------------------------------------
def _lost(ev: Evidence, explained: list[bool]) -> list[str]:
    """An accepted task must end with a defined outcome; one the service completed must end
    Completed (its bytes checked above) or failed for a reason a rule allows."""
    if not _accepted(ev):
        return []
    if not ev.stored.executions:
        return ["accepted, yet no execution was started"]
    completed = (ev.stored.item or {}).get("status") == "Completed"
    if completed or all(explained):
        return []
    if ev.truth.results is not None:
        return ["the service completed it; it ended neither Completed nor failed for a reason"]
    return ["it ended without an outcome any rule allows"]
