"""Rule-based checks of TeX text written into survey.bib and survey.tex (no bibtex/pdflatex here)."""

from __future__ import annotations

import re

from writer.export import known_macro

_MATH = re.compile(r"(?<!\\)\$(.*?)(?<!\\)\$", re.DOTALL)
_CONTROL = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)
_SYMBOLS = set("'\"`^~=.&%#_${} ,;!-/@")


def tex_violations(text: str) -> list[str]:
    """Which of (a) balanced braces, (b) only known control sequences, (c) no bare LaTeX
    special outside math, `text` breaks (empty when it is fine)."""
    found = []
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        found.append("braces")
    if (text.endswith("\\") and not text.endswith("\\\\")) or any(
        not (known_macro(name) if name[0].isalpha() else name in _SYMBOLS) for name in _CONTROL.findall(text)
    ):
        found.append("unknown command")
    outside = _CONTROL.sub("", _MATH.sub("", text))
    if re.search(r"[%&#_^~$]", outside):
        found.append("bare special")
    return found
