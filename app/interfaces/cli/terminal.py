"""Text from papers and models made safe to print on a terminal.

A title can hold terminal escape sequences (a corpus is user data, a model's text is
whatever it wrote): printed raw they recolour, move the cursor or retitle the window.
"""

from __future__ import annotations

import re

from rich.text import Text

# CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), and two-byte ESC sequences.
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without terminal escape sequences and control characters (tabs and newlines stay)."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def plain_cell(text: str) -> Text:
    """A rich table cell showing `text` literally: no escapes, no rich markup ("[bold]")."""
    return Text(printable(text))
