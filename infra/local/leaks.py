"""The leak scan: nothing recognised, no secret and no token in anything a person or a consumer
can read of a local stack (every execution history, every log line, every outcome event, every
dead letter, every table item).

One scan for every run that needs it (the fault matrix, ``make chaos``), so what counts as a
leak is decided in one place. Recognised text is matched as words: every token of four or more
letters or digits of what the sample documents print, found in a place's *written text* (its
lines, and in JSON its keys and string values at any depth); secrets and tokens are matched as
raw substrings anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.local.cloud import LocalCloud
from infra.local.samples import SampleDocument
from infra.stack.outcomes import OutcomeSubscription
from infra.stack.session import StackSession

#: Task ids and execution ARNs are GUIDs: their hex groups are not recognised text.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: Shortest token of recognised text that counts: shorter ones ("No", "12") occur by chance.
_MIN_TOKEN = 4
#: The Lambda platform's REPORT line: only an id and measurements ("Init Duration: 1964.12 ms"
#: is not the year on the card).
_REPORT = re.compile(r"^REPORT RequestId: ")
_MEASUREMENT = re.compile(r"(?<=: )[0-9]+(?:\.[0-9]+)? (?:ms|MB)\b")


def written_text(text: str) -> list[str]:
    """What a place says in words: its lines, and in a JSON line or document (log lines, state
    data, events, items), its keys and string values at any depth (JSON inside a string
    included). JSON numbers are measurements the product made (seconds, counts, metric values):
    a number that happens to equal a recognised one (a wait of 2031 s, a year on the card) is
    not a leak, while recognised text, which is always a string, is still seen. So are the
    measurements of the Lambda platform's REPORT lines (durations, memory)."""
    found: list[str] = []
    for line in text.splitlines() or [text]:
        if _REPORT.match(line):
            found.append(_MEASUREMENT.sub("", line))
            continue
        try:
            document = json.loads(line)
        except ValueError:
            found.append(line)
            continue
        found += _json_strings(document)
    return found


def _json_strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [str(key), *_json_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    if not isinstance(value, str):
        return []
    try:
        inner = json.loads(value)
    except ValueError:
        return [value]
    return _json_strings(inner) if isinstance(inner, dict | list) else [value]


def recognised_tokens(documents: Iterable[SampleDocument]) -> set[str]:
    """Every token of four or more letters or digits in what the documents print."""
    texts = [f.value for document in documents for f in document.fields]
    return {t for text in texts for t in re.findall(rf"[A-Za-z0-9]{{{_MIN_TOKEN},}}", text)}


def outputs(
    cloud: LocalCloud,
    session: StackSession,
    outcomes: OutcomeSubscription,
    histories: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, str]:
    """Everything a person or a consumer could read, by where it came from: each execution's
    history (``histories`` by execution name, when already read), each log group, the outcome
    events, the dead letters, every table's items."""
    cloud.flush_logs()
    found: dict[str, str] = {}
    for summary in session.executions():
        name = str(summary["name"])
        known = histories.get(name) if histories is not None else None
        history = known if known is not None else session.history(summary["executionArn"])
        found[f"history {name}"] = json.dumps(list(history), default=str)
    logs = cloud.client("logs")
    for group in logs.get_paginator("describe_log_groups").paginate():
        for log_group in group["logGroups"]:
            name = log_group["logGroupName"]
            events = [
                e["message"]
                for page in logs.get_paginator("filter_log_events").paginate(logGroupName=name)
                for e in page["events"]
            ]
            found[f"logs {name}"] = "\n".join(events)
    found["outcome events"] = json.dumps(outcomes.all_events())
    found["dead letters"] = json.dumps(
        [[d.body, d.attributes] for d in session.dead_letters(limit=100_000)]
    )
    dynamodb = cloud.client("dynamodb")
    names = [
        n for page in dynamodb.get_paginator("list_tables").paginate() for n in page["TableNames"]
    ]
    for name in names:  # the results table, and the fleet's and the polling history's
        label = "table items" if name == session.outputs.results_table else f"table {name}"
        found[label] = json.dumps(
            [
                item
                for page in dynamodb.get_paginator("scan").paginate(TableName=name)
                for item in page["Items"]
            ]
        )
    return found


@dataclass(frozen=True)
class Secret:
    """What must never be written anywhere: recognised words, secrets and tokens (as raw text),
    and canaries (text a test planted where only a careless product would copy it from)."""

    tokens: frozenset[str]
    secrets: tuple[str, ...] = ()
    canaries: tuple[str, ...] = ()


def leaks(places: dict[str, str], secret: Secret) -> list[str]:
    """One line per leak found: what, and where."""
    found = []
    words = {
        token: re.compile(rf"(?<![A-Za-z0-9]){re.escape(token)}(?![A-Za-z0-9])", re.IGNORECASE)
        for token in sorted(secret.tokens)
    }
    for where, text in places.items():
        searchable = _UUID.sub(" ", "\n".join(written_text(text)))
        found += [f"{token!r} in {where}" for token, w in words.items() if w.search(searchable)]
        found += [f"a secret or token in {where}" for value in secret.secrets if value in text]
        found += [f"the canary {c!r} in {where}" for c in secret.canaries if c in text]
    return found
