"""Every AWS call is recorded with who made it (the role it ran as), the IAM action and the
resources: requests signed by botocore map to what IAM evaluates, and in a running stack each
role's calls (its code's, the Lambda service's for it, the state machine's) are told apart."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from typing import Any

import boto3
import pytest

from infra.local.cloud import LocalCloud, StackInfo
from infra.local.cloud.iam_calls import (
    ADMIN,
    CODE,
    LAMBDA_SERVICE,
    LAMBDA_SERVICE_PRINCIPAL,
    STATES,
    Access,
    AwsCall,
    CallLog,
    Principals,
    SignedRequest,
    access_of,
    s3_kms_access,
)
from infra.stack.waiting import wait_until
from tests.local_cloud.conftest import run_execution

REGION = "eu-west-1"
ACCOUNT = "123456789012"
KEY = "ASIAEXAMPLEEXAMPLE00"


class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def signed(service: str, operation: str, **params: Any) -> SignedRequest:
    """The request botocore signs and would send for ``operation`` (nothing is sent)."""
    client = boto3.client(
        service,
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id=KEY,
        aws_secret_access_key="secret",
    )

    def capture(request: Any, **_: Any) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Captured) as captured:
        getattr(client, operation)(**params)
    request = captured.value.request
    url = urllib.parse.urlsplit(request.url)
    body = _bytes(request.body)
    return SignedRequest(
        method=request.method,
        path=urllib.parse.unquote(url.path),
        query=url.query,
        headers={
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        },
        body=lambda: body,
    )


def _bytes(body: Any) -> bytes:
    """A prepared request's body: bytes, text, a file (S3 uploads) or nothing."""
    if hasattr(body, "read"):
        data = body.read()
        body.seek(0)
        return bytes(data)
    return body.encode() if isinstance(body, str) else bytes(body or b"")


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


FUNCTION = arn("lambda", "function:fn")
QUEUE_URL = f"http://127.0.0.1:9/{ACCOUNT}/start"
CASES: list[tuple[str, str, dict[str, Any], Access]] = [
    (
        "s3",
        "put_object",
        {"Bucket": "b", "Key": "results/t 1/raw.json", "Body": b"{}"},
        Access("s3:PutObject", ("arn:aws:s3:::b/results/t 1/raw.json",)),
    ),
    (
        "s3",
        "get_object",
        {"Bucket": "b", "Key": "results/t/raw.json"},
        Access("s3:GetObject", ("arn:aws:s3:::b/results/t/raw.json",)),
    ),
    (
        "s3",
        "head_object",
        {"Bucket": "b", "Key": "k"},
        Access("s3:GetObject", ("arn:aws:s3:::b/k",)),
    ),
    ("s3", "list_objects_v2", {"Bucket": "b"}, Access("s3:ListBucket", ("arn:aws:s3:::b",))),
    (
        "dynamodb",
        "update_item",
        {"TableName": "results", "Key": {"taskId": {"S": "t"}}},
        Access("dynamodb:UpdateItem", (arn("dynamodb", "table/results"),)),
    ),
    (
        "dynamodb",
        "query",
        {"TableName": "results", "IndexName": "byStatus", "KeyConditionExpression": "a = :a"},
        Access("dynamodb:Query", (arn("dynamodb", "table/results/index/byStatus"),)),
    ),
    (
        "stepfunctions",
        "start_execution",
        {"stateMachineArn": arn("states", "stateMachine:sm"), "name": "t"},
        Access("states:StartExecution", (arn("states", "stateMachine:sm"),)),
    ),
    (
        "sqs",
        "send_message",
        {"QueueUrl": QUEUE_URL, "MessageBody": "{}"},
        Access("sqs:SendMessage", (arn("sqs", "start"),)),
    ),
    (
        "sqs",
        "delete_message_batch",
        {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "1", "ReceiptHandle": "r"}]},
        Access("sqs:DeleteMessage", (arn("sqs", "start"),)),
    ),
    (
        "events",
        "put_events",
        {
            "Entries": [
                {"EventBusName": "ocr", "Source": "s", "DetailType": "d", "Detail": "{}"},
                {"Source": "s", "DetailType": "d", "Detail": "{}"},
            ]
        },
        Access(
            "events:PutEvents", (arn("events", "event-bus/default"), arn("events", "event-bus/ocr"))
        ),
    ),
    (
        "secretsmanager",
        "get_secret_value",
        {"SecretId": arn("secretsmanager", "secret:aspose-AbCdEf")},
        Access("secretsmanager:GetSecretValue", (arn("secretsmanager", "secret:aspose-AbCdEf"),)),
    ),
    (
        "secretsmanager",
        "get_secret_value",
        {"SecretId": "aspose"},
        Access("secretsmanager:GetSecretValue", (arn("secretsmanager", "secret:aspose-??????"),)),
    ),
    (
        "lambda",
        "invoke",
        {"FunctionName": "fn:live", "Payload": b"{}"},
        Access("lambda:InvokeFunction", (f"{FUNCTION}:live",)),
    ),
    (
        "lambda",
        "invoke",
        {"FunctionName": FUNCTION, "Qualifier": "3", "Payload": b"{}"},
        Access("lambda:InvokeFunction", (f"{FUNCTION}:3",)),
    ),
    (
        "lambda",
        "get_function_configuration",
        {"FunctionName": "fn"},
        Access("lambda:GetFunctionConfiguration", (FUNCTION,)),
    ),
    (
        "lambda",
        "list_event_source_mappings",
        {},
        Access("lambda:ListEventSourceMappings", ("*",)),
    ),
    (
        "logs",
        "put_log_events",
        {
            "logGroupName": "/aws/lambda/fn",
            "logStreamName": "2026/01/01/[1]abc",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
        Access(
            "logs:PutLogEvents",
            (arn("logs", "log-group:/aws/lambda/fn:log-stream:2026/01/01/[1]abc"),),
        ),
    ),
    (
        "logs",
        "create_log_stream",
        {"logGroupName": "/aws/lambda/fn", "logStreamName": "s"},
        Access("logs:CreateLogStream", (arn("logs", "log-group:/aws/lambda/fn:log-stream:s"),)),
    ),
    (
        "kms",
        "generate_data_key",
        {"KeyId": "alias/results", "KeySpec": "AES_256"},
        Access("kms:GenerateDataKey", (arn("kms", "alias/results"),)),
    ),
    ("sts", "get_caller_identity", {}, Access("sts:GetCallerIdentity", ("*",))),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{service}.{operation}" for service, operation, _, _ in CASES]
)
def test_a_signed_request_maps_to_its_iam_action_and_resources(
    case: tuple[str, str, dict[str, Any], Access],
) -> None:
    service, operation, params, expected = case
    assert access_of(signed(service, operation, **params), ACCOUNT) == expected


KEY_ARN = arn("kms", "key/1234abcd")


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("put_object", {"Key": "k", "Body": b"x"}, Access("kms:GenerateDataKey", (KEY_ARN,))),
        ("get_object", {"Key": "k"}, Access("kms:Decrypt", (KEY_ARN,))),
        ("head_object", {"Key": "k"}, None),
        (
            "put_object",
            {"Key": "k", "Body": b"x", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "other"},
            Access("kms:GenerateDataKey", (arn("kms", "key/other"),)),
        ),
    ],
    ids=["write", "read", "head", "key-in-request"],
)
def test_s3_asks_kms_as_the_caller_under_sse_kms(
    operation: str, params: dict[str, Any], expected: Access | None
) -> None:
    # Given a bucket whose default encryption is SSE-KMS with a customer key
    asked: list[tuple[str, str | None]] = []

    def kms_key_of(bucket: str, key: str | None) -> str | None:
        asked.append((bucket, key))
        return KEY_ARN

    request = signed("s3", operation, Bucket="b", **params)
    access = access_of(request, ACCOUNT)
    assert access is not None
    # Then writing needs GenerateDataKey, reading Decrypt, on that key (or the one asked for)
    assert s3_kms_access(request, access, kms_key_of, ACCOUNT) == expected
    if operation == "get_object":
        assert asked == [("b", "k")]  # the key the object was written with


def test_without_a_customer_key_s3_asks_nothing_of_kms() -> None:
    request = signed("s3", "put_object", Bucket="b", Key="k", Body=b"x")
    access = access_of(request, ACCOUNT)
    assert access is not None
    assert s3_kms_access(request, access, lambda bucket, key: None, ACCOUNT) is None


def test_an_unsigned_request_is_no_aws_call() -> None:
    request = SignedRequest(method="GET", path="/moto-api/data.json", query="", headers={})
    assert access_of(request, ACCOUNT) is None
    assert CallLog(Principals(ACCOUNT), ACCOUNT).observe(request) is None


def test_keys_identify_a_principal_and_an_origin() -> None:
    principals = Principals(ACCOUNT)
    role = f"arn:aws:iam::{ACCOUNT}:role/checker"
    code, service = principals.credentials(role, CODE), principals.credentials(role, LAMBDA_SERVICE)
    assert code == principals.credentials(role, CODE)  # the same key every time
    assert code.access_key_id != service.access_key_id
    assert code.access_key_id.startswith("ASIA")  # the shape of a temporary key
    assert len(code.access_key_id) == 20
    assert principals.identify(code.access_key_id) == (role, CODE)
    assert principals.identify(service.access_key_id) == (role, LAMBDA_SERVICE)
    assert principals.identify("testing") == (f"arn:aws:iam::{ACCOUNT}:root", ADMIN)
    assert code.environment()["AWS_ACCESS_KEY_ID"] == code.access_key_id


def test_the_log_counts_identical_calls_once_and_stays_bounded() -> None:
    principals = Principals(ACCOUNT)
    log = CallLog(principals, ACCOUNT, limit=2)
    first = signed("sqs", "send_message", QueueUrl=QUEUE_URL, MessageBody="a")
    other = signed("sqs", "send_message", QueueUrl=f"{QUEUE_URL}-dlq", MessageBody="b")
    third = signed("sqs", "purge_queue", QueueUrl=QUEUE_URL)
    for request in (first, first, other, third):
        log.observe(request)
    admin = f"arn:aws:iam::{ACCOUNT}:root"
    sent = AwsCall(admin, "sqs:SendMessage", (arn("sqs", "start"),), ADMIN)
    assert log.calls() == [
        sent,
        AwsCall(admin, "sqs:SendMessage", (arn("sqs", "start-dlq"),), ADMIN),
    ]
    assert log.counts()[sent] == 2
    assert log.dropped == 1
    log.clear()
    assert (log.calls(), log.dropped) == ([], 0)


# --- in a running stack -------------------------------------------------------------------------
def role_of(cloud: LocalCloud, stack: StackInfo, logical_id: str) -> str:
    name = stack.functions[logical_id]
    role: str = cloud.client("lambda").get_function_configuration(FunctionName=name)["Role"]
    return role


def calls_by(cloud: LocalCloud, principal: str, origin: str) -> set[tuple[str, tuple[str, ...]]]:
    return {
        (c.action, c.resources)
        for c in cloud.aws_calls()
        if (c.principal, c.origin) == (principal, origin)
    }


def queue_arn(stack: StackInfo, output: str) -> str:
    return arn("sqs", stack.outputs[output].rsplit("/", 1)[-1])


def test_the_state_machine_calls_as_its_role(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    # When an execution runs a Lambda task (through the alias) and publishes an event
    state_machine = mini_stack.outputs["StateMachineArn"]
    result = run_execution(cloud, state_machine, json.dumps({"waitSeconds": 0, "fail": False}))
    assert result["status"] == "SUCCEEDED"
    # Then the interpreter's calls were made as the state machine's role
    role = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=state_machine)[
        "roleArn"
    ]
    made = calls_by(cloud, role, STATES)
    assert ("lambda:InvokeFunction", (mini_stack.aliases["EchoFunction"],)) in made
    assert ("events:PutEvents", (arn("events", "event-bus/mini-bus"),)) in made
    # And the test's own calls are the administrator's
    admin = f"arn:aws:iam::{ACCOUNT}:root"
    assert ("states:StartExecution", (state_machine,)) in calls_by(cloud, admin, ADMIN)


def test_function_code_and_the_lambda_service_call_as_the_execution_role(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # When a message is consumed through the queue's mapping
    name = f"calls-{uuid.uuid4()}"
    cloud.client("sqs").send_message(
        QueueUrl=mini_stack.outputs["StartQueueUrl"], MessageBody=json.dumps({"name": name})
    )
    table = mini_stack.outputs["TableName"]

    def consumed() -> bool:
        items = cloud.client("dynamodb").scan(TableName=table)["Items"]
        return any(item["name"]["S"] == name for item in items)

    wait_until(consumed, timeout=15, what="the consumer to run")
    role = role_of(cloud, mini_stack, "ConsumerFunction")
    # Then the handler's calls were made as the consumer's role, from its code
    code = calls_by(cloud, role, CODE)
    assert ("dynamodb:PutItem", (arn("dynamodb", f"table/{table}"),)) in code
    assert ("secretsmanager:GetSecretValue", (mini_stack.secrets["Credentials"],)) in code
    # And the pollers' and the log delivery's as the same role, from the Lambda service (the
    # batch is deleted, and the log shipped, once the invocation has returned)
    start_queue = queue_arn(mini_stack, "StartQueueUrl")
    expected = {("sqs:ReceiveMessage", (start_queue,)), ("sqs:DeleteMessage", (start_queue,))}

    def delivered() -> set[tuple[str, tuple[str, ...]]] | None:
        service = calls_by(cloud, role, LAMBDA_SERVICE)
        shipped = any(action == "logs:PutLogEvents" for action, _ in service)
        return service if expected <= service and shipped else None

    wait_until(delivered, timeout=15, what="the mapping's and the log delivery's calls")
    # While the invocation itself is the Lambda service's own, which no role grants
    assert ("lambda:InvokeFunction", (mini_stack.aliases["ConsumerFunction"],)) in calls_by(
        cloud, LAMBDA_SERVICE_PRINCIPAL, LAMBDA_SERVICE
    )


def test_what_s3_asks_of_kms_is_recorded_as_the_callers(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # Given the bucket encrypts with the stack's KMS key by default (SSE-KMS)
    bucket, key = mini_stack.outputs["BucketName"], f"kms/{uuid.uuid4()}"
    s3 = cloud.client("s3")
    # When an object is written and read back
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    # Then the caller was recorded as asking KMS for a data key, then to decrypt it
    admin = f"arn:aws:iam::{ACCOUNT}:root"
    made = calls_by(cloud, admin, ADMIN)
    key_arn = cloud.client("kms").describe_key(KeyId=mini_stack.resources["DataKey"])[
        "KeyMetadata"
    ]["Arn"]
    assert ("s3:PutObject", (f"arn:aws:s3:::{bucket}/{key}",)) in made
    assert ("kms:GenerateDataKey", (key_arn,)) in made
    assert ("kms:Decrypt", (key_arn,)) in made


def test_a_functions_code_gets_credentials_that_identify_its_role(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    answer = cloud.client("lambda").invoke(
        FunctionName=mini_stack.functions["ProbeFunction"], Payload=b"{}"
    )
    environ = json.loads(answer["Payload"].read())["environ"]
    role = role_of(cloud, mini_stack, "ProbeFunction")
    assert cloud.principals.identify(environ["AWS_ACCESS_KEY_ID"]) == (role, CODE)
    assert environ["AWS_SESSION_TOKEN"]
