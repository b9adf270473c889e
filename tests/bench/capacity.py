"""The capacity plan: what one task costs and takes, and what limits first at a daily volume.

Everything per task comes from the benchmark's measured figures, not guesses:

* ``.local/bench/polling.json`` (:mod:`tests.bench.polling`), workload ``realistic``: polls per
  task with the template's default polling, after learning;
* ``.local/bench/local_run.json`` (:mod:`tests.bench.local_run`): Lambda invocations per task and
  handler time per function, AWS requests per task by action and resource, log bytes, table item
  sizes, history events per state entered, cold-start init;
* ``.local/bench/memory.json`` and ``.local/bench/coldstart.json`` when present (peak memory per
  function and handler import time); each figure that falls back without them says so;
* ``template.yaml``: each function's ``MemorySize``, ``AsposeReservedConcurrency`` and the polling
  deadline; ``infra/ops/prices.py``: list prices; the transitions per poll from
  :mod:`tests.bench.polling`.

What the benchmark cannot measure is a stated parameter (:class:`Assumptions`): the daily volume,
the peak factor, Aspose's rate limit and per-call price, and two log-size allowances. AWS's
default quotas are in :data:`QUOTAS`, each with the page it comes from.

The result is printed, written to ``.local/bench/capacity.json`` and rendered into
``docs/capacity.md`` between ``<!-- capacity:begin -->`` and ``<!-- capacity:end -->``, so the
document's numbers always come from here. ``python -m tests.bench.capacity --help`` for the
parameters.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from infra.build.packaging import load_template
from infra.ops import prices
from ocr_fetch.history import CACHE_SECONDS
from ocr_fetch.learning import HISTORY_DAYS, task_kind
from tests.bench.fleet import budget_figures, outage_figures
from tests.bench.polling import TRANSITIONS_FIXED, TRANSITIONS_PER_POLL
from tests.support.template import TEMPLATE, function_environment

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / ".local" / "bench"
OUTPUT = BENCH / "capacity.json"
DOC = ROOT / "docs" / "capacity.md"
BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"

STARTER, CHECK, STORE, RECORD = (
    "StarterFunction",
    "CheckStatusFunction",
    "StoreResultsFunction",
    "RecordOutcomeFunction",
)
FUNCTIONS = (STARTER, CHECK, STORE, RECORD)
#: How memory.json names the functions it measured.
MEMORY_NAMES = {"check": CHECK, "store": STORE}
#: The region size memory.json measures that the template's default MaxRegionBytes (10 MiB)
#: admits; larger ones need the cap raised.
DEFAULT_CAP_REGION = "10 MiB"
DAY_SECONDS = 86_400
MONTH_DAYS = 30
#: Kinds of task the polling history keys on (regions-0 ... regions-129+), from the code.
KINDS = len({task_kind(regions) for regions in range(0, 1000)})
WRITE_UNIT_BYTES, READ_UNIT_BYTES = 1024, 4096
#: The history Query is eventually consistent: half a read unit per 4 KB.
EVENTUAL_READ = 0.5


@dataclass(frozen=True)
class Quota:
    name: str
    limit: float
    unit: str
    source: str


SFN_QUOTAS = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
DDB_QUOTAS = "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb"
S3_PERFORMANCE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"
EVENTS_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
#: AWS default quotas, us-east-1 (also us-west-2, eu-west-1: Step Functions' larger class).
QUOTAS = {
    "start_execution": Quota(
        "Step Functions StartExecution (Standard), refill", 300, "/s", SFN_QUOTAS
    ),
    "start_execution_bucket": Quota("StartExecution burst bucket", 1300, "", SFN_QUOTAS),
    "state_transition": Quota(
        "Step Functions StateTransition (Standard), refill", 1500, "/s", SFN_QUOTAS
    ),
    "open_executions": Quota("Step Functions open executions", 1_000_000, "", SFN_QUOTAS),
    "lambda_concurrency": Quota("Lambda concurrent executions", 1000, "", LAMBDA_QUOTAS),
    "ddb_table_writes": Quota("DynamoDB on-demand table writes", 40_000, "WRU/s", DDB_QUOTAS),
    "ddb_partition_writes": Quota("DynamoDB partition writes", 1000, "WRU/s", DDB_QUOTAS),
    "ddb_partition_reads": Quota("DynamoDB partition reads", 3000, "RRU/s", DDB_QUOTAS),
    "s3_put": Quota("S3 PUT per partitioned prefix", 3500, "/s", S3_PERFORMANCE),
    "s3_get": Quota("S3 GET per partitioned prefix", 5500, "/s", S3_PERFORMANCE),
    "put_events": Quota("EventBridge PutEvents", 10_000, "/s", EVENTS_QUOTAS),
    "rule_invocations": Quota("EventBridge rule invocations", 18_750, "/s", EVENTS_QUOTAS),
}


@dataclass(frozen=True)
class Assumptions:
    """What the benchmark cannot measure: stated, and changeable from the command line."""

    tasks_per_day: float = 1_000_000
    #: The busiest hour's rate over the day's average.
    peak_factor: float = 3.0
    #: ASSUMED: Aspose publishes no rate limit. Calls per second per account (client id),
    #: submissions and polls together.
    aspose_calls_per_second: float = 100.0
    aspose_call_price: float = prices.ASPOSE_CALL
    #: Regions per task (S3 PUTs grow with them); None: the local run's sample document.
    regions_per_task: float | None = None
    #: Share of invocations that are cold starts at this volume (environments are reused).
    cold_start_share: float = 0.01
    #: Lambda's START/END/REPORT lines per invocation, which the local runtime does not write.
    platform_log_bytes: float = 300.0
    #: The state machine's log (Level ALL, no execution data) per history event.
    state_log_bytes_per_event: float = 250.0


@dataclass(frozen=True)
class Function:
    """One function at production volume: invocations per task and time per invocation."""

    invocations: float
    mean_ms: float
    p95_ms: float
    memory_mb: float
    init_ms: float

    def gb_seconds(self, cold_start_share: float) -> float:
        """Per task: billed duration plus the cold starts' init (billed since August 2025)."""
        billed_ms = self.mean_ms + cold_start_share * self.init_ms
        return self.invocations * billed_ms / 1000 * self.memory_mb / 1024


@dataclass
class Inputs:
    """The measured figures, with where each came from and what fell back."""

    polls_per_task: float
    tutorial_polls_per_task: float
    realistic: dict[str, Any]
    local: dict[str, Any]
    memory_mb: dict[str, float]
    reserved_concurrency: int
    deadline_seconds: float
    memory: dict[str, Any] | None = None
    coldstart: dict[str, Any] | None = None
    sources: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PerTask:
    """What one task takes, at production polling."""

    polls: float
    transitions: float
    functions: dict[str, Function]
    s3_puts: float
    s3_gets: float
    results_wru: float
    history_wru: float
    history_query_rru: float
    events_ours: float
    sqs_requests: float
    log_bytes: float
    start_executions: float

    @property
    def lambda_requests(self) -> float:
        return sum(f.invocations for f in self.functions.values())

    def gb_seconds(self, cold_start_share: float) -> float:
        return sum(f.gb_seconds(cold_start_share) for f in self.functions.values())


@dataclass(frozen=True)
class Utilisation:
    name: str
    demand: float
    limit: float
    unit: str
    source: str
    note: str = ""

    @property
    def share(self) -> float:
        return self.demand / self.limit if self.limit else math.inf


@dataclass(frozen=True)
class CostItem:
    name: str
    per_thousand: float
    basis: str
    ours: bool = True


# --- inputs -----------------------------------------------------------------------------------
def read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def template_figures() -> tuple[dict[str, float], int, float]:
    """Each function's MemorySize (Globals, then its own), the AsposeReservedConcurrency default
    and the polling deadline, from template.yaml."""
    template = load_template(TEMPLATE)
    default = float(template["Globals"]["Function"].get("MemorySize", 128))
    resources = template["Resources"]
    memory = {
        name: float(resources[name]["Properties"].get("MemorySize", default)) for name in FUNCTIONS
    }
    reserved = int(template["Parameters"]["AsposeReservedConcurrency"]["Default"])
    deadline = float(function_environment(CHECK)["POLL_DEADLINE_SECONDS"])
    return memory, reserved, deadline


def load_inputs(bench: Path = BENCH) -> Inputs:
    """Read the bench's files; ``polling.json`` and ``local_run.json`` are required."""
    polling, local = read_json(bench / "polling.json"), read_json(bench / "local_run.json")
    missing = [n for n, d in (("polling.json", polling), ("local_run.json", local)) if d is None]
    if polling is None or local is None:
        raise SystemExit(
            f"capacity: {', '.join(missing)} missing under {bench}: run `make bench` (or the "
            "polling and local_run sections) first"
        )
    realistic = polling["workloads"]["realistic"]
    memory_mb, reserved, deadline = template_figures()
    inputs = Inputs(
        polls_per_task=realistic["project"]["polls"] / realistic["tasks"],
        tutorial_polls_per_task=realistic["tutorial"]["polls"] / realistic["tasks"],
        realistic=realistic,
        local=local,
        memory_mb=memory_mb,
        reserved_concurrency=reserved,
        deadline_seconds=deadline,
        memory=read_json(bench / "memory.json"),
        coldstart=read_json(bench / "coldstart.json"),
        sources=["polling.json (realistic)", "local_run.json", "template.yaml", "prices.py"],
    )
    for name, present in (("memory.json", inputs.memory), ("coldstart.json", inputs.coldstart)):
        if present is not None:
            inputs.sources.append(name)
    return inputs


def init_ms(inputs: Inputs, function: str) -> float:
    """A cold start's init time: coldstart.json's handler import (built artifacts first), else
    the local run's own cold starts."""
    if inputs.coldstart is not None:
        for key in sorted(inputs.coldstart, key=lambda k: 0 if "built" in k else 1):
            section = inputs.coldstart[key]
            if isinstance(section, dict) and isinstance(section.get(function), dict):
                return float(section[function]["handler_ms"])
    measured = inputs.local["functions"].get(function, {}).get("init_median_ms")
    if measured is not None:
        return float(measured)
    return float(inputs.local.get("cold_start_init_ms", {}).get("median") or 0.0)


def peak_memory_mb(inputs: Inputs) -> dict[str, float]:
    """Each function's measured peak memory: memory.json at the default region cap when
    present, else the local run's peak RSS (small regions only)."""
    peaks = {name: float(f["max_rss_mb"]) for name, f in inputs.local["functions"].items()}
    if inputs.memory is not None and isinstance(inputs.memory.get(DEFAULT_CAP_REGION), dict):
        for short, name in MEMORY_NAMES.items():
            entry = inputs.memory[DEFAULT_CAP_REGION].get(short)
            if isinstance(entry, dict) and "peak_mb" in entry:
                peaks[name] = float(entry["peak_mb"])
    return peaks


def note_fallbacks(inputs: Inputs) -> None:
    if inputs.memory is None:
        inputs.fallbacks.append(
            "memory.json absent: peak memory is the local run's peak RSS for its sample "
            "document (small regions), so headroom for 10 MiB regions is unchecked; MemorySize "
            "is the template's as it stands"
        )
    if inputs.coldstart is None:
        inputs.fallbacks.append(
            "coldstart.json absent: a cold start's init is the local run's measured init per "
            "function (worker processes on a shared machine: pessimistic)"
        )


# --- per task ---------------------------------------------------------------------------------
def requests(local: Mapping[str, Any], prefix: str) -> float:
    """Requests per task in the local run whose key starts with ``prefix``."""
    return float(sum(v for k, v in local["aws_requests_per_task"].items() if k.startswith(prefix)))


def functions_at_volume(inputs: Inputs, assumptions: Assumptions) -> dict[str, Function]:
    """Invocations per task at production polling: the check function's scale with the polls
    (times the local run's invocations per poll, which counts retried ones), the others as
    measured; time per invocation as measured."""
    local = inputs.local
    local_polls = float(local["polls_per_task"]["mean"]) or 1.0
    functions: dict[str, Function] = {}
    for name in FUNCTIONS:
        figures = local["functions"].get(name)
        if figures is None:  # not invoked in the local run (no failure to record)
            continue
        invocations = float(figures["invocations_per_task"])
        if name == CHECK:
            invocations = inputs.polls_per_task * invocations / local_polls
        functions[name] = Function(
            invocations=invocations,
            mean_ms=float(figures["mean_ms"]),
            p95_ms=float(figures["p95_ms"]),
            memory_mb=inputs.memory_mb[name],
            init_ms=init_ms(inputs, name),
        )
    del assumptions
    return functions


def write_units(item_bytes: float, unit: int = WRITE_UNIT_BYTES) -> int:
    return max(1, math.ceil(item_bytes / unit))


def per_task(inputs: Inputs, assumptions: Assumptions) -> PerTask:
    local = inputs.local
    functions = functions_at_volume(inputs, assumptions)
    items = local.get("item_bytes", {})
    s3_puts = requests(local, "s3:PutObject")
    if assumptions.regions_per_task is not None:
        s3_puts += assumptions.regions_per_task - float(local["regions_per_task"])
    transitions = inputs.polls_per_task * TRANSITIONS_PER_POLL + TRANSITIONS_FIXED
    events_per_state = float(local["history_events_per_execution"]["mean"]) / float(
        local["states_entered_per_execution"]["mean"]
    )
    logs = sum(
        float(local["log_bytes_per_task"].get(name, 0.0))
        / float(local["functions"][name]["invocations_per_task"])
        * f.invocations
        for name, f in functions.items()
    )
    logs += sum(f.invocations for f in functions.values()) * assumptions.platform_log_bytes
    logs += transitions * events_per_state * assumptions.state_log_bytes_per_event
    starter = functions.get(STARTER)
    return PerTask(
        polls=inputs.polls_per_task,
        transitions=transitions,
        functions=functions,
        s3_puts=s3_puts,
        s3_gets=requests(local, "s3:GetObject"),
        results_wru=requests(local, "dynamodb:UpdateItem ResultsTable")
        * write_units(float(items.get("ResultsTable", 1))),
        history_wru=requests(local, "dynamodb:UpdateItem PollingHistoryTable")
        * write_units(float(items.get("PollingHistoryTable", 1))),
        history_query_rru=write_units(
            HISTORY_DAYS * float(items.get("PollingHistoryTable", 1)), READ_UNIT_BYTES
        )
        * EVENTUAL_READ,
        events_ours=requests(local, "events:PutEvents"),
        # EventBridge's SendMessage, then per starter invocation a receive and a delete batch.
        sqs_requests=1 + 2 * (starter.invocations if starter else 1),
        log_bytes=logs,
        start_executions=requests(local, "states:StartExecution"),
    )


# --- rates and limits -------------------------------------------------------------------------
def peak_rate(assumptions: Assumptions) -> float:
    return assumptions.tasks_per_day / DAY_SECONDS * assumptions.peak_factor


def concurrency(rate: float, function: Function) -> float:
    """Little's law: concurrent executions = invocations per second x seconds each (p95, so
    slow invocations are covered)."""
    return rate * function.invocations * function.p95_ms / 1000


def history_queries_per_second(task: PerTask, rate: float) -> float:
    """Each warm starter reads each kind it sees at most once per CACHE_SECONDS."""
    starter = task.functions.get(STARTER)
    warm = math.ceil(concurrency(rate, starter)) if starter else 1
    return min(max(warm, 1) * KINDS / CACHE_SECONDS, rate)


def limits(inputs: Inputs, task: PerTask, assumptions: Assumptions) -> list[Utilisation]:
    """Demand at peak against each limit, highest utilisation first."""
    rate = peak_rate(assumptions)
    q = QUOTAS
    lambda_total = sum(concurrency(rate, f) for f in task.functions.values())
    rows = [
        Utilisation(
            "Aspose API calls (ASSUMED limit)",
            rate * (task.polls + 1),
            assumptions.aspose_calls_per_second,
            "/s",
            "assumed",
            f"ours (polls) {rate * task.polls:.1f}/s + the client's submissions {rate:.1f}/s",
        ),
        util(q["start_execution"], rate * task.start_executions),
        util(q["state_transition"], rate * task.transitions),
        util(
            q["open_executions"],
            rate * inputs.deadline_seconds,
            "worst case: every task polled until the deadline",
        ),
        util(q["lambda_concurrency"], lambda_total, "all four functions, p95 duration"),
        util(q["s3_put"], rate * task.s3_puts, "all keys under results/ before S3 splits it"),
        util(q["s3_get"], rate * task.s3_gets, "all keys under results/"),
        util(q["ddb_table_writes"], rate * (task.results_wru + task.history_wru), "both tables"),
        util(
            q["ddb_partition_writes"],
            rate * task.history_wru,
            f"history item kind+day, worst case all tasks one kind (of {KINDS})",
        ),
        util(
            q["ddb_partition_reads"],
            history_queries_per_second(task, rate) * task.history_query_rru,
            "history Query: warm starters x kinds per minute",
        ),
        util(q["put_events"], rate * (task.events_ours + 1), "outcome (ours) + submitted"),
        util(q["rule_invocations"], rate, "submitted event -> start queue"),
    ]
    if inputs.reserved_concurrency > 0 and CHECK in task.functions:
        rows.append(
            Utilisation(
                "Check function reserved concurrency",
                concurrency(rate, task.functions[CHECK]),
                inputs.reserved_concurrency,
                "",
                "template AsposeReservedConcurrency",
            )
        )
    return rank(rows)


def util(quota: Quota, demand: float, note: str = "") -> Utilisation:
    return Utilisation(quota.name, demand, quota.limit, quota.unit, quota.source, note)


def rank(rows: Sequence[Utilisation]) -> list[Utilisation]:
    """Highest utilisation first: the first row is what limits first."""
    return sorted(rows, key=lambda row: row.share, reverse=True)


# --- cost -------------------------------------------------------------------------------------
def costs(task: PerTask, assumptions: Assumptions) -> list[CostItem]:
    """Per 1,000 tasks at list prices, itemised."""
    k = 1000
    gb_s = task.gb_seconds(assumptions.cold_start_share)
    ddb_reads_per_task = (
        history_queries_per_second(task, assumptions.tasks_per_day / DAY_SECONDS)
        * task.history_query_rru
        / (assumptions.tasks_per_day / DAY_SECONDS)
    )
    return [
        CostItem(
            "Step Functions transitions",
            k * task.transitions * prices.TRANSITION,
            f"{task.transitions:.1f} per task",
        ),
        CostItem(
            "Lambda requests",
            k * task.lambda_requests * prices.LAMBDA_REQUEST,
            f"{task.lambda_requests:.2f} per task",
        ),
        CostItem(
            "Lambda GB-seconds", k * gb_s * prices.LAMBDA_GB_SECOND, f"{gb_s:.3f} GB-s per task"
        ),
        CostItem("S3 PUT", k * task.s3_puts * prices.S3_PUT, f"{task.s3_puts:.1f} per task"),
        CostItem("S3 GET", k * task.s3_gets * prices.S3_GET, f"{task.s3_gets:.1f} per task"),
        CostItem(
            "DynamoDB writes",
            k * (task.results_wru + task.history_wru) * prices.DDB_WRITE,
            f"{task.results_wru + task.history_wru:.0f} WRU per task",
        ),
        CostItem(
            "DynamoDB reads",
            k * ddb_reads_per_task * prices.DDB_READ,
            f"{ddb_reads_per_task:.4f} RRU per task",
        ),
        CostItem("EventBridge events", k * task.events_ours * prices.EVENTS, "the outcome event"),
        CostItem(
            "SQS requests", k * task.sqs_requests * prices.SQS_REQUEST, f"{task.sqs_requests:.1f}"
        ),
        CostItem(
            "CloudWatch Logs ingestion",
            k * task.log_bytes / 1e9 * prices.LOGS_INGESTED_GB,
            f"{task.log_bytes / 1000:.1f} KB per task (estimate)",
        ),
        CostItem(
            "Aspose polls",
            k * task.polls * assumptions.aspose_call_price,
            f"{task.polls:.2f} per task at ${assumptions.aspose_call_price:g} (ASSUMED)",
        ),
        CostItem(
            "Aspose submission (the client's)",
            k * assumptions.aspose_call_price,
            "1 per task, paid by whoever submits",
            ours=False,
        ),
        CostItem("Submitted event (the client's)", k * prices.EVENTS, "1 per task", ours=False),
    ]


def totals(items: Sequence[CostItem]) -> dict[str, float]:
    """Per 1,000 tasks: AWS alone, ours with Aspose polls, and with the client's share."""
    ours = [item for item in items if item.ours]
    aws = sum(item.per_thousand for item in ours if not item.name.startswith("Aspose"))
    with_polls = sum(item.per_thousand for item in ours)
    return {
        "aws": aws,
        "ours_with_aspose_polls": with_polls,
        "everything": sum(item.per_thousand for item in items),
    }


# --- polls and Aspose's rate ------------------------------------------------------------------
def poll_spread(inputs: Inputs, task: PerTask, assumptions: Assumptions) -> dict[str, float]:
    """What keeps the fleet's polls under Aspose's rate, in numbers."""
    rate = peak_rate(assumptions)
    check = task.functions[CHECK]
    seconds_per_poll = check.mean_ms / 1000 / (check.invocations / task.polls)
    left_for_polls = max(assumptions.aspose_calls_per_second - rate, 0.0)
    needed = rate * task.polls * seconds_per_poll
    return {
        "peak_tasks_per_s": rate,
        "peak_polls_per_s": rate * task.polls,
        "peak_submissions_per_s": rate,
        "tutorial_polls_per_s": rate * inputs.tutorial_polls_per_task,
        "aspose_limit_per_s": assumptions.aspose_calls_per_second,
        "left_for_polls_per_s": left_for_polls,
        "check_seconds_per_poll": seconds_per_poll,
        "check_concurrency_needed": needed,
        # A reservation caps the poll rate at reservation / seconds per poll.
        "reserved_concurrency_for_limit": math.floor(left_for_polls * seconds_per_poll),
        "reserved_concurrency": float(inputs.reserved_concurrency),
        "max_tasks_per_day_under_limit": (
            assumptions.aspose_calls_per_second / (task.polls + 1) / assumptions.peak_factor
        )
        * DAY_SECONDS,
    }


# --- the plan ---------------------------------------------------------------------------------
def plan(assumptions: Assumptions, bench: Path = BENCH) -> dict[str, Any]:
    inputs = load_inputs(bench)
    note_fallbacks(inputs)
    task = per_task(inputs, assumptions)
    ranked = limits(inputs, task, assumptions)
    items = costs(task, assumptions)
    total = totals(items)
    aws_rows = [row for row in ranked if not row.name.startswith("Aspose")]
    aspose = next(row for row in ranked if row.name.startswith("Aspose"))
    return {
        "assumptions": asdict(assumptions),
        "inputs": {"sources": inputs.sources, "fallbacks": inputs.fallbacks},
        "per_task": {
            "aspose_calls_ours": task.polls,
            "aspose_calls_client": 1.0,
            "tutorial_polls": inputs.tutorial_polls_per_task,
            "transitions": task.transitions,
            "lambda_requests": task.lambda_requests,
            "gb_seconds": task.gb_seconds(assumptions.cold_start_share),
            "functions": {name: asdict(f) for name, f in task.functions.items()},
            "s3_puts": task.s3_puts,
            "s3_gets": task.s3_gets,
            "regions": assumptions.regions_per_task or float(inputs.local["regions_per_task"]),
            "dynamodb_wru": task.results_wru + task.history_wru,
            "events_ours": task.events_ours,
            "sqs_requests": task.sqs_requests,
            "log_bytes": task.log_bytes,
        },
        "peak_memory_mb": peak_memory_mb(inputs),
        "memory_size_mb": inputs.memory_mb,
        "limits": [{**asdict(row), "utilisation": row.share} for row in ranked],
        "limits_first": ranked[0].name,
        "aws_limits_first": aws_rows[0].name,
        # Aspose stays below every AWS limit while it allows at least this many calls/s.
        "aspose_limit_to_not_limit_first": aspose.demand / aws_rows[0].share,
        "cost_per_1000": [asdict(item) for item in items],
        "totals_per_1000": total,
        "per_month": {
            key: value * assumptions.tasks_per_day * MONTH_DAYS / 1000
            for key, value in total.items()
        },
        "polls": poll_spread(inputs, task, assumptions),
    }


# --- output -----------------------------------------------------------------------------------
def with_unit(value: float, unit: str) -> str:
    return f"{fmt(value)}{' ' if unit[:1].isalpha() else ''}{unit}"


def fmt(value: float) -> str:
    """A figure as a person reads it: thousands separated, two significant decimals below 10."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 0.01 else f"{value:.2g}"


def markdown(result: dict[str, Any]) -> str:
    """The figures section of docs/capacity.md."""
    a, t, p = result["assumptions"], result["per_task"], result["polls"]
    sources = ", ".join(result["inputs"]["sources"])
    lines = [
        f"Generated by `python -m tests.bench.capacity` from {sources}"
        f" at **{a['tasks_per_day']:,.0f} tasks/day**, peak {a['peak_factor']:g}x the average "
        f"(**{p['peak_tasks_per_s']:.1f} tasks/s**); Aspose's limit ASSUMED "
        f"{a['aspose_calls_per_second']:g} calls/s, its price ASSUMED ${a['aspose_call_price']:g}"
        " per call.",
        "",
    ]
    lines += [f"- Fallback: {text}" for text in result["inputs"]["fallbacks"]]
    lines += ["", "#### Per task", "", "| figure | per task |", "|---|---|"]
    per_task_rows = [
        ("Aspose calls: polls (ours)", t["aspose_calls_ours"]),
        ("Aspose calls: submission (the client's)", t["aspose_calls_client"]),
        ("Aspose polls the tutorial's loop would make", t["tutorial_polls"]),
        ("Step Functions state transitions", t["transitions"]),
        ("Lambda requests", t["lambda_requests"]),
        ("Lambda GB-seconds", t["gb_seconds"]),
        (
            f"S3 PUT / GET ({t['regions']:g} regions a task)",
            f"{fmt(t['s3_puts'])} / {fmt(t['s3_gets'])}",
        ),
        ("DynamoDB write units", t["dynamodb_wru"]),
        ("EventBridge events (ours)", t["events_ours"]),
        ("SQS requests", t["sqs_requests"]),
        ("CloudWatch Logs bytes (estimate)", t["log_bytes"]),
    ]
    lines += [f"| {name} | {v if isinstance(v, str) else fmt(v)} |" for name, v in per_task_rows]
    lines += [
        "",
        "| function | invocations/task | mean ms | p95 ms | MemorySize MB | peak MB |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in t["functions"].items():
        peak = result["peak_memory_mb"].get(name)
        lines.append(
            f"| {name} | {fmt(f['invocations'])} | {f['mean_ms']:.0f} | {f['p95_ms']:.0f} | "
            f"{f['memory_mb']:.0f} | {'' if peak is None else f'{peak:.0f}'} |"
        )
    lines += limits_markdown(result) + cost_markdown(result) + polls_markdown(result)
    if "fleet" in result:
        lines += fleet_markdown(result["fleet"])
    return "\n".join(lines) + "\n"


def limits_markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "#### At peak, what limits first",
        "",
        "| # | limit | demand at peak | default quota | used | note |",
        "|---|---|---|---|---|---|",
    ]
    for number, row in enumerate(result["limits"], 1):
        source = row["source"]
        quota = with_unit(row["limit"], row["unit"])
        quota = f"[{quota}]({source})" if source.startswith("http") else f"{quota} ({source})"
        lines.append(
            f"| {number} | {row['name']} | {with_unit(row['demand'], row['unit'])} | {quota} | "
            f"{row['utilisation']:.1%} | {row['note']} |"
        )
    lines += [
        "",
        f"First: **{result['limits_first']}**. Aspose stops being the first limit only if it "
        f"allows more than **{result['aspose_limit_to_not_limit_first']:,.0f} calls/s**; the "
        f"first AWS limit is {result['aws_limits_first']}.",
    ]
    return lines


def cost_markdown(result: dict[str, Any]) -> list[str]:
    a = result["assumptions"]
    lines = ["", "#### Cost per 1,000 tasks (list prices)", "", "| item | $ | basis |"]
    lines.append("|---|---|---|")
    for item in result["cost_per_1000"]:
        name = item["name"] if item["ours"] else f"*{item['name']}*"
        cost = item["per_thousand"]
        shown = f"{cost:.4f}" if cost >= 0.0001 or cost == 0 else "<0.0001"
        lines.append(f"| {name} | {shown} | {item['basis']} |")
    total, month = result["totals_per_1000"], result["per_month"]
    lines += [
        f"| **AWS** | **{total['aws']:.3f}** | |",
        f"| **ours, with Aspose polls** | **{total['ours_with_aspose_polls']:.2f}** | |",
        f"| everything, with the client's share | {total['everything']:.2f} | |",
        "",
        f"Per month ({MONTH_DAYS} days at {a['tasks_per_day']:,.0f}/day): AWS "
        f"**${month['aws']:,.0f}**, with Aspose polls **${month['ours_with_aspose_polls']:,.0f}**"
        f", with the client's submissions ${month['everything']:,.0f}. Storage (S3, DynamoDB, "
        "logs kept for their retention), X-Ray traces and fixed monthly items (custom metrics, "
        "alarms, the dashboard, the KMS key) are not per task and are left out.",
    ]
    return lines


def polls_markdown(result: dict[str, Any]) -> list[str]:
    p = result["polls"]
    reserved = (
        f"set to {p['reserved_concurrency']:.0f}"
        if p["reserved_concurrency"]
        else "0 in the template (no reservation)"
    )
    return [
        "",
        "#### Polls against Aspose's rate, at peak",
        "",
        f"- Polls (ours): **{p['peak_polls_per_s']:.1f}/s**; submissions (the client's): "
        f"{p['peak_submissions_per_s']:.1f}/s; the tutorial's loop would poll "
        f"{p['tutorial_polls_per_s']:.1f}/s.",
        f"- ASSUMED Aspose limit {p['aspose_limit_per_s']:g} calls/s leaves "
        f"{p['left_for_polls_per_s']:.1f}/s for polls; the check function spends "
        f"{p['check_seconds_per_poll']:.2f} s per poll (measured, including the make-up wait), "
        f"so polling at peak keeps {p['check_concurrency_needed']:.1f} check functions busy on "
        "average (the limits table counts p95 durations).",
        f"- AsposeReservedConcurrency {reserved}: a reservation of "
        f"**{p['reserved_concurrency_for_limit']:.0f}** caps polls at the rate left for them "
        "(reservation / seconds per poll).",
        f"- At this peak factor the assumed limit carries up to "
        f"**{p['max_tasks_per_day_under_limit']:,.0f} tasks/day**.",
    ]


def table(result: dict[str, Any]) -> None:
    p, total = result["polls"], result["totals_per_1000"]
    a = result["assumptions"]
    print(
        f"\n## Capacity at {a['tasks_per_day']:,.0f} tasks/day, peak {a['peak_factor']:g}x = "
        f"{p['peak_tasks_per_s']:.1f} tasks/s (Aspose limit ASSUMED "
        f"{a['aspose_calls_per_second']:g}/s, ${a['aspose_call_price']:g}/call ASSUMED)"
    )
    for text in result["inputs"]["fallbacks"]:
        print(f"  fallback: {text}")
    print(f"{'limit':<48} {'demand at peak':>16} {'quota':>12} {'used':>7}")
    for row in result["limits"]:
        print(
            f"{row['name']:<48} {with_unit(row['demand'], row['unit']):>16} "
            f"{with_unit(row['limit'], row['unit']):>12} {row['utilisation']:>7.1%}"
        )
    print(f"limits first: {result['limits_first']}")
    print("cost per 1,000 tasks:")
    for item in result["cost_per_1000"]:
        mark = "" if item["ours"] else "  (not ours)"
        print(f"  {item['name']:<36} ${item['per_thousand']:>9.4f}  {item['basis']}{mark}")
    print(
        f"  AWS ${total['aws']:.3f}; with Aspose polls ${total['ours_with_aspose_polls']:.2f}; "
        f"per month AWS ${result['per_month']['aws']:,.0f}, with Aspose polls "
        f"${result['per_month']['ours_with_aspose_polls']:,.0f}"
    )


def render_doc(section: str, doc: Path = DOC) -> bool:
    """Replace what is between the markers in ``doc``; False when the markers are missing."""
    if not doc.exists():
        return False
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return False
    doc.write_text(text[: start + len(BEGIN)] + "\n" + section + text[end:], encoding="utf-8")
    return True


def fleet_figures(result: dict[str, Any], assumptions: Assumptions) -> dict[str, Any]:
    """The fleet's budget at Aspose's limit (alone, and beside the clients' submissions, which
    share the limit) at the peak, and a one-hour outage at the average rate, with and without
    the breaker (:mod:`tests.bench.fleet`)."""
    p = result["polls"]
    peak, limit = p["peak_tasks_per_s"], assumptions.aspose_calls_per_second
    beside = max(limit - p["peak_submissions_per_s"], 1.0)
    return {
        "budget_at_limit": budget_figures(limit, peak),
        "budget_beside_submissions": budget_figures(beside, peak),
        "outage": outage_figures(assumptions.tasks_per_day / DAY_SECONDS),
    }


def fleet_markdown(fleet: dict[str, Any]) -> list[str]:
    alone, beside, outage = (
        fleet["budget_at_limit"],
        fleet["budget_beside_submissions"],
        fleet["outage"],
    )

    def budget_row(name: str, b: dict[str, Any]) -> str:
        return (
            f"| {name} | {b['calls_per_second_budget']:.0f} | {b['calls_per_second_demand']:g} | "
            f"{b['writes_per_call']:g} | {b['added_delay_p50_s']:g} / {b['added_delay_p95_s']:g} /"
            f" {b['added_delay_max_s']:g} s | ${b['cost_per_1000_tasks']:.4f} |"
        )

    return [
        "",
        "#### The fleet: a shared budget and a circuit breaker",
        "",
        "The budget (`AsposeCallsPerSecond`) at the peak, its slots spaced at four fifths of the "
        "rate (the headroom that keeps every second within it); the polls of the `realistic` "
        "workload replayed through it for ten minutes:",
        "",
        "| budget | calls/s | polls/s asked | DynamoDB writes per call | delay added to the "
        "poll that finds a task (p50 / p95 / max) | DynamoDB per 1,000 tasks |",
        "|---|---|---|---|---|---|",
        budget_row("all of Aspose's limit", alone),
        budget_row("what the submissions leave of it", beside),
        "",
        "Each check also reads the fleet item once (half a read unit). A budget below the polls "
        "asked cannot keep up: the added delay then grows for as long as the peak lasts.",
        "",
        f"A one-hour outage at the average rate ({outage['tasks_per_second']:g} tasks/s): "
        f"**{outage['calls_without_breaker']:,} calls** to Aspose without the breaker (every "
        f"task polling up to every 120 s), **{outage['calls_with_breaker']:,}** with it (the run "
        f"of non-answers that opens it, then one probe per {outage['probe_seconds']:g} s): "
        f"{outage['calls_saved']:,} calls saved (${outage['aspose_cost_saved']:,.2f} at the "
        "ASSUMED price). The price is paid after recovery: each paused task polls at the end of "
        f"its paused wait, p50 {outage['resume_after_recovery_p50_s']:.0f} s, p95 "
        f"{outage['resume_after_recovery_p95_s']:.0f} s, at most "
        f"{outage['resume_after_recovery_max_s']:.0f} s after the breaker closes (paused waits "
        "grow to 40 probe intervals, which keeps a 23-hour pause under 300 state transitions).",
    ]


def capacity_plan(assumptions: Assumptions | None = None) -> dict[str, Any]:
    """The bench section: compute, print, write the JSON and, with the default assumptions
    only (the document's), the document's figures."""
    assumptions = assumptions or Assumptions()
    result = plan(assumptions)
    result["fleet"] = fleet_figures(result, assumptions)
    table(result)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {OUTPUT.relative_to(ROOT)}")
    if assumptions != Assumptions():
        print(f"not written: {DOC.relative_to(ROOT)} (it holds the default assumptions' plan)")
    elif render_doc(markdown(result)):
        print(f"written: {DOC.relative_to(ROOT)} (between {BEGIN} and {END})")
    return result


def arguments(argv: Sequence[str] | None = None) -> Assumptions:
    defaults = Assumptions()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    for name, value in asdict(defaults).items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=value, help=f"(default {value})"
        )
    parsed = vars(parser.parse_args(argv))
    return replace(defaults, **parsed)


if __name__ == "__main__":
    capacity_plan(arguments())
