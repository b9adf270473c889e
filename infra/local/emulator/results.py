"""Renders one recognised region as the result formats of Aspose.OCR Cloud v5.0.

Coordinates in hOCR, JSON and the PDF text layer are pixels of the region crop (origin at the
region's top-left corner); add the region's topLeftX/topLeftY for image coordinates.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from infra.local.emulator.ocr import Box, Line

# resultType -> the formats each region yields, in this order.
RESULT_LAYOUT: dict[str, tuple[str, ...]] = {
    "Text": ("Text",),
    "Pdf": ("Pdf",),
    "Hocr": ("Hocr",),
    "JSON": ("JSON",),
    "ImagePNG": ("ImagePNG",),
    "TextAndPdf": ("Text", "Pdf"),
    "TextAndHocr": ("Text", "Hocr"),
    "PdfAndHocr": ("Pdf", "Hocr"),
    "TextAndPdfAndHocr": ("Text", "Pdf", "Hocr"),
}


@dataclass(frozen=True)
class RegionResult:
    """What the recogniser saw in one region: the processed crop and its lines."""

    order: int
    rect: Box
    image: Image.Image
    lines: Sequence[Line]

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the region in image pixels (the processed crop may be upsampled)."""
        return self.rect.x1 - self.rect.x0, self.rect.y1 - self.rect.y0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def render_text(region: RegionResult) -> bytes:
    return region.text.encode("utf-8")


def _bbox(box: Box) -> str:
    return f"bbox {box.x0} {box.y0} {box.x1} {box.y1}"


def render_hocr(region: RegionResult) -> bytes:
    width, height = region.size
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
        ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
        "<head>",
        "<title>OCR region</title>",
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />',
        '<meta name="ocr-system" content="aspose-ocr-cloud-emulator" />',
        '<meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line ocrx_word" />',
        "</head>",
        "<body>",
        f'<div class="ocr_page" id="page_1" title={quoteattr(_bbox(Box(0, 0, width, height)))}>',
    ]
    if region.lines:
        area = Box(
            min(line.box.x0 for line in region.lines),
            min(line.box.y0 for line in region.lines),
            max(line.box.x1 for line in region.lines),
            max(line.box.y1 for line in region.lines),
        )
        out.append(f'<div class="ocr_carea" id="block_1_1" title={quoteattr(_bbox(area))}>')
        out.append(f'<p class="ocr_par" id="par_1_1" title={quoteattr(_bbox(area))}>')
        word_no = 0
        for line_no, line in enumerate(region.lines, start=1):
            out.append(
                f'<span class="ocr_line" id="line_1_{line_no}" title={quoteattr(_bbox(line.box))}>'
            )
            for word in line.words:
                word_no += 1
                title = f"{_bbox(word.box)}; x_wconf {round(word.confidence * 100)}"
                out.append(
                    f'<span class="ocrx_word" id="word_1_{word_no}" title={quoteattr(title)}>'
                    f"{escape(word.text)}</span>"
                )
            out.append("</span>")
        out.append("</p>")
        out.append("</div>")
    out += ["</div>", "</body>", "</html>", ""]
    return "\n".join(out).encode("utf-8")


def render_pdf(region: RegionResult) -> bytes:
    """One page the size of the crop (1 px = 1 pt): the image, and invisible text over each line."""
    width, height = region.size
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
    pdf.setTitle("OCR region")
    pdf.setCreator("aspose-ocr-cloud-emulator")
    pdf.drawImage(ImageReader(region.image.convert("RGB")), 0, 0, width=width, height=height)
    for line in region.lines:
        line_height = max(1, line.box.y1 - line.box.y0)
        size = line_height * 0.8
        text = pdf.beginText()
        text.setTextRenderMode(3)  # invisible: searchable and selectable, the image shows
        text.setFont("Helvetica", size)
        natural = pdf.stringWidth(line.text, "Helvetica", size)
        if natural > 0:
            text.setHorizScale(100.0 * (line.box.x1 - line.box.x0) / natural)
        text.setTextOrigin(line.box.x0, height - line.box.y1 + line_height * 0.2)
        text.textOut(line.text)
        pdf.drawText(text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _rect(box: Box) -> dict[str, int]:
    return {"topLeftX": box.x0, "topLeftY": box.y0, "bottomRightX": box.x1, "bottomRightY": box.y1}


def render_json(region: RegionResult) -> bytes:
    document = {
        "order": region.order,
        "region": _rect(region.rect),
        "text": region.text,
        "lines": [
            {
                "text": line.text,
                "confidence": round(line.confidence, 4),
                "rect": _rect(line.box),
                "words": [
                    {"text": w.text, "confidence": round(w.confidence, 4), "rect": _rect(w.box)}
                    for w in line.words
                ],
            }
            for line in region.lines
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def render_png(region: RegionResult) -> bytes:
    buffer = io.BytesIO()
    region.image.save(buffer, format="PNG")
    return buffer.getvalue()


RENDERERS: dict[str, Callable[[RegionResult], bytes]] = {
    "Text": render_text,
    "Hocr": render_hocr,
    "Pdf": render_pdf,
    "JSON": render_json,
    "ImagePNG": render_png,
}


def render(result_type: str, regions: Sequence[RegionResult]) -> list[tuple[str, bytes]]:
    """All result entries of a task: regions by `order`, each region's formats per RESULT_LAYOUT."""
    entries: list[tuple[str, bytes]] = []
    for region in sorted(regions, key=lambda r: r.order):
        for kind in RESULT_LAYOUT[result_type]:
            entries.append((kind, RENDERERS[kind](region)))
    return entries
