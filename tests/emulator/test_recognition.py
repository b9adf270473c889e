"""Recognition quality on images rendered from known text, and the engine's cost."""

from __future__ import annotations

import difflib
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from infra.local.emulator import RapidOcrRecognizer
from infra.local.emulator.ocr import ink_mask, line_bands
from tests.emulator.conftest import Client, decode_text, encode, font, rect, render_lines


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


@pytest.fixture(scope="module")
def recognizer() -> RapidOcrRecognizer:
    return RapidOcrRecognizer()


@pytest.mark.parametrize(
    "text",
    [
        "SMITH JOHN 1985",
        "All men live enveloped in whale-lines.",
        "Date of birth: 14.07.1985",
        "ID No. X4729-118 / Issued 2023",
        "Rue de la Paix 12, 75002 Paris",
    ],
)
def test_single_line_reads_back(client: Client, text: str) -> None:
    image = render_lines([text])
    task_id = client.submit(encode(image), regions=[{"rect": rect(0, 0, 720, 80), "order": 0}])
    result = decode_text(client.wait_done(task_id)["results"][0])
    assert _ratio(result, text) >= 0.8, result


def test_multi_line_region_keeps_the_lines(client: Client) -> None:
    lines = ["The quick brown fox", "jumps over the lazy dog", "0123456789"]
    image = render_lines(lines)
    task_id = client.submit(encode(image), regions=[{"rect": rect(0, 0, 720, 200), "order": 0}])
    result = decode_text(client.wait_done(task_id)["results"][0])
    assert _ratio(result, "\n".join(lines)) >= 0.8, result
    assert result.count("\n") == 2


def test_light_text_on_dark_background(client: Client) -> None:
    image = render_lines(["NATIONAL ID CARD"], fg="white", bg=(20, 40, 90))
    task_id = client.submit(encode(image), regions=[{"rect": rect(0, 0, 720, 80), "order": 0}])
    result = decode_text(client.wait_done(task_id)["results"][0])
    assert _ratio(result, "NATIONAL ID CARD") >= 0.8, result


def test_jpeg_with_binarization(client: Client) -> None:
    image = render_lines(["Valid until 2031-07-14"])
    task_id = client.submit(
        encode(image, "JPEG"),
        regions=[{"rect": rect(0, 0, 720, 80), "order": 0}],
        makeBinarization=True,
    )
    result = decode_text(client.wait_done(task_id)["results"][0])
    assert _ratio(result, "Valid until 2031-07-14") >= 0.8, result


def test_blank_region_is_empty_text(client: Client) -> None:
    image = render_lines(["TEXT"], size=(720, 200))
    task_id = client.submit(encode(image), regions=[{"rect": rect(0, 100, 720, 200), "order": 0}])
    assert decode_text(client.wait_done(task_id)["results"][0]) == ""


def test_clean_lines_skip_detection_and_are_cheap(recognizer: RapidOcrRecognizer) -> None:
    image = render_lines(["SMITH JOHN 1985", "Passport No 12345678"])
    recognizer.recognize(image)  # the engine loads once
    start = time.monotonic()
    lines = recognizer.recognize(image)
    assert time.monotonic() - start < 1.0  # detection alone would take over a second
    assert recognizer.detection_runs == 0
    assert [line.text for line in lines] == ["SMITH JOHN 1985", "Passport No 12345678"]


@pytest.mark.slow
def test_textured_background_falls_back_to_detection(recognizer: RapidOcrRecognizer) -> None:
    rng = np.random.default_rng(7)
    image = Image.fromarray(rng.integers(0, 256, (120, 520, 3), dtype=np.uint8))
    ImageDraw.Draw(image).text((10, 40), "NOISY TEXT", fill="black", font=font())
    before = recognizer.detection_runs
    lines = recognizer.recognize(image)
    assert recognizer.detection_runs == before + 1
    assert _ratio(" ".join(line.text for line in lines), "NOISY TEXT") >= 0.8


def test_line_bands_find_each_line() -> None:
    image = render_lines(["one", "two", "three"])
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    ink = ink_mask(gray)
    assert ink is not None
    bands = line_bands(ink)
    assert len(bands) == 3
    assert all(b.y1 - b.y0 < 40 for b in bands)
