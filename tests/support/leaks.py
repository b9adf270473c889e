"""Finding what must never leave its place (recognised text, a client secret) in anything else.

A needle is looked for as written and as JSON escapes it (``\\u00c4`` for ``Ä``), since a leak
through a JSON logger or a JSON document would be escaped; a text is also looked for as the
Base64 the service sent it in.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field


@dataclass
class LeakScanner:
    """Needles by what they are (``recognised text``, ``client secret``), and the haystacks
    they were found in."""

    needles: dict[str, str] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)
    _pattern: re.Pattern[str] | None = None

    def add(self, needle: str, what: str) -> None:
        forms = {needle, json.dumps(needle)[1:-1]}
        if what == "recognised text":
            forms.add(base64.b64encode(needle.encode("utf-8")).decode("ascii"))
        for form in forms:
            if form and form not in self.needles:
                self.needles[form] = what
                self._pattern = None

    def scan(self, where: str, text: str) -> None:
        """Note every needle in ``text``, naming ``where`` it was."""
        if not self.needles or not text:
            return
        if self._pattern is None:
            alternatives = sorted(self.needles, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(needle) for needle in alternatives))
        for match in self._pattern.finditer(text):
            self.found.append(f"{self.needles[match.group()]} {match.group()!r} in {where}")
