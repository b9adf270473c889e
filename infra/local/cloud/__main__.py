"""``make local``: the Aspose emulator plus a local AWS running template.yaml, until Ctrl-C.

``make local PARAMS="AsposeCallsPerSecond=4 BreakerProbeSeconds=2"`` overrides template
parameters on top of the local defaults (:data:`LOCAL_PARAMETERS`): each is one
``--parameter Name=Value``, and a name the template does not declare is refused, as
CloudFormation refuses it. Writes ``.local/stack.json`` so other tools (``make demo``,
``ocr-results --local``, a shell) find the endpoints and the parameters in force
(``parameters``), and serves the read-only console (``infra.ops.console``) on 127.0.0.1 beside
them (``consoleUrl``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from infra.local.cloud.cloud import LocalCloud
from infra.local.cloud.deployer import (
    StackInfo,
    UnknownParameters,
    fast_polling,
    parameter_overrides,
)
from infra.stack.serving import free_port
from infra.stack.state_file import DEFAULT_STATE_FILE, LocalState

if TYPE_CHECKING:
    from infra.local.emulator import EmulatorConfig
    from infra.ops.console import ConsoleServer

# Small polling so a task finishes in seconds locally (AWS defaults are minutes).
LOCAL_PARAMETERS = fast_polling(max_interval_seconds=3, deadline_seconds=120)
PREFERRED_PORT = 4566  # the port AWS tooling users expect of a local AWS
PREFERRED_CONSOLE_PORT = 4567  # the console's, next to it


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    emulator = None if args.no_emulator else _emulator_config()
    port = args.port or _preferred_port(PREFERRED_PORT)
    cloud = LocalCloud(port=port, region=args.region, emulator=emulator)
    with cloud, contextlib.ExitStack() as running:
        try:
            stack = cloud.deploy(
                args.template,
                parameters=args.overrides,
                defaults=LOCAL_PARAMETERS,
                stack_name=args.stack_name,
            )
        except UnknownParameters as error:
            print(f"make local: {error}", file=sys.stderr)
            return 2
        console = None if args.no_console else _console(cloud, stack.outputs, args.console_port)
        if console is not None:
            running.enter_context(console)
        state = local_state(cloud, stack, console.url if console else None)
        state.write(args.state_file)
        _print_banner(cloud, stack, state, args.state_file)
        stop.wait()
        print("\nstopping the local cloud", flush=True)
    with contextlib.suppress(FileNotFoundError):
        args.state_file.unlink()
    return 0


def local_state(cloud: LocalCloud, stack: StackInfo, console_url: str | None = None) -> LocalState:
    """What ``.local/stack.json`` holds: how to reach the local AWS, the emulator and the stack
    (``StackSession.from_state_file`` and ``ocr-results --local`` read it)."""
    return LocalState(
        aws_endpoint=cloud.endpoint,
        region=cloud.region,
        outputs=stack.outputs,
        stack=stack.to_json(),
        aspose=cloud.aspose,
        console_url=console_url,
        parameters=dict(stack.parameters),
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local.cloud", description=__doc__)
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--stack-name", default="ocr-regions-local")
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--port", type=int, default=0, help=f"default {PREFERRED_PORT} if free")
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter, over the local defaults (again for more)",
    )
    parser.add_argument("--no-emulator", action="store_true", help="do not start the emulator")
    parser.add_argument(
        "--console-port",
        type=int,
        default=0,
        help=f"the console's port on 127.0.0.1, default {PREFERRED_CONSOLE_PORT} if free",
    )
    parser.add_argument("--no-console", action="store_true", help="do not serve the console")
    args = parser.parse_args(argv)
    try:
        args.overrides = parameter_overrides(args.parameter)
    except ValueError as error:
        parser.error(str(error))
    return args


def _emulator_config() -> EmulatorConfig | None:
    """The local Aspose emulator's settings, when it is installed (else the template's URLs)."""
    try:
        from infra.local.emulator import EmulatorConfig
    except ImportError as error:
        print(f"Aspose emulator not available ({error}); using the template's Aspose URLs")
        return None
    return EmulatorConfig()


def _console(cloud: LocalCloud, outputs: dict[str, str], port: int) -> ConsoleServer | None:
    """The console of the deployed stack, when it is this product's (else None, with why)."""
    from infra.ops.console import ConsoleServer
    from infra.stack.session import StackSession

    try:
        session = StackSession.from_outputs(outputs, cloud.client)
    except ValueError as error:
        print(f"Console not started: {error}")
        return None
    return ConsoleServer(session, port or _preferred_port(PREFERRED_CONSOLE_PORT))


def _preferred_port(preferred: int) -> int:
    try:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", preferred))
        return preferred
    except OSError:
        return free_port()


def _print_banner(cloud: LocalCloud, stack: StackInfo, state: LocalState, state_file: Path) -> None:
    outputs = stack.outputs
    env = cloud.environment()
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k != "AWS_REGION")
    sm = outputs.get("StateMachineArn", "<StateMachineArn>")
    bus = outputs.get("EventBusName", "<EventBusName>")
    print(stack.summary())
    print()
    if cloud.aspose is not None:
        print(f"Aspose emulator:  {cloud.aspose.base_url} (token {cloud.aspose.token_url})")
    print(f"Local AWS:        {cloud.endpoint} (region {cloud.region})")
    if state.console_url:
        print(f"Console:          {state.console_url} (read-only, this machine only)")
    print(f"State written to: {state_file}")
    print()
    print("Point the AWS CLI or boto3 at it:")
    print(f"  export {exports}")
    print(f"  aws stepfunctions list-executions --state-machine-arn {sm}")
    print(
        f'  aws events put-events --entries \'[{{"EventBusName": "{bus}", '
        '"Source": "local.cli", "DetailType": "Region Recognition Submitted", '
        '"Detail": "{\\"taskId\\": \\"...\\"}"}]\''
    )
    print('  python -c \'import boto3; print(boto3.client("s3").list_buckets()["Buckets"])\'')
    print()
    print("Ctrl-C to stop.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
