"""Importing a survey written elsewhere (Markdown, any citation style) into writer.Survey.

The body's citations become our markers (eval/citation_styles.py): resolved references
as ``[arXiv:ID]`` with the paper in ``survey.papers``, unresolved ones as ``[ref:KEY]``.
The whole reference list, resolved or not, and the counts of what resolved how are kept
in ``survey.metadata["references"]`` and ``["reference_counts"]``. Introduction and
conclusion stay among the sections (``survey.introduction``/``conclusion`` are empty), as
a baseline's outline has no fixed frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from eval import citation_styles
from eval.references import (
    ReferenceEntry,
    TitleIndex,
    resolve_entry,
    split_numbered,
    split_unnumbered,
)
from retriever.types import Paper
from writer.survey import Survey, SurveySection

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
_REFERENCE_HEADING = re.compile(r"^(?:[\dIVX.]+\s*)?(references|bibliography|works cited|sources)\s*:?$", re.IGNORECASE)
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+(?:\.[A-Z])*\.?|[A-Z]\.)\s+")
# Deep Research's source list: footnote numbers, a title, an URL.
# Each starts a line; its URL may carry the "- " breaks of the copied PDF text.
_SOURCE = re.compile(r"^[ \t]*((?:\d{1,3}[ \t]+)+)(\S.*?)\s(https?://\S+(?:-[ \t]+\S+)*)", re.DOTALL | re.MULTILINE)


class SurveyImportError(ValueError):
    """The file cannot be read as a survey; the message says which and why."""


@dataclass(slots=True)
class _Heading:
    level: int
    title: str
    start: int
    end: int


@dataclass(slots=True)
class ParsedReferences:
    """A reference section split into entries, with the style that split it."""

    style: str  # "numbered", "sources", "unnumbered" or "none"
    entries: dict[str, ReferenceEntry] = field(default_factory=dict)


def heading_title(raw: str) -> str:
    """A heading without its numbering ("2.1 Pre-training" -> "Pre-training") or emphasis."""
    return _NUMBERING.sub("", raw.replace("*", "").strip()).strip()


def _headings(text: str) -> list[_Heading]:
    return [_Heading(len(m.group(1)), m.group(2).strip(), m.start(), m.end()) for m in _HEADING.finditer(text)]


def split_off_references(text: str) -> tuple[str, str]:
    """(body, reference section). The section runs from the last References heading to
    the next heading of its level or above (appendices and biographies after it are
    dropped); without such a heading the whole text is body."""
    headings = _headings(text)
    found = [h for h in headings if _REFERENCE_HEADING.match(heading_title(h.title) or h.title)]
    if not found:
        return text, ""
    last = found[-1]
    following = [h for h in headings if h.start > last.start and h.level <= last.level]
    end = following[0].start if following else len(text)
    return text[: last.start], text[last.end : end]


def parse_reference_section(section: str) -> ParsedReferences:
    """Entries keyed as the body cites them: numbers for numbered lists and Deep
    Research's sources, ``e1``, ``e2``, ... for unnumbered lists."""
    if not section.strip():
        return ParsedReferences("none")
    numbered = split_numbered(section, bracketed=True)
    if numbered is not None:
        return ParsedReferences("numbered", {key: ReferenceEntry(key=key, text=text) for key, text in numbered})
    sources = [m for m in _SOURCE.finditer(section) if not m.group(2).lstrip().startswith("-")]
    if len(sources) >= 2:
        parsed = ParsedReferences("sources")
        for match in sources:
            text = " ".join(f"{match.group(2)} {match.group(3)}".split())
            for number in match.group(1).split():
                parsed.entries.setdefault(number, ReferenceEntry(key=number, text=text))
        # The bullet bibliography some Deep Research reports print before their sources.
        bullets = [line for line in section.split("\n") if line.lstrip().startswith("- ")]
        for index, line in enumerate(bullets, start=1):
            parsed.entries[f"b{index}"] = ReferenceEntry(key=f"b{index}", text=" ".join(line.lstrip("- ").split()))
        return parsed
    numbered = split_numbered(section, bracketed=False)
    if numbered is not None and len(numbered) >= 3:
        return ParsedReferences("numbered", {key: ReferenceEntry(key=key, text=text) for key, text in numbered})
    pieces = split_unnumbered(section)
    entries = {f"e{i}": ReferenceEntry(key=f"e{i}", text=text) for i, text in enumerate(pieces, start=1)}
    return ParsedReferences("unnumbered" if entries else "none", entries)


def convert_citations(body: str, references: ParsedReferences) -> tuple[str, dict[str, int]]:
    """The body with every citation the style allows turned into our markers, and counts."""
    counts: dict[str, int] = {}
    if references.style == "numbered":
        body, counts["numbered"] = citation_styles.replace_numbered(body, references.entries)
    elif references.style == "sources":
        body, counts["numbered"] = citation_styles.replace_numbered(body, references.entries)
        body, counts["footnotes"] = citation_styles.replace_bare_numbers(body, references.entries)
    unnumbered = [e for key, e in references.entries.items() if not key.isdigit()]
    body, author_year = citation_styles.replace_author_year(body, unnumbered)
    counts.update({f"author_year_{name}": value for name, value in author_year.items()})
    body, counts["links"] = citation_styles.replace_links(body, references.entries)
    return body, counts


def _sections(body: str) -> tuple[str, str, list[SurveySection]]:
    """(title, text before the first section, sections). The section level is the
    shallowest heading level used at least twice below the title."""
    headings = _headings(body)
    if not headings:
        return "", body.strip(), []
    title_heading = headings[0] if headings[0].level == 1 else None
    rest = headings[1:] if title_heading else headings
    levels = sorted({h.level for h in rest})
    level = next((lvl for lvl in levels if sum(h.level == lvl for h in rest) >= 2), levels[0] if levels else 2)
    tops = [h for h in rest if h.level == level]
    title = heading_title(title_heading.title) if title_heading else ""
    preamble_start = title_heading.end if title_heading else 0
    preamble_end = tops[0].start if tops else len(body)
    preamble = _drop_headings_above(body[preamble_start:preamble_end], level)
    sections = []
    for index, top in enumerate(tops):
        end = tops[index + 1].start if index + 1 < len(tops) else len(body)
        text = body[top.end : end].strip()
        subsections = [heading_title(h.title) for h in rest if top.end <= h.start < end and h.level > level]
        sections.append(SurveySection(title=heading_title(top.title), text=text, subsections=subsections))
    return title, preamble.strip(), sections


def _drop_headings_above(text: str, level: int) -> str:
    return "\n".join(line for line in text.split("\n") if not re.match(rf"^#{{1,{level}}}\s", line))


def _abstract(preamble: str, sections: list[SurveySection]) -> tuple[str, list[SurveySection]]:
    for index, section in enumerate(sections):
        if section.title.lower().rstrip(":") == "abstract":
            return section.text, sections[:index] + sections[index + 1 :]
    match = re.search(r"(?:^|\n)\s*\**abstract\**\s*[—:\-.]*\s*(.+?)(?:\n\s*\n|$)", preamble, re.IGNORECASE | re.DOTALL)
    return (" ".join(match.group(1).split()) if match else ""), sections


def _papers(entries: dict[str, ReferenceEntry], library: dict[str, Paper] | None) -> dict[str, Paper]:
    papers: dict[str, Paper] = {}
    for entry in entries.values():
        if not entry.arxiv_id or entry.arxiv_id in papers:
            continue
        known = library.get(entry.arxiv_id) if library else None
        papers[entry.arxiv_id] = known or Paper(arxiv_id=entry.arxiv_id, title=entry.title or entry.text, abstract="")
    return papers


def import_markdown(
    text: str,
    system: str,
    topic: str = "",
    titles: TitleIndex | None = None,
    library: dict[str, Paper] | None = None,
) -> Survey:
    """Parse one Markdown survey. `titles` resolves entries by title; `library` supplies
    the abstracts of resolved papers (evidence for the judges)."""
    if not text.strip():
        raise SurveyImportError(f"the {system} survey on {topic!r} is empty")
    body, reference_section = split_off_references(text)
    references = parse_reference_section(reference_section)
    for entry in references.entries.values():
        resolve_entry(entry, titles)
    body, citation_counts = convert_citations(body, references)
    for entry in references.entries.values():  # link entries added while converting
        if entry.arxiv_id is None:
            resolve_entry(entry, titles)
    title, preamble, sections = _sections(body)
    abstract, sections = _abstract(preamble, sections)
    entries = list({id(e): e for e in references.entries.values()}.values())
    survey = Survey(
        title=title or topic,
        abstract=abstract,
        introduction="",
        sections=sections,
        conclusion="",
        papers=_papers(references.entries, library),
        outline={"sections": [{"title": s.title, "subsections": s.subsections} for s in sections]},
        metadata={
            "system": system,
            "topic": topic,
            "imported": True,
            "citation_style": references.style,
            "references": [entry.to_dict() for entry in entries],
            "reference_counts": reference_counts(entries, citation_counts),
        },
    )
    return survey


def reference_counts(entries: list[ReferenceEntry], citation_counts: dict[str, int]) -> dict[str, int]:
    """How many entries there are and how each resolved, and what the body's citations became."""
    counts = {
        "entries": len(entries),
        "resolved_by_id": sum(e.resolved_by == "id" for e in entries),
        "resolved_by_title": sum(e.resolved_by == "title" for e in entries),
        "unresolved": sum(e.arxiv_id is None for e in entries),
    }
    counts.update({f"citations_{name}": value for name, value in citation_counts.items()})
    return counts


def import_markdown_file(
    path: Path, system: str, titles: TitleIndex | None = None, library: dict[str, Paper] | None = None
) -> Survey:
    """:func:`import_markdown` on a file; the topic is the file name without extension."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SurveyImportError(f"cannot read {path}: {error}") from None
    survey = import_markdown(text, system, topic=path.stem, titles=titles, library=library)
    survey.metadata["source_path"] = str(path)
    return survey
