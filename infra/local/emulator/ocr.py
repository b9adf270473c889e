"""Text recognition behind a small interface, with RapidOCR as the real engine.

Clean rendered text (dark on light, one or more horizontal lines) is split into lines by a row
projection and each line goes through recognition only: about 30 ms a line. Detection (about a
second a crop on two cores) runs only when the crop does not look like clean lines.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

logger = logging.getLogger(__name__)

_MAX_CLEAN_LINES = 40
_MAX_INK_FRACTION = 0.35
_MIN_CONTRAST = 60.0
_LINE_PAD = 6


@dataclass(frozen=True)
class Box:
    """Pixel box: left, top, right, bottom (right and bottom exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def scaled(self, factor: float) -> Box:
        return Box(
            round(self.x0 * factor),
            round(self.y0 * factor),
            round(self.x1 * factor),
            round(self.y1 * factor),
        )


@dataclass(frozen=True)
class Word:
    text: str
    box: Box
    confidence: float


@dataclass(frozen=True)
class Line:
    text: str
    box: Box
    confidence: float
    words: tuple[Word, ...]

    def scaled(self, factor: float) -> Line:
        return Line(
            self.text,
            self.box.scaled(factor),
            self.confidence,
            tuple(Word(w.text, w.box.scaled(factor), w.confidence) for w in self.words),
        )


class Recognizer(Protocol):
    """Reads the lines of text in one region image."""

    def recognize(self, image: Image.Image) -> list[Line]: ...


Gray = NDArray[np.uint8]


def _otsu_threshold(gray: Gray) -> float:
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256, dtype=np.float64)
    weight_bg = np.cumsum(hist)
    weight_fg = total - weight_bg
    cum_mean = np.cumsum(hist * levels)
    mean_all = cum_mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * weight_bg - total * cum_mean) ** 2 / (weight_bg * weight_fg)
    between = np.nan_to_num(between)
    return float(np.argmax(between))


def _runs(mask: NDArray[np.bool_], min_gap: int) -> list[tuple[int, int]]:
    """Start/end (exclusive) of the True runs, merging runs split by gaps shorter than min_gap."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, on in enumerate(mask.tolist()):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    merged: list[tuple[int, int]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], run[1])
        else:
            merged.append(run)
    return merged


def ink_mask(gray: Gray) -> NDArray[np.bool_] | None:
    """Text pixels of a two-tone image, or None when the image is not clearly two-tone."""
    if gray.size == 0:
        return None
    threshold = _otsu_threshold(gray)
    dark = gray <= threshold
    light_mean = float(gray[~dark].mean()) if (~dark).any() else 255.0
    dark_mean = float(gray[dark].mean()) if dark.any() else 0.0
    if light_mean - dark_mean < _MIN_CONTRAST:
        return np.zeros_like(dark) if gray.std() < 8 else None
    # Text is the minority tone: light text on a dark background is inverted.
    ink = dark if dark.mean() <= 0.5 else ~dark
    return ink


def line_bands(ink: NDArray[np.bool_]) -> list[Box]:
    """Boxes of the horizontal text lines found by row projection."""
    rows = ink.sum(axis=1) > 0
    boxes: list[Box] = []
    for y0, y1 in _runs(rows, min_gap=2):
        cols = ink[y0:y1].any(axis=0)
        xs = np.flatnonzero(cols)
        if xs.size == 0 or (y1 - y0) < 3:
            continue
        boxes.append(Box(int(xs[0]), y0, int(xs[-1]) + 1, y1))
    return boxes


def word_boxes(ink: NDArray[np.bool_], line: Box, words: list[str]) -> list[Box]:
    """Boxes for the words of a line: ink gaps when they match the word count, else by length."""
    if not words:
        return []
    cols: NDArray[np.bool_] = np.asarray(ink[line.y0 : line.y1, line.x0 : line.x1].any(axis=0))
    min_gap = max(3, (line.y1 - line.y0) // 3)
    segments = _runs(cols, min_gap=min_gap)
    if len(segments) == len(words):
        return [Box(line.x0 + a, line.y0, line.x0 + b, line.y1) for a, b in segments]
    return proportional_word_boxes(line, words)


def proportional_word_boxes(line: Box, words: list[str]) -> list[Box]:
    total = sum(len(w) for w in words) + max(0, len(words) - 1)
    width = line.x1 - line.x0
    boxes: list[Box] = []
    pos = 0
    for word in words:
        x0 = line.x0 + round(width * pos / max(total, 1))
        pos += len(word)
        x1 = line.x0 + round(width * pos / max(total, 1))
        boxes.append(Box(x0, line.y0, max(x1, x0 + 1), line.y1))
        pos += 1
    return boxes


class RapidOcrRecognizer:
    """RapidOCR (ONNX runtime), loaded once on first use; safe to share between threads."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()
        self.detection_runs = 0

    def _get_engine(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR  # heavy import: only when OCR is needed

            self._engine = RapidOCR()
            logger.info("ocr engine loaded")
        return self._engine

    def recognize(self, image: Image.Image) -> list[Line]:
        gray: Gray = np.asarray(image.convert("L"), dtype=np.uint8)
        with self._lock:
            ink = ink_mask(gray)
            if ink is not None:
                bands = line_bands(ink)
                if not bands:
                    return []
                if len(bands) <= _MAX_CLEAN_LINES and float(ink.mean()) <= _MAX_INK_FRACTION:
                    return self._recognize_lines(gray, ink, bands)
            return self._detect_and_recognize(image)

    def _recognize_lines(self, gray: Gray, ink: NDArray[np.bool_], bands: list[Box]) -> list[Line]:
        engine = self._get_engine()
        height, width = gray.shape
        lines: list[Line] = []
        for band in bands:
            y0, y1 = max(0, band.y0 - _LINE_PAD), min(height, band.y1 + _LINE_PAD)
            x0, x1 = max(0, band.x0 - _LINE_PAD), min(width, band.x1 + _LINE_PAD)
            crop = np.ascontiguousarray(np.stack([gray[y0:y1, x0:x1]] * 3, axis=-1))
            result, _ = engine(crop, use_det=False, use_cls=False, use_rec=True)
            if not result:
                continue
            text, score = str(result[0][0]).strip(), float(result[0][1])
            if not text:
                continue
            words = text.split()
            boxes = word_boxes(ink, band, words)
            lines.append(
                Line(
                    text,
                    band,
                    score,
                    tuple(Word(w, b, score) for w, b in zip(words, boxes, strict=True)),
                )
            )
        return lines

    def _detect_and_recognize(self, image: Image.Image) -> list[Line]:
        engine = self._get_engine()
        self.detection_runs += 1
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        result, _ = engine(bgr, use_cls=False)
        if not result:
            return []
        pieces: list[tuple[Box, str, float]] = []
        for points, text, score in result:
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            box = Box(int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1)
            if str(text).strip():
                pieces.append((box, str(text).strip(), float(score)))
        return _group_into_lines(pieces)


def _group_into_lines(pieces: list[tuple[Box, str, float]]) -> list[Line]:
    """Detected boxes whose vertical centres fall inside each other's span form one line."""
    rows: list[list[tuple[Box, str, float]]] = []
    for piece in sorted(pieces, key=lambda p: (p[0].y0 + p[0].y1) / 2):
        centre = (piece[0].y0 + piece[0].y1) / 2
        if rows:
            last = rows[-1][0][0]
            if last.y0 <= centre <= last.y1:
                rows[-1].append(piece)
                continue
        rows.append([piece])
    lines: list[Line] = []
    for row in rows:
        row.sort(key=lambda p: p[0].x0)
        words: list[Word] = []
        for box, text, score in row:
            parts = text.split()
            for part, part_box in zip(parts, proportional_word_boxes(box, parts), strict=True):
                words.append(Word(part, part_box, score))
        box = Box(
            min(p[0].x0 for p in row),
            min(p[0].y0 for p in row),
            max(p[0].x1 for p in row),
            max(p[0].y1 for p in row),
        )
        text = " ".join(p[1] for p in row)
        confidence = sum(p[2] for p in row) / len(row)
        lines.append(Line(text, box, confidence, tuple(words)))
    return lines


class MemoRecognizer:
    """Another recognizer, remembering what it read in each distinct image (by its pixels).

    Recognition is a pure function of the image, so an image seen before is answered from
    memory: a soak that submits the same sample regions hundreds of times (``make chaos``) spends
    the shared machine's CPU once per distinct region, not once per task. What a client sees
    does not change: the task's timeline is the clock's (queue delay, time per region), and the
    results are the same lines. Bounded: the least recently used images are forgotten.
    """

    def __init__(self, inner: Recognizer, size: int = 512) -> None:
        self.inner = inner
        self._size = size
        self._lock = threading.Lock()
        self._seen: OrderedDict[bytes, list[Line]] = OrderedDict()
        self.misses = 0

    def recognize(self, image: Image.Image) -> list[Line]:
        key = hashlib.sha256(f"{image.mode} {image.size}".encode() + image.tobytes()).digest()
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return list(self._seen[key])
        lines = self.inner.recognize(image)
        with self._lock:
            self.misses += 1
            self._seen[key] = list(lines)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return lines
