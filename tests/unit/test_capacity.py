"""The capacity plan's arithmetic on small fixed inputs (no timing, no stack)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.ops import prices
from tests.bench import capacity
from tests.bench.capacity import (
    CHECK,
    STARTER,
    STORE,
    Assumptions,
    CostItem,
    Function,
    Utilisation,
)
from tests.bench.polling import TRANSITIONS_FIXED, TRANSITIONS_PER_POLL


def local_run() -> dict[str, Any]:
    """A local run of 10 tasks with 2 polls each, 3 regions, every figure round."""
    return {
        "tasks": 10,
        "regions_per_task": 3,
        "polls_per_task": {"mean": 2.0},
        "history_events_per_execution": {"mean": 30.0},
        "states_entered_per_execution": {"mean": 10.0},
        "functions": {
            STARTER: {"invocations_per_task": 0.5, "mean_ms": 100, "p95_ms": 200, "max_rss_mb": 50,
                      "init_median_ms": 400},
            CHECK: {"invocations_per_task": 2.0, "mean_ms": 500, "p95_ms": 1000, "max_rss_mb": 60,
                    "init_median_ms": 500},
            STORE: {"invocations_per_task": 1.0, "mean_ms": 1000, "p95_ms": 2000, "max_rss_mb": 70,
                    "init_median_ms": 600},
        },
        "cold_start_init_ms": {"median": 500},
        "aws_requests_per_task": {
            "s3:PutObject ResultsBucket": 5.0,
            "s3:GetObject ResultsBucket": 1.0,
            "dynamodb:UpdateItem ResultsTable": 1.0,
            "dynamodb:UpdateItem PollingHistoryTable": 1.0,
            "events:PutEvents ResultsBus": 1.0,
            "states:StartExecution RegionResultsStateMachine": 1.0,
        },
        "log_bytes_per_task": {STARTER: 500.0, CHECK: 2000.0, STORE: 1000.0},
        "item_bytes": {"ResultsTable": 1500, "PollingHistoryTable": 100},
    }  # fmt: skip


def polling() -> dict[str, Any]:
    return {
        "workloads": {
            "realistic": {
                "tasks": 100,
                "tutorial": {"polls": 500},
                "project": {"polls": 300},
            }
        }
    }


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    (tmp_path / "polling.json").write_text(json.dumps(polling()))
    (tmp_path / "local_run.json").write_text(json.dumps(local_run()))
    return tmp_path


def test_concurrency_is_rate_times_invocations_times_duration() -> None:
    function = Function(invocations=2, mean_ms=100, p95_ms=500, memory_mb=256, init_ms=0)
    # 10 tasks/s x 2 invocations x 0.5 s
    assert capacity.concurrency(10, function) == pytest.approx(10.0)


def test_gb_seconds_include_the_cold_starts_share_of_init() -> None:
    function = Function(invocations=2, mean_ms=1000, p95_ms=1000, memory_mb=512, init_ms=1000)
    # 2 x (1 s + 0.5 x 1 s) x 0.5 GB
    assert function.gb_seconds(0.5) == pytest.approx(1.5)


def test_the_ranking_puts_the_highest_utilisation_first() -> None:
    rows = [
        Utilisation("a", 20, 100, "/s", "x"),
        Utilisation("b", 90, 100, "/s", "x"),
        Utilisation("c", 5, 10, "/s", "x"),
    ]
    assert [row.name for row in capacity.rank(rows)] == ["b", "c", "a"]


def test_totals_sum_their_items_and_keep_the_clients_share_apart() -> None:
    items = [
        CostItem("Step Functions transitions", 1.0, ""),
        CostItem("Lambda requests", 0.5, ""),
        CostItem("Aspose polls", 10.0, ""),
        CostItem("Aspose submission (the client's)", 5.0, "", ours=False),
    ]
    assert capacity.totals(items) == {
        "aws": pytest.approx(1.5),
        "ours_with_aspose_polls": pytest.approx(11.5),
        "everything": pytest.approx(16.5),
    }


def test_per_task_scales_the_check_function_with_the_workloads_polls(bench: Path) -> None:
    inputs = capacity.load_inputs(bench)
    task = capacity.per_task(inputs, Assumptions())
    assert task.polls == pytest.approx(3.0)  # 300 polls over 100 tasks
    assert task.functions[CHECK].invocations == pytest.approx(3.0)  # one invocation a poll
    assert task.functions[STARTER].invocations == pytest.approx(0.5)
    assert task.transitions == pytest.approx(3 * TRANSITIONS_PER_POLL + TRANSITIONS_FIXED)
    assert task.s3_puts == 5.0
    assert task.results_wru == 2  # a 1,500-byte item takes two write units
    assert task.history_wru == 1


def test_regions_change_the_puts_by_one_each(bench: Path) -> None:
    inputs = capacity.load_inputs(bench)
    task = capacity.per_task(inputs, Assumptions(regions_per_task=10))
    assert task.s3_puts == 5.0 + (10 - 3)


def test_cost_items_are_counts_times_list_prices(bench: Path) -> None:
    inputs = capacity.load_inputs(bench)
    task = capacity.per_task(inputs, Assumptions())
    items = {item.name: item.per_thousand for item in capacity.costs(task, Assumptions())}
    assert items["Step Functions transitions"] == pytest.approx(
        1000 * task.transitions * prices.TRANSITION
    )
    assert items["S3 PUT"] == pytest.approx(1000 * 5 * prices.S3_PUT)
    assert items["Aspose polls"] == pytest.approx(1000 * 3 * prices.ASPOSE_CALL)


def test_missing_optional_inputs_fall_back_as_documented(bench: Path) -> None:
    inputs = capacity.load_inputs(bench)
    capacity.note_fallbacks(inputs)
    assert [text.split(" ")[0] for text in inputs.fallbacks] == ["memory.json", "coldstart.json"]
    # No coldstart.json: the local run's own init; no memory.json: its peak RSS.
    assert capacity.init_ms(inputs, CHECK) == 500
    assert capacity.peak_memory_mb(inputs)[STORE] == 70


def test_present_optional_inputs_are_used(bench: Path) -> None:
    (bench / "coldstart.json").write_text(
        json.dumps(
            {
                "sources": {CHECK: {"handler_ms": 900.0}},
                "built artifacts": {CHECK: {"handler_ms": 300.0}},
            }
        )
    )
    (bench / "memory.json").write_text(json.dumps({"10 MiB": {"store": {"peak_mb": 190.0}}}))
    inputs = capacity.load_inputs(bench)
    capacity.note_fallbacks(inputs)
    assert inputs.fallbacks == []
    assert capacity.init_ms(inputs, CHECK) == 300.0  # the built artifact first
    assert capacity.peak_memory_mb(inputs)[STORE] == 190.0


def test_missing_required_inputs_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"polling\.json, local_run\.json missing"):
        capacity.load_inputs(tmp_path)


def test_a_reservation_caps_polls_at_the_rate_left_by_submissions(bench: Path) -> None:
    inputs = capacity.load_inputs(bench)
    task = capacity.per_task(inputs, Assumptions())
    # 86,400 tasks/day at peak 1x: 1 task/s, so 1 submission/s and 3 polls/s.
    spread = capacity.poll_spread(
        inputs, task, Assumptions(tasks_per_day=86_400, peak_factor=1, aspose_calls_per_second=11)
    )
    assert spread["peak_polls_per_s"] == pytest.approx(3.0)
    assert spread["left_for_polls_per_s"] == pytest.approx(10.0)
    # 0.5 s per poll: 10 polls/s need 5 concurrent check functions.
    assert spread["reserved_concurrency_for_limit"] == 5
    assert spread["max_tasks_per_day_under_limit"] == pytest.approx(11 / 4 * 86_400)


def test_the_plan_names_what_limits_first(bench: Path) -> None:
    result = capacity.plan(Assumptions(aspose_calls_per_second=1), bench)
    assert result["limits_first"].startswith("Aspose")
    shares = [row["utilisation"] for row in result["limits"]]
    assert shares == sorted(shares, reverse=True)


def test_the_document_is_rewritten_between_its_markers_only(tmp_path: Path) -> None:
    doc = tmp_path / "capacity.md"
    doc.write_text(f"prose\n{capacity.BEGIN}\nold figures\n{capacity.END}\nmore prose\n")
    assert capacity.render_doc("new figures\n", doc)
    assert doc.read_text() == f"prose\n{capacity.BEGIN}\nnew figures\n{capacity.END}\nmore prose\n"
    assert not capacity.render_doc("x", tmp_path / "absent.md")
