"""Properties of the submission checks and of the corrupt_base64 fault, over many inputs."""

from __future__ import annotations

import base64
import binascii
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from infra.local.emulator.faults import FaultBook, Target
from infra.local.emulator.server import _apply_response_fault
from infra.local.emulator.validation import ValidationError, parse_submission

WIDTH, HEIGHT = 40, 30


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


PNG = _png()
coordinate = st.integers(min_value=-5, max_value=50)


@settings(max_examples=200, deadline=None)
@given(x0=coordinate, y0=coordinate, x1=coordinate, y1=coordinate)
def test_a_region_is_accepted_exactly_when_ordered_and_inside(
    x0: int, y0: int, x1: int, y1: int
) -> None:
    rect = {"topLeftX": x0, "topLeftY": y0, "bottomRightX": x1, "bottomRightY": y1}
    body = json.dumps({"image": PNG, "settings": {"regions": [{"rect": rect, "order": 0}]}})
    valid = 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= HEIGHT
    if valid:
        assert parse_submission(body.encode()).regions[0].rect.x1 == x1
    else:
        with pytest.raises(ValidationError) as raised:
            parse_submission(body.encode())
        assert raised.value.field == "settings.regions[0].rect"


@settings(max_examples=300, deadline=None)
@given(payloads=st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_corrupt_base64_never_decodes(payloads: list[bytes]) -> None:
    document = {
        "results": [{"type": "Text", "data": base64.b64encode(p).decode()} for p in payloads]
    }
    fault = FaultBook.build("corrupt_base64", target=Target(task_id="t"))
    _apply_response_fault(document, fault)
    for entry in document["results"]:
        with pytest.raises(binascii.Error):
            base64.b64decode(entry["data"], validate=True)
        with pytest.raises(binascii.Error):
            base64.b64decode(entry["data"])
