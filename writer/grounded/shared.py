"""What a group of papers shares, said with their markers: "Some of the studies below
mention outcome reward [arXiv:A; arXiv:B]." The phrases are the group's heading (made from
the papers' distinctive phrases by the planner); a paper counts only where its own abstract
holds the phrase, so the sentence states nothing its cited abstracts do not.

Public: `MIN_HOLDERS`, `heading_phrases`, `phrase_holders`, `shared_phrase_sentence`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retriever.phrases import text_phrases
from retriever.types import Paper
from writer.citations import format_marker

# A phrase is said to be shared when at least this many of the group's abstracts hold it.
MIN_HOLDERS = 2
_JOINERS = re.compile(r"\s+(?:and|&)\s+|,\s+", re.IGNORECASE)


def heading_phrases(heading: str) -> list[str]:
    """The phrases a heading joins ("Reward Models and RLVR": "reward models", "RLVR"), ordinary
    words lower-cased, names and acronyms ("GraphRAG", "GPT-4o") kept."""
    phrases = []
    for part in _JOINERS.split(" ".join(heading.split())):
        words = [word if _is_name(word) else word.lower() for word in part.split()]
        if words:
            phrases.append(" ".join(words))
    return phrases


def _is_name(word: str) -> bool:
    return any(c.isupper() or c.isdigit() for piece in word.split("-") for c in piece[1:]) or any(
        c.isdigit() for c in word
    )


def phrase_holders(phrase: str, papers: Sequence[Paper]) -> list[Paper]:
    """The papers whose abstract holds `phrase` (as one run of words between stop words and
    punctuation, case and a plural 's' ignored), in order; none when `phrase` itself is not
    one such run ("chain of thought")."""
    keys = text_phrases(phrase)
    key = max(keys, key=len, default="")
    if not key or len(key.split()) != len(phrase.split()):
        return []
    return [paper for paper in papers if key in text_phrases(paper.abstract)]


def shared_phrase_sentence(heading: str, papers: Sequence[Paper]) -> str | None:
    """One sentence saying which of `papers` share each phrase of `heading`, with their markers:
    "All of the studies below mention X [...]" or "Some of the studies below mention X [...]",
    then "; some also mention Y [...]" for a second phrase. None when no phrase is held by
    MIN_HOLDERS papers."""
    clauses = []
    for phrase in heading_phrases(heading):
        holders = phrase_holders(phrase, papers)
        if len(holders) < MIN_HOLDERS:
            continue
        quantity = "all" if len(holders) == len(papers) else "some"
        marker = format_marker(*(paper.arxiv_id for paper in holders))
        if clauses:
            clauses.append(f"{quantity} also mention {phrase} {marker}")
        else:
            clauses.append(f"{quantity.capitalize()} of the studies below mention {phrase} {marker}")
    if not clauses:
        return None
    return "; ".join(clauses) + "."
