"""The one place allowed to touch moto's private API (read from moto 5.2.5): one module per patch
or CloudFormation model, each saying why it exists.

Every other module of the local cloud talks to moto through the AWS APIs it serves, like any
client would. What cannot be done that way is here:

- ``lambda_invoker``: run function code (moto runs it only in Docker, through
  ``LambdaFunction._invoke_lambda``);
- ``server``: serve moto with a fault-injecting WSGI layer in front of it (``ThreadedMotoServer``
  takes no middleware);
- ``sqs``: deliver SQS messages to Lambda by polling, as AWS does (moto invokes a mapped function
  inside ``SendMessage`` once and never again, so its own delivery is switched off);
- ``s3``: the KMS key S3 would use for an object (moto never calls KMS);
- ``cloudformation``: teach moto's CloudFormation the resource types SAM stacks use that it lacks
  or gets wrong, one model a module, and put the executing state machines in the stack's own
  resource map;
- ``speedups`` (``definitions``, ``clients``, ``jsonpath``, ``dispatch``, ``dynamodb``): do once
  what moto redoes for every execution, state or request, which made bursts CPU-bound, and sign
  the interpreter's calls with the state machine's role;
- ``config``: restore the Step Functions configuration a cloud changed when it stops;
- ``atomic_writes``: DynamoDB's and S3's conditional writes serialised, as the services promise
  (moto checks and writes with nothing held between).

``patching`` holds what they share: the account, and the one registry of what is installed.
"""

from infra.local.cloud.moto_internals.atomic_writes import (
    make_conditional_writes_atomic,
    restore_conditional_writes,
)
from infra.local.cloud.moto_internals.cloudformation.registration import (
    register_cloudformation_models,
)
from infra.local.cloud.moto_internals.cloudformation.stack import StackInternals
from infra.local.cloud.moto_internals.config import (
    restore_stepfunctions_config,
    stepfunctions_config,
)
from infra.local.cloud.moto_internals.lambda_invoker import (
    FunctionConfig,
    Invoker,
    LambdaThrottled,
    install_lambda_invoker,
    lambda_invoker_installed,
    uninstall_lambda_invoker,
)
from infra.local.cloud.moto_internals.patching import ACCOUNT_ID
from infra.local.cloud.moto_internals.s3 import s3_kms_key
from infra.local.cloud.moto_internals.server import make_moto_server
from infra.local.cloud.moto_internals.speedups import restore_interpreter, speed_up_interpreter
from infra.local.cloud.moto_internals.sqs import detach_sqs_event_source_mappings

__all__ = [
    "ACCOUNT_ID",
    "FunctionConfig",
    "Invoker",
    "LambdaThrottled",
    "StackInternals",
    "detach_sqs_event_source_mappings",
    "install_lambda_invoker",
    "lambda_invoker_installed",
    "make_conditional_writes_atomic",
    "make_moto_server",
    "register_cloudformation_models",
    "restore_conditional_writes",
    "restore_interpreter",
    "restore_stepfunctions_config",
    "s3_kms_key",
    "speed_up_interpreter",
    "stepfunctions_config",
    "uninstall_lambda_invoker",
]
