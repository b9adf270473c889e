"""``make local``: the Aspose emulator plus a local AWS running template.yaml, until Ctrl-C.

Writes ``.local/stack.json`` so other tools (``make demo``, a shell) find the endpoints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from infra.local_cloud.cloud import LocalCloud, free_port

if TYPE_CHECKING:
    from infra.emulator import EmulatorConfig
    from infra.local_cloud.deployer import StackInfo

# Small polling so a task finishes in seconds locally (AWS defaults are minutes).
LOCAL_PARAMETERS = {
    "PollInitialSeconds": "1",
    "PollMultiplier": "2",
    "PollMaxIntervalSeconds": "3",
    "PollDeadlineSeconds": "120",
    "LogLevel": "INFO",
}
PREFERRED_PORT = 4566  # the port AWS tooling users expect of a local AWS


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    emulator = None if args.no_emulator else _emulator_config()
    cloud = LocalCloud(port=args.port or _preferred_port(), region=args.region, emulator=emulator)
    with cloud:
        parameters = dict(LOCAL_PARAMETERS)
        parameters.update(dict(item.split("=", 1) for item in args.parameter))
        stack = cloud.deploy(args.template, parameters=parameters, stack_name=args.stack_name)
        write_state(args.state_file, local_state(cloud, stack))
        _print_banner(cloud, stack.summary(), stack.outputs, args.state_file)
        stop.wait()
        print("\nstopping the local cloud", flush=True)
    with contextlib.suppress(FileNotFoundError):
        args.state_file.unlink()
    return 0


def local_state(cloud: LocalCloud, stack: StackInfo) -> dict[str, Any]:
    """What ``.local/stack.json`` holds: how to reach the local AWS, the emulator and the stack
    (``StackSession.from_state`` and ``ocr-results --local`` read it)."""
    aspose = cloud.aspose
    return {
        "awsEndpoint": cloud.endpoint,
        "region": cloud.region,
        "asposeBaseUrl": aspose.base_url if aspose else None,
        "asposeTokenUrl": aspose.token_url if aspose else None,
        # The emulator's own local credentials, for `ocr-results --local submit`.
        "asposeClientId": aspose.client_id if aspose else None,
        "asposeClientSecret": aspose.client_secret if aspose else None,
        "outputs": stack.outputs,
        "stack": stack.to_json(),
    }


def write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local_cloud", description=__doc__)
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--stack-name", default="ocr-regions-local")
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--port", type=int, default=0, help=f"default {PREFERRED_PORT} if free")
    parser.add_argument("--state-file", type=Path, default=Path(".local/stack.json"))
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="override"
    )
    parser.add_argument("--no-emulator", action="store_true", help="do not start the emulator")
    return parser.parse_args(argv)


def _emulator_config() -> EmulatorConfig | None:
    """The local Aspose emulator's settings, when it is installed (else the template's URLs)."""
    try:
        from infra.emulator import EmulatorConfig
    except ImportError as error:
        print(f"Aspose emulator not available ({error}); using the template's Aspose URLs")
        return None
    return EmulatorConfig()


def _preferred_port() -> int:
    try:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", PREFERRED_PORT))
        return PREFERRED_PORT
    except OSError:
        return free_port()


def _print_banner(cloud: LocalCloud, summary: str, outputs: dict[str, str], state: Path) -> None:
    env = cloud.environment()
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k != "AWS_REGION")
    sm = outputs.get("StateMachineArn", "<StateMachineArn>")
    bus = outputs.get("EventBusName", "<EventBusName>")
    print(summary)
    print()
    if cloud.aspose is not None:
        print(f"Aspose emulator:  {cloud.aspose.base_url} (token {cloud.aspose.token_url})")
    print(f"Local AWS:        {cloud.endpoint} (region {cloud.region})")
    print(f"State written to: {state}")
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
