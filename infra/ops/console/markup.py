"""HTML built from escaped parts: text is escaped unless it is :class:`Html` already.

The console's pages are written with :func:`el` and :func:`join` only, so every value that came
from the stack (task ids, correlation ids, region names, error messages, metadata) reaches the
page escaped, and nothing marks a string as markup except this module and the drawing (whose SVG
escapes its own text).
"""

from __future__ import annotations

import html
from collections.abc import Iterable

Attribute = str | int | float | bool | None


class Html(str):
    """Markup that is safe to put in a page as it is."""

    __slots__ = ()


def escape(value: object) -> Html:
    """``value`` as page text: markup left as it is, anything else escaped."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def join(parts: Iterable[object], separator: str = "") -> Html:
    """Every part escaped (markup kept), joined."""
    return Html(escape(separator).join(escape(part) for part in parts))


def el(tag: str, *children: object, **attributes: Attribute) -> Html:
    """``<tag attributes>children</tag>``; ``class_`` is ``class``, ``data_x`` is ``data-x``,
    an attribute that is None or False is left out, True is written bare."""
    written = []
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        written.append(f" {key}" if value is True else f' {key}="{escape(value)}"')
    opening = f"<{tag}{''.join(written)}>"
    if tag in _VOID:
        return Html(opening)
    return Html(f"{opening}{join(children)}</{tag}>")


_VOID = {"br", "hr", "img", "input", "link", "meta", "col"}
