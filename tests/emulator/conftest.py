"""Shared fixtures: one emulator per session (OCR engine loaded once), reset before each test."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw, ImageFont

from infra.local.emulator import EmulatorAdmin, EmulatorConfig, EmulatorServer, Timing
from infra.stack.waiting import wait_until

FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FAST = Timing(queue_delay_s=0.05, per_region_s=0.02, lockout_s=600.0)


def font(size: int = 28) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT_PATH, size)
    except OSError:
        return ImageFont.load_default(size=size)


def render_lines(
    lines: list[str],
    size: tuple[int, int] = (720, 0),
    line_height: int = 60,
    fg: str | tuple[int, int, int] = "black",
    bg: str | tuple[int, int, int] = "white",
) -> Image.Image:
    """White image with each line of text drawn `line_height` apart, 10 px from the left."""
    width, height = size
    height = height or line_height * len(lines) + 20
    image = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(lines):
        draw.text((10, 10 + i * line_height), text, fill=fg, font=font())
    return image


def encode(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def rect(x0: int, y0: int, x1: int, y1: int) -> dict[str, int]:
    return {"topLeftX": x0, "topLeftY": y0, "bottomRightX": x1, "bottomRightY": y1}


def settings(
    result_type: str = "Text", regions: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """Every documented setting, as the project's client sends them."""
    body: dict[str, Any] = {
        "language": "English",
        "makeSkewCorrect": True,
        "rotate": 0,
        "makeBinarization": False,
        "makeContrastCorrection": True,
        "makeUpsampling": False,
        "makeSpellCheck": False,
        "dsrMode": "Regions",
        "dsrConfidence": "Default",
        "resultType": result_type,
        "regions": regions if regions is not None else [{"rect": rect(0, 0, 100, 50), "order": 0}],
    }
    body.update(extra)
    return body


def wait_for(condition: Callable[[], Any], deadline_s: float = 10.0, every_s: float = 0.02) -> Any:
    """The first truthy value of condition(), or AssertionError after the deadline."""
    return wait_until(condition, timeout=deadline_s, what="the condition", every=every_s)


@dataclass
class Client:
    """What a client of the real service does, over HTTP."""

    server: EmulatorServer
    session: requests.Session
    token: str = ""

    @property
    def base(self) -> str:
        return self.server.base_url + "/v5.0/ocr"

    def get_token(
        self, client_id: str | None = None, secret: str | None = None
    ) -> requests.Response:
        return self.session.post(
            self.server.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.server.client_id if client_id is None else client_id,
                "client_secret": self.server.client_secret if secret is None else secret,
            },
            timeout=10,
        )

    def login(self) -> str:
        response = self.get_token()
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self.token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def post_submit(self, body: Any) -> requests.Response:
        return self.session.post(
            f"{self.base}/RecognizeRegions", json=body, headers=self.headers(), timeout=10
        )

    def submit(
        self, image: str, result_type: str = "Text", regions: Any = None, **extra: Any
    ) -> str:
        response = self.post_submit(
            {"image": image, "settings": settings(result_type, regions, **extra)}
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.text

    def fetch(self, task_id: str) -> requests.Response:
        return self.session.get(
            f"{self.base}/RecognizeRegions",
            params={"id": task_id},
            headers=self.headers(),
            timeout=10,
        )

    def status(self, task_id: str) -> requests.Response:
        return self.session.get(
            f"{self.base}/Utilities/GetTaskStatus",
            params={"id": task_id},
            headers=self.headers(),
            timeout=10,
        )

    def cancel(self, task_id: str) -> requests.Response:
        return self.session.delete(
            f"{self.base}/RecognizeRegions",
            params={"id": task_id},
            headers=self.headers(),
            timeout=10,
        )

    def wait_done(self, task_id: str, deadline_s: float = 15.0) -> dict[str, Any]:
        """Poll until the task leaves Pending/Processing; the final OCRResponse."""

        def done() -> dict[str, Any] | None:
            document: dict[str, Any] = self.fetch(task_id).json()
            return None if document["taskStatus"] in ("Pending", "Processing") else document

        result: dict[str, Any] = wait_for(done, deadline_s, every_s=0.03)
        return result


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(timing=FAST)) as running:
        yield running


@pytest.fixture
def admin(server: EmulatorServer) -> EmulatorAdmin:
    admin = server.admin
    admin.reset()
    admin.revoke_tokens()
    return admin


@pytest.fixture
def client(server: EmulatorServer, admin: EmulatorAdmin) -> Iterator[Client]:
    with requests.Session() as session:
        c = Client(server, session)
        c.login()
        yield c


@pytest.fixture(scope="session")
def card_image() -> Image.Image:
    """An ID-card-like image: three known lines."""
    return render_lines(["SMITH JOHN 1985", "Passport No 12345678", "Valid until 2031-07-14"])


@pytest.fixture(scope="session")
def card_b64(card_image: Image.Image) -> str:
    return encode(card_image)


CARD_TEXT = ["SMITH JOHN 1985", "Passport No 12345678", "Valid until 2031-07-14"]


def card_regions() -> list[dict[str, Any]]:
    """One region per line of the card image, order = index."""
    return [{"rect": rect(0, 2 + i * 60, 720, 58 + i * 60), "order": i} for i in range(3)]


def decode_text(entry: dict[str, str]) -> str:
    return base64.b64decode(entry["data"], validate=True).decode("utf-8")
