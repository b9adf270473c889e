"""Every resultType, decoded the way a client would, and the combined layouts."""

from __future__ import annotations

import base64
import difflib
import io
import json
import re

import defusedxml.ElementTree as SafeET
import pypdf
import pytest
from PIL import Image

from infra.local.emulator import RESULT_LAYOUT
from tests.emulator.conftest import CARD_TEXT, Client, card_regions, decode_text

XHTML = "{http://www.w3.org/1999/xhtml}"


def _similar(a: str, b: str) -> bool:
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def _results(
    client: Client, card_b64: str, result_type: str, regions: int = 2
) -> list[dict[str, str]]:
    task_id = client.submit(card_b64, result_type=result_type, regions=card_regions()[:regions])
    document = client.wait_done(task_id)
    assert document["taskStatus"] == "Completed", document
    assert document["responseStatusCode"] == "Ok"
    results: list[dict[str, str]] = document["results"]
    return results


@pytest.mark.parametrize("result_type", sorted(RESULT_LAYOUT))
def test_layout_is_each_regions_formats_in_order(
    client: Client, card_b64: str, result_type: str
) -> None:
    results = _results(client, card_b64, result_type)
    per_region = RESULT_LAYOUT[result_type]
    assert [r["type"] for r in results] == list(per_region) * 2
    for entry in results:
        base64.b64decode(entry["data"], validate=True)


def test_text_is_utf8(client: Client, card_b64: str) -> None:
    results = _results(client, card_b64, "Text")
    assert _similar(decode_text(results[0]), CARD_TEXT[0])
    assert _similar(decode_text(results[1]), CARD_TEXT[1])


def test_pdf_opens_and_its_text_layer_is_searchable(client: Client, card_b64: str) -> None:
    results = _results(client, card_b64, "Pdf")
    for entry, expected in zip(results, CARD_TEXT, strict=False):
        reader = pypdf.PdfReader(io.BytesIO(base64.b64decode(entry["data"])))
        assert len(reader.pages) == 1
        page = reader.pages[0]
        assert float(page.mediabox.width) == 720
        assert float(page.mediabox.height) == 56
        assert _similar(page.extract_text().strip(), expected)
        assert page.images  # the crop image is on the page


def test_hocr_is_xhtml_with_lines_and_word_boxes(client: Client, card_b64: str) -> None:
    results = _results(client, card_b64, "Hocr")
    root = SafeET.fromstring(base64.b64decode(results[1]["data"]))
    assert root.tag == f"{XHTML}html"
    spans = list(root.iter(f"{XHTML}span"))
    lines = [s for s in spans if s.get("class") == "ocr_line"]
    words = [s for s in spans if s.get("class") == "ocrx_word"]
    assert len(lines) == 1
    assert _similar(" ".join(w.text or "" for w in words), CARD_TEXT[1])
    for span in [*lines, *words]:
        match = re.match(r"bbox (\d+) (\d+) (\d+) (\d+)", span.get("title", ""))
        assert match, span.get("title")
        x0, y0, x1, y1 = map(int, match.groups())
        assert 0 <= x0 < x1 <= 720
        assert 0 <= y0 < y1 <= 56
    # words run left to right
    lefts = [int(w.get("title").split()[1]) for w in words]
    assert lefts == sorted(lefts)


def test_json_has_text_blocks_with_coordinates(client: Client, card_b64: str) -> None:
    results = _results(client, card_b64, "JSON")
    document = json.loads(base64.b64decode(results[0]["data"]))
    assert document["order"] == 0
    assert document["region"] == {
        "topLeftX": 0,
        "topLeftY": 2,
        "bottomRightX": 720,
        "bottomRightY": 58,
    }
    assert _similar(document["text"], CARD_TEXT[0])
    [line] = document["lines"]
    assert set(line["rect"]) == {"topLeftX", "topLeftY", "bottomRightX", "bottomRightY"}
    assert 0 < line["confidence"] <= 1
    assert [w["text"] for w in line["words"]] == line["text"].split()


def test_image_png_is_the_processed_crop(client: Client, card_b64: str) -> None:
    results = _results(client, card_b64, "ImagePNG", regions=1)
    image = Image.open(io.BytesIO(base64.b64decode(results[0]["data"])))
    assert image.format == "PNG"
    assert image.size == (720, 56)


def test_upsampling_doubles_the_png_but_not_the_coordinates(client: Client, card_b64: str) -> None:
    task_id = client.submit(
        card_b64, result_type="ImagePNG", regions=card_regions()[:1], makeUpsampling=True
    )
    png = client.wait_done(task_id)["results"][0]
    assert Image.open(io.BytesIO(base64.b64decode(png["data"]))).size == (1440, 112)
    task_id = client.submit(
        card_b64, result_type="JSON", regions=card_regions()[:1], makeUpsampling=True
    )
    document = json.loads(base64.b64decode(client.wait_done(task_id)["results"][0]["data"]))
    assert document["lines"][0]["rect"]["bottomRightX"] <= 720
    assert _similar(document["text"], CARD_TEXT[0])


def test_text_and_pdf_and_hocr_agree(client: Client, card_b64: str) -> None:
    results = _results(client, card_b64, "TextAndPdfAndHocr", regions=1)
    text, pdf, hocr = results
    assert (text["type"], pdf["type"], hocr["type"]) == ("Text", "Pdf", "Hocr")
    plain = decode_text(text)
    pdf_text = pypdf.PdfReader(io.BytesIO(base64.b64decode(pdf["data"]))).pages[0].extract_text()
    root = SafeET.fromstring(base64.b64decode(hocr["data"]))
    words = [s.text for s in root.iter(f"{XHTML}span") if s.get("class") == "ocrx_word"]
    assert pdf_text.strip() == plain
    assert " ".join(words) == plain
