"""Reference lists as other systems print them: splitting a reference section into
entries, and resolving an entry to an arXiv id where its text allows.

An entry resolves when it carries an arXiv id (``arXiv:2301.11325``, an arxiv.org or
ar5iv URL, ``[2010.11929]``) or, when a library of papers is given, when its title equals
a library title after normalisation. Nothing else resolves: an entry without either stays
unresolved and is counted, never matched to a look-alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from retriever.types import Paper, normalize_arxiv_id

# New-style arXiv ids after a marker that makes them ids rather than numbers in prose.
_ID_AFTER_MARKER = re.compile(
    r"(?:arxiv\s*:\s*|arxiv\.org/(?:abs|pdf|html)/|ar5iv(?:\.labs)?\.arxiv\.org/(?:abs|html)/|arxiv\s+preprint\s+)"
    r"(\d{4}\.\d{4,5})(?:v\d+)?",
    re.IGNORECASE,
)
# "[2010.11929] Title" as copied from an arXiv page title.
_BRACKETED_ID = re.compile(r"\[(\d{4}\.\d{4,5})(?:v\d+)?\]")
_URL = re.compile(r"https?://\S+")
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\((https?://[^)\s]+)\)")
_QUOTED = re.compile(r"[\"“”]([^\"“”]{12,300}?)[,.]?[\"“”]")
# Titles shorter than this (normalised characters) are too generic to match on ("Introduction").
MIN_TITLE_CHARS = 20
# Longer entries on average mean a numbered split went wrong (real entries run 100-400).
MAX_MEAN_ENTRY_CHARS = 800


def normalize_title(text: str) -> str:
    """Lower-case letters and digits only: survives PDF hyphenation ("self- instruct"),
    colons turned into spaces, and punctuation differences."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def arxiv_ids_in(text: str) -> list[str]:
    """Versionless arXiv ids written in `text` with an id marker, in order, without repeats."""
    found = [match.group(1) for match in _ID_AFTER_MARKER.finditer(text)]
    found += [match.group(1) for match in _BRACKETED_ID.finditer(text)]
    ids = []
    for raw in found:
        try:
            ids.append(normalize_arxiv_id(raw))
        except ValueError:
            continue
    return list(dict.fromkeys(ids))


def entry_title(text: str) -> str:
    """The title an entry most likely holds: a quoted title when there is one, else the
    entry without its URLs, link targets and bracketed arXiv id."""
    text = _MARKDOWN_LINK.sub(lambda m: m.group(1) if not m.group(1).startswith("http") else "", text)
    quoted = _QUOTED.search(text)
    if quoted:
        return " ".join(quoted.group(1).split())
    text = _BRACKETED_ID.sub("", _URL.sub("", text))
    return " ".join(text.split()).strip(" -|")


@dataclass(slots=True)
class ReferenceEntry:
    """One entry of a reference list: its key as the survey's body uses it (a number, an
    URL or an author-year tag), its raw text, and its arXiv id when resolved and how."""

    key: str
    text: str
    arxiv_id: str | None = None
    resolved_by: str = ""  # "id", "title" or "" (unresolved)

    @property
    def title(self) -> str:
        """The entry's title as far as the text shows it."""
        return entry_title(self.text)

    def to_dict(self) -> dict:
        """JSON-ready form (kept in the imported survey's metadata)."""
        return {"key": self.key, "text": self.text, "arxiv_id": self.arxiv_id, "resolved_by": self.resolved_by}


class TitleIndex:
    """Papers by normalised title, for resolving entries that name a paper without its id."""

    def __init__(self, papers: Iterable[Paper]) -> None:
        self.by_title: dict[str, Paper] = {}
        ambiguous: set[str] = set()
        for paper in papers:
            key = normalize_title(paper.title)
            if len(key) < MIN_TITLE_CHARS:
                continue
            if key in self.by_title and self.by_title[key].arxiv_id != paper.arxiv_id:
                ambiguous.add(key)
            self.by_title.setdefault(key, paper)
        # Two papers with one title: resolving to either would be a guess.
        for key in ambiguous:
            del self.by_title[key]

    def __len__(self) -> int:
        return len(self.by_title)

    def find(self, entry_text: str) -> Paper | None:
        """The library paper whose whole title is the entry's title, if exactly one."""
        return self.by_title.get(normalize_title(entry_title(entry_text)))


def resolve_entry(entry: ReferenceEntry, titles: TitleIndex | None = None) -> ReferenceEntry:
    """Fill `entry.arxiv_id` from an id in its text (first one), else from the library by title."""
    ids = arxiv_ids_in(entry.text)
    if ids:
        entry.arxiv_id, entry.resolved_by = ids[0], "id"
    elif titles is not None and (paper := titles.find(entry.text)) is not None:
        entry.arxiv_id, entry.resolved_by = paper.arxiv_id, "title"
    return entry


def split_numbered(text: str, bracketed: bool) -> list[tuple[str, str]] | None:
    """Entries numbered 1, 2, 3, ... in order (``[1] ...`` or ``1. ...``), found by scanning
    for each next number after the previous one, so that entries run together on one line
    split correctly. ``1.`` numbers glued to the previous entry's last digits by PDF
    conversion ("pp. 11-136. Bai" for "11-13" and "6. Bai") are accepted before a capital
    when no cleaner match follows. None when no number is found, or so few that entries would
    be implausibly long."""

    def patterns(n: int) -> list[re.Pattern[str]]:
        if bracketed:
            return [re.compile(rf"\[{n}\]")]
        return [re.compile(rf"(?<![\d.]){n}\.\s"), re.compile(rf"{n}\.\s+(?=[A-Z])")]

    starts: list[tuple[int, int, int]] = []  # (number, marker start, text start)
    position, number = 0, 1
    while True:
        match = next((m for p in patterns(number) if (m := p.search(text, position))), None)
        if match is None:
            break
        starts.append((number, match.start(), match.end()))
        position, number = match.end(), number + 1
    # Numbers found far apart are numbers inside entries of an unnumbered list.
    if not starts or len(text) / len(starts) > MAX_MEAN_ENTRY_CHARS:
        return None
    entries = []
    for index, (number, _, text_start) in enumerate(starts):
        end = starts[index + 1][1] if index + 1 < len(starts) else len(text)
        entries.append((str(number), " ".join(text[text_start:end].split())))
    return entries


# An unnumbered entry ends with a year (or an id or URL after it) and a full stop; the next
# starts with a capitalised surname.
_UNNUMBERED_BOUNDARY = re.compile(r"((?:19|20)\d\d[a-z]?\.|\d{4}\.\d{4,5}\.)\s*(?=[A-Z][A-Za-z'’\-]+[ ,])")


def split_unnumbered(text: str) -> list[str]:
    """Entries of an unnumbered list: bullets or blank-line paragraphs, and within a long
    paragraph the boundaries after ``YEAR.`` before a capitalised name. The split of run-on
    paragraphs is approximate (styles that put the year after the authors split once more)."""
    pieces: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*[-*•]\s)", text):
        block = " ".join(block.split()).lstrip("-*• ").strip()
        if not block:
            continue
        if len(block) > 400:
            marked = _UNNUMBERED_BOUNDARY.sub("\\1\x00", block)
            pieces.extend(part.strip() for part in marked.split("\x00") if part.strip())
        else:
            pieces.append(block)
    return pieces
