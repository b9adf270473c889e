"""Bad submissions get a 400 ProblemDetails naming the problem; good ones a task id."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import pytest
from PIL import Image

from tests.emulator.conftest import Client, encode, rect, render_lines, settings

SMALL = render_lines(["HELLO"], size=(200, 60))


def _body(image: str | None = None, **setting_overrides: Any) -> dict[str, Any]:
    regions = setting_overrides.pop("regions", [{"rect": rect(0, 0, 200, 60), "order": 0}])
    return {
        "image": encode(SMALL) if image is None else image,
        "settings": settings("Text", regions, **setting_overrides),
    }


def _pdf() -> str:
    buffer = io.BytesIO()
    SMALL.save(buffer, format="PDF")
    return base64.b64encode(buffer.getvalue()).decode()


BAD = [
    pytest.param({"image": "@@not base64@@", "settings": settings()}, "Base64", id="bad-base64"),
    pytest.param(
        _body(base64.b64encode(b"plain text, no image").decode()), "format", id="not-image"
    ),
    pytest.param(
        _body(base64.b64encode(b"\x89PNG\r\n\x1a\ntruncated").decode()), "decoded", id="bad-png"
    ),
    pytest.param(_body(_pdf()), "PDF", id="pdf"),
    pytest.param({"settings": settings()}, "image", id="no-image"),
    pytest.param(
        _body(regions=[{"rect": rect(0, 0, 201, 60), "order": 0}]), "outside", id="outside-x"
    ),
    pytest.param(
        _body(regions=[{"rect": rect(-1, 0, 100, 60), "order": 0}]), "outside", id="negative"
    ),
    pytest.param(
        _body(regions=[{"rect": rect(0, 0, 100, 61), "order": 0}]), "outside", id="outside-y"
    ),
    pytest.param(
        _body(regions=[{"rect": rect(100, 0, 50, 60), "order": 0}]), "ordered", id="inverted-x"
    ),
    pytest.param(
        _body(regions=[{"rect": rect(0, 50, 100, 10), "order": 0}]), "ordered", id="inverted-y"
    ),
    pytest.param(
        _body(regions=[{"rect": rect(0, 0, 0, 60), "order": 0}]), "ordered", id="empty-rect"
    ),
    pytest.param(_body(regions=[]), "at least one", id="no-regions"),
    pytest.param(_body(regions=[{"rect": {"topLeftX": 0}, "order": 0}]), "integer", id="half-rect"),
    pytest.param(
        _body(regions=[{"rect": rect(0, 0, 9, 9), "order": "first"}]), "order", id="order"
    ),
    pytest.param(_body(resultType="Docx"), "resultType", id="result-type"),
    pytest.param(_body(resultType="text"), "resultType", id="result-type-case"),
    pytest.param(_body(language="Klingon"), "language", id="language"),
    pytest.param(_body(dsrMode="Magic"), "dsrMode", id="dsr-mode"),
    pytest.param(_body(dsrConfidence="Sure"), "dsrConfidence", id="dsr-confidence"),
    pytest.param(_body(makeBinarization="yes"), "makeBinarization", id="bool"),
    pytest.param(_body(rotate=1.5), "rotate", id="rotate"),
    pytest.param(_body(colour="blue"), "colour", id="unknown-setting"),
    pytest.param(["not", "an", "object"], "object", id="not-object"),
]


@pytest.mark.parametrize(("body", "named"), BAD)
def test_bad_submission_is_a_problem_naming_it(client: Client, body: Any, named: str) -> None:
    response = client.post_submit(body)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
    assert problem["status"] == 400
    assert problem["instance"] == "/v5.0/ocr/RecognizeRegions"
    assert named.lower() in problem["detail"].lower()


def test_body_that_is_not_json_is_a_problem(client: Client) -> None:
    response = client.session.post(
        f"{client.base}/RecognizeRegions",
        data=b"{nope",
        headers={**client.headers(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF", "GIF"])
def test_every_supported_format_is_accepted(client: Client, fmt: str) -> None:
    response = client.post_submit(_body(encode(SMALL, fmt)))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert uuid.UUID(response.text)


def test_setting_names_are_case_insensitive_like_the_service(client: Client) -> None:
    # The official Python SDK sends "Rotate" with a capital R.
    body = _body()
    body["settings"]["Rotate"] = body["settings"].pop("rotate")
    assert client.post_submit(body).status_code == 200


def test_settings_may_be_left_to_defaults(client: Client) -> None:
    body = {"image": encode(SMALL), "settings": {"regions": [{"rect": rect(0, 0, 200, 60)}]}}
    assert client.post_submit(body).status_code == 200


def test_multi_frame_tiff_uses_the_first_frame(client: Client) -> None:
    buffer = io.BytesIO()
    SMALL.save(buffer, format="TIFF", save_all=True, append_images=[Image.new("RGB", (200, 60))])
    task_id = client.submit(
        base64.b64encode(buffer.getvalue()).decode(),
        regions=[{"rect": rect(0, 0, 200, 60), "order": 0}],
    )
    assert client.wait_done(task_id)["taskStatus"] == "Completed"
