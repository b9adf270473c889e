"""Realistic sample documents for the demo and the tests: an ID card and a form, with named regions.

Rendered with Pillow at run time (nothing binary is committed). The people are the specimen
names printed on sample documents, not real persons. ``python -m infra.local.samples [DIR]`` writes
each as a PNG beside its region file (``examples/`` holds the region files, committed) and what
each region printed (``<name>.printed.json``, which ``make smoke`` judges the recognised text by).
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ocr_fetch.client import Rect


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str
    rect: Rect


@dataclass(frozen=True)
class SampleDocument:
    title: str
    png: bytes
    fields: tuple[Field, ...]

    @property
    def region_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def rects(self) -> list[Rect]:
        return [f.rect for f in self.fields]


@dataclass(frozen=True)
class _Layout:
    """How a sample looks: its size, colours, and where labels and values go."""

    size: tuple[int, int]
    background: str
    accent: str
    left: int = 40
    value_x: int = 250
    top: int = 110
    step: int = 58


def _render(title: str, layout: _Layout, rows: list[tuple[str, str, str]]) -> SampleDocument:
    size, left, value_x = layout.size, layout.left, layout.value_x
    image = Image.new("RGB", size, layout.background)
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=30)
    label_font = ImageFont.load_default(size=18)
    value_font = ImageFont.load_default(size=28)
    draw.rectangle((0, 0, size[0], 70), fill=layout.accent)
    draw.text((left, 18), title, fill="white", font=title_font)
    fields = []
    for i, (name, label, value) in enumerate(rows):
        y = layout.top + i * layout.step
        draw.text((left, y + 6), label, fill="#555555", font=label_font)
        draw.text((value_x, y), value, fill="black", font=value_font)
        x0, y0, x1, y1 = (int(v) for v in draw.textbbox((value_x, y), value, font=value_font))
        pad = 8
        rect = Rect(
            max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, size[0]), min(y1 + pad, size[1])
        )
        fields.append(Field(name, label, value, rect))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return SampleDocument(title, out.getvalue(), tuple(fields))


def id_card() -> SampleDocument:
    """A German-style specimen identity card."""
    return _render(
        "IDENTITY CARD",
        _Layout((720, 420), background="#e8f0e8", accent="#2f6f4f"),
        [
            ("surname", "Surname", "MUSTERMANN"),
            ("given_names", "Given names", "ERIKA"),
            ("date_of_birth", "Date of birth", "12.08.1964"),
            ("document_number", "Document no.", "T22000129"),
            ("expiry_date", "Expiry date", "01.09.2031"),
        ],
    )


def registration_form() -> SampleDocument:
    """A customer registration form."""
    return _render(
        "CUSTOMER REGISTRATION",
        _Layout((760, 400), background="#ffffff", accent="#1f4e8c"),
        [
            ("full_name", "Full name", "John Smith"),
            ("email", "Email", "john.smith@example.com"),
            ("city", "City", "Springfield"),
            ("phone", "Phone", "555 0142 867"),
        ],
    )


SAMPLES = {"id_card": id_card, "registration_form": registration_form}
#: Where the region files of the samples are committed (and the PNGs written by default).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def region_file(document: SampleDocument) -> list[dict[str, object]]:
    """The document's regions as ``ocr-results submit --regions`` reads them: named rectangles
    in Aspose's own field names, in region order."""
    return [{"name": f.name, **f.rect.to_json()} for f in document.fields]


def printed_text(document: SampleDocument) -> dict[str, str]:
    """What each named region of the document shows, to judge a recognition by."""
    return {f.name: f.value for f in document.fields}


def write_samples(directory: Path) -> list[Path]:
    """Render every sample as ``<name>.png`` beside its ``<name>.regions.json`` and
    ``<name>.printed.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in SAMPLES.items():
        document = make()
        image = directory / f"{name}.png"
        image.write_bytes(document.png)
        regions = directory / f"{name}.regions.json"
        regions.write_text(json.dumps(region_file(document), indent=2) + "\n", encoding="utf-8")
        printed = directory / f"{name}.printed.json"
        printed.write_text(json.dumps(printed_text(document), indent=2) + "\n", encoding="utf-8")
        written += [image, regions, printed]
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.local.samples [DIR]``: the demo's documents, for ``ocr-results``."""
    arguments = sys.argv[1:] if argv is None else argv
    directory = Path(arguments[0]) if arguments else EXAMPLES
    for path in write_samples(directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
