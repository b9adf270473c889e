"""A local AWS for the whole product: moto runs template.yaml, the state machine and the handlers.

``with LocalCloud() as cloud: stack = cloud.deploy(Path("template.yaml"), parameters={...})``
"""

from infra.local_cloud.deploy import StackInfo
from infra.local_cloud.lambda_bridge import FakeLambdaContext, LambdaBridge
from infra.local_cloud.moto_server import LocalCloud

__all__ = ["FakeLambdaContext", "LambdaBridge", "LocalCloud", "StackInfo"]
