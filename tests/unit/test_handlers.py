"""Handlers as Lambda calls them: AWS through moto, Aspose through `responses`."""

from __future__ import annotations

import base64
import json
import time
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
from ocr_fetch.layout import region_names_key
from ocr_fetch.settings import get_settings
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


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def clear_warm_state() -> None:
    """What a new Lambda container would not have: cached settings and clients."""
    for cached in (get_settings, wiring.results_store, wiring.aspose_client, starter._starter):
        cached.cache_clear()


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
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="start-dlq")["QueueUrl"]
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
            "POLL_INITIAL_SECONDS": "3",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        clear_warm_state()
        yield {
            "sqs": sqs,
            "dlq": dlq,
            "sfn": sfn,
            "machine": machine,
            "s3": boto3.client("s3", region_name=REGION),
            "ddb": boto3.client("dynamodb", region_name=REGION),
        }
        clear_warm_state()


def aspose(body: Any, status: int = 200, **kw: Any) -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    if isinstance(body, dict | list):
        responses.get(FETCH, json=body, status=status, **kw)
    else:
        responses.get(FETCH, body=body, status=status, **kw)


def check(polls: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = check_status.handler(
        {"taskId": TASK, "submittedAt": "2099-01-01T00:00:00Z", "polls": polls},
        LambdaContext(),
    )
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
    assert result["rawKey"] == f"results/{TASK}/raw.json"
    stored = aws["s3"].get_object(Bucket=BUCKET, Key=result["rawKey"])["Body"].read()
    assert json.loads(stored) == completed()
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
        {"taskId": TASK, "submittedAt": submitted.isoformat(), "polls": 1, "pollAt": 3.0},
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
def test_check_gives_up_at_the_deadline(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    aspose({"id": TASK, "taskStatus": "Processing"})
    result = check_status.handler(
        {"taskId": TASK, "submittedAt": "2000-01-01T00:00:00Z", "polls": 1},
        LambdaContext(),
    )
    assert (result["giveUp"], result["giveUpReason"]) == (True, "DeadlineReached")


@responses.activate
def test_check_an_answer_for_another_task_is_a_protocol_error(aws: dict[str, Any]) -> None:
    aspose({"id": "11111111-1111-1111-1111-111111111111", "taskStatus": "Completed"})
    with pytest.raises(Exception, match="different task id") as info:
        check()
    assert type(info.value).__name__ == "AsposeProtocolError"


def test_check_rejects_malformed_input(aws: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="not a GUID"):
        check_status.handler(
            {"taskId": "x", "submittedAt": "2026-01-01T00:00:00Z"}, LambdaContext()
        )


@pytest.mark.parametrize("submitted_at", ["last week", None])
def test_check_rejects_a_submission_time_that_is_not_iso_8601(
    aws: dict[str, Any], submitted_at: str | None
) -> None:
    with pytest.raises(Exception, match="submittedAt must be ISO 8601") as info:
        check_status.handler(
            {"taskId": TASK, "submittedAt": submitted_at, "polls": 0}, LambdaContext()
        )
    assert type(info.value).__name__ == "InvalidEventError"


def test_missing_configuration_names_the_variable(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESULTS_TABLE")
    get_settings.cache_clear()
    with pytest.raises(Exception, match="RESULTS_TABLE") as info:
        check()
    assert type(info.value).__name__ == "ConfigurationError"


# --- store results ---------------------------------------------------------------------------
def state(**extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "taskId": TASK,
            "regionCount": 2,
            "regionNamesKey": region_names_key(TASK),
            "correlationId": "corr-1",
            "metadata": {"tenant": "acme"},
            "submittedAt": "2026-11-24T10:00:00Z",
            "poll": {"status": "Completed", "polls": 4, "rawKey": f"results/{TASK}/raw.json"},
            **extra,
        },
        "executionArn": "arn:aws:states:us-east-1:123:execution:m:" + TASK,
    }


def test_store_decodes_stores_and_reports_the_corrupt_region(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(
        Bucket=BUCKET, Key=f"results/{TASK}/raw.json", Body=json.dumps(completed()).encode()
    )
    # what the starter kept
    wiring.results_store().put_region_names(TASK, ["surname", "number"])

    out = store_results.handler(state(), LambdaContext())

    assert out["kind"] == "Completed"
    assert out["recorded"] is True
    assert out["detailType"] == "Region Recognition Completed"
    good = aws["s3"].get_object(Bucket=BUCKET, Key=f"results/{TASK}/0-surname.txt")
    assert good["Body"].read().decode() == SURNAME
    assert good["ContentType"].startswith("text/plain")
    regions = out["detail"]["regions"]
    assert regions[1]["error"] == "invalid_base64"
    item = aws["ddb"].get_item(TableName=TABLE, Key={"taskId": {"S": TASK}})["Item"]
    assert item["status"]["S"] == "Completed"
    assert item["polls"]["N"] == "4"
    assert SURNAME not in json.dumps(out)
    assert SURNAME not in json.dumps(item)


def test_store_labels_regions_of_an_execution_started_before_names_were_kept_by_reference(
    aws: dict[str, Any],
) -> None:
    aws["s3"].put_object(
        Bucket=BUCKET, Key=f"results/{TASK}/raw.json", Body=json.dumps(completed()).encode()
    )
    older = state(
        regionCount=None,
        regionNamesKey=None,
        regions=[{"name": "surname"}, {"name": "number"}],
    )
    out = store_results.handler(older, LambdaContext())
    assert [r["name"] for r in out["detail"]["regions"]] == ["surname", "number"]
    assert out["detail"]["expectedRegionCount"] == 2


@pytest.mark.parametrize("body", [None, b"not json", b'{"regions": [{"name": 7}]}'])
def test_store_with_missing_or_malformed_region_names_fails_naming_them(
    aws: dict[str, Any], body: bytes | None
) -> None:
    aws["s3"].put_object(
        Bucket=BUCKET, Key=f"results/{TASK}/raw.json", Body=json.dumps(completed()).encode()
    )
    if body is not None:
        aws["s3"].put_object(Bucket=BUCKET, Key=region_names_key(TASK), Body=body)
    with pytest.raises(Exception, match="region names at s3://") as info:
        store_results.handler(state(), LambdaContext())
    assert type(info.value).__name__ == "StoredDataError"


def test_store_without_a_raw_response_fails_by_name(aws: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="no raw response") as info:
        store_results.handler(state(), LambdaContext())
    assert type(info.value).__name__ == "RawResponseMissingError"


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
    aws["s3"].put_object(
        Bucket=BUCKET, Key=f"results/{TASK}/raw.json", Body=json.dumps(completed()).encode()
    )
    wiring.results_store().put_region_names(TASK, ["surname", "number"])
    store_results.handler(state(), LambdaContext())
    out = record_outcome.handler(
        {
            **state(poll={"polls": 40, "giveUpReason": "DeadlineReached"}),
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


def submitted(task_id: str = TASK, **detail: Any) -> str:
    return json.dumps(
        {
            "detail-type": "Region Recognition Submitted",
            "source": "test",
            "time": "2026-11-24T10:00:00Z",
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
    assert (sent["regionCount"], sent["regionNamesKey"]) == (1, region_names_key(TASK))
    kept = aws["s3"].get_object(Bucket=BUCKET, Key=region_names_key(TASK))["Body"].read()
    assert json.loads(kept) == {"regions": [{"index": 0, "name": "surname"}]}


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
    assert s.handle(submitted(), "m2") == "duplicate"


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
    ],
    ids=["503", "not-json", "dropped"],
)
@responses.activate
def test_check_an_answer_about_nothing_is_not_yet(
    aws: dict[str, Any], answer: dict[str, Any], cause: str
) -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, **answer)
    result = check(polls=1)
    # Then it is waited out like a running task, naming why, and counted as a poll
    assert (result["status"], result["polls"], result["giveUp"]) == ("Unavailable", 2, False)
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
        "Polls",
        "CredentialsNotConfigured",
    ]
    assert [line["message"] for line in product_logs() if line["level"] == "ERROR"] == [
        "the stack's Aspose secret holds no usable clientId/clientSecret"
    ]


@responses.activate
def test_giving_up_cancels_the_task_only_when_asked(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, json={"id": TASK, "taskStatus": "Processing"})
    responses.delete(FETCH, status=500)  # a failed cancel changes nothing
    stale = {"taskId": TASK, "submittedAt": "2000-01-01T00:00:00Z", "polls": 1}
    assert check_status.handler(stale, LambdaContext())["giveUp"] is True
    assert not [c for c in responses.calls if c.request.method == "DELETE"]

    monkeypatch.setenv("CANCEL_ON_GIVE_UP", "true")
    clear_warm_state()
    result = check_status.handler(stale, LambdaContext())
    assert (result["giveUp"], result["giveUpReason"]) == (True, "DeadlineReached")
    assert [c.request.method for c in responses.calls].count("DELETE") == 1


def test_giving_up_after_no_answers_is_named_after_the_last_cause(aws: dict[str, Any]) -> None:
    poll = {
        "status": "Unavailable",
        "polls": 12,
        "giveUp": True,
        "giveUpReason": "DeadlineReached",
        "elapsedSeconds": 3600,
        "transientCause": {
            "name": "AsposeUnavailableError",
            "message": "GET /v5.0/ocr/RecognizeRegions failed with HTTP 503",
        },
    }
    out = record_outcome.handler(
        {**state(poll=poll), "kind": "TimedOut", "reason": "GaveUp"}, LambdaContext()
    )
    error = out["detail"]["error"]
    assert error["name"] == "AsposeUnavailableError"
    assert "DeadlineReached" in error["message"]
    assert "HTTP 503" in error["message"]


def test_starter_dead_letters_a_start_that_failed_on_its_last_delivery(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "StartExecution")

    monkeypatch.setattr(starter._starter().sfn, "start_execution", throttled)
    record = sqs_event(submitted())
    record["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    out = starter.handler(record, LambdaContext())
    assert out == {"batchItemFailures": []}  # not left for SQS to move without a reason
    message = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MessageAttributeNames=["All"])[
        "Messages"
    ][0]
    reason = message["MessageAttributes"]["reason"]["StringValue"]
    assert reason == "StartExecution failed on each of 5 deliveries, last with ThrottlingException"
