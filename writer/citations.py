"""Citation markers ``[arXiv:ID]``: finding them, and checking them against the papers a
writer was given. A marker that does not resolve is removed and reported, never remapped
to a look-alike id."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.citation_marker import CLOSE, OPEN, SCHEME, format_marker
from retriever.types import normalize_arxiv_id

# One bracket with one or more ids: [arXiv:2503.11851] or [arXiv:2503.11851; arXiv:2504.00001].
MARKER = re.compile(rf"{re.escape(OPEN)}\s*{SCHEME}\s*:\s*([^\[\]]*?)\s*{re.escape(CLOSE)}", re.IGNORECASE)
# Numeric or author-year brackets a model may invent ([3], [12, 14]): they resolve to nothing.
NUMERIC_CITATION = re.compile(r"\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]")
_ID_SPLIT = re.compile(r"[,;]|\s+and\s+")


def _ids_in(inner: str) -> list[str]:
    """Raw ids inside one bracket, with any repeated ``arXiv:`` prefix removed."""
    parts = [re.sub(rf"^\s*{SCHEME}\s*:\s*", "", part, flags=re.IGNORECASE).strip() for part in _ID_SPLIT.split(inner)]
    return [part for part in parts if part]


def _resolve(raw: str) -> str | None:
    try:
        return normalize_arxiv_id(raw)
    except ValueError:
        return None


def find_citations(text: str) -> list[str]:
    """Versionless ids of every well-formed marker in `text`, in order, repeats kept."""
    found = []
    for match in MARKER.finditer(text):
        found.extend(resolved for raw in _ids_in(match.group(1)) if (resolved := _resolve(raw)))
    return found


@dataclass
class CitationCheck:
    """The text with only resolving markers left (one id per bracket), the ids it cites and
    what was removed (the raw marker text of each)."""

    text: str
    cited: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def tidy_removals(text: str) -> str:
    """`text` without the gaps a removal leaves: a space before punctuation, empty
    parentheses, runs of spaces."""
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    return re.sub(r"[ \t]{2,}", " ", text)


def check_citations(text: str, allowed_ids: Iterable[str]) -> CitationCheck:
    """Keep markers whose id is in `allowed_ids`; remove every other marker and every
    numeric bracket, reporting each. Ids are compared without version suffix."""
    allowed = set(allowed_ids)
    cited: list[str] = []
    removed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        kept = []
        for raw in _ids_in(match.group(1)):
            resolved = _resolve(raw)
            if resolved is not None and resolved in allowed:
                if resolved not in kept:
                    kept.append(resolved)
            else:
                removed.append(format_marker(raw))
        cited.extend(kept)
        return "".join(format_marker(arxiv_id) for arxiv_id in kept)

    def drop_numeric(match: re.Match[str]) -> str:
        removed.append(match.group(0))
        return ""

    checked = MARKER.sub(replace, text)
    checked = NUMERIC_CITATION.sub(drop_numeric, checked)
    return CitationCheck(text=tidy_removals(checked) if removed else checked, cited=cited, removed=removed)


def strip_citations(text: str) -> str:
    """`text` without any citation marker (for summaries fed back to the model)."""
    return tidy_removals(NUMERIC_CITATION.sub("", MARKER.sub("", text)))
