"""``make demo`` as a newcomer sees it: it succeeds, shows every region's text, the growing waits
and where the results were stored; and it fails with a reason, leaving nothing running."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.local import demo
from infra.local.cloud import LocalCloud
from infra.local.samples import SampleDocument, id_card, registration_form
from infra.ops.cli.output import path_summary
from infra.stack.history import execution_path

SAMPLES: list[SampleDocument] = [id_card(), registration_form()]
TASK_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def recognised(output: str, name: str) -> list[str]:
    """Every text the demo printed for region ``name`` (one per task that had it)."""
    return re.findall(
        rf"^\s+(?:regions/)?\d+-{re.escape(name)}\.txt\s+{re.escape(name)}\s+'(.*?)'", output, re.M
    )


def waits_of_first_path(output: str) -> list[int]:
    block = output[output.index("  path ") :].split("\n\n", 1)[0]
    return [int(w) for w in re.findall(r"Wait (\d+)s", block)]


@pytest.mark.slow
def test_demo_shows_the_whole_job_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    # Given nothing running, when a newcomer runs the demo
    code = demo.main([])
    output = capsys.readouterr().out

    # Then it succeeds and every region of every sample is shown with its recognised text
    assert code == 0, output
    for document in SAMPLES:
        for sample_field in document.fields:
            texts = recognised(output, sample_field.name)
            assert texts, f"{sample_field.name} not shown:\n{output}"
            for text in texts:
                ratio = difflib.SequenceMatcher(None, text, sample_field.value).ratio()
                assert ratio >= 0.8, (sample_field.name, text, sample_field.value)

    # live progress, and an execution path whose waits grow up to the cap
    assert re.search(r"poll \d+: (Pending|Processing), next poll in \d+ s", output)
    waits = waits_of_first_path(output)
    assert len(waits) >= 2, output
    assert waits == sorted(waits)
    assert waits[0] < waits[-1] <= 3
    assert "Results Stored" in output

    # where it was stored: S3 prefix and keys, the table item, the outcome event
    assert re.search(rf"s3://\S+/results/{TASK_ID}/runs/{TASK_ID}/", output)
    assert re.search(r"answer-\d+\.json \(the service's answer\)", output)
    assert "manifest.json" in output
    assert "status Completed" in output
    assert "Region Recognition Completed" in output

    # the flaky task survived its 429 and 503
    assert "Throttled (GET /v5.0/ocr/RecognizeRegions was throttled (HTTP 429))" in output
    assert "Unavailable (GET /v5.0/ocr/RecognizeRegions failed with HTTP 503)" in output

    # and nothing is left running
    assert LocalCloud._running is None


@pytest.mark.slow
def test_a_deploy_error_exits_1_with_the_reason(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text("Resources: [this is not a template\n", encoding="utf-8")
    monkeypatch.setattr(demo, "TEMPLATE", broken)

    code = demo.main([])

    assert code == 1
    assert "Demo failed:" in capsys.readouterr().err
    assert LocalCloud._running is None


def test_the_execution_path_shows_waits_and_retries() -> None:
    def entered(kind: str, name: str, wait: int | None = None) -> dict[str, Any]:
        state_input = json.dumps({"poll": {"waitSeconds": wait or 0}})
        return {"type": kind, "stateEnteredEventDetails": {"name": name, "input": state_input}}

    history: list[dict[str, Any]] = [
        entered("PassStateEntered", "Start Polling"),
        entered("TaskStateEntered", "Check Task Status"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "AsposeUnavailableError"}},
        entered("ChoiceStateEntered", "Route On Task Status"),
        entered("WaitStateEntered", "Wait Before Next Poll", 1),
        entered("TaskStateEntered", "Check Task Status"),
        entered("WaitStateEntered", "Wait Before Next Poll", 2),
        entered("SucceedStateEntered", "Results Stored"),
    ]

    assert path_summary(execution_path(history)) == [
        "Start Polling",
        "Check Task Status ✗ AsposeUnavailableError ↻",
        "Wait 1s",
        "Check Task Status",
        "Wait 2s",
        "Results Stored",
    ]
