"""Handlers as Lambda calls them: AWS through moto, Aspose through `responses`."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
import responses
from moto import mock_aws

from infra.local.cloud.lambda_worker import LambdaContext
from ocr_fetch.errors import CredentialsNotConfigured
from ocr_fetch.handlers import check_status, record_outcome, starter, store_results, wiring
from ocr_fetch.layout import answer_key, submitted_key
from ocr_fetch.submission import parse_submitted_event
from tests.support.cold_start import cold_start
from tests.unit.fixtures_aws import (
    BUCKET,
    REGION,
    TABLE,
    create_results_bucket_and_table,
    offline_aws_env,
)

TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"
BASE = "https://ocr.test"
FETCH = f"{BASE}/v5.0/ocr/RecognizeRegions"
TOKEN_URL = f"{BASE}/connect/token"
SURNAME = "Ivanova-Personal-Surname"
SECRET = "very-secret-client-secret"
ARN = "arn:aws:states:us-east-1:123:execution:m:" + TASK


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    offline_aws_env(monkeypatch)
    with mock_aws():
        create_results_bucket_and_table()
        sm = boto3.client("secretsmanager", region_name=REGION)
        secret = sm.create_secret(
            Name="aspose-creds",
            SecretString=json.dumps({"clientId": "cid", "clientSecret": SECRET}),
        )
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="fleet",
            KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="start-dlq")["QueueUrl"]
        start_queue = sqs.create_queue(QueueName="start")["QueueUrl"]
        sfn = boto3.client("stepfunctions", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = sfn.create_state_machine(
            name="m",
            roleArn=role,
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        env = {
            "RESULTS_BUCKET": BUCKET,
            "RESULTS_TABLE": TABLE,
            "ASPOSE_SECRET_NAME": secret["ARN"],
            "ASPOSE_BASE_URL": BASE,
            "ASPOSE_TOKEN_URL": TOKEN_URL,
            "STATE_MACHINE_ARN": machine,
            "DEAD_LETTER_QUEUE_URL": dlq,
            "START_QUEUE_URL": start_queue,
            "POLL_INITIAL_SECONDS": "3",
            "POLL_JITTER": "0",
            "FLEET_TABLE": "fleet",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        cold_start()
        yield {
            "sqs": sqs,
            "dlq": dlq,
            "start_queue": start_queue,
            "sfn": sfn,
            "machine": machine,
            "s3": boto3.client("s3", region_name=REGION),
            "ddb": boto3.client("dynamodb", region_name=REGION),
        }
        cold_start()


def aspose(body: Any, status: int = 200, **kw: Any) -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    if isinstance(body, dict | list):
        responses.get(FETCH, json=body, status=status, **kw)
    else:
        responses.get(FETCH, body=body, status=status, **kw)


def check_input(
    submitted_at: str | None = None, execution: str = TASK, **poll: Any
) -> dict[str, Any]:
    """A Check Task Status payload as the state machine sends it."""
    return {
        "taskId": TASK,
        "executionName": execution,
        "submittedAt": submitted_at or iso(datetime.now(UTC)),
        "receivedAt": submitted_at or iso(datetime.now(UTC)),
        "teach": True,
        "poll": {"polls": 0, "plan": [], "kind": None, "runningAt": 0, "pollAt": 0, **poll},
    }


def check(polls: int = 0, **poll: Any) -> dict[str, Any]:
    result: dict[str, Any] = check_status.handler(check_input(polls=polls, **poll), LambdaContext())
    return result


def completed() -> dict[str, Any]:
    return {
        "id": TASK,
        "taskStatus": "Completed",
        "responseStatusCode": "Ok",
        "error": None,
        "results": [
            {"type": "Text", "data": b64(SURNAME.encode())},
            {"type": "Text", "data": "!!corrupt!!"},
        ],
    }


# --- check status ----------------------------------------------------------------------------
@responses.activate
def test_check_completed_stores_the_raw_response_and_passes_only_its_key(
    aws: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    product_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    aspose(completed())

    result = check(polls=2)

    assert result["status"] == "Completed"
    assert result["polls"] == 3
    # kept under this execution's own key, with the ETag it was written with
    assert result["rawKey"] == answer_key(TASK, TASK, 3)
    assert result["rawKey"] == f"results/{TASK}/runs/{TASK}/answer-3.json"
    stored = aws["s3"].get_object(Bucket=BUCKET, Key=result["rawKey"])
    assert json.loads(stored["Body"].read()) == completed()
    assert result["rawETag"] == stored["ETag"]
    assert SURNAME not in json.dumps(result)
    written = capsys.readouterr()  # metrics
    logs = json.dumps(product_logs())
    assert "polled" in logs
    for secret in (SURNAME, SECRET, "tok"):
        for output in (written.out, written.err, logs):
            assert secret not in output.replace("token", "")


@responses.activate
def test_check_pending_asks_for_a_growing_wait(aws: dict[str, Any]) -> None:
    aspose({"id": TASK, "taskStatus": "Pending"})
    first = check(polls=0)
    second = check(polls=first["polls"])
    # 3 s then 6 s; each Wait is short of it by the allowance, which the next poll makes up
    assert (first["status"], first["waitSeconds"], first["giveUp"]) == ("Pending", 2, False)
    assert second["waitSeconds"] == 5
    assert first["rawKey"] is None


@responses.activate
def test_check_makes_up_the_wait_to_poll_when_due_and_keeps_the_schedule(
    aws: dict[str, Any],
) -> None:
    aspose({"id": TASK, "taskStatus": "Processing"})
    submitted = datetime.now(UTC) - timedelta(seconds=2.6)
    started = time.monotonic()
    result = check_status.handler(
        check_input(iso(submitted), polls=1, pollAt=3.0, lastPollAt=1.0, lastAnswered=True),
        LambdaContext(),
    )
    assert time.monotonic() - started >= 0.3  # waited for 3.0 s after submission
    # counted as polled at 3.0 s: the next poll (6 s later) is due at 9.0 s, not later
    assert result["pollAt"] == 9.0
    assert result["waitSeconds"] == 5


@responses.activate
def test_check_throttled_waits_at_least_retry_after(aws: dict[str, Any]) -> None:
    aspose({}, status=429, headers={"Retry-After": "40"})
    result = check()
    assert (result["status"], result["waitSeconds"], result["polls"]) == ("Throttled", 40, 1)


@responses.activate
def test_check_error_carries_the_service_messages(aws: dict[str, Any]) -> None:
    aspose(
        {
            "id": TASK,
            "taskStatus": "Error",
            "error": {"messages": ["Image is damaged"], "warnings": []},
        },
    )
    result = check()
    assert result["status"] == "Error"
    assert result["error"] == {"name": "RecognitionError", "message": "Image is damaged"}
    assert result["rawKey"] is not None


@responses.activate
def test_check_unknown_status_is_kept_verbatim_and_stored(aws: dict[str, Any]) -> None:
    aspose({"id": TASK, "taskStatus": "Hibernating"})
    result = check()
    assert result["status"] == "Unknown"
    assert result["taskStatus"] == "Hibernating"
    assert result["error"]["name"] == "UnknownTaskStatus"


@responses.activate
def test_check_gives_up_when_the_service_said_running_past_the_deadline(
    aws: dict[str, Any],
) -> None:
    aspose({"id": TASK, "taskStatus": "Processing"})
    # Given the service said "running" for 3590 s, and the last poll 20 s ago said so too
    result = check(
        polls=30,
        answeredPolls=30,
        runningSeconds=3590,
        lastAnswered=True,
        lastPollAt=-20.0,
    )
    assert (result["giveUp"], result["giveUpReason"]) == (True, "DeadlineReached")
    assert result["runningSeconds"] >= 3610


@responses.activate
def test_check_an_outage_counts_against_the_lifetime_not_the_deadline(
    aws: dict[str, Any],
) -> None:
    # Given an hour and a half of no answers since the last "running" (an outage)
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, status=503)
    long_ago = iso(datetime.now(UTC) - timedelta(seconds=5400))
    result = check_status.handler(
        check_input(long_ago, polls=60, answeredPolls=3, runningSeconds=6, lastPollAt=5300),
        LambdaContext(),
    )
    # Then it waits on: time without an answer counts only against the results' lifetime
    assert (result["status"], result["giveUp"]) == ("Unavailable", False)
    assert result["runningSeconds"] == 6
    # And when the service answers "running" again, its deadline is as far as it was
    responses.replace(responses.GET, FETCH, json={"id": TASK, "taskStatus": "Processing"})
    again = check_status.handler(
        check_input(long_ago, **{**result, "pollAt": result["pollAt"]}), LambdaContext()
    )
    assert (again["status"], again["giveUp"], again["answeredPolls"]) == ("Processing", False, 4)


@responses.activate
def test_check_gives_up_at_the_results_lifetime_and_says_so(aws: dict[str, Any]) -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, status=503)
    stale = iso(datetime.now(UTC) - timedelta(seconds=82_800))
    result = check_status.handler(check_input(stale, polls=700), LambdaContext())
    assert (result["giveUp"], result["giveUpReason"]) == (True, "ResultsLifetimeReached")


@responses.activate
def test_a_retry_after_past_the_lifetime_waits_until_it_then_polls_once_more(
    aws: dict[str, Any],
) -> None:
    aspose({}, status=429, headers={"Retry-After": "9999"})
    almost = iso(datetime.now(UTC) - timedelta(seconds=82_800 - 100))
    result = check_status.handler(check_input(almost, polls=5), LambdaContext())
    # never given up on a non-answer before the lifetime: one more poll lands on it
    assert (result["status"], result["giveUp"]) == ("Throttled", False)
    assert 95 <= result["waitSeconds"] <= 100


@responses.activate
def test_check_an_answer_for_another_task_is_a_protocol_error(aws: dict[str, Any]) -> None:
    aspose({"id": "11111111-1111-1111-1111-111111111111", "taskStatus": "Completed"})
    with pytest.raises(Exception, match="different task id") as info:
        check()
    assert type(info.value).__name__ == "AsposeProtocolError"


def test_check_rejects_malformed_input(aws: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="not a GUID"):
        check_status.handler({**check_input(), "taskId": "x"}, LambdaContext())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("submittedAt", "last week", "submittedAt must be ISO 8601"),
        ("submittedAt", None, "submittedAt must be ISO 8601"),
        ("executionName", "bad name\n", "execution name"),
        ("poll", None, "poll must be an object"),
    ],
)
def test_check_rejects_a_payload_it_cannot_trust(
    aws: dict[str, Any], field: str, value: Any, message: str
) -> None:
    with pytest.raises(Exception, match=message) as info:
        check_status.handler({**check_input(), field: value}, LambdaContext())
    assert type(info.value).__name__ == "InvalidEventError"


def test_missing_configuration_names_the_variable(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASPOSE_SECRET_NAME")
    cold_start()
    with pytest.raises(Exception, match="ASPOSE_SECRET_NAME") as info:
        check()
    assert type(info.value).__name__ == "ConfigurationError"


def test_an_error_leaves_a_handler_small_and_named(aws: dict[str, Any]) -> None:
    # Given a message far over the state's budget
    with pytest.raises(Exception, match="not a GUID") as info:
        check_status.handler({**check_input(), "taskId": "x" * 50_000}, LambdaContext())
    # Then the class is kept (the state machine matches it) and the message is clipped
    assert type(info.value).__name__ == "InvalidEventError"
    assert len(str(info.value).encode()) <= 512


# --- store results ---------------------------------------------------------------------------
def keep(aws: dict[str, Any], names: list[str | None] | None = None) -> dict[str, Any]:
    """What the starter and the check kept: the facts, and this run's final answer."""
    detail: dict[str, Any] = {"taskId": TASK}
    if names is not None:
        detail["regions"] = [{"name": name} for name in names]
    body = json.dumps(
        {
            "id": "e-1",
            "detail-type": "Region Recognition Submitted",
            "source": "test",
            "detail": detail,
        }
    )
    wiring.result_bucket(BUCKET).keep_facts(parse_submitted_event(body).facts())
    stored = wiring.result_bucket(BUCKET).put_answer(
        TASK, TASK, 4, json.dumps(completed()).encode()
    )
    return {"status": "Completed", "polls": 4, "rawKey": stored.key, "rawETag": stored.etag}


def state(poll: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "taskId": TASK,
            "regionCount": 2,
            "submittedKey": submitted_key(TASK),
            "correlationId": "corr-1",
            "metadata": {"tenant": "acme"},
            "submittedAt": "2026-11-24T10:00:00Z",
            "poll": poll or {"status": "Completed", "polls": 4},
            **extra,
        },
        "executionArn": ARN,
        "executionName": TASK,
    }


def test_store_decodes_stores_and_reports_the_corrupt_region(aws: dict[str, Any]) -> None:
    poll = keep(aws, ["surname", "number"])

    out = store_results.handler(state(poll), LambdaContext())

    assert out["kind"] == "Completed"
    assert out["recorded"] is True
    assert out["detailType"] == "Region Recognition Completed"
    key = f"results/{TASK}/runs/{TASK}/regions/0-surname.txt"
    assert out["detail"]["regions"][0]["s3Key"] == key
    good = aws["s3"].get_object(Bucket=BUCKET, Key=key)
    assert good["Body"].read().decode() == SURNAME
    assert good["ContentType"].startswith("text/plain")
    regions = out["detail"]["regions"]
    assert regions[1]["error"] == "invalid_base64"
    assert out["detail"]["results"]["prefix"] == f"results/{TASK}/runs/{TASK}/"
    item = aws["ddb"].get_item(TableName=TABLE, Key={"taskId": {"S": TASK}})["Item"]
    assert item["status"]["S"] == "Completed"
    assert item["polls"]["N"] == "4"
    assert item["rawKey"]["S"] == poll["rawKey"]
    assert SURNAME not in json.dumps(out)
    assert SURNAME not in json.dumps(item)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rawKey": f"results/{TASK}/runs/other/answer-4.json"}, "not an answer kept by"),
        ({"rawETag": '"0000"'}, "changed since"),
        ({"rawETag": None}, "not an answer kept by"),
        ({"rawKey": None}, "no kept answer"),
    ],
    ids=["another-runs-key", "changed-object", "no-etag", "no-key"],
)
def test_store_refuses_anything_but_the_answer_this_run_kept(
    aws: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    poll = {**keep(aws, ["surname", "number"]), **change}
    with pytest.raises(Exception, match=message) as info:
        store_results.handler(state(poll), LambdaContext())
    assert type(info.value).__name__ == "RawAnswerMismatchError"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"id": TASK, "taskStatus": "Error", "results": []}, "not Completed but Error"),
        (
            {"id": "11111111-1111-1111-1111-111111111111", "taskStatus": "Completed"},
            "another task",
        ),
        ("not json", "not JSON"),
    ],
    ids=["error-answer", "another-task", "not-json"],
)
def test_store_refuses_a_kept_answer_that_is_not_this_tasks_completed_one(
    aws: dict[str, Any], answer: Any, message: str
) -> None:
    keep(aws, ["surname", "number"])
    body = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
    stored = wiring.result_bucket(BUCKET).put_answer(TASK, TASK, 5, body)
    poll = {"status": "Completed", "polls": 5, "rawKey": stored.key, "rawETag": stored.etag}
    with pytest.raises(Exception, match=message) as info:
        store_results.handler(state(poll), LambdaContext())
    assert type(info.value).__name__ == "RawAnswerMismatchError"


@pytest.mark.parametrize("body", [None, b"not json", b'{"taskId": 7}'])
def test_store_with_missing_or_malformed_facts_fails_naming_them(
    aws: dict[str, Any], body: bytes | None
) -> None:
    stored = wiring.result_bucket(BUCKET).put_answer(
        TASK, TASK, 4, json.dumps(completed()).encode()
    )
    poll = {"status": "Completed", "polls": 4, "rawKey": stored.key, "rawETag": stored.etag}
    if body is not None:
        aws["s3"].put_object(Bucket=BUCKET, Key=submitted_key(TASK), Body=body)
    with pytest.raises(Exception, match="submitted") as info:
        store_results.handler(state(poll), LambdaContext())
    assert type(info.value).__name__ == "StoredDataError"


def test_store_without_the_answer_fails_by_name(aws: dict[str, Any]) -> None:
    poll = keep(aws, ["surname", "number"])
    aws["s3"].delete_object(Bucket=BUCKET, Key=poll["rawKey"])
    with pytest.raises(Exception, match="no answer") as info:
        store_results.handler(state(poll), LambdaContext())
    assert type(info.value).__name__ == "RawResponseMissingError"


def test_a_later_run_no_better_replaces_nothing(aws: dict[str, Any]) -> None:
    # Given the task completed by its first run
    poll = keep(aws, ["surname", "number"])
    first = store_results.handler(state(poll), LambdaContext())
    # When a re-fetch completes with the same answer
    again = wiring.result_bucket(BUCKET).put_answer(
        TASK, f"{TASK}-again", 1, json.dumps(completed()).encode()
    )
    refetch = {
        **state({"status": "Completed", "polls": 1, "rawKey": again.key, "rawETag": again.etag}),
        "executionName": f"{TASK}-again",
        "executionArn": ARN + "-again",
    }
    out = store_results.handler(refetch, LambdaContext())
    # Then it is not recorded (no better), and the first run's item and objects stand
    assert (first["recorded"], out["recorded"]) == (True, False)
    item = aws["ddb"].get_item(TableName=TABLE, Key={"taskId": {"S": TASK}})["Item"]
    assert item["rawKey"]["S"] == poll["rawKey"]
    assert item["executionArn"]["S"] == ARN


# --- record outcome --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "reason", "recorded_state", "error"),
    [
        (
            "Failed",
            "RecognitionError",
            {
                "poll": {
                    "polls": 2,
                    "status": "Error",
                    "error": {"name": "RecognitionError", "message": "Image is damaged"},
                }
            },
            "RecognitionError",
        ),
        ("NotFound", "TaskNotFound", {"poll": {"polls": 1, "status": "NotExist"}}, "TaskNotFound"),
        (
            "TimedOut",
            "GaveUp",
            {
                "poll": {
                    "polls": 9,
                    "status": "Processing",
                    "giveUp": True,
                    "giveUpReason": "PollBudgetExhausted",
                    "elapsedSeconds": 99,
                }
            },
            "PollBudgetExhausted",
        ),
        (
            "Failed",
            "WorkflowError",
            {
                "poll": {"polls": 3},
                "failure": {
                    "Error": "AsposeAuthError",
                    "Cause": json.dumps(
                        {"errorType": "AsposeAuthError", "errorMessage": "refused a fresh token"}
                    ),
                },
            },
            "AsposeAuthError",
        ),
    ],
)
def test_record_names_each_outcome(
    aws: dict[str, Any], kind: str, reason: str, recorded_state: dict[str, Any], error: str
) -> None:
    event = state(**recorded_state)
    out = record_outcome.handler({**event, "kind": kind, "reason": reason}, LambdaContext())
    assert (out["kind"], out["error"], out["recorded"]) == (kind, error, True)
    assert out["detail"]["error"]["name"] == error
    assert out["detail"]["correlationId"] == "corr-1"
    item = aws["ddb"].get_item(TableName=TABLE, Key={"taskId": {"S": TASK}})["Item"]
    assert item["status"]["S"] == kind
    if reason == "WorkflowError":
        assert out["cause"] == "refused a fresh token"


def test_a_late_timeout_does_not_downgrade_a_completed_task(aws: dict[str, Any]) -> None:
    store_results.handler(state(keep(aws, ["surname", "number"])), LambdaContext())
    out = record_outcome.handler(
        {
            **state(poll={"polls": 40, "giveUpReason": "DeadlineReached"}),
            "executionArn": ARN + "-late",
            "executionName": TASK + "-late",
            "kind": "TimedOut",
            "reason": "GaveUp",
        },
        LambdaContext(),
    )
    assert out["recorded"] is False
    item = aws["ddb"].get_item(TableName=TABLE, Key={"taskId": {"S": TASK}})["Item"]
    assert item["status"]["S"] == "Completed"


def test_record_rejects_an_unknown_kind(aws: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="unknown outcome kind"):
        record_outcome.handler({**state(), "kind": "Great", "reason": "GaveUp"}, LambdaContext())


# --- starter ---------------------------------------------------------------------------------
def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:start",
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def submitted(task_id: str = TASK, event_id: str = "e-1", **detail: Any) -> str:
    return json.dumps(
        {
            "id": event_id,
            "detail-type": "Region Recognition Submitted",
            "source": "test",
            "time": iso(datetime.now(UTC)),
            "detail": {"taskId": task_id, **detail},
        }
    )


def test_starter_starts_one_execution_named_after_the_task(aws: dict[str, Any]) -> None:
    out = starter.handler(sqs_event(submitted(regions=[{"name": "surname"}])), LambdaContext())
    assert out == {"batchItemFailures": []}
    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert [e["name"] for e in executions] == [TASK]
    described = aws["sfn"].describe_execution(executionArn=executions[0]["executionArn"])
    sent = json.loads(described["input"])
    # the names are kept by reference, for the store function; only their count travels
    assert (sent["regionCount"], sent["submittedKey"]) == (1, submitted_key(TASK))
    assert (sent["teach"], sent["eventId"]) == (True, "e-1")
    kept = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=submitted_key(TASK))["Body"].read())
    assert kept["regions"] == [{"index": 0, "name": "surname"}]
    assert kept["eventId"] == "e-1"


def test_a_duplicate_never_changes_what_the_task_was_submitted_with(aws: dict[str, Any]) -> None:
    # Given a task announced with two names, then a duplicate with three others
    starter.handler(
        sqs_event(submitted(regions=[{"name": "alpha"}, {"name": "beta"}])), LambdaContext()
    )
    duplicate = submitted(
        event_id="e-2", regions=[{"name": "beta"}, {"name": "alpha"}, {"name": "gamma"}]
    )
    refetch = submitted(event_id="e-3", refetch="again", regions=[{"name": None}] * 2)
    starter.handler(sqs_event(duplicate, refetch), LambdaContext())
    # Then the facts are the first submission's, and the re-fetch runs with them
    kept = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=submitted_key(TASK))["Body"].read())
    assert [r["name"] for r in kept["regions"]] == ["alpha", "beta"]
    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert sorted(e["name"] for e in executions) == [TASK, f"{TASK}-again"]
    again = next(e for e in executions if e["name"].endswith("again"))
    sent = json.loads(aws["sfn"].describe_execution(executionArn=again["executionArn"])["input"])
    # a re-fetch never teaches polling: its duration says nothing about the service's
    assert (sent["regionCount"], sent["teach"]) == (2, False)


def test_starter_sends_malformed_events_to_the_dlq_with_the_reason(aws: dict[str, Any]) -> None:
    bad = submitted(task_id="not-a-guid")
    out = starter.handler(sqs_event(bad, submitted()), LambdaContext())
    assert out == {"batchItemFailures": []}
    messages = aws["sqs"].receive_message(
        QueueUrl=aws["dlq"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1
    assert messages[0]["Body"] == bad
    assert "not a GUID" in messages[0]["MessageAttributes"]["reason"]["StringValue"]
    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert [e["name"] for e in executions] == [TASK]


def test_starter_transient_failure_is_a_batch_item_failure(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    other = "11111111-2222-4333-8444-555555555555"
    real_start = starter._starter().sfn.start_execution

    def throttled(**kwargs: Any) -> Any:
        if kwargs["name"] == TASK:
            return real_start(**kwargs)
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "StartExecution"
        )

    monkeypatch.setattr(starter._starter().sfn, "start_execution", throttled)
    out = starter.handler(
        sqs_event(submitted(), submitted(other)),
        LambdaContext(),
    )
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_starter_duplicate_of_a_finished_task_is_not_an_error() -> None:
    from botocore.exceptions import ClientError

    class Sfn:
        calls = 0

        def start_execution(self, **_: Any) -> Any:
            self.calls += 1
            if self.calls > 1:
                raise ClientError(
                    {"Error": {"Code": "ExecutionAlreadyExists", "Message": "x"}}, "StartExecution"
                )
            return {"executionArn": "arn:x"}

    s = starter.Starter("arn:sm", "q", sfn=Sfn(), sqs=object())
    assert s.handle(submitted(), "m1") == "started"
    assert s.handle(submitted(event_id="e-2"), "m2") == "duplicate"


def test_a_caught_states_error_ends_under_a_name_a_fail_state_may_carry(
    aws: dict[str, Any],
) -> None:
    failure = {"Error": "States.Runtime", "Cause": "The JSONPath '$.x' could not be found"}
    out = record_outcome.handler(
        {**state(poll={"polls": 0}, failure=failure), "kind": "Failed", "reason": "WorkflowError"},
        LambdaContext(),
    )
    assert out["error"] == "Workflow.Runtime"
    assert out["detail"]["error"]["name"] == "States.Runtime"  # consumers see what happened


# --- transient answers, cancel on give-up, the last delivery ---------------------------------
@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        ({"status": 503}, "AsposeUnavailableError"),
        ({"body": "<html>Bad Gateway</html>"}, "AsposeUnavailableError"),
        ({"body": requests.ConnectionError("reset")}, "AsposeUnavailableError"),
        ({"body": "[" * 1000 + "]" * 1000}, "AsposeUnavailableError"),
    ],
    ids=["503", "not-json", "dropped", "nested-1000-deep"],
)
@responses.activate
def test_check_an_answer_about_nothing_is_not_yet(
    aws: dict[str, Any], answer: dict[str, Any], cause: str
) -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, **answer)
    result = check(polls=1)
    # Then it is waited out like a running task, naming why, and counted as a poll (but not as
    # an answer: the poll budget counts only answers that the task is running)
    assert (result["status"], result["polls"], result["giveUp"]) == ("Unavailable", 2, False)
    assert result["answeredPolls"] == 0
    assert result["waitSeconds"] == 6  # the policy's growing wait (3 s doubling)
    assert result["transientCause"]["name"] == cause
    assert result["rawKey"] is None


@responses.activate
def test_check_unreadable_credentials_are_not_yet(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import ClientError

    outage = ClientError({"Error": {"Code": "InternalServiceError"}}, "GetSecretValue")

    def unavailable(*_: Any, **__: Any) -> Any:
        raise GetParameterError("secret unreadable") from outage

    monkeypatch.setattr(
        "aws_lambda_powertools.utilities.parameters.SecretsProvider.get", unavailable
    )
    result = check()
    assert result["status"] == "Unavailable"
    assert result["transientCause"]["name"] == "CredentialsUnavailableError"


@responses.activate
def test_check_with_the_placeholder_secret_fails_named_and_counted(
    aws: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    product_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given the stack's secret as deployed: the template's placeholder, no clientId yet
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId="aspose-creds", SecretString=json.dumps({"clientId": "", "clientSecret": "x"})
    )
    # Then the poll fails with the named error (the task ends Failed with it), no request leaves
    with pytest.raises(CredentialsNotConfigured):
        check()
    assert not responses.calls
    # And the metric the stack's alarm watches is written, beside one clear log line
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [m["Name"] for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "BreakerOpen",
        "Polls",
        "CredentialsNotConfigured",
    ]
    assert [line["message"] for line in product_logs() if line["level"] == "ERROR"] == [
        "the stack's Aspose secret holds no usable clientId/clientSecret"
    ]


@pytest.mark.parametrize(
    "secret",
    [
        "cid:very-secret",
        "[]",
        '{"clientId": 5, "clientSecret": "x"}',
        '{"clientId": "cid", "clientSecret": "   "}',
        " ",
        "[" * 2000 + "]" * 2000,
    ],
    ids=["not-json", "a-list", "wrong-types", "blank-secret", "blank", "nested-2000-deep"],
)
@responses.activate
def test_a_secret_of_any_wrong_shape_is_credentials_not_configured(
    aws: dict[str, Any], secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId="aspose-creds", SecretString=secret
    )
    with pytest.raises(CredentialsNotConfigured) as info:
        check()
    # named, never quoting the secret; nothing was sent; the alarm's metric is written
    assert "very-secret" not in str(info.value)
    assert not responses.calls
    assert "CredentialsNotConfigured" in capsys.readouterr().out


@responses.activate
def test_giving_up_cancels_the_task_only_when_asked(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, json={"id": TASK, "taskStatus": "Processing"})
    responses.delete(FETCH, status=500)  # a failed cancel changes nothing
    stale = check_input(
        polls=40, answeredPolls=10, runningSeconds=3599, lastAnswered=True, lastPollAt=-5.0
    )
    assert check_status.handler(stale, LambdaContext())["giveUp"] is True
    assert not [c for c in responses.calls if c.request.method == "DELETE"]

    monkeypatch.setenv("CANCEL_ON_GIVE_UP", "true")
    cold_start()
    result = check_status.handler(stale, LambdaContext())
    assert (result["giveUp"], result["giveUpReason"]) == (True, "DeadlineReached")
    assert [c.request.method for c in responses.calls].count("DELETE") == 1


@responses.activate
def test_no_answer_never_cancels_a_task(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANCEL_ON_GIVE_UP", "true")
    cold_start()
    aspose({}, status=429, headers={"Retry-After": "99999"})
    responses.delete(FETCH, status=200)
    stale = iso(datetime.now(UTC) - timedelta(seconds=82_800))
    result = check_status.handler(check_input(stale, polls=9), LambdaContext())
    # the lifetime ended it, after no answer: only the service saying "running" may cancel
    assert (result["giveUp"], result["giveUpReason"]) == (True, "ResultsLifetimeReached")
    assert not [c for c in responses.calls if c.request.method == "DELETE"]


def test_giving_up_says_which_clock_and_the_last_cause(aws: dict[str, Any]) -> None:
    poll = {
        "status": "Unavailable",
        "polls": 12,
        "giveUp": True,
        "giveUpReason": "ResultsLifetimeReached",
        "elapsedSeconds": 82800,
        "transientCause": {
            "name": "AsposeUnavailableError",
            "message": "GET /v5.0/ocr/RecognizeRegions failed with HTTP 503",
        },
    }
    out = record_outcome.handler(
        {**state(poll=poll), "kind": "TimedOut", "reason": "GaveUp"}, LambdaContext()
    )
    error = out["detail"]["error"]
    assert error["name"] == "ResultsLifetimeReached"
    assert "lifetime" in error["message"]
    assert "AsposeUnavailableError" in error["message"]
    assert "HTTP 503" in error["message"]


def test_starter_waits_out_throttling_past_its_last_delivery(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "StartExecution")

    monkeypatch.setattr(starter._starter().sfn, "start_execution", throttled)
    record = sqs_event(submitted())
    record["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    out = starter.handler(record, LambdaContext())
    # Then it is neither left for SQS to dead-letter nor dead-lettered: it comes again, later
    assert out == {"batchItemFailures": []}
    assert "Messages" not in aws["sqs"].receive_message(QueueUrl=aws["dlq"])
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["start_queue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_starter_dead_letters_a_start_that_failed_on_its_last_delivery(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "StateMachineDoesNotExist"}}, "StartExecution")

    monkeypatch.setattr(starter._starter().sfn, "start_execution", throttled)
    record = sqs_event(submitted())
    record["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    out = starter.handler(record, LambdaContext())
    assert out == {"batchItemFailures": []}  # not left for SQS to move without a reason
    message = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MessageAttributeNames=["All"])[
        "Messages"
    ][0]
    reason = message["MessageAttributes"]["reason"]["StringValue"]
    assert reason == (
        "StartExecution failed on each of 5 deliveries, last with StateMachineDoesNotExist"
    )


def test_a_batch_keeps_within_its_time_and_what_it_could_not_reach_is_not_lost(
    aws: dict[str, Any],
) -> None:
    # Given four tasks, two on their last delivery, and time for only the first record
    tasks = [str(uuid.UUID(int=n + 1)) for n in range(4)]
    event = sqs_event(*(submitted(task) for task in tasks))
    for record, receives in zip(event["Records"], ("1", "5", "2", "5"), strict=True):
        record["attributes"]["ApproximateReceiveCount"] = receives
    left = iter([30.0, 0.5, 0.5])
    failed = starter.process_batch(event["Records"], starter._starter, lambda: next(left))
    # Then a record on its last delivery went first and started
    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert [e["name"] for e in executions] == [tasks[1]]
    # the other on its last delivery is sent to the queue again, delayed; the rest come back
    assert sorted(failed) == ["m0", "m2"]
    delayed = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["start_queue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]["ApproximateNumberOfMessagesDelayed"]
    assert delayed == "1"
    assert "Messages" not in aws["sqs"].receive_message(QueueUrl=aws["dlq"])


def test_without_a_start_queue_a_record_out_of_time_is_dead_lettered_with_the_reason(
    aws: dict[str, Any],
) -> None:
    chosen = starter._starter()
    chosen.start_queue_url = None
    event = sqs_event(submitted())
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    assert starter.process_batch(event["Records"], lambda: chosen, lambda: 1.0) == []
    message = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MessageAttributeNames=["All"])[
        "Messages"
    ][0]
    assert message["MessageAttributes"]["reason"]["StringValue"] == (
        "the starter ran out of time on each of 5 deliveries"
    )


# --- the fleet: breaker and budget ------------------------------------------------------------
def fleet() -> Any:
    from ocr_fetch.fleet import Fleet

    return Fleet("fleet", probe_seconds=30, calls_per_second=1)


@responses.activate
def test_a_run_of_non_answers_opens_the_breaker_and_then_no_poll_is_made(
    aws: dict[str, Any],
) -> None:
    from ocr_fetch.fleet import BREAKER_RUN

    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, status=503)
    for polls in range(BREAKER_RUN):
        assert check(polls=polls)["status"] == "Unavailable"
    assert fleet().view().open
    made = len(responses.calls)
    # Then checks pause instead of calling Aspose, longer each time, never before the probe slot
    first = check(polls=BREAKER_RUN)
    second = check(polls=BREAKER_RUN, paused=first["paused"])
    assert (first["status"], first["paused"], second["paused"]) == ("Paused", 1, 2)
    assert first["transientCause"]["name"] == "BreakerOpenError"
    assert first["polls"] == BREAKER_RUN  # no poll was made
    assert 29 <= first["waitSeconds"] <= 30 < second["waitSeconds"]
    assert len(responses.calls) == made


@responses.activate
def test_the_probe_is_made_once_per_slot_and_an_answer_closes_the_breaker(
    aws: dict[str, Any],
) -> None:
    aspose({"id": TASK, "taskStatus": "Pending"})
    fleet().open("run")
    aws["ddb"].update_item(
        TableName="fleet",
        Key={"name": {"S": "fleet"}},
        UpdateExpression="SET nextProbeAt = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    probe = check(polls=3, paused=4)
    assert (probe["status"], probe["paused"]) == ("Pending", 0)
    assert not fleet().view().open


@responses.activate
def test_an_operator_opened_breaker_is_never_probed(aws: dict[str, Any]) -> None:
    aspose({"id": TASK, "taskStatus": "Pending"})
    fleet().open("operator")
    aws["ddb"].update_item(
        TableName="fleet",
        Key={"name": {"S": "fleet"}},
        UpdateExpression="SET nextProbeAt = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    assert check()["status"] == "Paused"
    assert not responses.calls


@responses.activate
def test_a_budget_with_no_near_slot_keeps_one_for_the_next_poll(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASPOSE_CALLS_PER_SECOND", "0.2")  # a slot every 5.6 s
    cold_start()
    aspose({"id": TASK, "taskStatus": "Pending"})
    made = check()  # the token and the poll take two slots: the poll waits for its own
    assert made["status"] == "Throttled"
    assert made["transientCause"]["name"] == "BudgetWaitError"
    assert made["slotAt"] is not None
    assert made["answeredPolls"] == 0
    # the Wait lands on the kept slot: whole seconds, never early
    assert made["waitSeconds"] >= 1


def test_a_duplicate_within_the_same_second_is_counted_as_a_duplicate(aws: dict[str, Any]) -> None:
    # Two announcements of one task, a few milliseconds apart: the second carries its own event
    # id in the execution input, so Step Functions refuses it rather than returning the first
    first = starter.handler(sqs_event(submitted(event_id="e-1")), LambdaContext())
    second = starter._starter().handle(submitted(event_id="e-2"), "m2")
    assert first == {"batchItemFailures": []}
    assert second == "duplicate"


@responses.activate
def test_a_late_announced_or_refetched_task_does_not_teach(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[Any] = []
    monkeypatch.setattr(
        "ocr_fetch.history.PollingHistory.record", lambda _, kind, o: recorded.append((kind, o))
    )
    monkeypatch.setenv("POLLING_HISTORY_TABLE", "history")
    cold_start()
    aspose(completed())
    # Given a task submitted 100 s before the product first saw it
    submitted_at = datetime.now(UTC) - timedelta(seconds=100)
    event = {
        **check_input(iso(submitted_at), kind="source:x|regions-2", runningAt=101),
        "receivedAt": iso(submitted_at + timedelta(seconds=98)),
    }
    check_status.handler(event, LambdaContext())
    # Then its duration counts from then: finished between 3 s and about 2 s later
    ((_, observation),) = recorded
    assert observation.lower == pytest.approx(3, abs=0.5)
    assert observation.upper == pytest.approx(2, abs=1.5)
    # And a run that may not teach (a re-fetch, a late announcement) records nothing
    check_status.handler({**event, "teach": False}, LambdaContext())
    assert len(recorded) == 1


@responses.activate
def test_the_longest_error_stays_within_the_state_budget_on_its_way(aws: dict[str, Any]) -> None:
    from ocr_fetch.events import encoded_size
    from ocr_fetch.handlers.workflow_state import STATE_BUDGET_BYTES

    # Given the longest Error the service can send: 20 messages of 500 four-byte characters
    aspose({"id": TASK, "taskStatus": "Error", "error": {"messages": ["\U0001f4a5" * 500] * 20}})
    poll = check()
    event = state(poll, metadata={"note": "\U0001f600" * 480}, correlationId="c" * 128)
    assert encoded_size(event["input"]) <= STATE_BUDGET_BYTES
    out = record_outcome.handler(
        {**event, "kind": "Failed", "reason": "RecognitionError"}, LambdaContext()
    )
    # Then the whole state with the outcome, and the Fail state's Cause, fit
    assert encoded_size({**event["input"], "outcome": out}) <= STATE_BUDGET_BYTES
    assert len(out["cause"].encode()) <= 512
