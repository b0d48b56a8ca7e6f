"""Finding citations in the body of a survey written elsewhere, in its own style, and
turning each into our markers: ``[arXiv:ID]`` when the cited entry resolved to an arXiv
id, ``[ref:KEY]`` when it did not (KEY is the entry's key in the survey's reference list,
or ``?NAME YEAR`` for an author-year citation that matches no single entry).

Styles: numbered brackets (``[3]``, ``[5,13,28]``, ``[2-4]``, ``[12]-[15]``), bare
footnote numbers as Deep Research's copied text shows them (``... patterns 3 .``),
author-year (``(Kerbl et al., 2023)``, ``[Radford et al., 2019]``, ``Kerbl et al. (2023)``)
and markdown links.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from eval.references import ReferenceEntry, arxiv_ids_in
from writer.citations import format_marker

REF_MARKER = re.compile(r"\[ref:([^\]]+)\]")
_NUMBER_BRACKET = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\](?:\s*[–-]\s*\[(\d+)\])?")
# A run of footnote numbers after a word, closing bracket, quote or year, before punctuation.
_BARE_NUMBERS = re.compile(
    r"(?:(?<=[A-Za-z)\]\"'”’.])|(?<=(?:19|20)\d\d))((?:[ \t]\d{1,3})+)(?=[ \t]?[.,;:!?)]|[ \t]+[-–—][ \t]|[ \t]*$)",
    re.MULTILINE,
)
_NAME = r"[A-Z][A-Za-z'’\-]+(?:\s(?:de|van|von|der|Le|La)\s[A-Z][A-Za-z'’\-]+)?"
# "Name et al., 2020", "Name and Other 2020", "Name, 2020" (a bare "March 2023" is no citation).
_AUTHOR_YEAR = re.compile(
    rf"({_NAME})(?:(?:\s+et\s+al\.?|\s+(?:and|&)\s+{_NAME}),?|,)\s+((?:19|20)\d\d[a-z]?)\b"
)
_PAREN_GROUP = re.compile(r"[(\[]([^()\[\]]{0,300}?(?:19|20)\d\d[a-z]?)[)\]]")
_NARRATIVE = re.compile(rf"\b({_NAME})(?:\s+et\s+al\.?|\s+(?:and|&)\s+{_NAME})?\s+\(((?:19|20)\d\d[a-z]?)\)")
_LINK = re.compile(r"\[([^\]]*)\]\((https?://[^)\s]+)\)")


def marker_for(entry: ReferenceEntry | None, fallback_key: str) -> str:
    """The marker of one citation: arXiv when its entry resolved, ref otherwise."""
    if entry is not None and entry.arxiv_id:
        return format_marker(entry.arxiv_id)
    return f"[ref:{entry.key if entry is not None else fallback_key}]"


def _expand_numbers(inner: str, range_end: str | None) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", inner):
        bounds = re.split(r"\s*[–-]\s*", part)
        if len(bounds) == 2 and int(bounds[0]) <= int(bounds[1]) <= int(bounds[0]) + 50:
            numbers.extend(range(int(bounds[0]), int(bounds[1]) + 1))
        else:
            numbers.extend(int(bound) for bound in bounds)
    if range_end is not None and numbers and numbers[-1] <= int(range_end) <= numbers[-1] + 50:
        numbers.extend(range(numbers[-1] + 1, int(range_end) + 1))
    return numbers


def replace_numbered(text: str, entries: Mapping[str, ReferenceEntry]) -> tuple[str, int]:
    """Numbered brackets whose every number is an entry become markers; other brackets
    (``[0,1]`` in math) stay as they are. Returns the text and the citations replaced."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        numbers = _expand_numbers(match.group(1), match.group(2))
        if not numbers or any(str(number) not in entries for number in numbers):
            return match.group(0)
        count += len(numbers)
        return "".join(marker_for(entries[str(number)], str(number)) for number in dict.fromkeys(numbers))

    return _NUMBER_BRACKET.sub(replace, text), count


def replace_bare_numbers(text: str, entries: Mapping[str, ReferenceEntry]) -> tuple[str, int]:
    """Deep Research's footnote numbers (each a key of a source) become markers."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        numbers = match.group(1).split()
        if any(number not in entries for number in numbers):
            return match.group(0)
        count += len(numbers)
        return " " + "".join(marker_for(entries[number], number) for number in dict.fromkeys(numbers))

    return _BARE_NUMBERS.sub(replace, text), count


def _year_pattern(year: str) -> re.Pattern[str]:
    # "2021" may name an entry printed "2021a"; "2021a" names only that one.
    suffix = "" if year[-1].isalpha() else "[a-z]?"
    return re.compile(rf"\b{re.escape(year)}{suffix}(?![a-z0-9])")


def author_year_match_plain(entries: list[ReferenceEntry], surname: str, year: str) -> ReferenceEntry | str | None:
    """The specification of :func:`author_year_matcher`, by scanning every entry: the one
    entry whose author part (its first 200 characters) names the surname and whose text has
    the year; "ambiguous" when several do; None when none does."""
    name, year_pattern = re.compile(rf"\b{re.escape(surname)}\b"), _year_pattern(year)
    found = [entry for entry in entries if name.search(entry.text[:200]) and year_pattern.search(entry.text)]
    if len(found) == 1:
        return found[0]
    return "ambiguous" if found else None


def author_year_matcher(entries: list[ReferenceEntry]) -> Callable[[str, str], ReferenceEntry | str | None]:
    """:func:`author_year_match_plain` as a function (surname, year), through an index of
    the words of each entry's author part (a human survey has ~900 citations of ~700
    entries; the plain scan takes seconds)."""
    by_name: dict[str, list[ReferenceEntry]] = {}
    for entry in entries:
        for word in dict.fromkeys(re.findall(r"[A-Za-z'’]+", entry.text[:200])):
            by_name.setdefault(word, []).append(entry)

    def match(surname: str, year: str) -> ReferenceEntry | str | None:
        # Only entries whose author part holds the surname's last word can match.
        return author_year_match_plain(by_name.get(re.split(r"[\s\-]", surname)[-1], []), surname, year)

    return match


def replace_author_year(text: str, entries: list[ReferenceEntry]) -> tuple[str, dict[str, int]]:
    """Author-year citations become markers of their entry; a citation matching several
    entries or none becomes ``[ref:?NAME YEAR]`` and is counted as such."""
    match_entry = author_year_matcher(entries)
    counts = {"matched": 0, "ambiguous": 0, "unmatched": 0}

    def marker(surname: str, year: str) -> str:
        found = match_entry(surname, year)
        if isinstance(found, ReferenceEntry):
            counts["matched"] += 1
            return marker_for(found, found.key)
        counts["ambiguous" if found == "ambiguous" else "unmatched"] += 1
        return f"[ref:?{surname} {year}]"

    def replace_group(group: re.Match[str]) -> str:
        cites = list(_AUTHOR_YEAR.finditer(group.group(1)))
        if not cites:
            return group.group(0)
        return "".join(marker(cite.group(1), cite.group(2)) for cite in cites)

    def replace_narrative(found: re.Match[str]) -> str:
        names = found.group(0)[: found.start(2) - found.start(0) - 1].rstrip()
        return f"{names} {marker(found.group(1), found.group(2))}"

    text = _PAREN_GROUP.sub(replace_group, text)
    return _NARRATIVE.sub(replace_narrative, text), counts


def replace_links(text: str, entries: dict[str, ReferenceEntry]) -> tuple[str, int]:
    """Markdown links in the body: arXiv links become arXiv markers, other links ref
    markers keyed by URL (added to `entries` when new). The link text stays."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        label, url = match.group(1), match.group(2)
        count += 1
        if url not in entries:
            ids = arxiv_ids_in(url)
            entries[url] = ReferenceEntry(
                key=url, text=f"{label} {url}", arxiv_id=ids[0] if ids else None, resolved_by="id" if ids else ""
            )
        shown = "" if label.startswith("http") or label.isdigit() else label + " "
        return shown + marker_for(entries[url], url)

    return _LINK.sub(replace, text), count
