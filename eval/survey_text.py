"""The parts of a survey every metric reads the same way: its body text, its sentences
with the citations each carries, its reference list, and the evidence (title and
abstract) behind a citation. Works alike for our surveys and imported ones."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eval.citation_styles import REF_MARKER
from eval.references import normalize_title
from writer.citations import MARKER, find_citations
from writer.support import split_sentences
from writer.survey import Survey

_NOT_PROSE = re.compile(r"^\s*(?:#|\||<|!\[|\$\$|```|-{3,}|\*{3,})")
_WORDLIKE = re.compile(r"[^\W_]")
# Citation markers of both kinds, for stripping.
ANY_MARKER = re.compile(rf"{MARKER.pattern}|{REF_MARKER.pattern}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One body sentence, the section it is in, and its citation keys: versionless arXiv
    ids, or ``ref:KEY`` for references that did not resolve."""

    section: str
    text: str
    citations: tuple[str, ...]

    @property
    def plain(self) -> str:
        """The sentence without its markers."""
        return " ".join(ANY_MARKER.sub(" ", self.text).split())


@dataclass(frozen=True, slots=True)
class ReferenceItem:
    """One listed reference as matching sees it: its arXiv id if known, and its text."""

    arxiv_id: str | None
    text: str

    @property
    def normalized(self) -> str:
        """The text as :func:`eval.references.normalize_title` writes it."""
        return normalize_title(self.text)


def body_parts(survey: Survey) -> list[tuple[str, str]]:
    """(title, text) of introduction, sections and conclusion, in order, empty ones left out."""
    parts = [("Introduction", survey.introduction)] if survey.introduction.strip() else []
    parts += [(section.title, section.text) for section in survey.sections]
    if survey.conclusion.strip():
        parts.append(("Conclusion", survey.conclusion))
    return parts


def citation_keys(text: str) -> tuple[str, ...]:
    """Citation keys of `text` in order, without repeats."""
    keys = list(find_citations(text))
    keys += [f"ref:{key}" for key in REF_MARKER.findall(text)]
    return tuple(dict.fromkeys(keys))


def sentences(survey: Survey) -> list[Sentence]:
    """Prose sentences of the body (headings, tables, figures and display math left out)."""
    found = []
    for title, text in body_parts(survey):
        for line in text.split("\n"):
            if not line.strip() or _NOT_PROSE.match(line):
                continue
            line = re.sub(r"^\s*(?:[-*•]|\d+\.)\s+", "", line)
            for piece in split_sentences(line):
                if len(piece.split()) >= 3:
                    found.append(Sentence(section=title, text=piece, citations=citation_keys(piece)))
    return found


def word_count(survey: Survey) -> int:
    """Words of the body: tokens with a letter or digit, markers and heading lines left out."""
    total = 0
    for _, text in body_parts(survey):
        prose = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))
        total += sum(1 for token in ANY_MARKER.sub(" ", prose).split() if _WORDLIKE.search(token))
    return total


def listed_references(survey: Survey) -> list[ReferenceItem]:
    """The survey's reference list: an imported survey's entries as printed, resolved or
    not; our survey's cited papers."""
    if survey.metadata.get("imported"):
        return [ReferenceItem(entry["arxiv_id"], entry["text"]) for entry in survey.metadata.get("references", [])]
    return [ReferenceItem(paper.arxiv_id, paper.title) for paper in survey.references]


def cited_references(survey: Survey) -> list[ReferenceItem]:
    """The references the body cites at least once."""
    keys = dict.fromkeys(key for s in sentences(survey) for key in s.citations)
    entries = {entry["key"]: entry for entry in survey.metadata.get("references", [])}
    items = []
    for key in keys:
        if key.startswith("ref:"):
            entry = entries.get(key[4:])
            if entry is not None:
                items.append(ReferenceItem(None, entry["text"]))
        else:
            paper = survey.papers.get(key)
            items.append(ReferenceItem(key, paper.title if paper else key))
    return items


def evidence(survey: Survey, key: str) -> str | None:
    """What a judge may check a citation against: title and abstract of a known paper, the
    printed entry of an unresolved reference, None when nothing is known."""
    if key.startswith("ref:"):
        entry = next((e for e in survey.metadata.get("references", []) if e["key"] == key[4:]), None)
        return entry["text"] if entry else None
    paper = survey.papers.get(key)
    if paper is None:
        return None
    return f"{paper.title}. {paper.abstract}".strip() if paper.abstract else paper.title


def has_abstract(survey: Survey, key: str) -> bool:
    """Whether the citation's paper is known with its abstract."""
    paper = survey.papers.get(key)
    return paper is not None and bool(paper.abstract)
