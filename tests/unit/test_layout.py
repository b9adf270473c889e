"""The S3 key layout: one prefix per task, safe segments, bounded lengths."""

from __future__ import annotations

import json

import pytest

from ocr_fetch.layout import manifest_key, raw_key, region_key, task_prefix


def test_everything_about_a_task_lives_under_its_prefix() -> None:
    assert task_prefix("t-1") == "results/t-1/"
    assert raw_key("t-1") == "results/t-1/raw.json"
    assert manifest_key("t-1") == "results/t-1/manifest.json"


@pytest.mark.parametrize(
    ("task_id", "prefix"),
    [("../x", "results/.._x/"), ("", "results/_/"), ("a/b", "results/a_b/")],
)
def test_a_task_id_cannot_escape_its_prefix(task_id: str, prefix: str) -> None:
    assert task_prefix(task_id) == prefix


@pytest.mark.parametrize(
    ("task_id", "index", "name", "ext", "key"),
    [
        ("t-1", 0, None, "txt", "results/t-1/0.txt"),
        ("t-1", 2, "address", "json", "results/t-1/2-address.json"),
        ("t-1", 1, "first name/ü", "txt", "results/t-1/1-first_name__.txt"),
        ("t-1", 1, "", "bin", "results/t-1/1.bin"),
        ("t-1", 1, None, "", "results/t-1/1.bin"),
        ("../x", 0, "a", "pdf", "results/.._x/0-a.pdf"),
    ],
)
def test_region_key(task_id: str, index: int, name: str | None, ext: str, key: str) -> None:
    assert region_key(task_id, index, name, ext) == key


def test_region_key_bounds_the_name() -> None:
    key = region_key("t", 0, "n" * 500, "txt")

    assert len(key) < 100
    assert json.dumps(key).isascii()
