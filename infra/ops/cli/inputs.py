"""What a user types or points at, checked before anything is sent: each problem is one line
naming the file, the region or the value that is wrong (exit code 2).

Region files are a JSON list of named rectangles in Aspose's own field names, in region order::

    [{"name": "surname", "topLeftX": 10, "topLeftY": 15, "bottomRightX": 980, "bottomRightY": 110}]
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from infra.ops.cli.errors import bad_input
from infra.stack.history import STATUSES
from ocr_fetch import jsonlimits
from ocr_fetch.client import Rect
from ocr_fetch.errors import InvalidEventError
from ocr_fetch.outcome import OutcomeKind
from ocr_fetch.submission import (
    MAX_CORRELATION_ID_CHARS,
    MAX_REGION_NAME_CHARS,
    MAX_REGIONS,
    validate_task_id,
)

#: Aspose.OCR Cloud v5.0's ``resultType`` names (the SDK's enum; the emulator accepts the same).
RESULT_TYPES = (
    "Text",
    "Pdf",
    "TextAndPdf",
    "Hocr",
    "TextAndHocr",
    "PdfAndHocr",
    "TextAndPdfAndHocr",
    "ImagePNG",
    "JSON",
)
RECT_FIELDS = ("topLeftX", "topLeftY", "bottomRightX", "bottomRightY")
_REFETCH_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
#: Image formats Aspose reads, by their first bytes.
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"BM": "BMP",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


@dataclass(frozen=True)
class NamedRegion:
    """One rectangle of a region file, with its name (None when unnamed)."""

    name: str | None
    rect: Rect


@dataclass(frozen=True)
class Image:
    """An image file read whole, with what it is."""

    path: Path
    data: bytes
    format: str
    width: int
    height: int


def task_id(value: str) -> str:
    """A task id in its canonical form (a GUID, lower case), or a one-line error."""
    try:
        return validate_task_id(value)
    except InvalidEventError:
        shown = json.dumps(value[:40])
        raise bad_input(
            f"{shown} is not a task id: a task id is a GUID (8-4-4-4-12 hex digits)"
        ) from None


def correlation_id(value: str | None) -> str | None:
    if value is not None and not 0 < len(value) <= MAX_CORRELATION_ID_CHARS:
        raise bad_input(f"--correlation-id must be 1 to {MAX_CORRELATION_ID_CHARS} characters")
    return value


def result_type(value: str) -> str:
    """One of Aspose's result types, matched without regard to case."""
    for known in RESULT_TYPES:
        if known.lower() == value.lower():
            return known
    raise bad_input(f"--result-type {value!r} is not one of {', '.join(RESULT_TYPES)}")


def refetch_label(value: str) -> str:
    if not _REFETCH_LABEL.match(value):
        raise bad_input("--label must be 1 to 36 characters of A-Z, a-z, 0-9, _ or -")
    return value


@dataclass(frozen=True)
class StatusFilter:
    """``list --status``: an execution status (ListExecutions filters on it) or a recorded
    outcome (``Completed`` ends SUCCEEDED, the others FAILED; the items say which)."""

    execution: str | None = None
    outcome: str | None = None


def list_status(value: str | None) -> StatusFilter:
    """``RUNNING``, ``FAILED``... or ``Completed``, ``NotFound``... (any case)."""
    if value is None:
        return StatusFilter()
    for kind in OutcomeKind:
        if kind.value.lower() == value.lower():
            execution = "SUCCEEDED" if kind is OutcomeKind.COMPLETED else "FAILED"
            return StatusFilter(execution, kind.value)
    status = value.upper().replace("-", "_")
    if status not in STATUSES:
        outcomes = ", ".join(kind.value for kind in OutcomeKind)
        raise bad_input(
            f"--status {value!r} is not one of {', '.join(STATUSES)} "
            f"(execution statuses) or {outcomes} (outcomes)"
        )
    return StatusFilter(execution=status)


def duration(value: str, option: str = "--since") -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``."""
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise bad_input(f"{option} {value!r} is not a duration such as 90s, 15m, 2h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def read_image(path: Path) -> Image:
    """The image file, if it is one Aspose reads (PNG, JPEG, BMP, TIFF, GIF)."""
    return image_from_bytes(read_file(path, "image"), path)


def image_from_bytes(data: bytes, path: Path) -> Image:
    """``data`` as an image Aspose reads (``path`` names it in messages)."""
    found = next((f for magic, f in _IMAGE_MAGIC.items() if data.startswith(magic)), None)
    if found is None:
        what = "a PDF, which region recognition does not take" if data[:4] == b"%PDF" else "not"
        raise bad_input(f"{path}: {what} an image Aspose reads (PNG, JPEG, BMP, TIFF or GIF)")
    from PIL import Image as PilImage
    from PIL import UnidentifiedImageError

    try:
        with PilImage.open(io.BytesIO(data)) as image:
            width, height = image.size
    except PilImage.DecompressionBombError:
        raise bad_input(
            f"{path}: a {found} of more than {2 * (PilImage.MAX_IMAGE_PIXELS or 0)} pixels, "
            "too large to submit (a decompression bomb?)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_input(f"{path}: a {found} file that cannot be read (damaged?)") from None
    return Image(path, data, found, width, height)


#: A region file is a few hundred bytes a region; anything near this is not one.
MAX_REGION_FILE_BYTES = 1024 * 1024


def load_regions(path: Path, image: Image | None = None) -> list[NamedRegion]:
    """The region file's rectangles, in order, each checked (and inside ``image`` if given)."""
    text = read_file(path, "region file").decode("utf-8", errors="replace")
    try:
        value = jsonlimits.loads(text, max_bytes=MAX_REGION_FILE_BYTES, what=str(path))
    except jsonlimits.JsonLimitError as error:
        raise bad_input(str(error)) from None
    except ValueError as error:
        raise bad_input(f"{path}: not JSON ({error})") from None
    if not isinstance(value, list) or not value:
        raise bad_input(f"{path}: must be a non-empty JSON list of regions")
    if len(value) > MAX_REGIONS:
        raise bad_input(f"{path}: {len(value)} regions, more than {MAX_REGIONS}")
    regions = [_region(path, index, entry) for index, entry in enumerate(value)]
    if image is not None:
        for index, region in enumerate(regions):
            _inside(path, _where(index, region.name), region.rect, image)
    return regions


def _region(path: Path, index: int, entry: Any) -> NamedRegion:
    if not isinstance(entry, dict):
        raise bad_input(f"{path}: region {index + 1} must be an object")
    name = entry.get("name")
    where = _where(index, name if isinstance(name, str) else None)
    unknown = sorted(set(entry) - {"name", *RECT_FIELDS})
    if unknown:
        raise bad_input(
            f"{path}: {where}: unknown field {unknown[0]!r} "
            f"(the fields are name, {', '.join(RECT_FIELDS)})"
        )
    if name is not None and (
        not isinstance(name, str) or not 0 < len(name) <= MAX_REGION_NAME_CHARS
    ):
        raise bad_input(
            f"{path}: {where}: name must be a string of 1 to {MAX_REGION_NAME_CHARS} characters"
        )
    corners = [_coordinate(path, where, entry, field) for field in RECT_FIELDS]
    rect = Rect(*corners)
    if rect.top_left_x >= rect.bottom_right_x or rect.top_left_y >= rect.bottom_right_y:
        raise bad_input(f"{path}: {where}: the top-left corner must be above and left of the other")
    return NamedRegion(name, rect)


def _coordinate(path: Path, where: str, entry: dict[str, Any], field: str) -> int:
    value = entry.get(field)
    if field not in entry:
        raise bad_input(f"{path}: {where}: {field} is missing")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_input(f"{path}: {where}: {field} must be a whole number of pixels, 0 or more")
    return value


def _inside(path: Path, where: str, rect: Rect, image: Image) -> None:
    if rect.bottom_right_x > image.width or rect.bottom_right_y > image.height:
        raise bad_input(
            f"{path}: {where}: reaches past the image ({image.path.name} is "
            f"{image.width} by {image.height} pixels)"
        )


def _where(index: int, name: str | None) -> str:
    return f"region {index + 1}" + (f" ({json.dumps(name[:40])})" if name else "")


def read_file(path: Path, what: str) -> bytes:
    """The file's bytes, or a bad-input error naming the file and what it was to be."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise bad_input(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise bad_input(f"{path}: is a directory, not a {what}") from None
    except OSError as error:
        raise bad_input(f"{path}: cannot read the {what} ({error.strerror})") from None
