"""The one module allowed to touch moto's private API (read from moto 5.2.5).

Every other module of the local cloud talks to moto through the AWS APIs it serves, like any
client would. What cannot be done that way is here, each use with why:

- run function code: moto runs it only in Docker, through ``LambdaFunction._invoke_lambda``;
- serve moto with a fault-injecting WSGI layer in front of it (``ThreadedMotoServer`` takes no
  middleware);
- deliver SQS messages to Lambda by polling, as AWS does: moto invokes a mapped function inside
  ``SendMessage`` once and never again, so its synchronous delivery is switched off;
- teach moto's CloudFormation the resource types SAM stacks use that it lacks or gets wrong
  (``AWS::Lambda::Alias``, ``AWS::Lambda::Version``, ``AWS::SecretsManager::Secret``, a function's
  ``LoggingConfig``, an event source mapping on an alias), registered as its own models are;
- put state machines, which its CloudFormation cannot execute, in the stack's own resource map,
  so ``Ref``/``GetAtt``, outputs and deletion see the executing ones;
- do once what moto's Step Functions interpreter redoes for every execution (parse the
  definition, build boto3 clients and JSONPath parsers), which made bursts CPU-bound, and sign
  its calls with the state machine's role;
- restore the Step Functions configuration a cloud changed when it stops.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.local.cloud.iam_calls import function_arn

ACCOUNT_ID = "123456789012"  # moto's default account: every resource lives there


# --- Lambda ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionConfig:
    """What running one version of a deployed function needs, copied out of moto's model."""

    name: str
    #: this version's ARN (unqualified for $LATEST, ``...:function:<name>:<n>`` for a version)
    arn: str
    #: the execution role, whose credentials the function's code gets
    role: str
    handler: str
    runtime: str
    region: str
    version: str
    memory_mb: int
    timeout_s: float
    environment: Mapping[str, str]
    reserved_concurrency: int | None
    code_sha256: str
    #: where its logs go: ``LoggingConfig.LogGroup``, else ``/aws/lambda/<name>``
    log_group: str
    architectures: tuple[str, ...]
    code_zip: bytes = field(repr=False, compare=False)

    @property
    def revision(self) -> str:
        """Changes whenever code or configuration does: environments of another revision are
        never reused (a deployment means new execution environments in AWS too)."""
        environment = json.dumps(dict(sorted(self.environment.items())))
        return "|".join(
            (
                self.arn,
                self.role,
                self.log_group,
                self.code_sha256,
                self.handler,
                self.runtime,
                str(self.memory_mb),
                str(self.timeout_s),
                environment,
            )
        )


class LambdaThrottled(Exception):
    """Raised by an invoker to answer ``Invoke`` with HTTP 429 ``TooManyRequestsException``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: ``(version invoked, event_json, ARN the caller invoked) -> (payload_json, errored)``
Invoker = Callable[[FunctionConfig, str, str], tuple[str, bool]]
_installed: dict[str, Any] = {}
_INHERITED = object()  # what a patched attribute was when the class only inherited it
_install_lock = threading.Lock()
_invocation = threading.local()  # the ARN the current request invoked, per server thread


def install_lambda_invoker(invoker: Invoker) -> None:
    """Make every invocation moto serves (``Invoke``, Step Functions tasks) call ``invoker``.

    ``LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)`` is the single place
    moto runs code, on the version the call resolved to (an alias resolves to its version).
    ``logs`` is what ``LogType: Tail`` returns; the runtime ships logs to CloudWatch Logs itself,
    so it is left empty. ``LambdaBackend.invoke(function_name, qualifier, ...)`` is where the ARN
    the caller named is still known (the handler's ``context.invoked_function_arn`` shows it).
    """
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    with _install_lock:
        if "_invoke_lambda" in _installed:
            raise RuntimeError("a Lambda invoker is already installed in this process")
        _installed["_invoke_lambda"] = LambdaFunction.__dict__["_invoke_lambda"]
        _installed["invoke"] = backend_invoke = LambdaBackend.__dict__["invoke"]

    def invoke(backend: Any, function_name: str, qualifier: str | None, *rest: Any) -> Any:
        _invocation.arn = function_arn(
            function_name, qualifier, backend.region_name, backend.account_id
        )
        try:
            return backend_invoke(backend, function_name, qualifier, *rest)
        finally:
            _invocation.arn = None

    def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
        body = event if isinstance(event, str) else json.dumps({} if event is None else event)
        config = function_config(fn)
        invoked = getattr(_invocation, "arn", None) or config.arn
        try:
            payload, errored = invoker(config, body, invoked)
        except LambdaThrottled as throttled:
            raise _too_many_requests(throttled.reason) from None
        return payload, errored, ""

    setattr(LambdaBackend, "invoke", invoke)  # noqa: B010 - patching moto
    setattr(LambdaFunction, "_invoke_lambda", _invoke_lambda)  # noqa: B010


def uninstall_lambda_invoker() -> None:
    """Put moto's own runner back."""
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    with _install_lock:
        original = _installed.pop("_invoke_lambda", None)
        backend_invoke = _installed.pop("invoke", None)
    if original is not None:
        setattr(LambdaFunction, "_invoke_lambda", original)  # noqa: B010
    if backend_invoke is not None:
        setattr(LambdaBackend, "invoke", backend_invoke)  # noqa: B010


def lambda_invoker_installed() -> bool:
    return "_invoke_lambda" in _installed


def function_config(fn: Any) -> FunctionConfig:
    """A :class:`FunctionConfig` from moto's ``LambdaFunction`` (or one of its versions)."""
    reserved = fn.reserved_concurrency
    return FunctionConfig(
        name=fn.function_name,
        arn=fn.function_arn,
        role=str(fn.role),
        handler=fn.handler or "",
        runtime=fn.run_time or "",
        region=fn.region,
        version=str(fn.version),
        memory_mb=int(fn.memory_size or 128),
        timeout_s=float(fn.timeout or 3),
        # AWS keeps every value as a string; moto keeps Number parameters as ints.
        environment={k: _env_string(v) for k, v in (fn.environment_vars or {}).items()},
        reserved_concurrency=int(reserved) if reserved not in (None, "") else None,
        code_sha256=str(getattr(fn, "code_sha_256", "") or ""),
        log_group=fn.logs_group_name,
        architectures=tuple(fn.architectures or ("x86_64",)),
        code_zip=bytes(getattr(fn, "code_bytes", b"") or b""),
    )


def _too_many_requests(reason: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
    error.code = 429
    # The Reason field AWS adds, e.g. ReservedFunctionConcurrentInvocationLimitExceeded.
    error.description = json.dumps(
        {"__type": "TooManyRequestsException", "message": "Rate Exceeded.", "Reason": reason}
    )
    return error


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --- SQS ----------------------------------------------------------------------------------------
def detach_sqs_event_source_mappings(region: str) -> None:
    """Stop moto from invoking mapped functions inside ``SendMessage``.

    The mappings stay in the Lambda backend (``ListEventSourceMappings`` shows them); the local
    cloud's pollers deliver their messages through the public SQS and Lambda APIs instead.
    """
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[ACCOUNT_ID][region].queues.values():
        queue.lambda_event_source_mappings.clear()


# --- S3 -----------------------------------------------------------------------------------------
def s3_kms_key(region: str, bucket_name: str, key_name: str | None) -> str | None:
    """The customer KMS key S3 encrypts an object with (SSE-KMS): the one it was written with,
    else the bucket's default encryption's; None without one. moto keeps both (``FakeKey``,
    ``FakeBucket.encryption``) but never calls KMS, so the local cloud records what S3 would ask
    KMS for on the caller's behalf from them."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    try:
        bucket = s3_backends[ACCOUNT_ID][get_partition(region)].get_bucket(bucket_name)
    except MissingBucket:
        return None
    stored = bucket.keys.get(key_name) if key_name else None
    if stored is not None and stored.encryption == "aws:kms" and stored.kms_key_id:
        return str(stored.kms_key_id)
    rule = (bucket.encryption or {}).get("Rule") or {}
    default = (rule[0] if isinstance(rule, list) else rule).get(
        "ApplyServerSideEncryptionByDefault"
    ) or {}
    key = default.get("KMSMasterKeyID") if default.get("SSEAlgorithm") == "aws:kms" else None
    return str(key) if key else None


# --- the server ----------------------------------------------------------------------------------
def make_moto_server(host: str, port: int, wrap: Callable[[Any], Any]) -> Any:
    """A threaded werkzeug server serving moto's dispatcher wrapped by ``wrap(app)``.

    The same pieces ``ThreadedMotoServer`` assembles, which offers no way to add a WSGI layer.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    return make_server(host, port, wrap(app), threaded=True, request_handler=MotoRequestHandler)


#: The boto3 credentials of what runs as an IAM role: ``role ARN -> client keyword arguments``.
RoleCredentials = Callable[[str], Mapping[str, str]]


def speed_up_interpreter(credentials: RoleCredentials | None = None) -> None:
    """Do once what moto redoes for every execution, state or request; same answers, less CPU.

    The Step Functions interpreter parses the whole definition with ANTLR at each execution
    start (about half a CPU-second for this product's), builds a new boto3 client for every
    Lambda invocation and service call, and a new JSONPath parser for every path it evaluates;
    the server lists moto's package directory for every request; DynamoDB validates an update
    expression's clause count in quadratic time. A burst of executions was CPU-bound on these.
    Parsed definitions are shared: components keep per-execution state in the execution's own
    heap, keyed per component. Clients are shared: boto3 clients are thread-safe.

    With ``credentials``, the interpreter's calls (a Lambda task's ``Invoke``, ``PutEvents``...)
    are signed with those of the state machine's role, as Step Functions calls as that role.
    """
    # The preprocessor imports every state component, so all are loaded before the scan below.
    import moto.stepfunctions.parser.asl.parse.preprocessor  # noqa: F401
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import boto_client

    with _install_lock:
        if "patches" in _installed:
            return
        parse = AmazonStateLanguageParser.__dict__["parse"].__func__

        @functools.lru_cache(maxsize=64)
        def parse_once(definition: str) -> Any:
            parsed = parse(definition)
            _assign_heap_keys(parsed[0], set())
            return parsed

        make_client = boto_client.boto_client_for
        shared_client = _shared_clients(make_client, credentials)
        from moto import backends
        from moto.dynamodb.parsing.validators import (
            ActionCountValidator,
            OverlappingPathsValidator,
        )

        module_names = tuple(backends.list_of_moto_modules())
        patches: list[tuple[Any, str, Any]] = [
            (AmazonStateLanguageParser, "parse", staticmethod(parse_once)),
            # Read the package directory for every request to find the service; it never changes.
            (backends, "list_of_moto_modules", lambda: module_names),
            # Checked on every nested node of an update expression, quadratic in its actions.
            (ActionCountValidator, "traverse", _at_root("verify_action_counts")),
            (OverlappingPathsValidator, "traverse", _at_root("check_for_overlapping_paths")),
        ]
        import jsonpath_ng
        from jsonpath_ng import ext

        originals = (getattr(jsonpath_ng, "parse"), getattr(ext, "parse"))  # noqa: B009
        path_parsers = {parser: functools.lru_cache(maxsize=1024)(parser) for parser in originals}
        # EventBridge's input transformer imports the parser at each call.
        patches += [(module, "parse", path_parsers[module.parse]) for module in (jsonpath_ng, ext)]
        # Every interpreter module that imported these by name holds its own reference.
        for name, module in list(sys.modules.items()):
            if not name.startswith("moto.stepfunctions.parser"):
                continue
            if getattr(module, "boto_client_for", None) is make_client:
                patches.append((module, "boto_client_for", shared_client))
            parser = getattr(module, "parse", None)
            if parser in path_parsers:
                patches.append((module, "parse", path_parsers[parser]))
        _installed["patches"] = [
            (owner, name, owner.__dict__.get(name, _INHERITED)) for owner, name, _ in patches
        ]
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)


def _shared_clients(
    make_client: Callable[..., Any], credentials: RoleCredentials | None
) -> Callable[..., Any]:
    """moto's ``boto_client_for(region, service, state_credentials)``, one client per region,
    service and role. ``state_credentials.role_arn`` is the role the state acts as (the state
    machine's, or a state's ``Credentials``); moto signs every client with the same dummy keys, so
    the client is rebuilt with moto's endpoint and configuration and the role's own keys."""
    import boto3

    clients: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()

    def shared_client(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None)
        key = (region, service, role)
        with lock:
            if key not in clients:
                client = make_client(region, service, state_credentials)
                if role and credentials is not None:
                    client = boto3.client(
                        service,
                        region_name=region,
                        endpoint_url=client.meta.endpoint_url,
                        config=client.meta.config,
                        **credentials(role),
                    )
                clients[key] = client
            return clients[key]

    return shared_client


def _at_root(check: str) -> Callable[[Any, Any], Any]:
    """A validator's ``traverse`` that checks an update expression once, at its root (which
    holds every clause and action), rather than at each nested node: the same errors."""

    def traverse(validator: Any, node: Any) -> Any:
        from moto.dynamodb.parsing.ast_nodes import UpdateExpression  # type: ignore[attr-defined]

        return getattr(validator, check)(node) if isinstance(node, UpdateExpression) else node

    return traverse


def restore_interpreter() -> None:
    with _install_lock:
        originals = _installed.pop("patches", [])
    for owner, name, original in originals:
        if original is _INHERITED:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


def _assign_heap_keys(component: Any, seen: set[int]) -> None:
    """Give every component its heap key now: a key is made on first use, and two executions
    using a shared component for the first time at once could otherwise each make one."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    if id(component) in seen:
        return
    seen.add(id(component))
    if isinstance(component, EvalComponent):
        _ = component.heap_key
        children: Any = vars(component).values()
    elif isinstance(component, list | tuple | set):
        children = component
    elif isinstance(component, dict):
        children = component.values()
    else:
        return
    for child in children:
        _assign_heap_keys(child, seen)


def stepfunctions_config() -> dict[str, Any]:
    """The Step Functions part of moto's process-wide configuration (to restore it later)."""
    from moto.core.config import default_user_config

    return dict(default_user_config.get("stepfunctions", {}))


def restore_stepfunctions_config(saved: dict[str, Any]) -> None:
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = saved  # type: ignore[typeddict-item]


# --- CloudFormation ------------------------------------------------------------------------------
def register_cloudformation_models() -> None:
    """Teach moto's CloudFormation the resource types SAM stacks use that moto lacks or gets wrong.

    moto picks a type's model among ``CloudFormationModel.__subclasses__()`` (direct subclasses
    only), through ``lru_cache``d ``get_model_list``/``get_model_map``/``get_name_type_map`` in
    ``moto/cloudformation/parsing.py``, the last defined winning for its type: these are defined
    after moto's own, then those caches cleared. Once per process; they stay, as they only make
    moto's CloudFormation do what CloudFormation does:

    - ``AWS::Lambda::Version``: moto publishes the version but gives it no ``Ref`` (its ARN) nor
      ``GetAtt .Version``, so an alias (``AutoPublishAlias``) could not name it;
    - ``AWS::Lambda::Alias``: moto has no model; created through moto's Lambda backend;
    - ``AWS::SecretsManager::Secret``: moto has no model, and skips it; created through moto's
      Secrets Manager backend while the stack is created, so a function's environment referring to
      it is right when the function (and a version published from it) is created;
    - ``AWS::Lambda::Function``: moto's, plus what it drops: ``LoggingConfig.LogGroup`` (where logs
      go), ``Architectures``, ``TracingConfig``; environment values kept as strings, as AWS keeps
      them (moto keeps a Number parameter as an int);
    - ``AWS::Lambda::EventSourceMapping``: moto's, keeping the alias ARN it was given as
      ``FunctionArn`` (moto keeps the ARN of the version the alias pointed to then);
    - ``AWS::KMS::Key``: moto's, with ``KeyPolicy`` stored as the JSON text the API stores (moto
      keeps the template's object, and ``DescribeKey`` then fails) and optional, as it is;
    - ``AWS::Logs::LogGroup``: moto's, with ``GetAtt .Arn`` ending in ``:*`` as CloudFormation's
      does (what a policy granting ``logs:PutLogEvents`` on it matches streams with);
    - ``AWS::CloudWatch::Alarm``: added (see :class:`_AlarmModel`);
    - ``AWS::IAM::Role`` (its ``Policies``) and ``AWS::IAM::Policy``: moto's, with policy
      documents stored as the JSON text the API stores (moto keeps the template's objects, and
      ``GetRolePolicy`` then answers Python's ``repr`` of them).
    """
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    with _install_lock:
        if "models" in _installed:
            return
        # moto tracks its model classes through their metaclass.
        meta: Any = type(CloudFormationModel)
        amended = (
            _FunctionModel,
            _EventSourceMappingModel,
            _KmsKeyModel,
            _LogGroupModel,
            _RoleModel,
            _InlinePolicyModel,
        )
        # An amended model inherits the rest (type, name property, attributes) from moto's.
        bases: list[tuple[Any, ...]] = [(model, model._moto_model()) for model in amended]
        bases += [(model,) for model in (_VersionModel, _AliasModel, _SecretModel, _AlarmModel)]
        models = {
            classes[-1].cloudformation_type(): meta(
                f"LocalCloud{classes[0].__name__.strip('_').removesuffix('Model')}",
                (*classes, CloudFormationModel),
                {"__module__": __name__},
            )
            for classes in bases
        }
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()
        chosen = parsing.get_model_map()
        ignored = sorted(kind for kind, model in models.items() if chosen.get(kind) is not model)
        if ignored:
            raise RuntimeError(f"moto's CloudFormation did not take the models for {ignored}")
        _installed["models"] = models


class _Resource:
    """A resource in a stack's resource map as moto's CloudFormation uses it: what ``Ref`` gives,
    the attributes ``GetAtt`` gives, and how deleting the stack deletes it."""

    def __init__(
        self, physical_id: str, attributes: dict[str, str], on_delete: Callable[[], object]
    ) -> None:
        self.physical_resource_id = physical_id
        self.logical_resource_id = ""  # set by moto after creation
        self._attributes = attributes
        self._on_delete = on_delete

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name in self._attributes:
            return self._attributes[attribute_name]
        raise NotImplementedError(f'"Fn::GetAtt" : [ "{{0}}" , "{attribute_name}" ]"')

    def delete(self, account_id: str, region_name: str) -> None:
        self._on_delete()

    def is_created(self) -> bool:
        return True


class _Model:
    """What moto asks of a model class besides ``create_from_cloudformation_json``."""

    TYPE = ""
    ATTRIBUTES: frozenset[str] = frozenset()

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""  # no name property: moto names it after the stack and logical id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES


def _unless_gone(action: Callable[[], object], gone: type[Exception]) -> Callable[[], None]:
    """``action``, where the resource being gone already (with its function) is fine: moto
    deletes a stack's resources in no particular order."""

    def run() -> None:
        with contextlib.suppress(gone):
            action()

    return run


class _VersionModel(_Model):
    TYPE = "AWS::Lambda::Version"
    ATTRIBUTES = frozenset({"Version", "FunctionArn"})

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region: str,
        **kwargs: Any,
    ) -> _Resource:
        from moto.awslambda.exceptions import UnknownFunctionException
        from moto.awslambda.utils import get_backend

        backend = get_backend(account_id, region)
        properties = cloudformation_json["Properties"]
        version = backend.publish_version(
            properties["FunctionName"], properties.get("Description") or ""
        )
        if version is None:
            raise ValueError(f"cannot publish a version of {properties['FunctionName']}")
        name, number = version.function_name, str(version.version)
        return _Resource(
            version.function_arn,
            {"Version": number, "FunctionArn": function_arn(name, None, region, account_id)},
            _unless_gone(lambda: backend.delete_function(name, number), UnknownFunctionException),
        )


class _AliasModel(_Model):
    TYPE = "AWS::Lambda::Alias"
    ATTRIBUTES = frozenset({"AliasArn"})

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region: str,
        **kwargs: Any,
    ) -> _Resource:
        from moto.awslambda.exceptions import UnknownFunctionException
        from moto.awslambda.utils import get_backend

        backend = get_backend(account_id, region)
        properties = cloudformation_json["Properties"]
        name, function = properties["Name"], properties["FunctionName"]
        alias = backend.create_alias(
            name,
            function,
            str(properties["FunctionVersion"]),
            properties.get("Description") or "",
            "",  # weighted routing is not emulated: the alias always runs FunctionVersion
        )
        return _Resource(
            alias.arn,
            {"AliasArn": alias.arn},
            _unless_gone(lambda: backend.delete_alias(name, function), UnknownFunctionException),
        )


#: ``GenerateSecretString`` flags -> moto's ``get_random_password`` arguments (and defaults).
_PASSWORD_FLAGS = {
    "ExcludeNumbers": ("exclude_numbers", False),
    "ExcludePunctuation": ("exclude_punctuation", False),
    "ExcludeUppercase": ("exclude_uppercase", False),
    "ExcludeLowercase": ("exclude_lowercase", False),
    "IncludeSpace": ("include_space", False),
    "RequireEachIncludedType": ("require_each_included_type", True),
}


class _SecretModel(_Model):
    TYPE = "AWS::SecretsManager::Secret"
    ATTRIBUTES = frozenset({"Id"})

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region: str,
        **kwargs: Any,
    ) -> _Resource:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[account_id][region]
        properties = cloudformation_json["Properties"]
        secret_string = properties.get("SecretString")
        if secret_string is None and properties.get("GenerateSecretString") is not None:
            secret_string = _generated_secret(backend, properties["GenerateSecretString"])
        created = backend.create_secret(
            name=resource_name,
            secret_string=secret_string,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn: str = json.loads(created)["ARN"]
        return _Resource(
            arn,
            {"Id": arn},
            lambda: backend.delete_secret(arn, None, force_delete_without_recovery=True),
        )


class _AlarmModel(_Model):
    """``AWS::CloudWatch::Alarm``, which moto's CloudFormation lacks: the alarm is put with
    moto's CloudWatch (a metric-math alarm keeps its description, actions and threshold; moto
    does not evaluate alarms either way), so ``Ref`` gives its name and ``GetAtt .Arn`` its ARN,
    as a dashboard's alarm widget needs."""

    TYPE = "AWS::CloudWatch::Alarm"
    ATTRIBUTES = frozenset({"Arn"})

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region: str,
        **kwargs: Any,
    ) -> _Resource:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[account_id][region]
        given = cloudformation_json["Properties"]
        alarm = backend.put_metric_alarm(
            name=resource_name,
            namespace=given.get("Namespace") or "",
            metric_name=given.get("MetricName") or "",
            comparison_operator=given["ComparisonOperator"],
            evaluation_periods=int(given["EvaluationPeriods"]),
            period=int(given.get("Period") or 60),
            threshold=float(given.get("Threshold") or 0),
            statistic=given.get("Statistic") or "Sum",
            description=given.get("AlarmDescription") or "",
            dimensions=list(given.get("Dimensions") or []),
            alarm_actions=list(given.get("AlarmActions") or []),
            ok_actions=list(given.get("OKActions") or []),
            treat_missing_data=given.get("TreatMissingData"),
        )
        return _Resource(
            alarm.name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([alarm.name])
        )


def _generated_secret(backend: Any, generate: dict[str, Any]) -> str:
    """What CloudFormation stores for ``GenerateSecretString``: a password, or a JSON document
    (``SecretStringTemplate``) with the password under ``GenerateStringKey``."""
    flags = {
        argument: str(generate.get(prop, default)).lower() == "true"
        for prop, (argument, default) in _PASSWORD_FLAGS.items()
    }
    answer = backend.get_random_password(
        password_length=int(generate.get("PasswordLength", 32)),
        exclude_characters=str(generate.get("ExcludeCharacters", "")),
        **flags,
    )
    password: str = json.loads(answer)["RandomPassword"]
    template = generate.get("SecretStringTemplate")
    if not template:
        return password
    document = json.loads(template)
    document[generate.get("GenerateStringKey", "password")] = password
    return json.dumps(document)


class _Amended:
    """moto's model of a type with what it drops or gets wrong amended (see the registration):
    the template's properties before moto creates the resource, the resource after."""

    @staticmethod
    def _moto_model() -> Any:
        raise NotImplementedError

    @classmethod
    def _before(cls, properties: dict[str, Any], account_id: str) -> None:
        """Amend the properties moto reads."""

    @classmethod
    def _after(cls, resource: Any, properties: dict[str, Any], account_id: str, region: str) -> Any:
        """Amend what moto created (or stand in for it in the stack)."""
        return resource

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.setdefault("Properties", {})
        cls._before(properties, account_id)
        resource = cls._moto_model().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region, **kwargs
        )
        return cls._after(resource, properties, account_id, region)


def _json_text(document: Any) -> str:
    """A policy document as the APIs store it: JSON text."""
    return document if isinstance(document, str) else json.dumps(document)


#: Function properties moto's model drops -> the attribute of its ``LambdaFunction`` they set.
_FUNCTION_EXTRAS = {"Architectures": "architectures", "TracingConfig": "tracing_config"}


class _FunctionModel(_Amended):
    @staticmethod
    def _moto_model() -> Any:
        from moto.awslambda.models import LambdaFunction

        return LambdaFunction

    @classmethod
    def _before(cls, properties: dict[str, Any], account_id: str) -> None:
        variables = (properties.get("Environment") or {}).get("Variables")
        if variables:
            strings = {key: _env_string(value) for key, value in variables.items()}
            properties["Environment"] = {"Variables": strings}

    @classmethod
    def _after(cls, resource: Any, properties: dict[str, Any], account_id: str, region: str) -> Any:
        for prop, attribute in _FUNCTION_EXTRAS.items():
            if properties.get(prop):
                setattr(resource, attribute, properties[prop])
        log_group = (properties.get("LoggingConfig") or {}).get("LogGroup")
        if log_group:
            resource.logs_group_name = log_group  # moto's own runner writes there too
        return resource


class _EventSourceMappingModel(_Amended):
    @staticmethod
    def _moto_model() -> Any:
        from moto.awslambda.models import EventSourceMapping

        return EventSourceMapping

    @classmethod
    def _after(cls, resource: Any, properties: dict[str, Any], account_id: str, region: str) -> Any:
        arn = function_arn(str(properties["FunctionName"]), None, region, account_id)
        if arn.count(":") == 7:  # arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>
            resource.function_arn = arn
        return resource


class _KmsKeyModel(_Amended):
    @staticmethod
    def _moto_model() -> Any:
        from moto.kms.models import Key

        return Key

    @classmethod
    def _before(cls, properties: dict[str, Any], account_id: str) -> None:
        policy = properties.get("KeyPolicy") or _default_key_policy(account_id)
        properties["KeyPolicy"] = _json_text(policy)


class _LogGroupModel(_Amended):
    @staticmethod
    def _moto_model() -> Any:
        from moto.logs.models import LogGroup

        return LogGroup

    @classmethod
    def _after(cls, resource: Any, properties: dict[str, Any], account_id: str, region: str) -> Any:
        return _Resource(
            resource.physical_resource_id,
            {"Arn": f"{resource.arn}:*"},
            lambda: resource.delete(account_id, region),
        )


class _RoleModel(_Amended):
    @staticmethod
    def _moto_model() -> Any:
        from moto.iam.models import Role

        return Role

    @classmethod
    def _before(cls, properties: dict[str, Any], account_id: str) -> None:
        properties["Policies"] = [
            {**policy, "PolicyDocument": _json_text(policy["PolicyDocument"])}
            for policy in properties.get("Policies") or []
        ]


class _InlinePolicyModel(_Amended):
    @staticmethod
    def _moto_model() -> Any:
        from moto.iam.models import InlinePolicy

        return InlinePolicy

    @classmethod
    def _before(cls, properties: dict[str, Any], account_id: str) -> None:
        properties["PolicyDocument"] = _json_text(properties.get("PolicyDocument") or {})


def _default_key_policy(account_id: str) -> dict[str, Any]:
    """The policy KMS gives a key created without one: the account administers it through IAM."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


class StackInternals:
    """One moto CloudFormation stack's resource map, where the deployer fills moto's gaps."""

    def __init__(self, region: str, stack_id: str) -> None:
        from moto.cloudformation.models import cloudformation_backends

        self.region = region
        self._stack = cloudformation_backends[ACCOUNT_ID][region].get_stack(stack_id)

    def created_resources(self, logical_ids: set[str]) -> dict[str, Any]:
        """Resources moto created, by logical id. ``DescribeStackResources`` lists the skipped
        ones too, without ids, and gives no physical id to an event bus."""
        return {
            logical_id: resource
            for logical_id, resource in self._stack.resource_map._parsed_resources.items()
            if logical_id in logical_ids and resource is not None
        }

    def resolve(self, value: Any) -> Any:
        """A template value with ``Ref``/``GetAtt``/``Sub``/``If`` resolved as the stack would."""
        from moto.cloudformation.parsing import clean_json

        return clean_json(value, self._stack.resource_map)

    def condition_holds(self, condition: str | None) -> bool:
        return not condition or bool(self._stack.resource_map.lazy_condition_map[condition])

    def stand_in(
        self,
        logical_id: str,
        physical_id: str,
        attributes: dict[str, str],
        on_delete: Callable[[], object],
    ) -> None:
        """Make ``logical_id`` resolve to a resource the deployer made, and delete it with the
        stack, as CloudFormation would."""
        resource = _Resource(physical_id, attributes, on_delete)
        resource.logical_resource_id = logical_id
        self._stack.resource_map._parsed_resources[logical_id] = resource

    def refresh_outputs(self) -> None:
        """Outputs are parsed lazily and cached; forget them so they see the stand-ins."""
        self._stack.output_map._parsed_outputs.clear()

    # Resources created outside CloudFormation, deleted with the stack.
    def delete_executing_state_machine_later(self, arn: str) -> Callable[[], object]:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[ACCOUNT_ID][self.region]
        return lambda: backend.delete_state_machine(arn)

    def delete_cloudformation_state_machine(self, arn: str) -> None:
        """CloudFormation put the state machine in moto's non-executing backend; remove it there
        (the deployer recreates it, same name, through the executing Step Functions API)."""
        from moto.stepfunctions.models import stepfunctions_backends

        backend = stepfunctions_backends[ACCOUNT_ID][self.region]
        with contextlib.suppress(Exception):  # already gone is fine
            backend.delete_state_machine(arn)
