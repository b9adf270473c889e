"""Checks a RecognizeRegions submission the way the service does, naming the first problem."""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from infra.local.emulator.ocr import Box
from infra.local.emulator.results import RESULT_LAYOUT

LANGUAGES = frozenset(
    [
        "English",
        "German",
        "French",
        "Italian",
        "Spanish",
        "Portuguese",
        "Polish",
        "Slovene",
        "Slovak",
        "Netherlands",
        "Lithuanian",
        "Latvian",
        "Danish",
        "Norwegian",
        "Finnish",
        "Serbian",
        "Croatian",
        "Czech",
        "Swedish",
        "Estonian",
        "Romanian",
        "Chinese",
        "Russian",
        "Arabic",
        "Hindi",
        "Ukrainan",
        "Bengali",
        "Tibetan",
        "Thai",
        "Urdu",
        "Turkish",
        "Korean",
        "Indonesian",
        "Hebrew",
        "Javanese",
        "Greek",
        "Japanese",
        "Persian",
        "Albanian",
        "Latin",
        "Vietnamese",
        "Uzbek",
        "Georgian",
        "Bulgarian",
        "Azerbaijani",
        "Kazah",
        "Macedonian",
        "Belorussian",
        "HWT_eng",
    ]
)
DSR_MODES = frozenset(
    [
        "Regions",
        "DsrNoFilter",
        "DsrAndFilter",
        "NoDsrNoFilter",
        "TextDetector",
        "DsrPlusDetector",
        "PolygonalTextDetector",
    ]
)
DSR_CONFIDENCES = frozenset(["Default", "Low", "LowMid", "Mid", "MidHigh", "High", "Ultra", "All"])
RESULT_TYPES_TABLE = frozenset(["Text", "Excel", "Csv", "CsvAndExcel"])

_ENUMS: dict[str, frozenset[str]] = {
    "language": LANGUAGES,
    "dsrMode": DSR_MODES,
    "dsrConfidence": DSR_CONFIDENCES,
    "resultType": frozenset(RESULT_LAYOUT),
    "resultTypeTable": RESULT_TYPES_TABLE,
}
_BOOLS = (
    "makeSkewCorrect",
    "makeBinarization",
    "makeContrastCorrection",
    "makeUpsampling",
    "makeSpellCheck",
)
_SETTING_NAMES = {name.lower(): name for name in [*_ENUMS, *_BOOLS, "rotate", "regions"]}
_RECT_NAMES = ("topLeftX", "topLeftY", "bottomRightX", "bottomRightY")
_INT32 = (-(2**31), 2**31 - 1)

# Leading bytes of the formats the service accepts.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
)


class ValidationError(Exception):
    """A submission the service would refuse with 400; `field` names the offending member."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Region:
    order: int
    rect: Box


@dataclass(frozen=True)
class Settings:
    language: str = "English"
    make_skew_correct: bool = True
    make_binarization: bool = True
    make_contrast_correction: bool = True
    make_upsampling: bool = False
    make_spell_check: bool = False
    rotate: int = 0
    dsr_mode: str = "Regions"
    dsr_confidence: str = "Default"
    result_type: str = "Text"


@dataclass(frozen=True)
class Submission:
    image: Image.Image
    image_format: str
    settings: Settings
    regions: tuple[Region, ...]


def parse_submission(body: bytes) -> Submission:
    """The submission in `body`, or ValidationError naming what is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationError("$", f"The request body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValidationError("$", "The request body must be a JSON object.")
    members = {key.lower(): value for key, value in document.items()}
    image, image_format = _parse_image(members.get("image"))
    raw_settings = members.get("settings")
    if raw_settings is None:
        raw_settings = {}
    if not isinstance(raw_settings, dict):
        raise ValidationError("settings", "settings must be a JSON object.")
    settings, raw_regions = _parse_settings(raw_settings)
    regions = _parse_regions(raw_regions, image.size)
    return Submission(image, image_format, settings, regions)


def _parse_image(value: Any) -> tuple[Image.Image, str]:
    if not isinstance(value, str) or not value:
        raise ValidationError("image", "image is required: the Base64 of a BMP/JPEG/PNG/TIFF/GIF.")
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("image", "image is not valid Base64.") from None
    image_format = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
    if image_format is None:
        raise ValidationError(
            "image", "image is not a supported format (BMP, JPEG, PNG, TIFF, GIF)."
        )
    if image_format == "PDF":
        raise ValidationError(
            "image", "PDF input is not supported by the emulator; send a BMP/JPEG/PNG/TIFF/GIF."
        )
    try:
        image = Image.open(io.BytesIO(data))
        image.seek(0)  # multi-page TIFF and animated GIF: the first frame is recognised
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ValidationError(
            "image", f"image could not be decoded as {image_format}: {error}"
        ) from None
    return image.convert("RGB"), image_format


def _parse_settings(raw: dict[str, Any]) -> tuple[Settings, Any]:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _SETTING_NAMES.get(key.lower())
        if name is None:
            raise ValidationError(
                f"settings.{key}",
                f"Unknown setting {key!r}. Known settings: {sorted(_SETTING_NAMES.values())}.",
            )
        values[name] = value
    for name, allowed in _ENUMS.items():
        value = values.get(name)
        if value is not None and value not in allowed:
            raise ValidationError(
                f"settings.{name}",
                f"The value {value!r} is not valid for {name}. Valid values: {sorted(allowed)}.",
            )
    for name in _BOOLS:
        value = values.get(name)
        if value is not None and not isinstance(value, bool):
            raise ValidationError(f"settings.{name}", f"{name} must be true or false.")
    rotate = values.get("rotate")
    if rotate is not None and (
        isinstance(rotate, bool)
        or not isinstance(rotate, int)
        or not _INT32[0] <= rotate <= _INT32[1]
    ):
        raise ValidationError("settings.rotate", "rotate must be a 32-bit integer.")

    def pick(name: str, default: Any) -> Any:
        value = values.get(name)
        return default if value is None else value

    base = Settings()
    settings = Settings(
        language=pick("language", base.language),
        make_skew_correct=pick("makeSkewCorrect", base.make_skew_correct),
        make_binarization=pick("makeBinarization", base.make_binarization),
        make_contrast_correction=pick("makeContrastCorrection", base.make_contrast_correction),
        make_upsampling=pick("makeUpsampling", base.make_upsampling),
        make_spell_check=pick("makeSpellCheck", base.make_spell_check),
        rotate=pick("rotate", base.rotate),
        dsr_mode=pick("dsrMode", base.dsr_mode),
        dsr_confidence=pick("dsrConfidence", base.dsr_confidence),
        result_type=pick("resultType", base.result_type),
    )
    return settings, values.get("regions")


def _parse_regions(raw: Any, size: tuple[int, int]) -> tuple[Region, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("settings.regions", "settings.regions must list at least one region.")
    return tuple(_parse_region(index, item, size) for index, item in enumerate(raw))


def _parse_region(index: int, item: Any, size: tuple[int, int]) -> Region:
    where = f"settings.regions[{index}]"
    if not isinstance(item, dict):
        raise ValidationError(where, f"{where} must be an object with rect and order.")
    members = {key.lower(): value for key, value in item.items()}
    box = _parse_rect(f"{where}.rect", members.get("rect"), size)
    order = members.get("order", index)
    if order is None:
        order = index
    if isinstance(order, bool) or not isinstance(order, int):
        raise ValidationError(f"{where}.order", f"{where}.order must be an integer.")
    return Region(order, box)


def _parse_rect(where: str, rect: Any, size: tuple[int, int]) -> Box:
    if not isinstance(rect, dict):
        raise ValidationError(where, f"{where} is required.")
    rect_members = {key.lower(): value for key, value in rect.items()}
    corners: list[int] = []
    for name in _RECT_NAMES:
        value = rect_members.get(name.lower())
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{where}.{name}", f"{where}.{name} must be an integer.")
        corners.append(value)
    x0, y0, x1, y1 = corners
    if x1 <= x0 or y1 <= y0:
        raise ValidationError(
            where,
            f"{where} corners are not ordered: top-left ({x0},{y0}) must be above and "
            f"left of bottom-right ({x1},{y1}).",
        )
    width, height = size
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise ValidationError(
            where, f"{where} ({x0},{y0})-({x1},{y1}) lies outside the {width}x{height} image."
        )
    return Box(x0, y0, x1, y1)
