"""``make smoke DRY_RUN=1``: the smoke's own script, end to end, on the local cloud.

The very run ``make smoke`` does on an account (:func:`infra.ops.smoke.run.run_smoke`: statement,
deploy, secret, consumer, submit, follow, checks, cleanup, report), with the local deployer below
in place of ``sam deploy``, moto in place of AWS and the Aspose emulator, with its own local
credentials, in place of Aspose. ``YES=1`` is implied. It proves the script, not AWS: moto runs
the template, but evaluates no alarm and enforces no IAM.

    python -m infra.local.smoke --sample .smoke/samples/id_card [--json-report FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from infra.local.cloud import LocalCloud
from infra.local.emulator import EmulatorConfig, EmulatorProcess, Timing
from infra.ops.cli.errors import CliError
from infra.ops.smoke.deployer import DeployError
from infra.ops.smoke.report import finish
from infra.ops.smoke.run import SmokeOptions, run_smoke
from infra.ops.smoke.sample import Sample, SampleError
from ocr_fetch.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
#: The emulator finishes a task a second or so after it is submitted, as Aspose would a small card.
TIMING = Timing(queue_delay_s=1.0, per_region_s=0.2)


class LocalDeployer:
    """Deploys template.yaml into a running local cloud, Aspose's URLs pointing at the emulator.

    The stack's secret keeps the placeholder the template generates, as on AWS: the smoke's own
    step puts the (emulator's) credentials in it, so that step is proven too."""

    dry_run = True

    def __init__(self, cloud: LocalCloud, emulator: EmulatorProcess) -> None:
        self._cloud = cloud
        self._emulator = emulator

    @property
    def description(self) -> str:
        return (
            f"the local cloud ({self._cloud.endpoint}, {self._cloud.region}) with the Aspose "
            f"emulator ({self._emulator.base_url})"
        )

    def client(self, service: str) -> Any:
        return self._cloud.client(service)

    def beside(self, stack_name: str) -> list[str]:
        return []

    def build(self) -> str:
        return "nothing to build: the local cloud packages template.yaml's sources, as make demo"

    def deploy(self, stack_name: str, parameters: Mapping[str, str]) -> None:
        aspose = {
            "AsposeBaseUrl": self._emulator.base_url,
            "AsposeTokenUrl": self._emulator.token_url,
        }
        try:
            self._cloud.deploy(TEMPLATE, parameters={**parameters, **aspose}, stack_name=stack_name)
        except Exception as error:
            raise DeployError(f"the local cloud did not create the stack: {error}") from error

    def discard(self) -> list[str]:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.smoke", description=__doc__)
    parser.add_argument("--sample", type=Path, required=True, help="STEM of the sample's files")
    parser.add_argument("--json-report", type=Path, help="also write the report here, as JSON")
    args = parser.parse_args(argv)
    try:
        sample = Sample.load(args.sample)
    except (CliError, SampleError) as error:
        print(f"make smoke: {error}", file=sys.stderr)
        return 2
    with (
        EmulatorProcess(EmulatorConfig(timing=TIMING)) as emulator,
        LocalCloud() as cloud,
        _unimplemented_alarm_history_unlogged(),
    ):
        options = SmokeOptions(
            sample,
            Credentials(emulator.client_id, emulator.client_secret),
            yes=True,
            alarm_watch=0,
        )
        report = run_smoke(LocalDeployer(cloud, emulator), options, _say, lambda: True)
    return finish(report, args.json_report)


#: The last line of the traceback werkzeug logs (as text) for the unimplemented action.
_UNIMPLEMENTED = "The describe_alarm_history action has not been implemented"


class _AlarmHistoryNotImplemented(logging.Filter):
    """Drops the traceback moto's server logs for DescribeAlarmHistory, which it does not
    implement: the smoke's alarm check gets the error (HTTP 500) and its report says the history
    could not be read. Any other error the server logs still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _UNIMPLEMENTED not in record.getMessage()


@contextlib.contextmanager
def _unimplemented_alarm_history_unlogged() -> Iterator[None]:
    werkzeug, drop = logging.getLogger("werkzeug"), _AlarmHistoryNotImplemented()
    werkzeug.addFilter(drop)
    try:
        yield
    finally:
        werkzeug.removeFilter(drop)


def _say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
