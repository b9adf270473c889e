"""A local AWS for the whole product: moto runs template.yaml, the state machine and the handlers.

Layers, each importing only those before it: ``iam_calls`` (who calls AWS for what, pure) →
``moto_internals`` (the one module touching moto's private API) → ``packaging`` → ``deployer``
→ ``lambda_runtime`` / ``event_sources`` / ``faults`` → ``cloud`` (``LocalCloud``: start,
deploy, stop) → ``session`` (a typed client of a running stack, local or on AWS).

``with LocalCloud(emulator=EmulatorConfig()) as cloud: stack = cloud.deploy(Path("template.yaml"))``
"""

from infra.local.cloud.cloud import LocalCloud
from infra.local.cloud.deployer import StackInfo, fast_polling
from infra.local.cloud.iam_calls import AwsCall
from infra.local.cloud.lambda_runtime import Interpreter, RuntimeOptions

__all__ = [
    "AwsCall",
    "Interpreter",
    "LocalCloud",
    "RuntimeOptions",
    "StackInfo",
    "fast_polling",
]
