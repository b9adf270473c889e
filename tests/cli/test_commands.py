"""Every ``ocr-results`` command against the local stack: what it prints (``--json`` shapes and
text), its exit code, and what it never prints (recognised text without ``--show-text``, the
Aspose secret)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree

from tests.cli.conftest import CliStack, Ran, ocr_results

pytestmark = pytest.mark.slow

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def completed(cli: CliStack) -> dict[str, Any]:
    """The ID card, submitted with ``--wait --json`` (the issue's "done when"). Its first poll
    finds the service down, so its path has a wait however fast the machine is."""
    cli.stack.emulator.admin.inject("http_503", next_tasks=1, method="GET", times=1)
    ran = cli.run(
        "submit",
        cli.image("id_card"),
        "--regions",
        cli.regions("id_card"),
        "--correlation-id",
        "order-17",
        "--wait",
        "--timeout",
        "60",
        "--json",
    )
    assert ran.code == 0, ran.err
    document: dict[str, Any] = ran.json()
    document["stderr"] = ran.err
    return document


def recognised_words(cli: CliStack, task_id: str) -> set[str]:
    """Every word of four characters or more of the task's recognised text, as stored."""
    session = cli.stack.session
    words: set[str] = set()
    for key in session.object_keys(task_id):
        if key.endswith(".txt"):
            text = session.read_object(key)[0].decode()
            words |= set(re.findall(r"[A-Za-z0-9]{4,}", text))
    assert words
    return words


def assert_no_text(cli: CliStack, task_id: str, ran: Ran) -> None:
    shown = ran.out + ran.err
    leaked = {word for word in recognised_words(cli, task_id) if word in shown}
    assert not leaked
    secret = json.loads(cli.state_file.read_text())["asposeClientSecret"]
    assert secret not in shown


# --- submit --wait, inspect: the path and its waits --------------------------------------------
def test_submit_waits_then_prints_the_outcome_as_json(
    cli: CliStack, completed: dict[str, Any]
) -> None:
    assert set(completed) >= {"taskId", "eventId", "regions", "resultType", "outcome", "execution"}
    names = [r["name"] for r in completed["regions"]]
    assert names == ["surname", "given_names", "date_of_birth", "document_number", "expiry_date"]
    assert completed["correlationId"] == "order-17"
    assert completed["outcome"]["status"] == "Completed"
    assert completed["outcome"]["decodedCount"] == 5
    assert completed["execution"]["status"] == "SUCCEEDED"
    # progress went to stderr, one line per poll
    assert re.search(r"poll 1: \w+", completed["stderr"])
    assert "execution SUCCEEDED" in completed["stderr"]


def test_inspect_json_shows_the_path_with_its_waits(
    cli: CliStack, completed: dict[str, Any]
) -> None:
    ran = cli.run("inspect", completed["taskId"], "--json")

    assert ran.code == 0, ran.err
    report = ran.json()
    assert report["outcome"]["status"] == "Completed"
    [execution] = report["executions"]
    states = [step["state"] for step in execution["steps"]]
    assert states[0] == "Start Polling"
    assert states[-1] == "Results Stored"
    waits = [s["waitSeconds"] for s in execution["steps"] if s["type"] == "Wait"]
    assert waits
    assert all(isinstance(w, int) for w in waits)
    assert execution["waits"] == waits
    polls = [s["poll"] for s in execution["steps"] if s["poll"]]
    assert polls[-1]["status"] == "Completed"
    assert execution["polls"] == len(polls)
    assert execution["outcomeEvent"]["detail-type"] == "Region Recognition Completed"
    names = {o["name"] for o in report["objects"]}
    run = f"runs/{completed['taskId']}/"
    assert {"submitted.json", f"{run}manifest.json", f"{run}regions/0-surname.txt"} <= names
    assert any(name.startswith(f"{run}answer-") for name in names)
    assert next(r["name"] for r in report["regions"]) == "surname"
    assert all("text" not in region for region in report["regions"])
    assert_no_text(cli, completed["taskId"], ran)


def test_inspect_shows_text_only_when_asked(cli: CliStack, completed: dict[str, Any]) -> None:
    task_id = completed["taskId"]
    plain = cli.run("inspect", task_id)
    shown = cli.run("inspect", task_id, "--show-text", "--json")

    assert plain.code == 0, plain.err
    assert "Wait Before Next Poll" in plain.out
    assert "Results Stored" in plain.out
    assert "0-surname.txt" in plain.out
    assert_no_text(cli, task_id, plain)
    stored = cli.stack.session.read_object(shown.json()["regions"][0]["s3Key"])[0].decode()
    assert shown.json()["regions"][0]["text"] == stored


def test_inspect_draws_the_path_as_svg(
    cli: CliStack, completed: dict[str, Any], tmp_path: Path
) -> None:
    drawing = tmp_path / "path.svg"

    ran = cli.run("inspect", completed["taskId"], "--svg", str(drawing), "--json")

    assert ran.code == 0, ran.err
    assert ran.json()["svg"] == str(drawing)
    root = ElementTree.parse(drawing).getroot()
    assert root.tag == f"{SVG}svg"
    states = {g.get("data-state"): g for g in root.iter(f"{SVG}g") if g.get("data-state")}
    visited = {name for name, g in states.items() if "visited" in (g.get("class") or "")}
    assert {"Start Polling", "Wait Before Next Poll", "Results Stored"} <= visited
    assert "Record Task Not Found" in states
    assert "Record Task Not Found" not in visited
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert re.search(r"waited \d+", texts)
    taken = [p for p in root.iter(f"{SVG}path") if "taken" in (p.get("class") or "")]
    assert any(p.get("data-to") == "Wait Before Next Poll" for p in taken)


# --- status, results, list ---------------------------------------------------------------------
def test_status_of_a_completed_task(cli: CliStack, completed: dict[str, Any]) -> None:
    as_json = cli.run("status", completed["taskId"], "--json")
    global_json = cli.run("--json", "status", completed["taskId"])
    text = cli.run("status", completed["taskId"].upper())

    assert as_json.code == 0, as_json.err
    status = as_json.json()
    assert status["ended"] is True
    assert status["outcome"]["status"] == "Completed"
    assert status["outcome"]["regionCount"] == 5
    assert global_json.json() == status
    assert text.code == 0
    assert f"Task {completed['taskId']}: Completed" in text.out
    assert "5 of 5 decoded" in text.out


def test_results_downloads_every_region(
    cli: CliStack, completed: dict[str, Any], tmp_path: Path
) -> None:
    task_id = completed["taskId"]

    ran = cli.run("results", task_id, "--out", str(tmp_path / "out"), "--json")

    assert ran.code == 0, ran.err
    download = ran.json()
    assert len(download["files"]) == 5
    assert download["skipped"] == []
    session = cli.stack.session
    for entry in download["files"]:
        assert Path(entry["path"]).read_bytes() == session.read_object(entry["s3Key"])[0]
    assert json.loads(Path(download["manifest"]).read_text())["taskId"] == task_id
    assert_no_text(cli, task_id, ran)


def test_list_finds_tasks_by_status_time_and_correlation_id(
    cli: CliStack, completed: dict[str, Any]
) -> None:
    task_id = completed["taskId"]

    everything = cli.run("list", "--json")
    mine = cli.run("list", "--correlation-id", "order-17", "--since", "1h", "--json")
    done = cli.run("list", "--status", "completed", "--json")
    running = cli.run("list", "--status", "RUNNING", "--json")
    table = cli.run("list")

    assert everything.code == 0, everything.err
    row = next(r for r in everything.json()["executions"] if r["taskId"] == task_id)
    assert row["outcome"] == "Completed"
    assert row["status"] == "SUCCEEDED"
    assert row["polls"] == completed["execution"]["polls"]
    assert [r["taskId"] for r in mine.json()["executions"]] == [task_id]
    assert task_id in [r["taskId"] for r in done.json()["executions"]]
    assert task_id not in [r["taskId"] for r in running.json()["executions"]]
    assert task_id in table.out


# --- refetch -----------------------------------------------------------------------------------
def test_refetch_fetches_again_with_the_stored_region_names(
    cli: CliStack, completed: dict[str, Any]
) -> None:
    task_id = completed["taskId"]

    ran = cli.run("refetch", task_id, "--label", "again", "--wait", "--timeout", "60", "--json")
    twice = cli.run("refetch", task_id, "--label", "again")

    assert ran.code == 0, ran.err
    document = ran.json()
    assert document["executionName"] == f"{task_id}-again"
    assert document["execution"]["name"] == f"{task_id}-again"
    assert document["regionNames"][0] == "surname"
    assert document["outcome"]["status"] == "Completed"
    inspected = cli.run("inspect", task_id, "--json").json()
    assert [e["name"] for e in inspected["executions"]] == [f"{task_id}-again", task_id]
    assert twice.code == 2
    assert "exists already" in twice.error_line


# --- tasks that did not complete ---------------------------------------------------------------
def test_a_task_that_failed_exits_3(cli: CliStack) -> None:
    cli.stack.emulator.admin.inject("error", next_tasks=1, messages=["Unsupported image"])

    ran = cli.run(
        "submit", cli.image("id_card"), "--regions", cli.regions("id_card"), "--wait", "--json"
    )

    assert ran.code == 3, ran.err
    assert ran.json()["outcome"]["status"] == "Failed"
    assert "ended Failed" in ran.error_line
    task_id = ran.json()["taskId"]
    status = cli.run("status", task_id, "--json")
    assert status.code == 3
    assert status.json()["outcome"]["errorName"] == "RecognitionError"
    results = cli.run("results", task_id)
    assert results.code == 3
    assert "no results to download" in results.error_line


def test_a_wait_that_times_out_exits_4_and_status_shows_progress(cli: CliStack) -> None:
    cli.stack.emulator.admin.inject("stuck", next_tasks=1)

    ran = cli.run(
        "submit",
        cli.image("id_card"),
        "--regions",
        cli.regions("id_card"),
        "--wait",
        "--timeout",
        "1",
    )

    assert ran.code == 4, ran.err
    assert "--wait timed out after 1 s" in ran.error_line
    task_id = ran.out.strip()
    status = cli.run("status", task_id, "--json")
    assert status.code == 0, status.err
    running = status.json()
    assert running["ended"] is False
    assert running["outcome"] is None
    assert running["execution"]["status"] == "RUNNING"
    assert set(running["execution"]["progress"]) >= {"state", "polls", "nextPollInSeconds"}
    arn = running["execution"]["arn"]
    cli.stack.session.client("stepfunctions").stop_execution(executionArn=arn)
    cli.stack.session.wait_for_execution(arn, timeout=30)
    stopped = cli.run("status", task_id)
    assert stopped.code == 3
    assert "execution ABORTED" in stopped.out
    assert f"ocr-results refetch {task_id}" in stopped.out
    assert "ended without recording an outcome" in stopped.error_line


# --- not found, bad input, errors --------------------------------------------------------------
@pytest.mark.parametrize("command", ["status", "inspect", "results", "refetch"])
def test_an_unknown_task_is_not_found(cli: CliStack, command: str) -> None:
    unknown = str(uuid.uuid4())

    ran = cli.run(command, unknown)

    assert ran.code == 1
    assert f"no task {unknown}" in ran.error_line
    assert ran.out == ""


@pytest.mark.parametrize("command", ["status", "inspect", "results", "refetch"])
@pytest.mark.parametrize("task", ["not-a-task", "2ce30237-86da-41ef-88e9", "{2ce30237}", ""])
def test_a_malformed_task_id_is_bad_input(cli: CliStack, command: str, task: str) -> None:
    ran = cli.run(command, task, "--json")

    assert ran.code == 2
    assert "is not a task id" in ran.error_line
    assert ran.out == ""


def test_bad_list_options_are_bad_input(cli: CliStack) -> None:
    assert "--since" in cli.run("list", "--since", "yesterday").error_line
    assert cli.run("list", "--status", "DONE").code == 2
    assert cli.run("list", "--limit", "0").code == 2


def test_a_wrong_aspose_secret_is_an_aspose_error_that_names_no_secret(
    cli: CliStack, tmp_path: Path
) -> None:
    state = json.loads(cli.state_file.read_text())
    state["asposeClientSecret"] = "wrong-secret-value"
    wrong = tmp_path / "stack.json"
    wrong.write_text(json.dumps(state))

    ran = cli.run(
        "--state-file",
        str(wrong),
        "submit",
        cli.image("id_card"),
        "--regions",
        cli.regions("id_card"),
    )

    assert ran.code == 6
    assert "Aspose: AsposeAuthError" in ran.error_line
    assert "wrong-secret-value" not in ran.err


def test_an_unreachable_local_cloud_is_an_aws_error(
    cli: CliStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    state = json.loads(cli.state_file.read_text())
    state["awsEndpoint"] = "http://127.0.0.1:9"
    gone = tmp_path / "stack.json"
    gone.write_text(json.dumps(state))

    ran = cli.run("--state-file", str(gone), "status", str(uuid.uuid4()))

    assert ran.code == 5
    assert "is `make local` running?" in ran.error_line


# --- a deployed stack, by name -----------------------------------------------------------------
def test_a_stack_is_found_by_name_from_its_outputs(
    cli: CliStack, completed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local cloud answers CloudFormation's DescribeStacks as AWS does.
    cloud = cli.stack.cloud
    monkeypatch.setenv("AWS_ENDPOINT_URL", cloud.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = cli.stack.stack.stack_name

    found = ocr_results("--stack", name, "--region", cloud.region, "status", completed["taskId"])
    unknown = ocr_results("--stack", "no-such-stack", "--region", cloud.region, "list")

    assert found.code == 0, found.err
    assert "Completed" in found.out
    assert unknown.code == 1
    assert "no stack named 'no-such-stack'" in unknown.error_line


def test_a_task_sent_but_not_announced_is_named_in_the_error(cli: CliStack, tmp_path: Path) -> None:
    state = json.loads(cli.state_file.read_text())
    state["outputs"]["EventBusName"] = "no-such-bus"
    broken = tmp_path / "stack.json"
    broken.write_text(json.dumps(state))

    ran = cli.run(
        "--state-file",
        str(broken),
        "submit",
        cli.image("id_card"),
        "--regions",
        cli.regions("id_card"),
    )

    assert ran.code == 5, ran.err
    task_id = ran.out.strip()
    assert f"task {task_id} was sent to Aspose but not announced" in ran.error_line
