"""The S3 key layout: one prefix per task, one per run, safe segments, bounded lengths."""

from __future__ import annotations

import json

import pytest

from ocr_fetch.layout import (
    answer_key,
    is_answer_key,
    manifest_key,
    region_key,
    run_prefix,
    submitted_key,
    task_prefix,
)

TASK = "t-1"


def test_everything_about_a_task_lives_under_its_prefix() -> None:
    assert task_prefix(TASK) == "results/t-1/"
    assert submitted_key(TASK) == "results/t-1/submitted.json"
    assert run_prefix(TASK, "t-1-again") == "results/t-1/runs/t-1-again/"
    assert answer_key(TASK, "t-1", 3) == "results/t-1/runs/t-1/answer-3.json"
    assert manifest_key(TASK, "t-1") == "results/t-1/runs/t-1/manifest.json"


@pytest.mark.parametrize(
    ("task_id", "prefix"),
    [("../x", "results/.._x/"), ("", "results/_/"), ("a/b", "results/a_b/")],
)
def test_a_task_id_cannot_escape_its_prefix(task_id: str, prefix: str) -> None:
    assert task_prefix(task_id) == prefix


def test_a_run_cannot_escape_its_prefix() -> None:
    assert run_prefix(TASK, "../../x") == "results/t-1/runs/.._.._x/"
    assert run_prefix(TASK, "") == "results/t-1/runs/_/"


@pytest.mark.parametrize(
    ("key", "mine"),
    [
        ("results/t-1/runs/t-1/answer-3.json", True),
        ("results/t-1/runs/t-1-again/answer-3.json", False),
        ("results/t-1/runs/t-1/regions/answer-3.json", False),
        ("results/t-1/submitted.json", False),
        ("results/t-1/runs/t-1/answer-3.json.bak", False),
        ("results/t-2/runs/t-1/answer-3.json", False),
    ],
)
def test_only_an_answer_the_run_kept_is_its_answer(key: str, mine: bool) -> None:
    assert is_answer_key(key, TASK, "t-1") is mine


@pytest.mark.parametrize(
    ("index", "name", "ext", "file"),
    [
        (0, None, "txt", "0.txt"),
        (2, "address", "json", "2-address.json"),
        (1, "first name/ü", "txt", "1-first_name__.txt"),
        (1, "", "bin", "1.bin"),
        (1, None, "", "1.bin"),
    ],
)
def test_region_key(index: int, name: str | None, ext: str, file: str) -> None:
    assert region_key(TASK, "t-1", index, name, ext) == f"results/t-1/runs/t-1/regions/{file}"


def test_region_key_bounds_the_name() -> None:
    key = region_key("t", "t", 0, "n" * 500, "txt")

    assert len(key) < 120
    assert json.dumps(key).isascii()
