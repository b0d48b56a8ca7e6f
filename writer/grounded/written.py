"""A grounded section as stored text: what the frame and the duplicate check read back from
a section's (checked) text and given papers, so that a workflow need keep nothing else."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from retriever.types import Paper
from writer.citations import find_citations
from writer.grounded.choose import sentence_key
from writer.grounded.section import CONNECTIVES, GroundedDraft, opening_line
from writer.support import split_sentences


@dataclass(frozen=True)
class WrittenSection:
    """A body section as the frame reads it: its title, its (checked) text and the papers
    its writer was given. Everything else (papers cited, groups, each paper's sentence) is
    read from the text, so that a workflow can rebuild it from what it stored."""

    title: str
    text: str
    papers: Sequence[Paper]

    @classmethod
    def from_draft(cls, draft: GroundedDraft) -> WrittenSection:
        """The frame's view of a freshly written grounded section."""
        return cls(draft.title, draft.text, draft.given)

    @property
    def cited(self) -> list[Paper]:
        """The given papers the text cites, once each, in reading order."""
        by_id = {paper.arxiv_id: paper for paper in self.papers}
        return [by_id[arxiv_id] for arxiv_id in dict.fromkeys(find_citations(self.text)) if arxiv_id in by_id]

    @property
    def groups(self) -> list[str]:
        """The titles of its ``###`` sub-theme headings."""
        return [line[4:].strip() for line in self.text.splitlines() if line.startswith("### ")]

    @property
    def group_papers(self) -> list[list[Paper]]:
        """The given papers each ``###`` sub-theme cites, once each, in reading order."""
        by_id = {paper.arxiv_id: paper for paper in self.papers}
        groups: list[list[str]] = []
        for line in self.text.splitlines():
            if line.startswith("### "):
                groups.append([])
            elif groups:
                groups[-1].extend(find_citations(line))
        return [[by_id[i] for i in dict.fromkeys(ids) if i in by_id] for ids in groups]

    def sentences_citing(self, arxiv_id: str) -> list[str]:
        """The text's sentences that cite `arxiv_id`."""
        lines = [line for line in self.text.splitlines() if line.strip() and not line.startswith("#")]
        return [s for line in lines for s in split_sentences(line) if arxiv_id in find_citations(s)]


def strip_connective(sentence: str) -> str:
    """`sentence` without a leading connective of the rotation (first letter raised)."""
    for connective in CONNECTIVES:
        if sentence.startswith(connective + " "):
            rest = sentence[len(connective) + 1 :]
            return rest[:1].upper() + rest[1:]
    return sentence


def without_repeats(sections: Sequence[WrittenSection]) -> tuple[list[WrittenSection], list[str]]:
    """`sections` (in survey order) with every cited sentence that an earlier place already
    states removed (compared without connectives), headings left without text removed and
    each changed section's opening line restated for the papers it still cites; and the
    removed sentences. For sections written apart (a workflow's parallel writers) that share
    a paper; :func:`~writer.grounded.section.write_grounded_sections` never repeats one."""
    seen: set[str] = set()
    removed: list[str] = []
    cleaned = []
    for section in sections:
        blocks = section.text.split("\n\n")
        kept_blocks = []
        dropped = False
        for block in blocks:
            if block.startswith("#") or not find_citations(block):
                kept_blocks.append(block)
                continue
            kept = []
            for sentence in split_sentences(block):
                key = sentence_key(strip_connective(sentence))
                if find_citations(sentence) and key in seen:
                    removed.append(sentence)
                    dropped = True
                    continue
                seen.add(key)
                kept.append(sentence)
            if kept:
                kept_blocks.append(" ".join(kept))
        if not dropped:
            cleaned.append(section)
            continue
        reread = dataclasses.replace(section, text="\n\n".join(_without_empty_headings(kept_blocks)))
        cleaned.append(_restate_opening(reread))
    return cleaned, removed


def _restate_opening(section: WrittenSection) -> WrittenSection:
    blocks = section.text.split("\n\n")
    if not section.cited:
        return dataclasses.replace(section, text="")
    if blocks and not blocks[0].startswith("#") and not find_citations(blocks[0]):
        blocks[0] = opening_line(section.title, section.cited, section.groups, section.group_papers)
    return dataclasses.replace(section, text="\n\n".join(blocks))


def _without_empty_headings(blocks: list[str]) -> list[str]:
    """`blocks` without a heading that no paragraph follows before the next heading or the end."""
    kept = []
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if block.startswith("#") and (following is None or following.startswith("#")):
            continue
        kept.append(block)
    return kept
