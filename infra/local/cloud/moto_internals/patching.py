"""What every use of moto's private API here shares: the account every resource lives in, and
one registry of what is installed in this process (moto's backends and classes are
process-wide), so each patch is installed once and undone exactly as it was."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account: every resource lives there

#: ``(owner, attribute, replacement)``: ``setattr(owner, attribute, replacement)``, undoable.
Patch = tuple[Any, str, Any]

_INHERITED = object()  # what a patched attribute was when the class only inherited it
_lock = threading.Lock()
_installed: dict[str, list[Patch]] = {}


def install(name: str, patches: Callable[[], list[Patch]]) -> bool:
    """Apply the patches ``patches()`` lists (called under the registry's lock) under ``name``;
    False, and nothing done, when ``name`` is installed already."""
    with _lock:
        if name in _installed:
            return False
        chosen = patches()
        _installed[name] = [
            (owner, attribute, owner.__dict__.get(attribute, _INHERITED))
            for owner, attribute, _ in chosen
        ]
        for owner, attribute, replacement in chosen:
            setattr(owner, attribute, replacement)
        return True


def uninstall(name: str) -> None:
    """Put back what ``name`` replaced (nothing, when it is not installed)."""
    with _lock:
        originals = _installed.pop(name, [])
    for owner, attribute, original in originals:
        if original is _INHERITED:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, original)


def installed(name: str) -> bool:
    return name in _installed


def env_string(value: Any) -> str:
    """A value as AWS keeps every environment variable: a string (moto keeps a Number
    parameter as an int, and a bool as Python spells it)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def interpreter_modules() -> list[ModuleType]:
    """Every module of moto's Step Functions interpreter, each loaded (a module that imported a
    function by name holds its own reference to it, which a patch must replace too)."""
    # The preprocessor imports every state component.
    import moto.stepfunctions.parser.asl.parse.preprocessor  # noqa: F401

    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser")
    ]


def once(name: str, action: Callable[[], None]) -> None:
    """Run ``action`` (under the registry's lock) the first time ``name`` is asked for, and never
    again: for what stays for the process's life."""
    with _lock:
        if name in _installed:
            return
        action()
        _installed[name] = []
