"""How the console writes times and durations: always UTC, always with the unit."""

from __future__ import annotations

from datetime import UTC, datetime

#: What a page shows where there is no value.
NOTHING = "\N{EN DASH}"


def utc(moment: datetime | None, *, milliseconds: bool = False) -> str:
    """``2026-01-31 12:00:05 UTC`` (with ``.123`` when asked); a dash for no time."""
    if moment is None:
        return NOTHING
    shown = moment.astimezone(UTC)
    text = shown.strftime("%Y-%m-%d %H:%M:%S")
    if milliseconds:
        text += f".{shown.microsecond // 1000:03d}"
    return f"{text} UTC"


def duration(seconds: float | None, *, precise: bool = False) -> str:
    """``12 s``, ``1.25 s`` (precise), ``3 min 5 s``, ``2 h 5 min``; a dash for none."""
    if seconds is None:
        return NOTHING
    if seconds < 60:
        return f"{seconds:.2f} s" if precise else f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")
