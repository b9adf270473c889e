"""Every S3 key of the results bucket, in one place.

Everything about one task lives under ``results/<taskId>/``:

- ``submitted.json``: what the task was submitted with (region names, correlation id,
  metadata, when the product first saw it), written once by the first accepted submission;
- ``runs/<executionName>/``: what one execution saw and stored: ``answer-<poll>.json`` (the
  service's final answer, as received), ``regions/<index>[-<name>].<ext>`` for each decoded
  region and ``manifest.json``.

Each execution writes only under its own ``runs/`` prefix, so two executions of one task (a
duplicate, a re-fetch, a redrive) never overwrite each other's objects; which run's results are
the task's is said by the table item. Each function's role may write only its own kind of key
(``template.yaml``): the starter the facts, the check answers, the store regions and manifests.

A segment that comes from input (a region's name, an extension) is made safe first: only
``[A-Za-z0-9._-]`` is kept, anything else becomes ``_``, and its length is bounded. Task ids and
execution names are validated before they get here (:mod:`ocr_fetch.submission`) and made safe
the same way regardless.
"""

from __future__ import annotations

import re

MAX_TASK_ID_CHARS = 128
MAX_EXECUTION_NAME_CHARS = 80
MAX_NAME_CHARS = 64
MAX_EXTENSION_CHARS = 16
#: The execution name a state that predates per-run keys is filed under.
LEGACY_RUN = "_"

_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_ANSWER = re.compile(r"answer-[0-9]{1,6}\.json")


def task_prefix(task_id: str) -> str:
    """``results/<taskId>/``: where everything about one task is stored."""
    return f"results/{safe_key_segment(task_id, max_chars=MAX_TASK_ID_CHARS) or '_'}/"


def submitted_key(task_id: str) -> str:
    """``results/<taskId>/submitted.json``: the task's submitted facts, written once."""
    return f"{task_prefix(task_id)}submitted.json"


def run_prefix(task_id: str, execution_name: str) -> str:
    """``results/<taskId>/runs/<executionName>/``: what one execution wrote."""
    run = safe_key_segment(execution_name, max_chars=MAX_EXECUTION_NAME_CHARS) or LEGACY_RUN
    return f"{task_prefix(task_id)}runs/{run}/"


def answer_key(task_id: str, execution_name: str, poll: int) -> str:
    """``…/runs/<executionName>/answer-<poll>.json``: a final answer, as received."""
    return f"{run_prefix(task_id, execution_name)}answer-{max(poll, 0)}.json"


def is_answer_key(key: str, task_id: str, execution_name: str) -> bool:
    """Whether ``key`` is an answer written by that execution of that task (and nothing else)."""
    prefix = run_prefix(task_id, execution_name)
    return key.startswith(prefix) and _ANSWER.fullmatch(key[len(prefix) :]) is not None


def manifest_key(task_id: str, execution_name: str) -> str:
    """``…/runs/<executionName>/manifest.json``: what each region is and where it lives."""
    return f"{run_prefix(task_id, execution_name)}manifest.json"


def region_key(
    task_id: str, execution_name: str, index: int, name: str | None, extension: str
) -> str:
    """``…/runs/<executionName>/regions/<index>[-<name>].<ext>``, name and extension made
    safe."""
    stem = str(index)
    safe_name = safe_key_segment(name) if name else ""
    if safe_name:
        stem = f"{stem}-{safe_name}"
    ext = safe_key_segment(extension, max_chars=MAX_EXTENSION_CHARS) or "bin"
    return f"{run_prefix(task_id, execution_name)}regions/{stem}.{ext}"


def safe_key_segment(value: str | None, *, max_chars: int = MAX_NAME_CHARS) -> str:
    """Keep ``[A-Za-z0-9._-]``, replace anything else by ``_``, bound the length."""
    if not value:
        return ""
    return _UNSAFE_KEY_CHARS.sub("_", value[:max_chars])
