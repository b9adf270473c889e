"""The ASL proof can fail: each mistake it exists for is reported, naming the state and where in
it. A small definition of the product's shape (poll, route, wait, publish) is broken one way at a
time; today's definition and template pass."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.build import asl_check
from infra.build.asl_check import DefinitionCheck, Machine, execution_input
from infra.build.asl_paths import shape_of
from infra.build.intrinsics import TEMPLATE

CHECK = "arn:aws:lambda:us-east-1:123456789012:function:check"
HANDLER = "tests.build.payload_handler"
DEFINITION: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${CheckArn}",
                "Payload": {
                    "taskId.$": "$.taskId",
                    "polls.$": "$.polls",
                    "when.$": "$$.State.EnteredTime",
                },
            },
            "ResultSelector": {"status.$": "$.Payload.status", "waitSeconds.$": "$.Payload.wait"},
            "ResultPath": "$.poll",
            "Next": "Route",
        },
        "Route": {
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.cancelled", "IsPresent": True}, "Next": "Publish"},
                {"Variable": "$.poll.status", "StringEquals": "Running", "Next": "Wait"},
            ],
            "Default": "Publish",
        },
        "Wait": {"Type": "Wait", "SecondsPath": "$.poll.waitSeconds", "Next": "Check"},
        "Publish": {
            "Type": "Task",
            "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {
                "Entries": [
                    {
                        "EventBusName": "${Bus}",
                        "Source": "ocr.region-results",
                        "DetailType": "Done",
                        "Detail.$": "States.JsonMerge($.poll, $.metadata, false)",
                    }
                ]
            },
            "ResultPath": None,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed"}],
            "Next": "Done",
        },
        "Failed": {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"},
        "Done": {"Type": "Succeed"},
    },
}
START = shape_of({"taskId": "t", "polls": 0, "metadata": {"k": "v"}})


class StubHandlers:
    """The template's function ``check`` served by tests/build/payload_handler.py."""

    def handler(self, function: str) -> str | None:
        return f"{HANDLER}.handler" if function.startswith(CHECK) else None


def problems(tmp_path: Path, change: Callable[[dict[str, Any]], object] | None = None) -> list[str]:
    """Each finding on DEFINITION after ``change``, as ``state: where: message``."""
    definition = copy.deepcopy(DEFINITION)
    if change is not None:
        change(definition)
    path = tmp_path / "machine.asl.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    machine = Machine("Machine", path, {"CheckArn": f"{CHECK}:live", "Bus": "bus"})
    found = DefinitionCheck(machine, StubHandlers(), START).findings()
    return [f"{f.state}: {f.where}: {f.message}" for f in found]


def states(definition: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = definition["States"]
    return found


def entry(definition: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = states(definition)["Publish"]["Parameters"]["Entries"][0]
    return found


def payload(definition: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = states(definition)["Check"]["Parameters"]["Payload"]
    return found


def test_the_sample_definition_has_no_finding(tmp_path: Path) -> None:
    assert problems(tmp_path) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda d: entry(d).update(Sourc=entry(d).pop("Source")),
            "Publish: Parameters.Entries[0].Sourc: no member 'Sourc' in PutEventsRequestEntry",
            id="misspelled PutEvents member",
        ),
        pytest.param(
            lambda d: entry(d).update(DetailType=7),
            "Publish: Parameters.Entries[0].DetailType: 7 is not a string",
            id="wrong literal type",
        ),
        pytest.param(
            lambda d: states(d)["Check"]["Parameters"].update(InvocationType="Later"),
            "Check: Parameters.InvocationType: 'Later' is not a string InvocationType (one of",
            id="value outside the enum",
        ),
        pytest.param(
            lambda d: entry(d).update({"Detail.$": {"not": "a path"}}),
            "Publish: Parameters.Entries[0].Detail: Detail.$ must be a path",
            id="path key with a non-path value",
        ),
        pytest.param(
            lambda d: states(d)["Check"]["Parameters"].pop("FunctionName"),
            "Check: Parameters: required member 'FunctionName' missing",
            id="missing required member",
        ),
        pytest.param(
            lambda d: entry(d).pop("DetailType"),
            "Publish: Parameters.Entries[0]: required member 'DetailType' missing",
            id="missing member EventBridge requires",
        ),
        pytest.param(
            lambda d: payload(d).update({"taskid.$": "$.taskId"}),
            "Check: Payload: key 'taskid' is not one the handler reads (PAYLOAD_KEYS)",
            id="payload key the handler does not read",
        ),
        pytest.param(
            lambda d: payload(d).pop("taskId.$"),
            "Check: Payload: required key 'taskId' missing (REQUIRED_PAYLOAD_KEYS)",
            id="payload without a required key",
        ),
        pytest.param(
            lambda d: states(d)["Check"]["Parameters"].update(FunctionName="${Elsewhere}"),
            "-: DefinitionSubstitutions: ${Elsewhere} undefined",
            id="undefined substitution",
        ),
        pytest.param(
            lambda d: states(d)["Route"]["Choices"][1].update(Variable="$.poll.statu"),
            "Route: Choices[1].Variable = $.poll.statu: no key 'statu' at $.poll",
            id="choice on a key the state never has",
        ),
        pytest.param(
            lambda d: states(d)["Wait"].update(SecondsPath="$.waitSeconds"),
            "Wait: SecondsPath = $.waitSeconds: no key 'waitSeconds' at $",
            id="wait on a key at the wrong level",
        ),
        pytest.param(
            lambda d: payload(d).update({"polls.$": "$.poll.polls"}),
            "Check: Parameters.Payload.polls.$ = $.poll.polls: no key 'poll' at $",
            id="key only a later state adds",
        ),
        pytest.param(
            lambda d: states(d)["Check"]["ResultSelector"].update({"status.$": "$.Paylod.status"}),
            "Check: ResultSelector.status.$ = $.Paylod.status: no key 'Paylod' at $",
            id="result selector off the task's result",
        ),
        pytest.param(
            lambda d: entry(d).update({"Detail.$": "States.JsonMerge($.poll, $.metdata, false)"}),
            "Publish: Parameters.Entries[0].Detail.$ = $.metdata: no key 'metdata' at $",
            id="intrinsic function argument",
        ),
        pytest.param(
            lambda d: payload(d).update({"when.$": "$$.State.Entered"}),
            "Check: Parameters.Payload.when.$ = $$.State.Entered: no key 'Entered' at $.State",
            id="unknown context path",
        ),
        pytest.param(
            lambda d: states(d)["Failed"].update(ErrorPath="$.failure.error"),
            "Failed: ErrorPath = $.failure.error: no key 'error' at $.failure",
            id="error output read with the wrong case",
        ),
        pytest.param(
            lambda d: states(d).update(Orphan={"Type": "Succeed"}),
            "Orphan: -: unreachable from StartAt (AWS rejects it)",
            id="unreachable state",
        ),
    ],
)
def test_each_mistake_is_reported(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    found = problems(tmp_path, change)
    assert any(line.startswith(expected) for line in found), found


def test_a_key_added_on_one_path_only_is_reported_where_the_paths_join(tmp_path: Path) -> None:
    def add_on_one_branch(d: dict[str, Any]) -> None:
        states(d)["Mark"] = {
            "Type": "Pass",
            "Result": True,
            "ResultPath": "$.marked",
            "Next": "Publish",
        }
        states(d)["Route"]["Choices"][0]["Next"] = "Mark"
        entry(d)["Detail.$"] = "$.marked"

    found = problems(tmp_path, add_on_one_branch)
    assert found == ["Publish: Parameters.Entries[0].Detail.$ = $.marked: no key 'marked' at $"]


def test_a_payload_passed_whole_needs_the_required_keys_in_the_state(tmp_path: Path) -> None:
    def whole_state(d: dict[str, Any]) -> None:
        states(d)["Check"]["Parameters"]["Payload.$"] = "$.metadata"
        del states(d)["Check"]["Parameters"]["Payload"]

    assert problems(tmp_path, whole_state) == [
        "Check: Payload: the payload at $.metadata lacks required 'taskId'"
    ]


def test_sdk_and_optimized_integrations_are_checked_against_their_api(tmp_path: Path) -> None:
    def dynamodb(d: dict[str, Any]) -> None:
        states(d)["Publish"]["Resource"] = "arn:aws:states:::aws-sdk:dynamodb:getItem"
        states(d)["Publish"]["Parameters"] = {"TableName": "results", "Kye": {}}

    found = problems(tmp_path, dynamodb)
    assert "Publish: Parameters.Kye: no member 'Kye' in GetItemInput" in " | ".join(found)
    assert "Publish: Parameters: required member 'Key' missing" in found


def test_an_unknown_api_is_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        lambda d: states(d)["Publish"].update(Resource="arn:aws:states:::events:putEvent"),
    )
    assert "Publish: Resource: botocore's events has no operation 'PutEvent'" in found


def test_the_execution_input_comes_from_the_starters_code() -> None:
    state = execution_input()
    assert {"taskId", "submittedAt", "poll"} <= set(state)
    assert isinstance(state["poll"], dict)


def test_todays_definition_and_template_pass() -> None:
    text, failed = asl_check.check_all()
    assert failed == 0, text


def test_a_mistake_in_the_deployed_definition_fails_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: the template's definition, its substitutions, its functions' handlers."""
    shutil.copy(TEMPLATE, tmp_path / "template.yaml")
    shutil.copytree(TEMPLATE.parent / "statemachine", tmp_path / "statemachine")
    definition = next((tmp_path / "statemachine").glob("*.asl.json"))
    text = definition.read_text(encoding="utf-8")
    assert '"Source"' in text
    definition.write_text(text.replace('"Source"', '"Sourc"', 1), encoding="utf-8")
    assert asl_check.main(["--template", str(tmp_path / "template.yaml")]) == 1
    assert "FINDING" in capsys.readouterr().out
