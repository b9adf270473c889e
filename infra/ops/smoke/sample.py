"""The document a smoke run submits, read from files: ``python -m infra.local.samples DIR`` renders
the sample ID card as ``id_card.png`` beside ``id_card.regions.json`` (its named regions, the file
``ocr-results submit --regions`` reads) and ``id_card.printed.json`` (what each region shows).

Read through the CLI's own input checks, so the smoke submits exactly what ``ocr-results submit``
would; and with what was printed, so the recognised text can be judged against it.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from infra.ops.cli.inputs import Image, NamedRegion, load_regions, read_image

#: A region's text counts as read when it is at least this similar to what was printed (difflib's
#: ratio, ignoring case and runs of spaces): OCR may misread a character, never a whole field.
SIMILAR_ENOUGH = 0.8


class SampleError(ValueError):
    """The sample's files are missing or do not fit together; the message names the file."""


@dataclass(frozen=True)
class Sample:
    """An image, its named regions in order, and what each region printed."""

    image: Image
    regions: tuple[NamedRegion, ...]
    printed: dict[str, str]

    @classmethod
    def load(cls, stem: Path) -> Sample:
        """``STEM.png``, ``STEM.regions.json`` and ``STEM.printed.json``."""
        image = read_image(stem.with_name(stem.name + ".png"))
        regions = tuple(load_regions(stem.with_name(stem.name + ".regions.json"), image))
        printed_path = stem.with_name(stem.name + ".printed.json")
        try:
            printed = json.loads(printed_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SampleError(
                f"{printed_path}: cannot read what the sample printed ({error})"
            ) from None
        names = [region.name for region in regions]
        if not isinstance(printed, dict) or sorted(printed) != sorted(str(n) for n in names):
            raise SampleError(f"{printed_path}: must give the text of each region {names}")
        return cls(image, regions, {str(k): str(v) for k, v in printed.items()})

    @property
    def names(self) -> list[str]:
        return [str(region.name) for region in self.regions]


def similarity(read: str, printed: str) -> float:
    """How close recognised text is to what was printed, from 0 to 1."""
    return difflib.SequenceMatcher(None, _plain(read), _plain(printed)).ratio()


def _plain(text: str) -> str:
    return " ".join(text.split()).casefold()
