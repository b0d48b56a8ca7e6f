"""The citation marker, defined once for the whole house: ``[arXiv:ID]`` for one paper,
``[arXiv:ID1; arXiv:ID2]`` for several in one bracket.

It lives at the bottom layer because the engine's citation grammar (engine.constrained)
must spell it exactly as writer/ formats and parses it (writer.citations), and writer/ may
import the engine but not the other way round.
"""

from __future__ import annotations

OPEN = "["
CLOSE = "]"
SCHEME = "arXiv"
PREFIX = SCHEME + ":"
SEPARATOR = "; "


def format_marker(*arxiv_ids: str) -> str:
    """The marker citing `arxiv_ids` (one or more) in one bracket."""
    if not arxiv_ids:
        raise ValueError("a citation marker cites at least one paper")
    return OPEN + SEPARATOR.join(PREFIX + arxiv_id for arxiv_id in arxiv_ids) + CLOSE
