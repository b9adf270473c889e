"""Every S3 key of the results bucket, in one place.

Everything about one task lives under ``results/<taskId>/``: ``raw.json`` (the service's answer,
as received), ``<index>[-<name>].<ext>`` for each decoded region, ``manifest.json``, and
``submitted-regions.json`` (the names the submitter gave). A segment
that comes from input (the task id, a region's name, an extension) is made safe first: only
``[A-Za-z0-9._-]`` is kept, anything else becomes ``_``, and its length is bounded.
"""

from __future__ import annotations

import re

MAX_TASK_ID_CHARS = 128
MAX_NAME_CHARS = 64
MAX_EXTENSION_CHARS = 16

_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def task_prefix(task_id: str) -> str:
    """``results/<taskId>/``: where everything about one task is stored."""
    return f"results/{safe_key_segment(task_id, max_chars=MAX_TASK_ID_CHARS) or '_'}/"


def raw_key(task_id: str) -> str:
    """``results/<taskId>/raw.json``: the service's answer, as received."""
    return f"{task_prefix(task_id)}raw.json"


def region_names_key(task_id: str) -> str:
    """``results/<taskId>/submitted-regions.json``: the region names the submitter gave, kept
    here by the starter so they need not travel in the execution's state."""
    return f"{task_prefix(task_id)}submitted-regions.json"


def manifest_key(task_id: str) -> str:
    """``results/<taskId>/manifest.json``: what each region is and where it lives."""
    return f"{task_prefix(task_id)}manifest.json"


def region_key(task_id: str, index: int, name: str | None, extension: str) -> str:
    """``results/<taskId>/<index>[-<name>].<ext>``, the name and extension made safe."""
    stem = str(index)
    safe_name = safe_key_segment(name) if name else ""
    if safe_name:
        stem = f"{stem}-{safe_name}"
    ext = safe_key_segment(extension, max_chars=MAX_EXTENSION_CHARS) or "bin"
    return f"{task_prefix(task_id)}{stem}.{ext}"


def safe_key_segment(value: str | None, *, max_chars: int = MAX_NAME_CHARS) -> str:
    """Keep ``[A-Za-z0-9._-]``, replace anything else by ``_``, bound the length."""
    if not value:
        return ""
    return _UNSAFE_KEY_CHARS.sub("_", value[:max_chars])
