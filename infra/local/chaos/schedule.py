"""The chaos schedule: a pure function of the seed and the number of tasks.

Everything random in a chaos run is drawn here, from one ``random.Random(seed)``, before
anything runs: which document each task is and which of its regions, its result type, when it is
submitted, every announcement (duplicates with other names and metadata, re-fetches, event
times late, ahead within and beyond the starter's skew, older than the results), every fault the
emulator injects for it (``ServiceFault``) and every fault the local cloud injects for it
(``CloudFault``), and the faults everyone shares (tokens, the secret, DynamoDB). A failing seed
therefore replays the same schedule; only the interleavings the machine produces differ.

Times are seconds: a task's announcements and faults after its submission, the shared actions
after the run's start.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

#: Announcement clocks: an event time now, late (minutes old), ahead within the starter's
#: accepted skew (5 min), ahead beyond it, and older than the results (24 h).
NOW, LATE, AHEAD, TOO_FAR_AHEAD, TOO_OLD = "now", "late", "ahead", "too far ahead", "too old"
#: Clocks the starter refuses (to the dead-letter queue, with a reason).
REFUSED_CLOCKS = frozenset({TOO_FAR_AHEAD, TOO_OLD})
_CLOCKS = ((NOW, 72), (LATE, 10), (AHEAD, 8), (TOO_FAR_AHEAD, 5), (TOO_OLD, 5))
_CLOCK_OFFSETS = {
    NOW: (0.0, 0.0),
    LATE: (-1200.0, -60.0),
    AHEAD: (10.0, 240.0),
    TOO_FAR_AHEAD: (400.0, 7200.0),
    TOO_OLD: (-30 * 86400.0, -25 * 3600.0),
}
DOCUMENTS = {"id_card": 5, "registration_form": 4}  # document -> its number of fields
_RESULT_TYPES = (("Text", 70), ("JSON", 10), ("Hocr", 10), ("Pdf", 5), ("ImagePNG", 5))
#: What a 4xx body says: it must come out nowhere (the leak scan looks for it).
CANARY = "CANARY4711"
#: The product's MaxResponseBytes in a chaos run; ``huge`` answers are four times that.
MAX_RESPONSE_BYTES = 1024 * 1024
#: Functions of the workflow, by logical id, and how often each is aimed at.
WORKFLOW_FUNCTIONS = (
    ("CheckStatusFunction", 5),
    ("StoreResultsFunction", 3),
    ("RecordOutcomeFunction", 2),
)
STARTER = "StarterFunction"
#: The most ``events_failed_entry`` hits armed for a task (its announcements meet them too: the
#: submitter retries more often than this).
MAX_FAILED_ENTRIES = 8
#: Crashes, timeouts and OOMs of the starter fail the whole SQS batch, so every message in it
#: is received once more: at most this many in a run, so no message (four more receives, plus
#: one failed delivery of its own) reaches the queue's maxReceiveCount of 5 by faults that
#: were not its own.
STARTER_BATCH_FAULTS = 3


@dataclass(frozen=True)
class Announcement:
    """One ``Region Recognition Submitted`` event for a task, put ``at`` s after its submission,
    saying it happened ``offset`` s from when it is put (``clock`` names which kind)."""

    at: float
    names: tuple[str | None, ...] | None
    correlation_id: str
    metadata: dict[str, Any]
    clock: str = NOW
    offset: float = 0.0
    refetch: str | None = None

    @property
    def refused(self) -> bool:
        """The starter must dead-letter it: its time is out of range."""
        return self.clock in REFUSED_CLOCKS


@dataclass(frozen=True)
class ServiceFault:
    """A fault the emulator injects for the task (``task_id`` target), armed ``at`` s after
    its submission, for ``times`` answers (None: every one while armed)."""

    at: float
    fault: str
    params: dict[str, Any] = field(default_factory=dict)
    times: int | None = None


@dataclass(frozen=True)
class CloudFault:
    """A fault the local cloud injects for the task, armed ``at`` s after its submission.
    ``aim`` says what its ``match`` is: ``task`` (the task id: every invocation and call about
    it), ``run`` (``results/<task>/runs/``: what executions store) or ``facts``
    (``<task>/submitted.json``: what the starter keeps)."""

    at: float
    kind: str
    target: str
    times: int
    aim: str = "task"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Its row in the report: the kind, and what it hit (a function, an API operation)."""
        target = self.target.removesuffix("Function")
        return f"{self.kind} {target}" + (f" ({self.aim})" if self.aim != "task" else "")


@dataclass(frozen=True)
class TaskPlan:
    """One task: a sample document's regions (``fields``, in this order), or a task the service
    does not know (``unknown_id``); what is announced and injected for it."""

    index: int
    submit_at: float
    document: str | None
    fields: tuple[int, ...]
    result_type: str
    unknown_id: str | None
    announcements: tuple[Announcement, ...]
    service_faults: tuple[ServiceFault, ...]
    cloud_faults: tuple[CloudFault, ...]


@dataclass(frozen=True)
class SharedAction:
    """Something that hits every task at once, ``at`` s after the run's start: ``revoke_tokens``,
    ``token_fault`` (the emulator's ``fault`` on the token endpoint for its next requests),
    ``rotate_secret`` (the stack's secret first, then the service's), ``secrets_error`` (Secrets
    Manager failing, with tokens revoked so the secret is read), ``dynamodb_error``."""

    at: float
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Schedule:
    seed: int
    tasks: tuple[TaskPlan, ...]
    shared: tuple[SharedAction, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def span(self) -> float:
        """When the last thing is done, in seconds after the run's start."""
        ends = [a.at for a in self.shared]
        for task in self.tasks:
            moments = [a.at for a in task.announcements]
            moments += [f.at for f in task.service_faults]
            moments += [f.at for f in task.cloud_faults]
            ends.append(task.submit_at + max(moments, default=0.0))
        return max(ends, default=0.0)


def generate(seed: int, tasks: int) -> Schedule:
    """The schedule of a run of ``tasks`` tasks: a pure function of its arguments."""
    rng = random.Random(seed)
    starter_budget = [STARTER_BATCH_FAULTS]
    window = max(10.0, 0.2 * tasks)  # submissions spread over it: 5 a second
    plans = tuple(_task(rng, index, window, starter_budget) for index in range(tasks))
    return Schedule(seed, plans, _shared(rng, window + 60.0))


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _task(rng: random.Random, index: int, window: float, starter_budget: list[int]) -> TaskPlan:
    submit_at = round(rng.uniform(0.0, window), 2)
    unknown = rng.random() < 0.06
    document = None if unknown else rng.choice(sorted(DOCUMENTS))
    fields: tuple[int, ...] = ()
    if document is not None:
        count = DOCUMENTS[document]
        fields = tuple(rng.sample(range(count), rng.randint(1, count)))
    names = _names(rng, document, fields)
    return TaskPlan(
        index=index,
        submit_at=submit_at,
        document=document,
        fields=fields,
        result_type=_weighted(rng, _RESULT_TYPES),
        unknown_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)) if unknown else None,
        announcements=_announcements(rng, index, names),
        service_faults=() if unknown else _service_faults(rng, len(fields)),
        cloud_faults=_cloud_faults(rng, starter_budget),
    )


# --- announcements ---------------------------------------------------------------------------
_FIELD_NAMES = {
    "id_card": ("surname", "given_names", "date_of_birth", "document_number", "expiry_date"),
    "registration_form": ("full_name", "email", "city", "phone"),
}


def _names(rng: random.Random, document: str | None, fields: tuple[int, ...]) -> tuple[str, ...]:
    """The region names a careful submitter sends: the fields' own, in submission order (an
    unknown task gets plausible ones)."""
    if document is None:
        return tuple(f"field_{i}" for i in range(rng.randint(1, 4)))
    return tuple(_FIELD_NAMES[document][i] for i in fields)


def _announcements(
    rng: random.Random, index: int, names: tuple[str, ...]
) -> tuple[Announcement, ...]:
    """The first announcement soon after submission; sometimes duplicates and re-fetches
    before, during or after the execution, each with other names and metadata."""
    first = _announcement(rng, index, 0, rng.uniform(0.0, 1.5), _first_names(rng, names))
    found = [first]
    for _ in range(_count(rng, [(0, 70), (1, 22), (2, 8)])):
        found.append(_announcement(rng, index, len(found), _moment(rng), _other(rng, names)))
    if rng.random() < 0.12:
        again = _announcement(rng, index, len(found), _moment(rng), _other(rng, names))
        found.append(replace(again, refetch=f"r{len(found)}"))
    return tuple(found)


def _count(rng: random.Random, weights: list[tuple[int, int]]) -> int:
    return rng.choices([n for n, _ in weights], weights=[w for _, w in weights])[0]


def _moment(rng: random.Random) -> float:
    """Before the execution (about when the first is put), during it, or after it ended."""
    window = rng.choice([(-0.5, 0.8), (2.0, 20.0), (40.0, 90.0)])
    return round(max(0.0, rng.uniform(*window)), 2)


def _first_names(rng: random.Random, names: tuple[str, ...]) -> tuple[str | None, ...] | None:
    """Mostly the right names; sometimes none at all, one too few or too many, or odd ones."""
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.08:
        return names[:-1] or ("only",)
    if roll < 0.11:
        return (*names, "extra")
    if roll < 0.15:
        return tuple(f"{n}/é {i}" for i, n in enumerate(names))
    return names


def _other(rng: random.Random, names: tuple[str, ...]) -> tuple[str | None, ...] | None:
    """A duplicate's names: reversed, renamed, unnamed, or of another count."""
    roll = rng.random()
    if roll < 0.3:
        return tuple(reversed(names))
    if roll < 0.6:
        return tuple(f"dup_{n}" for n in names)
    if roll < 0.75:
        return tuple(None for _ in names)
    if roll < 0.85:
        return None
    return (*names, *names)[: rng.randint(1, 2 * len(names))]


def _announcement(
    rng: random.Random,
    index: int,
    number: int,
    at: float,
    names: tuple[str | None, ...] | None,
) -> Announcement:
    clock = _weighted(rng, _CLOCKS)
    low, high = _CLOCK_OFFSETS[clock]
    return Announcement(
        at=round(at, 2),
        names=names,
        # Unique per announcement: what the task's facts, events and dead letters say is
        # traced back to the announcement that said it.
        correlation_id=f"chaos-{index}-{number}",
        metadata={"tenant": f"t{rng.randrange(4)}", "announcement": number},
        clock=clock,
        offset=round(rng.uniform(low, high), 1),
    )


# --- the service's faults --------------------------------------------------------------------
def _service_faults(rng: random.Random, regions: int) -> tuple[ServiceFault, ...]:
    """Zero to three of the emulator's faults, at most one that decides how the task ends
    (``error``, ``stuck``) and one that shapes its results (``corrupt_base64``,
    ``result_count``)."""
    chosen: list[ServiceFault] = []
    kinds: set[str] = set()
    for _ in range(_count(rng, [(0, 25), (1, 40), (2, 25), (3, 10)])):
        fault = _service_fault(rng, regions)
        if fault.fault in kinds or _conflicts(fault.fault, kinds):
            continue
        kinds.add(fault.fault)
        chosen.append(fault)
    return tuple(chosen)


_EXCLUSIVE = (frozenset({"error", "stuck"}), frozenset({"corrupt_base64", "result_count"}))


def _conflicts(kind: str, kinds: set[str]) -> bool:
    return any(kind in group and kinds & group for group in _EXCLUSIVE)


def _service_fault(rng: random.Random, regions: int) -> ServiceFault:
    kind = rng.choice(sorted(_SERVICE_FAULTS))
    at = round(rng.uniform(0.0, 3.0), 2)
    params, times = _SERVICE_FAULTS[kind](rng, regions)
    if kind in {"error", "stuck"}:
        # Mostly from the start; sometimes later, when the task may have finished already.
        at = 0.0 if rng.random() < 0.8 else round(rng.uniform(0.5, 6.0), 2)
    return ServiceFault(at, kind, params, times)


Params = tuple[dict[str, Any], int | None]


def _throttled(rng: random.Random, regions: int) -> Params:
    # Now and then a Retry-After past the running deadline (45 s): waited out, never an end.
    retry_after = 50 if rng.random() < 0.1 else rng.randint(1, 8)
    return {"retry_after": retry_after}, rng.randint(1, 3)


def _server_error(rng: random.Random, regions: int) -> Params:
    return {}, rng.randint(1, 4)


def _truncated(rng: random.Random, regions: int) -> Params:
    return {"fraction": round(rng.uniform(0.05, 0.95), 2)}, rng.randint(1, 2)


def _once_or_twice(rng: random.Random, regions: int) -> Params:
    return {}, rng.randint(1, 2)


def _delayed(rng: random.Random, regions: int) -> Params:
    return {"seconds": rng.choice([1.0, 2.0, 5.0, 12.0, 35.0])}, 1


def _huge(rng: random.Random, regions: int) -> Params:
    return {"bytes": 4 * MAX_RESPONSE_BYTES, "chunked": rng.random() < 0.5}, 1


def _bomb(rng: random.Random, regions: int) -> Params:
    return {"inflated_bytes": 64 * MAX_RESPONSE_BYTES}, 1


def _http_status(rng: random.Random, regions: int) -> Params:
    status = rng.choice([400, 403, 404, 409])
    return {"status": status, "title": CANARY, "detail": f"{CANARY} ERIKA-LEAK"}, 1


def _error(rng: random.Random, regions: int) -> Params:
    # Up to 20 long messages: the state budget must hold on this failure path too.
    count = rng.choice([1, 1, 3, 20])
    return {"messages": [f"Recognition failed ({i}): " + "too dark " * 40 for i in range(count)]}, (
        None
    )


def _stuck(rng: random.Random, regions: int) -> Params:
    return {}, None


def _expire(rng: random.Random, regions: int) -> Params:
    return {"after_s": round(rng.uniform(0.0, 20.0), 1)}, None


def _corrupt(rng: random.Random, regions: int) -> Params:
    indexes = None if rng.random() < 0.3 else sorted(rng.sample(range(regions), 1))
    return {"indexes": indexes}, None


def _unknown_status(rng: random.Random, regions: int) -> Params:
    value = rng.choice(["Queued", "Suspended", "Hibernating"])
    return {"value": value}, rng.choice([1, 2, None])


def _result_count(rng: random.Random, regions: int) -> Params:
    count = rng.choice([c for c in range(regions + 3) if c != regions])
    return {"count": count}, None


def _response_code(rng: random.Random, regions: int) -> Params:
    return {"value": "PartiallyNotFound"}, None


_SERVICE_FAULTS = {
    "http_429": _throttled,
    "http_500": _server_error,
    "http_502": _server_error,
    "http_503": _server_error,
    "truncate": _truncated,
    "drop": _once_or_twice,
    "not_json": _once_or_twice,
    "delay": _delayed,
    "huge": _huge,
    "gzip_bomb": _bomb,
    "http_status": _http_status,
    "error": _error,
    "stuck": _stuck,
    "expire": _expire,
    "corrupt_base64": _corrupt,
    "unknown_status": _unknown_status,
    "result_count": _result_count,
    "response_code": _response_code,
}


# --- the cloud's faults ----------------------------------------------------------------------
def _cloud_faults(rng: random.Random, starter_budget: list[int]) -> tuple[CloudFault, ...]:
    """Zero to two of the local cloud's faults, aimed at this task, at random moments."""
    found = []
    for _ in range(_count(rng, [(0, 40), (1, 40), (2, 20)])):
        at = round(rng.uniform(0.0, 20.0), 2)
        kind = _weighted(
            rng, (("lambda", 45), ("starter", 10), ("storage", 30), ("events_failed_entry", 15))
        )
        fault = _CLOUD_FAULTS[kind](rng, at, starter_budget)
        if fault.target == STARTER or fault.aim == "facts":
            # What the starter does happens at the first announcement, a second or so after
            # submission: armed later, such a fault would meet only a late duplicate.
            fault = replace(fault, at=0.0)
        found.append(fault)
    return tuple(found)


def _lambda_fault(rng: random.Random, at: float, starter_budget: list[int]) -> CloudFault:
    function = _weighted(rng, WORKFLOW_FUNCTIONS)
    kind = _weighted(
        rng,
        (
            ("lambda_crash", 30),
            # The store's timeout is 120 s: rarely, or the run waits on it.
            ("lambda_timeout", 2 if function == "StoreResultsFunction" else 20),
            ("lambda_oom", 20),
            ("lambda_throttle", 30),
        ),
    )
    if kind == "lambda_throttle":
        return CloudFault(at, kind, function, rng.randint(1, 4))
    params = {"at": rng.choice(["start", "end"])} if kind != "lambda_oom" else {}
    # Three in a row exhaust the Task's two retries.
    return CloudFault(at, kind, function, rng.choice([1, 1, 2, 3]), params=params)


def _starter_fault(rng: random.Random, at: float, starter_budget: list[int]) -> CloudFault:
    kind = rng.choice(["lambda_crash", "lambda_timeout", "lambda_oom", "lambda_throttle"])
    if kind == "lambda_throttle" or starter_budget[0] <= 0:
        # Up to four: retried within the batch's own invisibility, never a receive.
        return CloudFault(at, "lambda_throttle", STARTER, rng.randint(1, 4))
    starter_budget[0] -= 1
    params = {"at": rng.choice(["start", "end"])} if kind != "lambda_oom" else {}
    return CloudFault(at, kind, STARTER, 1, params=params)


_STORAGE = (
    ("s3:PutObject", "run", (("InternalError", 500), ("SlowDown", 503))),
    ("s3:GetObject", "run", (("InternalError", 500), ("ServiceUnavailable", 503))),
    ("s3:PutObject", "facts", (("InternalError", 500),)),
    (
        "dynamodb:UpdateItem",
        "task",
        (("ProvisionedThroughputExceededException", 400), ("InternalServerError", 500)),
    ),
)


def _storage_fault(rng: random.Random, at: float, starter_budget: list[int]) -> CloudFault:
    target, aim, codes = rng.choice(_STORAGE)
    code, status = rng.choice(codes)
    if aim == "facts":
        # Up to five: at most one failed delivery of the starter (boto makes three attempts).
        times = rng.randint(1, 5)
    else:
        # Now and then beyond every retry (5 Task attempts of 3 calls): the execution fails
        # at that state, named, where a redrive would resume it.
        times = rng.randint(16, 20) if rng.random() < 0.08 else rng.randint(1, 6)
    return CloudFault(at, "aws_error", target, times, aim, {"code": code, "status": status})


def _events_fault(rng: random.Random, at: float, starter_budget: list[int]) -> CloudFault:
    # Seven or more exhaust Publish Outcome Event's seven attempts.
    times = rng.randint(1, MAX_FAILED_ENTRIES)
    return CloudFault(at, "events_failed_entry", "events:PutEvents", times)


_CLOUD_FAULTS = {
    "lambda": _lambda_fault,
    "starter": _starter_fault,
    "storage": _storage_fault,
    "events_failed_entry": _events_fault,
}


# --- what every task shares ------------------------------------------------------------------
def _shared(rng: random.Random, span: float) -> tuple[SharedAction, ...]:
    """Token revocations and token-endpoint faults every ~15 s, a secret rotation and Secrets
    Manager failing once or twice a run, DynamoDB failing now and then (twice at most each
    time: fewer than boto's three attempts, so alone it fails no call)."""
    actions = []
    for _ in range(max(1, int(span / 15))):
        actions.append(SharedAction(_at(rng, span), "revoke_tokens"))
        actions.append(SharedAction(_at(rng, span), "token_fault", _token_fault(rng)))
    for _ in range(max(1, int(span / 45))):
        actions.append(SharedAction(_at(rng, span), "secrets_error", {"times": rng.randint(1, 4)}))
        actions.append(SharedAction(_at(rng, span), "dynamodb_error", {"times": rng.randint(1, 2)}))
    actions.append(SharedAction(_at(rng, span), "rotate_secret"))
    return tuple(sorted(actions, key=lambda a: a.at))


def _token_fault(rng: random.Random) -> dict[str, Any]:
    """A fault of the token endpoint for its next requests. A redirect only ever for one: the
    check retries an AsposeProtocolError once, so one redirect fails no task."""
    fault = rng.choice(["http_503", "http_500", "drop", "http_429", "redirect"])
    if fault == "redirect":
        location = {"Location": "http://127.0.0.1:9/connect/token"}
        return {"fault": "http_status", "next_requests": 1, "status": 307, "headers": location}
    params: dict[str, Any] = {"fault": fault, "next_requests": rng.randint(1, 3)}
    if fault == "http_429":
        params["retry_after"] = rng.randint(1, 3)
    return params


def _at(rng: random.Random, span: float) -> float:
    return round(rng.uniform(0.0, span), 2)
