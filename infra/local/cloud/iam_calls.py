"""Who calls AWS, and which IAM action on which resources each request asks for.

Pure functions and small records, no moto: the local cloud hands every principal it runs code as
(a function's execution role, a state machine's role, the Lambda service) access keys of its own,
as Lambda and Step Functions hand a role's temporary credentials to what runs as it; every signed
request names its access key (SigV4 ``Credential=AKID/date/region/service/aws4_request``), so
:class:`CallLog` can record, per request, the principal, the IAM action (``"s3:PutObject"``) and
the resource ARNs it touches. A least-privilege test compares those with each role's policies.

Exact resources for the services the product uses (S3, DynamoDB, SQS, Step Functions,
EventBridge, Secrets Manager, Lambda, CloudWatch Logs, KMS); any other call is recorded with its
operation as the action and ``("*",)`` as its resources. What S3 asks of KMS for the caller
(SSE-KMS with a customer key), which IAM evaluates against the caller's permissions, is recorded
as the caller's too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Where a call comes from: the function's code, the Lambda service acting for a function (SQS
#: pollers, log delivery), the Step Functions interpreter, or anyone else (tests, the deployer,
#: a shell): the local account's administrator.
CODE = "code"
LAMBDA_SERVICE = "lambda-service"
STATES = "states"
ADMIN = "admin"
#: The principal of what the Lambda service does itself (invoking a function for a mapping),
#: which no execution role is asked to allow.
LAMBDA_SERVICE_PRINCIPAL = "lambda.amazonaws.com"
ANY_RESOURCE = ("*",)
#: Distinct records kept; past it further new ones are counted in ``CallLog.dropped`` only.
DEFAULT_LIMIT = 50_000
# Signing names whose IAM prefix differs.
_IAM_PREFIXES = {"monitoring": "cloudwatch", "email": "ses"}
# Operations IAM authorizes as another action (SQS's batches as their single counterparts).
_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


# --- ARNs -----------------------------------------------------------------------------------------
def function_arn(name_or_arn: str, qualifier: str | None, region: str, account_id: str) -> str:
    """The ARN a Lambda ``FunctionName`` (a name, ``name:qualifier``, a partial or full ARN) and an
    optional ``Qualifier`` name: qualified when either qualifies it."""
    tail = name_or_arn.split(":function:")[-1]
    name, _, named_qualifier = tail.partition(":")
    if name_or_arn.startswith("arn:"):
        region, account_id = name_or_arn.split(":")[3:5]
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    chosen = named_qualifier or qualifier
    return f"{arn}:{chosen}" if chosen else arn


@dataclass(frozen=True)
class _Where:
    region: str
    account_id: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def named(self, service: str, resource: str, name: str) -> str:
        """``name`` if it is already an ARN, else the ARN of ``resource``."""
        return name if name.startswith("arn:") else self.arn(service, resource)


# --- principals -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    """Credentials that identify one principal acting from one origin."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)

    def boto(self) -> dict[str, str]:
        """Keyword arguments of ``boto3.client``."""
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for the execution role's credentials (``AWS_ACCESS_KEY_ID``
        ...: boto3's keyword names, upper case)."""
        return {name.upper(): value for name, value in self.boto().items()}


#: The keys every other client of the local cloud signs with: the account's administrator.
ADMINISTRATOR = Credentials("testing", "testing", "testing")


class Principals:
    """The access keys the local cloud hands out, and whom each identifies.

    A key is derived from ``(principal, origin)`` (``ASIA`` + 16 characters, the shape of a
    temporary key), so the same role gets the same key every time. Any other key (``testing``)
    is the account's administrator.
    """

    def __init__(self, account_id: str) -> None:
        self.admin = f"arn:aws:iam::{account_id}:root"
        self._by_key: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def credentials(self, principal: str, origin: str) -> Credentials:
        digest = hashlib.sha256(f"{origin}\n{principal}".encode()).digest()
        key = "ASIA" + base64.b32encode(digest).decode()[:16]
        with self._lock:
            self._by_key[key] = (principal, origin)
        return Credentials(key, f"local-secret-{key}", f"local-session-{key}")

    def identify(self, access_key_id: str) -> tuple[str, str]:
        """``(principal, origin)`` of a key."""
        with self._lock:
            return self._by_key.get(access_key_id, (self.admin, ADMIN))


# --- requests -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedRequest:
    """What a request to AWS shows: ``path`` percent-decoded, ``headers`` with lower-case names,
    and the body, read only for the services whose parameters are in it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: Callable[[], bytes] = field(default=lambda: b"", repr=False, compare=False)


@dataclass(frozen=True)
class CredentialScope:
    """``Credential=<access key>/<date>/<region>/<service>/aws4_request`` of a SigV4 request."""

    access_key_id: str
    region: str
    service: str


def credential_scope(request: SignedRequest) -> CredentialScope | None:
    """The SigV4 credential of a request (its ``Authorization`` header, or a presigned URL's
    ``X-Amz-Credential``); None for an unsigned request."""
    authorization = request.headers.get("authorization", "")
    if "Credential=" in authorization:
        value = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        value = urllib.parse.parse_qs(request.query).get("X-Amz-Credential", [""])[0]
    parts = value.strip().split("/")
    if len(parts) < 5:
        return None
    return CredentialScope(parts[0], parts[2], parts[3])


@dataclass(frozen=True)
class Access:
    """What one request asks IAM to allow: an action on resources."""

    action: str
    resources: tuple[str, ...]


def access_of(request: SignedRequest, account_id: str) -> Access | None:
    """The IAM action and resources of a signed request; None when it is not signed."""
    scope = credential_scope(request)
    if scope is None:
        return None
    prefix = _IAM_PREFIXES.get(scope.service, scope.service)
    where = _Where(scope.region, account_id)
    if prefix == "s3":
        return _s3(request)
    if prefix == "lambda":
        return _lambda(request, where)
    operation, params = _operation(request)
    describe = _RESOURCES.get(prefix, _any_resource)
    action = f"{prefix}:{operation}"
    return Access(_ACTIONS.get(action, action), _unique(describe(operation, params, where)))


def _operation(request: SignedRequest) -> tuple[str, dict[str, Any]]:
    """The operation and parameters of a JSON (``X-Amz-Target``) or query protocol request."""
    target = request.headers.get("x-amz-target", "")
    if target:
        try:
            params = json.loads(request.body() or b"{}")
        except ValueError:
            params = {}
        return target.rsplit(".", 1)[-1], params if isinstance(params, dict) else {}
    form = dict(urllib.parse.parse_qsl(request.query))
    if "form-urlencoded" in request.headers.get("content-type", ""):
        form.update(urllib.parse.parse_qsl(request.body().decode("utf-8", errors="replace")))
    return form.pop("Action", request.method), form


def _unique(resources: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(resources))) or ANY_RESOURCE


# --- resources, per service (JSON and query protocols) --------------------------------------------
Describe = Callable[[str, dict[str, Any], _Where], Iterable[str]]


def _any_resource(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    return ANY_RESOURCE


def _dynamodb(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    names = [params.get("TableName"), *(params.get("RequestItems") or {})]
    for item in params.get("TransactItems") or []:
        names += [body.get("TableName") for body in item.values() if isinstance(body, dict)]
    tables = [where.named("dynamodb", f"table/{n}", n) for n in names if isinstance(n, str)]
    index = params.get("IndexName")
    if index and tables:
        return [f"{tables[0]}/index/{index}"]
    return tables


def _sqs(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    url = params.get("QueueUrl")
    if isinstance(url, str):  # <endpoint>/<account>/<name>
        owner, _, queue = urllib.parse.urlsplit(url).path.strip("/").partition("/")
        return [f"arn:aws:sqs:{where.region}:{owner}:{queue}"]
    name = params.get("QueueName")
    if not isinstance(name, str):
        return ANY_RESOURCE
    account = params.get("QueueOwnerAWSAccountId") or where.account_id
    return [f"arn:aws:sqs:{where.region}:{account}:{name}"]


_STATES_ARNS = ("stateMachineArn", "executionArn", "activityArn", "mapRunArn", "resourceArn")


def _states(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    return [params[key] for key in _STATES_ARNS if isinstance(params.get(key), str)]


def _bus(where: _Where, name: Any) -> str:
    name = name if isinstance(name, str) and name else "default"
    return where.named("events", f"event-bus/{name}", name)


def _events(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    if operation == "PutEvents":
        return [_bus(where, entry.get("EventBusName")) for entry in params.get("Entries") or []]
    rule = params.get("Rule") or (params.get("Name") if "Rule" in operation else None)
    bus = params.get("EventBusName")
    if isinstance(rule, str):
        bus_name = bus.rsplit("/", 1)[-1] if isinstance(bus, str) and bus else "default"
        path = rule if bus_name == "default" else f"{bus_name}/{rule}"
        return [where.arn("events", f"rule/{path}")]
    if "EventBus" in operation and params.get("Name"):
        return [_bus(where, params["Name"])]
    return [_bus(where, bus)] if bus else ANY_RESOURCE


def _secretsmanager(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    name = params.get("SecretId") or params.get("Name")
    if not isinstance(name, str):
        return ANY_RESOURCE
    # A secret's ARN ends in six random characters; a name matches it as IAM patterns do.
    return [where.named("secretsmanager", f"secret:{name}-??????", name)]


def _logs(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    group = params.get("logGroupName") or params.get("logGroupIdentifier")
    if not isinstance(group, str):
        return ANY_RESOURCE
    arn = where.named("logs", f"log-group:{group}", group)
    stream = params.get("logStreamName")
    # A call on a stream (CreateLogStream, PutLogEvents) is authorized on the stream's ARN, which
    # the group's ARN as GetAtt gives it (log-group:<name>:*) matches.
    return [f"{arn}:log-stream:{stream}"] if isinstance(stream, str) else [arn]


def _kms(operation: str, params: dict[str, Any], where: _Where) -> Iterable[str]:
    key = params.get("KeyId")
    if not isinstance(key, str):
        return ANY_RESOURCE
    return [where.named("kms", key if key.startswith("alias/") else f"key/{key}", key)]


_RESOURCES: dict[str, Describe] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "states": _states,
    "events": _events,
    "secretsmanager": _secretsmanager,
    "logs": _logs,
    "kms": _kms,
}


# --- S3 (REST, path-style addressing as against a local endpoint) ---------------------------------
_S3_OBJECT = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject", "POST": "PutObject"}
_S3_OBJECT_SUBRESOURCES = {
    ("GET", "tagging"): "GetObjectTagging",
    ("PUT", "tagging"): "PutObjectTagging",
    ("GET", "acl"): "GetObjectAcl",
    ("PUT", "acl"): "PutObjectAcl",
    ("GET", "attributes"): "GetObjectAttributes",
    ("GET", "versionId"): "GetObjectVersion",
    ("HEAD", "versionId"): "GetObjectVersion",
    ("DELETE", "versionId"): "DeleteObjectVersion",
    ("DELETE", "uploadId"): "AbortMultipartUpload",
    ("GET", "uploadId"): "ListMultipartUploadParts",
    ("DELETE", ""): "DeleteObject",
}
_S3_BUCKET = {"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket"}
_S3_BUCKET_SUBRESOURCES = {
    ("DELETE", ""): "DeleteBucket",
    ("POST", "delete"): "DeleteObject",
    ("GET", "versions"): "ListBucketVersions",
    ("GET", "uploads"): "ListBucketMultipartUploads",
    ("GET", "location"): "GetBucketLocation",
    ("GET", "policy"): "GetBucketPolicy",
    ("PUT", "policy"): "PutBucketPolicy",
    ("GET", "encryption"): "GetEncryptionConfiguration",
    ("PUT", "encryption"): "PutEncryptionConfiguration",
    ("GET", "lifecycle"): "GetLifecycleConfiguration",
    ("PUT", "lifecycle"): "PutLifecycleConfiguration",
    ("GET", "tagging"): "GetBucketTagging",
    ("PUT", "tagging"): "PutBucketTagging",
    ("GET", "versioning"): "GetBucketVersioning",
    ("PUT", "versioning"): "PutBucketVersioning",
    ("GET", "notification"): "GetBucketNotification",
    ("PUT", "notification"): "PutBucketNotification",
    ("GET", "publicAccessBlock"): "GetBucketPublicAccessBlock",
    ("PUT", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("GET", "ownershipControls"): "GetBucketOwnershipControls",
    ("PUT", "ownershipControls"): "PutBucketOwnershipControls",
}


def _s3(request: SignedRequest) -> Access:
    bucket, _, key = request.path.lstrip("/").partition("/")
    if not bucket:
        return Access("s3:ListAllMyBuckets", ANY_RESOURCE)
    query = urllib.parse.parse_qs(request.query, keep_blank_values=True)
    if key:
        action = _s3_action(request.method, query, _S3_OBJECT_SUBRESOURCES, _S3_OBJECT)
        return Access(f"s3:{action}", (f"arn:aws:s3:::{bucket}/{key}",))
    action = _s3_action(request.method, query, _S3_BUCKET_SUBRESOURCES, _S3_BUCKET)
    objects = action.endswith("Object")  # DeleteObjects: the keys are in the body
    return Access(f"s3:{action}", (f"arn:aws:s3:::{bucket}{'/*' if objects else ''}",))


#: ``(bucket, object key or None) -> the customer KMS key S3 encrypts it with (None: none)``
KmsKeyOf = Callable[[str, str | None], str | None]
_S3_KMS = {
    ("PUT", "s3:PutObject"): "kms:GenerateDataKey",
    ("POST", "s3:PutObject"): "kms:GenerateDataKey",
    ("GET", "s3:GetObject"): "kms:Decrypt",
}


def s3_kms_access(
    request: SignedRequest, access: Access, kms_key_of: KmsKeyOf, account_id: str
) -> Access | None:
    """What S3 asks KMS for, with the caller's permissions, to write (``GenerateDataKey``) or
    read (``Decrypt``) an object under SSE-KMS with a customer key; None for anything else."""
    action = _S3_KMS.get((request.method, access.action))
    scope = credential_scope(request)
    if action is None or scope is None:
        return None
    bucket, _, key = request.path.lstrip("/").partition("/")
    reading = request.method == "GET"
    chosen = None if reading else request.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    kms_key = chosen or kms_key_of(bucket, key if reading else None)
    if not kms_key:
        return None
    where = _Where(scope.region, account_id)
    return Access(action, (where.named("kms", f"key/{kms_key}", kms_key),))


def _s3_action(
    method: str,
    query: dict[str, list[str]],
    subresources: dict[tuple[str, str], str],
    plain: dict[str, str],
) -> str:
    for (verb, name), action in subresources.items():
        if verb == method and (name in query or not name):
            return action
    return plain.get(method, method)


# --- Lambda (REST) --------------------------------------------------------------------------------
_LAMBDA_FUNCTION = {
    ("POST", "invocations"): "InvokeFunction",
    ("POST", "invoke-async"): "InvokeAsync",
    ("GET", ""): "GetFunction",
    ("DELETE", ""): "DeleteFunction",
    ("GET", "configuration"): "GetFunctionConfiguration",
    ("PUT", "configuration"): "UpdateFunctionConfiguration",
    ("PUT", "code"): "UpdateFunctionCode",
    ("GET", "versions"): "ListVersionsByFunction",
    ("POST", "versions"): "PublishVersion",
    ("GET", "aliases"): "ListAliases",
    ("POST", "aliases"): "CreateAlias",
    ("GET", "policy"): "GetPolicy",
    ("POST", "policy"): "AddPermission",
    ("DELETE", "policy"): "RemovePermission",
    ("GET", "concurrency"): "GetFunctionConcurrency",
    ("PUT", "concurrency"): "PutFunctionConcurrency",
    ("DELETE", "concurrency"): "DeleteFunctionConcurrency",
}
_LAMBDA_ALIAS = {"GET": "GetAlias", "PUT": "UpdateAlias", "DELETE": "DeleteAlias"}
_LAMBDA_MAPPING = {"GET": "GetEventSourceMapping", "PUT": "UpdateEventSourceMapping"}
_LAMBDA_COLLECTIONS = {
    ("GET", "functions"): "ListFunctions",
    ("POST", "functions"): "CreateFunction",
    ("GET", "event-source-mappings"): "ListEventSourceMappings",
    ("POST", "event-source-mappings"): "CreateEventSourceMapping",
}


def _lambda(request: SignedRequest, where: _Where) -> Access:
    """``/<api version>/functions/<name>[/<sub>[/<alias>]]`` or ``/event-source-mappings/``."""
    parts = [p for p in request.path.split("/") if p][1:]
    collection, name = [*parts, "", ""][:2]
    method = request.method
    if not name or collection not in {"functions", "event-source-mappings"}:
        action = _LAMBDA_COLLECTIONS.get((method, collection), method)
        return Access(f"lambda:{action}", ANY_RESOURCE)
    if collection == "event-source-mappings":
        action = _LAMBDA_MAPPING.get(method, "DeleteEventSourceMapping")
        return Access(f"lambda:{action}", (where.arn("lambda", f"event-source-mapping:{name}"),))
    sub, alias = [*parts[2:], "", ""][:2]
    qualifier = alias or urllib.parse.parse_qs(request.query).get("Qualifier", [""])[0]
    known = _LAMBDA_ALIAS.get(method) if alias else _LAMBDA_FUNCTION.get((method, sub))
    arn = function_arn(name, qualifier, where.region, where.account_id)
    return Access(f"lambda:{known or method}", (arn,))


# --- the log --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsCall:
    """One kind of call a principal made: who (an IAM role ARN, the account's administrator, or
    ``lambda.amazonaws.com``), which IAM action, on which resources, from where (``origin``:
    ``code``, ``lambda-service``, ``states`` or ``admin``)."""

    principal: str
    action: str
    resources: tuple[str, ...]
    origin: str


class CallLog:
    """Every distinct :class:`AwsCall` seen, with how many times; thread-safe, bounded."""

    def __init__(
        self,
        principals: Principals,
        account_id: str,
        *,
        kms_key_of: KmsKeyOf | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> None:
        self._principals = principals
        self._account_id = account_id
        self._kms_key_of = kms_key_of
        self._limit = limit
        self._counts: dict[AwsCall, int] = {}
        self._lock = threading.Lock()
        self.dropped = 0

    def observe(self, request: SignedRequest) -> AwsCall | None:
        """Record the call a request makes, and what S3 asks KMS for on its behalf (None when
        it is not a signed AWS request)."""
        scope = credential_scope(request)
        access = access_of(request, self._account_id) if scope is not None else None
        if scope is None or access is None:
            return None
        principal, origin = self._principals.identify(scope.access_key_id)
        call = AwsCall(principal, access.action, access.resources, origin)
        self._add(call)
        if self._kms_key_of is not None and access.action.startswith("s3:"):
            kms = s3_kms_access(request, access, self._kms_key_of, self._account_id)
            if kms is not None:
                self._add(AwsCall(principal, kms.action, kms.resources, origin))
        return call

    def _add(self, call: AwsCall) -> None:
        with self._lock:
            if call in self._counts or len(self._counts) < self._limit:
                self._counts[call] = self._counts.get(call, 0) + 1
            else:
                self.dropped += 1

    def calls(self) -> list[AwsCall]:
        """Each distinct call, in the order first seen."""
        with self._lock:
            return list(self._counts)

    def counts(self) -> dict[AwsCall, int]:
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self.dropped = 0
