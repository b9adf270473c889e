"""The proving ground the soak runs share (``make stress``, ``make chaos``): a local cloud with the
emulator, template.yaml deployed with the given parameters, a stack session subscribed to the
outcome events, and what they measure of it (peak resident size, CPU time by kind of process,
an optional background CPU load).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.local.cloud import LocalCloud, RuntimeOptions, StackInfo
from infra.local.emulator import EmulatorConfig, EmulatorProcess, Timing
from infra.stack.aspose import AsposeAccess
from infra.stack.outcomes import OutcomeSubscription
from infra.stack.serving import Running
from infra.stack.session import StackSession

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class GroundSpec:
    """What to run: a stack name, its template parameters, the emulator's timing, OCR workers
    and memory, the Lambda runtime's options."""

    name: str
    parameters: dict[str, str]
    timing: Timing
    workers: int = 2
    runtime: RuntimeOptions | None = None
    #: The emulator reads each distinct region image once (a soak of the same samples).
    memo_recognition: bool = False


@dataclass
class ProvingGround:
    """A running stack and what a soak needs of it."""

    cloud: LocalCloud
    stack: StackInfo
    session: StackSession
    outcomes: OutcomeSubscription
    rss: PeakRss

    @property
    def emulator(self) -> EmulatorProcess:
        assert self.cloud.emulator is not None
        return self.cloud.emulator

    @property
    def aspose(self) -> AsposeAccess:
        """Where the emulator answers, with the credentials a submitter uses there."""
        assert self.cloud.aspose is not None
        return self.cloud.aspose

    def recognizer(self) -> str:
        """Which engine the emulator recognises with."""
        return str(self.emulator.admin.health().get("recognizer"))


@contextmanager
def proving_ground(spec: GroundSpec, *, cpu_load: float = 0.0) -> Iterator[ProvingGround]:
    """Start the cloud and the emulator, deploy, subscribe to outcomes; stop all on leaving."""
    emulator = EmulatorConfig(
        timing=spec.timing, workers=spec.workers, memo_recognition=spec.memo_recognition
    )
    with (
        LocalCloud(emulator=emulator, runtime=spec.runtime) as cloud,
        BackgroundLoad(cpu_load),
        PeakRss() as rss,
    ):
        stack = cloud.deploy(TEMPLATE, parameters=spec.parameters, stack_name=spec.name)
        session = StackSession.from_outputs(stack.outputs, cloud.client)
        with session.subscribe_outcomes(f"{spec.name}-outcomes") as outcomes:
            yield ProvingGround(cloud, stack, session, outcomes, rss)


# --- measuring ---------------------------------------------------------------------------------
def cpu_times(cloud: LocalCloud) -> dict[str, float]:
    """CPU seconds so far of this process (moto, the interpreter), the emulator, and the Lambda
    workers (those alive, plus every one that has ended)."""
    own = os.times()
    emulator = cloud.emulator.pid if cloud.emulator is not None else None
    workers = sum(_process_cpu(pid) for pid in cloud.runtime.worker_pids())
    return {
        "local AWS (this process)": own.user + own.system,
        "Lambda workers": workers + own.children_user + own.children_system,
        "emulator (OCR)": _process_cpu(emulator) if emulator else 0.0,
    }


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {kind: max(0.0, after[kind] - before.get(kind, 0.0)) for kind in after}


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class PeakRss(Running):
    """Samples the resident size of this process and its children (workers, emulator)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def _stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._done.wait(0.5):
            pids = [me, *_children(me)]
            self.peak_mb = max(self.peak_mb, sum(_resident(pid) for pid in pids) / 2**20)


def _children(pid: int) -> list[int]:
    try:
        return [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return []


def _resident(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


class BackgroundLoad(Running):
    """One busy process per core, each busy ``share`` of the time, until the run ends."""

    def __init__(self, share: float) -> None:
        self.share = max(0.0, min(share, 1.0))
        self._done = multiprocessing.Event()
        self._processes: list[multiprocessing.Process] = []

    def _start(self) -> None:
        if self.share:
            for _ in range(os.cpu_count() or 1):
                process = multiprocessing.Process(
                    target=_burn, args=(self._done, self.share), daemon=True
                )
                process.start()
                self._processes.append(process)

    def _stop(self) -> None:
        self._done.set()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def _burn(stop: multiprocessing.synchronize.Event, share: float) -> None:
    period = 0.05
    while not stop.is_set():
        busy_until = time.monotonic() + period * share
        while time.monotonic() < busy_until:
            pass
        time.sleep(period * (1 - share))
