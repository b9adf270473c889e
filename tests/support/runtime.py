"""The Lambda runtime as a built artifact meets it: the runtime's Python, isolated, with only the
artifact and the runtime's boto3 on its path."""

from __future__ import annotations

from infra.build.artifacts import RUNTIME_SITE, TEMPLATE, Runtime, runtime_python
from infra.build.packaging import load_template
from infra.local.cloud import Interpreter

__all__ = ["RUNTIME_SITE", "handler_modules", "runtime_interpreter"]


def runtime_interpreter(runtime: Runtime) -> Interpreter:
    """The runtime's interpreter, seeing only the task root and the runtime's boto3."""
    return Interpreter(
        executable=str(runtime_python(runtime)), site_dirs=(str(RUNTIME_SITE),), isolated=True
    )


def handler_modules() -> list[str]:
    """The module of every function's handler in template.yaml."""
    resources = load_template(TEMPLATE)["Resources"].values()
    handlers = {
        r["Properties"]["Handler"] for r in resources if r["Type"] == "AWS::Serverless::Function"
    }
    return sorted(handler.rsplit(".", 1)[0] for handler in handlers)
