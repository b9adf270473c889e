"""A smoke run, step by step: state what will be made and what it costs, ask, then build, deploy,
put the secret, subscribe, submit, follow, check, and always clean up and report.

The order is the point: nothing is made before the user has said yes (or ``YES=1``), and the
cleanup runs whatever happened before it (a failed step, an error, Ctrl-C or SIGTERM), shielded
from a first Ctrl-C of its own, so a run never leaves a stack behind without saying so.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any, TypeVar

from infra.ops.cli.actions import Followed, Submission, announce, follow, send
from infra.ops.cli.output import ProgressLines
from infra.ops.cli.target import Target
from infra.ops.cli.views import inspect_task
from infra.ops.smoke import checks, cost
from infra.ops.smoke.cleanup import delete_stack, remove_consumer
from infra.ops.smoke.deployer import Deployer
from infra.ops.smoke.leftovers import look_for_leftovers
from infra.ops.smoke.plan import PARAMETERS, TASK_TIMEOUT_S, Plan, resource_types, stack_name
from infra.ops.smoke.report import Check, Report, Step
from infra.ops.smoke.sample import Sample
from infra.stack.aspose import ENV_CLIENT_ID, ENV_CLIENT_SECRET, deployed_aspose
from infra.stack.outcomes import OutcomeSubscription, TaskOutcome
from infra.stack.serving import sigterm_as_interrupt
from infra.stack.session import StackSession
from infra.stack.waiting import WaitTimeout, wait_until
from ocr_fetch.credentials import Credentials

T = TypeVar("T")
Say = Callable[[str], None]
#: On AWS, alarms are watched this long after the outcome: their metrics arrive within a minute
#: or two and most alarms evaluate 5-minute periods every minute.
ALARM_WATCH_S = 120.0
SUBMITTER = "ocr-results"


@dataclass(frozen=True)
class SmokeOptions:
    """What a run submits and with which credentials, and how long it waits."""

    sample: Sample
    aspose: Credentials
    yes: bool = False
    task_timeout: float = TASK_TIMEOUT_S
    alarm_watch: float = ALARM_WATCH_S
    parameters: Mapping[str, str] = field(default_factory=lambda: dict(PARAMETERS))
    stack_name: str = field(default_factory=stack_name)


class _Stopped(Exception):
    """A step failed; the run goes on to the cleanup."""


def run_smoke(
    deployer: Deployer, options: SmokeOptions, say: Say, confirm: Callable[[], bool]
) -> Report | None:
    """State the plan and the cost, ask (unless ``options.yes``), run, clean up; the report, or
    None when the user said no (nothing was made)."""
    name = options.stack_name
    consumer = _consumer_name(name)
    plan = Plan(
        deployer.description,
        name,
        dict(options.parameters),
        resource_types(options.parameters),
        (
            *deployer.beside(name),
            f"an SQS queue and an EventBridge rule ({consumer}): the outcome consumer",
        ),
    )
    for line in [*plan.statement(), *cost.statement()]:
        say(line)
    if not options.yes and not confirm():
        say("Nothing deployed.")
        return None
    run = _Run(deployer, options, say, Report(deployer.description, deployer.dry_run, name))
    return run.execute()


def _consumer_name(stack: str) -> str:
    return f"{stack}-outcomes"


class _Run:
    """One run's state: what has been made so far, and the report being written."""

    def __init__(self, deployer: Deployer, options: SmokeOptions, say: Say, report: Report):
        self.deployer = deployer
        self.options = options
        self.say = say
        self.report = report
        self.bus: str | None = None
        self.deployed_at = datetime.now(UTC)

    def execute(self) -> Report:
        started = time.monotonic()
        with sigterm_as_interrupt():  # the stack is deleted either way
            try:
                self._main()
            except _Stopped:
                self.say("A step failed: deleting the stack.")
            except KeyboardInterrupt:
                self.report.interrupted = True
                self.say("\nInterrupted: deleting the stack before stopping.")
            except Exception as error:  # outside any step (a consumer that would not stop)
                self.report.steps.append(Step("run", False, 0.0, _one_line(error)))
                self.say(f"Failed: {_one_line(error)}; deleting the stack.")
            finally:
                self._shielded_cleanup()
        self.report.finish_checks()
        self.report.seconds = time.monotonic() - started
        return self.report

    # -- the steps ---------------------------------------------------------------------------
    def step(self, name: str, action: Callable[[], tuple[T, str]]) -> T:
        """Run one step, timed; a failure is recorded in one line and stops the run."""
        self.say(f"-- {name}")
        started = time.monotonic()
        try:
            value, detail = action()
        except KeyboardInterrupt:
            self.report.steps.append(Step(name, False, time.monotonic() - started, "interrupted"))
            raise
        except Exception as error:
            line = _one_line(error)
            self.report.steps.append(Step(name, False, time.monotonic() - started, line))
            self.say(f"   failed: {line}")
            raise _Stopped(name) from error
        took = time.monotonic() - started
        self.report.steps.append(Step(name, True, took, detail))
        self.say(f"   ok ({took:.1f} s): {detail}")
        return value

    def _main(self) -> None:
        name = self.options.stack_name
        self.step("build", lambda: (None, self.deployer.build()))
        self.deployed_at = datetime.now(UTC)
        self.step("deploy", self._deploy)
        session = self.step("stack outputs", lambda: self._session(name))
        self.step("secret", lambda: self._put_secret(session))
        subscription = self.step("consumer", lambda: self._subscribe(session))
        try:
            task_id, correlation_id = self.step("submit", lambda: self._submit(session))
            outcome = self.step("outcome", lambda: self._follow(session, task_id, subscription))
            self._check_task(session, outcome, correlation_id)
        finally:
            subscription.stop()
        self.step("alarm watch", self._watch_alarms)
        self._check(
            "alarms", lambda: checks.check_alarms(self.deployer.client, name, self.deployed_at)
        )

    def _deploy(self) -> tuple[None, str]:
        self.deployer.deploy(self.options.stack_name, self.options.parameters)
        return None, f"stack {self.options.stack_name} created"

    def _session(self, name: str) -> tuple[StackSession, str]:
        session = StackSession.for_stack(name, self.deployer)
        self.bus = session.outputs.event_bus_name
        return session, f"bus {self.bus}, bucket {session.outputs.results_bucket}"

    def _put_secret(self, session: StackSession) -> tuple[None, str]:
        session.put_aspose_credentials(self.options.aspose)
        stored = session.aspose_credentials()
        if stored != self.options.aspose:
            raise ValueError("the secret does not hold the credentials just put in it")
        return None, "Aspose credentials put in the stack's secret and read back (never shown)"

    def _subscribe(self, session: StackSession) -> tuple[OutcomeSubscription, str]:
        consumer = _consumer_name(self.options.stack_name)
        subscription = session.subscribe_outcomes(consumer)
        return subscription, f"queue {consumer} receives the bus's outcome events"

    def _submit(self, session: StackSession) -> tuple[tuple[str, str], str]:
        """Send the sample to Aspose and announce it, as ``ocr-results submit`` does."""
        sample = self.options.sample
        correlation_id = f"smoke-{secrets.token_hex(4)}"
        submission = Submission(
            sample.image,
            sample.regions,
            correlation_id=correlation_id,
            metadata={"submittedBy": "make smoke"},
            source=SUBMITTER,
        )
        environment = {
            ENV_CLIENT_ID: self.options.aspose.client_id,
            ENV_CLIENT_SECRET: self.options.aspose.client_secret,
        }
        target = Target(
            f"stack {self.options.stack_name}",
            session,
            lambda: deployed_aspose(session, environment),
        )
        task_id = send(target, submission)
        self.report.task_id = task_id
        announce(session, submission, task_id)
        return (task_id, correlation_id), (
            f"task {task_id}: {len(sample.regions)} regions sent to Aspose, announced on the bus"
        )

    def _follow(
        self, session: StackSession, task_id: str, subscription: OutcomeSubscription
    ) -> tuple[TaskOutcome, str]:
        lines = ProgressLines(self.say, datetime.now(UTC))
        outcomes = follow(
            session,
            [Followed(task_id)],
            lines,
            timeout=self.options.task_timeout,
            subscription=subscription,
        )
        outcome = outcomes[task_id]
        polls = outcome.execution.polls_made
        return outcome, (
            f"{outcome.status} after {polls} poll{'s' * (polls != 1)} "
            f"(execution {outcome.execution.status})"
        )

    def _check_task(self, session: StackSession, outcome: TaskOutcome, correlation: str) -> None:
        sample = self.options.sample
        found = inspect_task(session, outcome.task_id, show_text=True)
        self._check("regions", lambda: checks.check_regions(found, sample))
        self._check("item", lambda: checks.check_item(found.item, outcome.execution, sample))
        self._check(
            "outcome event",
            lambda: checks.check_event(outcome.event, outcome.task_id, sample, correlation),
        )

    def _check(self, name: str, check: Callable[[], Check]) -> None:
        try:
            found = check()
        except Exception as error:
            found = Check(name, "failed", [f"the check could not run: {_one_line(error)}"])
        self.report.checks.append(found)
        self.say(f"   check {name}: {found.status}")

    def _watch_alarms(self) -> tuple[None, str]:
        """Give CloudWatch time to evaluate the run's metrics; stop early if an alarm fires."""
        seconds = self.options.alarm_watch
        if seconds <= 0:
            return None, "not watched (the local cloud evaluates no alarm)"
        names = checks.stack_alarm_names(self.deployer.client, self.options.stack_name)
        if not names:
            return None, "the stack has no alarms to watch"
        cloudwatch = self.deployer.client("cloudwatch")

        def firing() -> bool:
            answer = cloudwatch.describe_alarms(
                AlarmNames=names[:100],
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                StateValue="ALARM",
            )
            return bool(answer.get("MetricAlarms") or answer.get("CompositeAlarms"))

        try:
            wait_until(firing, timeout=seconds, what="an alarm of the stack", every=10.0)
        except WaitTimeout:
            return None, f"{len(names)} alarms watched for {seconds:g} s: none fired"
        return None, "an alarm fired while watched"

    # -- the cleanup ---------------------------------------------------------------------------
    def _shielded_cleanup(self) -> None:
        """The cleanup, which a first interrupt does not stop; a second one abandons it, and the
        report says what may be left and how to delete it."""
        try:
            with _shielded(self.say):
                self._cleanup()
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.report.deleted = False
            self.report.cleanup.append(
                Step(
                    "abandoned",
                    False,
                    0.0,
                    "interrupted twice: the stack may be left; delete it with `aws cloudformation "
                    f"delete-stack --stack-name {self.options.stack_name}`",
                )
            )

    def _cleanup(self) -> None:
        """Remove the consumer, delete the stack, look for leftovers, remove the deployer's own;
        each recorded, each tried whatever the one before did."""
        name, client = self.options.stack_name, self.deployer.client
        self.say("-- cleanup")
        ok = True
        if self.bus is not None:
            bus = self.bus
            ok &= self._tidy("consumer", lambda: remove_consumer(client, bus, _consumer_name(name)))
        deletion = None

        def delete() -> str:
            nonlocal deletion
            deletion = delete_stack(client, name)
            if not deletion.completed:
                raise RuntimeError(deletion.detail)
            return deletion.detail

        ok &= self._tidy("stack", delete)
        if deletion is not None and deletion.completed:
            resources = deletion.resources
            ok &= self._tidy("leftovers", lambda: self._leftovers(resources))
        ok &= self._tidy("deployer", lambda: "; ".join(self.deployer.discard()) or "nothing made")
        self.report.deleted = ok

    def _leftovers(self, resources: list[Any]) -> str:
        found = look_for_leftovers(self.deployer.client, resources, self.options.stack_name)
        if found.remaining:
            raise RuntimeError("still there: " + "; ".join(found.remaining))
        return "none; " + "; ".join(found.notes) if found.notes else "none"

    def _tidy(self, name: str, action: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail, ok = action(), True
        except Exception as error:
            detail, ok = _one_line(error), False
        self.report.cleanup.append(Step(name, ok, time.monotonic() - started, detail))
        self.say(f"   {name}: {detail}")
        return ok


def _one_line(error: BaseException) -> str:
    """An error as one line: its class and message (botocore's names the AWS error code)."""
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text[:400]}"


# --- signals ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _shielded(say: Say) -> Iterator[None]:
    """The cleanup is not cut short by a first Ctrl-C (or SIGTERM): it says so and goes on; a
    second one stops it, and the report then says the stack may be left."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = [0]

    def hold(signum: int, frame: FrameType | None) -> None:
        pressed[0] += 1
        if pressed[0] > 1:
            raise KeyboardInterrupt
        say("Deleting the stack first; interrupt again to leave it (the report then says so).")

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
