"""``make console-check``: the console's pages in a real browser (headless Chromium).

Starts the emulator and the local AWS with template.yaml, serves the console, announces three
tasks (an ID card whose first polls are throttled and then find the service down, a form, and an
id Aspose does not know), waits for their outcomes, then has Chromium load the list and one
execution's page. It fails unless the DOM Chromium built holds what the pages must show (every
task with its status, the path drawn with the states the execution entered, the timeline's polls,
the stored objects, and none of the recognised text) and the screenshots show the page styled
and the path drawn. The screenshots are written (``docs/console.png`` and
``docs/console-list.png`` by default), made small.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from infra.local.cloud import LocalCloud, fast_polling
from infra.local.samples import id_card, registration_form
from infra.ops.console.server import ConsoleServer
from infra.stack.session import StackSession
from ocr_fetch.client import RecognitionSettings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
#: Waits of 1, 2, 2... seconds, so a task polls a few times within seconds.
PARAMETERS = fast_polling(max_interval_seconds=2, deadline_seconds=60)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1280, 1700)
#: Colours a rendered page must contain: the header (the stylesheet applied) and the path
#: (the drawing's visited states and taken transitions, so the inline SVG was drawn).
HEADER_RGB = (0x11, 0x18, 0x27)
PATH_RGB = (0x1D, 0x4E, 0xD8)


@dataclass(frozen=True)
class Seeded:
    """The tasks announced for the console to show, by what they show."""

    flaky: str  # completed, after a throttled poll and one finding the service down
    form: str  # completed
    unknown: str  # an id Aspose does not know: NotFound, the execution FAILED

    @property
    def all(self) -> list[str]:
        return [self.flaky, self.form, self.unknown]


def seed(cloud: LocalCloud, session: StackSession) -> Seeded:
    """Submit two samples to the emulator and announce them with an unknown id, as users do."""
    assert cloud.aspose is not None
    assert cloud.emulator is not None
    client = cloud.aspose.client()
    ids = []
    for document in (id_card(), registration_form()):
        task_id = client.submit_regions(
            document.png, document.rects, RecognitionSettings(result_type="Text")
        )
        ids.append((task_id, document))
    flaky = ids[0][0]
    cloud.emulator.admin.inject("http_429", task_id=flaky, times=1, retry_after=1)
    cloud.emulator.admin.inject("http_503", task_id=flaky, times=1)
    for number, (task_id, document) in enumerate(ids):
        session.announce(
            task_id,
            list(document.region_names),
            correlation_id=f"order-{number + 17}",
            source="console.check",
        )
    unknown = str(uuid.uuid4())
    session.announce(unknown, ["surname"], correlation_id="order-404", source="console.check")
    return Seeded(flaky=flaky, form=ids[1][0], unknown=unknown)


@contextmanager
def seeded_console() -> Iterator[tuple[ConsoleServer, StackSession, Seeded]]:
    """A local stack with the seeded tasks ended, and its console served."""
    from infra.local.emulator import EmulatorConfig, Timing

    emulator = EmulatorConfig(timing=Timing(queue_delay_s=2.5, per_region_s=0.1))
    with LocalCloud(emulator=emulator) as cloud:
        stack = cloud.deploy(TEMPLATE, parameters=PARAMETERS, stack_name="ocr-regions-console")
        session = StackSession.from_outputs(stack.outputs, cloud.client)
        seeded = seed(cloud, session)
        session.wait_for_outcomes(seeded.all, timeout=90)
        with ConsoleServer(session) as console:
            yield console, session, seeded


# --- the browser -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Browser:
    """Headless Chromium, one throw-away profile."""

    executable: str
    profile: Path

    def _run(self, *arguments: str) -> str:
        command = [
            self.executable,
            "--headless",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={self.profile}",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),  # root: Chromium needs it
            *arguments,
        ]
        done = subprocess.run(  # noqa: S603 - a browser we found on PATH, our own arguments
            command, capture_output=True, text=True, timeout=90, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.executable} exited {done.returncode}: {done.stderr[-800:]}")
        return done.stdout

    def dom(self, url: str) -> str:
        """The document Chromium built from the page, serialised."""
        return self._run("--dump-dom", url)

    def screenshot(self, url: str, path: Path, size: tuple[int, int] = WINDOW) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run(f"--screenshot={path}", f"--window-size={size[0]},{size[1]}", url)
        if not path.exists():
            raise RuntimeError(f"{self.executable} wrote no screenshot to {path}")


def find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


# --- what a page must show ---------------------------------------------------------------------
class Dom(HTMLParser):
    """Every element's tag and attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []

    @classmethod
    def of(cls, markup: str) -> Dom:
        dom = cls()
        dom.feed(markup)
        dom.close()
        return dom

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        """Elements of ``tag`` whose attributes hold the wanted values (``class_`` one class)."""
        found = []
        for name, attributes in self.elements:
            if name != tag:
                continue
            classes = attributes.get("class", "").split()
            if all(
                value in classes
                if key == "class_"
                else attributes.get(key.replace("_", "-")) == value
                for key, value in wanted.items()
            ):
                found.append(attributes)
        return found


def list_problems(dom: Dom, session: StackSession, seeded: Seeded) -> list[str]:
    problems = []
    for task_id in seeded.all:
        summary = session.describe_execution(task_id) or {}
        rows = dom.find("tr", data_execution=task_id)
        if not rows:
            problems.append(f"the list has no row for task {task_id}")
        elif rows[0].get("data-status") != summary.get("status"):
            problems.append(f"task {task_id} is listed {rows[0].get('data-status')}")
        if not dom.find("a", href=f"/executions/{task_id}"):
            problems.append(f"the list does not link to task {task_id}'s execution")
    if not dom.find("tr", class_="bad", data_execution=seeded.unknown):
        problems.append("the failed execution is not marked in the list")
    return problems


def detail_problems(dom: Dom, session: StackSession, task_id: str) -> list[str]:
    execution = session.execution(session.execution_arn(task_id))
    problems = []
    if not dom.find("svg", class_="state-machine"):
        problems.append("no state machine drawing")
    for state in set(execution.states_entered()):
        if not dom.find("g", class_="visited", data_state=state):
            problems.append(f"the path does not show {state!r} as entered")
    polls = len(execution.polls())
    if len(dom.find("g", class_="poll")) != polls:
        problems.append(f"the timeline does not show the {polls} polls")
    for stored in session.stored_objects(task_id):
        if stored.key not in dom.text:
            problems.append(f"stored object {stored.key} is not listed")
        body, _ = session.read_object(stored.key)
        text = body.decode("utf-8", errors="replace").strip()
        if stored.content_type.startswith("text/plain") and text and text in dom.text:
            problems.append(f"the recognised text of {stored.key} is on the page")
    return problems


def picture_problems(path: Path, *, drawing: bool) -> list[str]:
    """The screenshot shows the styled header (and the drawn path); then it is made small."""
    from PIL import Image

    with Image.open(path) as opened:
        image = opened.convert("RGB")
    colours = {rgb for _, rgb in image.getcolors(maxcolors=1 << 20) or []}
    problems = []
    if HEADER_RGB not in colours:
        problems.append(f"{path}: the stylesheet did not apply (no header colour)")
    if drawing and PATH_RGB not in colours:
        problems.append(f"{path}: no highlighted path was drawn")
    image.quantize(colors=128).save(path, optimize=True)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.console_check", description=__doc__
    )
    parser.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "console.png")
    parser.add_argument("--list-screenshot", type=Path, default=ROOT / "docs" / "console-list.png")
    args = parser.parse_args(argv)
    executable = find_browser()
    if executable is None:
        print(f"no headless browser found (looked for {', '.join(BROWSERS)})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as profile, seeded_console() as (console, session, seeded):
        browser = Browser(executable, Path(profile))
        detail_url = f"{console.url}executions/{seeded.flaky}"
        problems = list_problems(Dom.of(browser.dom(console.url)), session, seeded)
        problems += detail_problems(Dom.of(browser.dom(detail_url)), session, seeded.flaky)
        browser.screenshot(detail_url, args.screenshot)
        browser.screenshot(console.url, args.list_screenshot, (WINDOW[0], 560))
    problems += picture_problems(args.screenshot, drawing=True)
    problems += picture_problems(args.list_screenshot, drawing=False)
    for problem in problems:
        print(f"console-check: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"console-check: the pages render in {executable}; screenshots {args.screenshot}, "
        f"{args.list_screenshot}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
