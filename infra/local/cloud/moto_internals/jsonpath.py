"""JSONPath expressions parsed once: moto's interpreter builds a new parser for every path it
evaluates, and EventBridge's input transformer imports one at each call."""

from __future__ import annotations

import functools

from infra.local.cloud.moto_internals.patching import Patch, interpreter_modules


def patches() -> list[Patch]:
    import jsonpath_ng
    from jsonpath_ng import ext

    originals = (getattr(jsonpath_ng, "parse"), getattr(ext, "parse"))  # noqa: B009
    cached = {parser: functools.lru_cache(maxsize=1024)(parser) for parser in originals}
    found: list[Patch] = [(module, "parse", cached[module.parse]) for module in (jsonpath_ng, ext)]
    for module in interpreter_modules():
        parser = getattr(module, "parse", None)
        if parser in cached:
            found.append((module, "parse", cached[parser]))
    return found
