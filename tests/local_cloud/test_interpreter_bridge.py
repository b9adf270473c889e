"""The bridge to the second interpreter on its own, without a stack: what a Task answers and how it
fails reach aws-local-stepfunctions as Step Functions would hand them to the definition, so that
what ``tests/workflow/test_second_interpreter.py`` compares is the interpreters, not the bridge.

Each test is one small execution in one Node process (under a second each).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from infra.local.interpreter import ExecutionRequest, InterpreterRun, NodeRunner, TaskFailed

MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:bridge"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:bridge:run-1"
INVOKE = "arn:aws:states:::lambda:invoke"


@dataclass
class Scripted:
    """Answers each Task call with the next of ``answers`` (a result, or a TaskFailed to
    raise), and keeps what it was called with."""

    answers: list[Any]
    calls: list[tuple[str, Any, str]] = field(default_factory=list)

    def call(self, resource: str, parameters: Any, execution_arn: str) -> Any:
        self.calls.append((resource, parameters, execution_arn))
        answer = self.answers.pop(0)
        if isinstance(answer, TaskFailed):
            raise answer
        return answer


@pytest.fixture(scope="module")
def runner() -> NodeRunner:
    return NodeRunner.installed()


def run(runner: NodeRunner, states: dict[str, Any], tasks: Scripted, data: Any) -> InterpreterRun:
    definition = {"StartAt": next(iter(states)), "States": states}
    request = ExecutionRequest(definition, data, EXECUTION, MACHINE)
    return runner.start(request, tasks).wait(30)


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": INVOKE, **fields}


def exited(done: InterpreterRun, state: str) -> Any:
    return next(
        e["state"]["output"]
        for e in done.events
        if e["type"] == "StateExited" and e["state"]["name"] == state
    )


def test_a_task_gets_its_parameters_with_the_context_and_its_result_goes_through_the_selector(
    runner: NodeRunner,
) -> None:
    # Given a lambda:invoke Task reading the input and the context object
    states = {
        "Call": task(
            Parameters={
                "FunctionName": "f",
                "Payload": {"n.$": "$.n", "name.$": "$$.Execution.Name", "id.$": "$$.Execution.Id"},
            },
            ResultSelector={"doubled.$": "$.Payload.doubled"},
            ResultPath="$.result",
            End=True,
        )
    }
    tasks = Scripted([{"StatusCode": 200, "Payload": {"doubled": 4}}])
    # When it runs
    done = run(runner, states, tasks, {"n": 2})
    # Then the bridge was called with the resolved Parameters and the execution's ARN
    assert tasks.calls == [
        (
            INVOKE,
            {"FunctionName": "f", "Payload": {"n": 2, "name": "run-1", "id": EXECUTION}},
            EXECUTION,
        )
    ]
    # And the result went through ResultSelector and ResultPath
    assert done.status == "SUCCEEDED"
    assert exited(done, "Call") == {"n": 2, "result": {"doubled": 4}}


def test_a_failure_is_retried_then_caught_under_its_name_with_its_cause(
    runner: NodeRunner,
) -> None:
    # Given a Task retried once on Boom, then catching it
    states = {
        "Call": task(
            Parameters={"FunctionName": "f"},
            Retry=[{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            Catch=[{"ErrorEquals": ["Boom"], "ResultPath": "$.failure", "Next": "Failed"}],
            End=True,
        ),
        "Failed": {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"},
    }
    cause = json.dumps({"errorType": "Boom", "errorMessage": "no"})
    tasks = Scripted([TaskFailed("Boom", cause), TaskFailed("Boom", cause)])
    # When it runs
    done = run(runner, states, tasks, {})
    # Then it was tried twice, and the Catch put {Error, Cause} where it said
    assert len(tasks.calls) == 2
    assert exited(done, "Call") == {"failure": {"Error": "Boom", "Cause": cause}}
    assert (done.status, done.error, done.cause) == ("FAILED", "Boom", cause)


def test_an_uncaught_failure_fails_the_execution_naming_it(runner: NodeRunner) -> None:
    states = {"Call": task(Parameters={"FunctionName": "f"}, End=True)}
    done = run(runner, states, Scripted([TaskFailed("EventBridge.FailedEntry", "{}")]), {})
    assert (done.status, done.error, done.cause) == ("FAILED", "EventBridge.FailedEntry", "{}")


def test_a_wait_of_zero_seconds_path_and_a_choice_route_as_in_the_definition(
    runner: NodeRunner,
) -> None:
    states = {
        "Wait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Route"},
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.wait", "NumericGreaterThan": 0, "Next": "No"}],
            "Default": "Yes",
        },
        "Yes": {"Type": "Succeed"},
        "No": {"Type": "Fail", "Error": "Wrong"},
    }
    done = run(runner, states, Scripted([]), {"wait": 0})
    entered = [e["state"]["name"] for e in done.events if e["type"] == "StateEntered"]
    assert (done.status, entered) == ("SUCCEEDED", ["Wait", "Route", "Yes"])
