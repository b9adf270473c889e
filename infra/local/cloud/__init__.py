"""A local AWS for the whole product: moto runs template.yaml, the state machine and the handlers.

Layers, each importing only those before it (``tests/test_architecture.py`` checks them):
``iam_calls`` (who calls AWS for what, pure), ``lambda_worker`` → ``moto_internals`` (the one
package touching moto's private API) → ``faults`` → ``deployer`` (with
``infra.build.packaging``), ``execution_environment`` → ``lambda_runtime`` → ``event_sources``
→ ``cloud`` (``LocalCloud``: start, deploy, stop) → ``__main__`` (``make local``). A running
stack is driven through the stack client, :class:`~infra.stack.session.StackSession`, as a
deployed one is.

``with LocalCloud(emulator=EmulatorConfig()) as cloud: stack = cloud.deploy(Path("template.yaml"))``
"""

from infra.local.cloud.cloud import LocalCloud
from infra.local.cloud.deployer import StackInfo, fast_polling, parameter_overrides
from infra.local.cloud.execution_environment import Interpreter
from infra.local.cloud.iam_calls import AwsCall
from infra.local.cloud.lambda_runtime import RuntimeOptions

__all__ = [
    "AwsCall",
    "Interpreter",
    "LocalCloud",
    "RuntimeOptions",
    "StackInfo",
    "fast_polling",
    "parameter_overrides",
]
