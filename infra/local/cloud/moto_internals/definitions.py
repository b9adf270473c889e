"""Each state machine definition parsed once: moto's interpreter parses the whole definition
with ANTLR at every execution start (about half a CPU-second for this product's), which made a
burst of executions CPU-bound. The parsed definition is shared between executions: components
keep per-execution state in the execution's own heap, keyed per component."""

from __future__ import annotations

import functools
from typing import Any

from infra.local.cloud.moto_internals.patching import Patch


def patches() -> list[Patch]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = AmazonStateLanguageParser.__dict__["parse"].__func__

    @functools.lru_cache(maxsize=64)
    def parse_once(definition: str) -> Any:
        parsed = parse(definition)
        _assign_heap_keys(parsed[0], set())
        return parsed

    return [(AmazonStateLanguageParser, "parse", staticmethod(parse_once))]


def _assign_heap_keys(component: Any, seen: set[int]) -> None:
    """Give every component its heap key now: a key is made on first use, and two executions
    using a shared component for the first time at once could otherwise each make one."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    if id(component) in seen:
        return
    seen.add(id(component))
    if isinstance(component, EvalComponent):
        _ = component.heap_key
        children: Any = vars(component).values()
    elif isinstance(component, list | tuple | set):
        children = component
    elif isinstance(component, dict):
        children = component.values()
    else:
        return
    for child in children:
        _assign_heap_keys(child, seen)
